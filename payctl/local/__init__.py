"""The whole stack on one machine: moto, the API front, the SQS pollers, served until stopped."""
