"""Postcards from my Jungle: the realtime engine and the `postcards` command."""
