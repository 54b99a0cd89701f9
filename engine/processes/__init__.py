"""Processes and what they share: the supervisor, the children of the live sound, shared memory."""
