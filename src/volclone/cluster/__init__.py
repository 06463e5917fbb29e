"""Adapters for the scale-out roles: RPC to the workers (oslo.messaging), membership and locks (tooz)."""
