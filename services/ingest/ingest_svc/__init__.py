"""Ingest: the REST API that accepts payments and the consumer that records them and runs the workflow."""
