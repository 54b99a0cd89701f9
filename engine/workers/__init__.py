"""Worker processes of the live engine and what keeps them alive (the supervisor, shared-memory slots)."""
