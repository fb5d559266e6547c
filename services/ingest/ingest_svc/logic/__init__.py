"""Ingest's rules by use case: accepting, recording and reading payments. No event shapes, no boto3."""
