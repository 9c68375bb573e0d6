"""Clients of the platform's APIs that ship with it (run from the repository root: `python -m client.siyige`)."""
