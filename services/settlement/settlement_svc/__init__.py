"""Final step of the payment workflow: settle, decline or record a failure."""
