"""Built-in stream processors: one module each, listed in ``registry.REGISTRY``."""
