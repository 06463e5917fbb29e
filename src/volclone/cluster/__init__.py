"""Adapters for the distributed parts of the scale-out roles (membership, locks, RPC, job board)."""
