"""HTTP client commands (volume, type, clone). Filled in next."""
