"""Model adapters: the small protocols a model implements to be evaluated."""
