"""Adapters for the scale-out roles: RPC to the workers, job board, membership and locks."""
