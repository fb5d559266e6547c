"""Ingest's only AWS access, one module per resource; AWS errors become domain results here."""
