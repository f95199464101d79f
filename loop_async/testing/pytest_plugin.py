"""pytest plugin (registered by entry point): fixtures for testing code that uses loop-async."""
