"""The driver contract: one test suite that every backend runs with its own fixtures."""
