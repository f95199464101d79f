"""API resources: each method builds a request, sends it through the transport, decodes it."""
