"""Client, operator CLI and local runtime for the payments pipeline (never deployed)."""
