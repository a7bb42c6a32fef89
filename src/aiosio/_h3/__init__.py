"""The HTTP/3 WebTransport host (aioquic): QUIC connections, sessions, their streams.

Imported only by :mod:`aiosio.webtransport`, so that aioquic is needed only there.
"""
