"""Shared test configuration. Fixtures of the fake server come from loop_async's pytest plugin."""
