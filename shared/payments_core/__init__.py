"""Shared building blocks of the payment services; shipped as the Lambda layer."""
