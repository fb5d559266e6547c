"""Batch submission: stream a file of payments to POST /payments/batch, resumably."""
