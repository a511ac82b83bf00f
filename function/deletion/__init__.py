"""What a request does: resolve its selector, check it against the caller's policy,
delete in batches, and settle per-route outcomes."""
