"""Fraud risk scoring of a payment, the workflow's second parallel check."""
