"""The ingest functions' entry points: the only modules that know HTTP, SQS and stream events."""
