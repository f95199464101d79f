"""The embedded fake Loop server and its pytest plugin."""
