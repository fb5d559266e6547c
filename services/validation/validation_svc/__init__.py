"""Business validation of a payment, the workflow's first parallel check."""
