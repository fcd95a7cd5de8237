"""The transport, which knows no host: one client per run sends each request for the service it names."""
