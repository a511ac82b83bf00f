"""What the function remembers across requests and instances: the idempotency store."""
