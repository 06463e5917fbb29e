"""Storage backends: a small driver interface, optional capabilities, a lazy registry."""
