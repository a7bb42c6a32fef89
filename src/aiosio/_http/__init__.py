"""HTTP/1.1 and WebSocket (RFC 6455) plumbing of the embedded server; see :mod:`aiosio.serve`."""
