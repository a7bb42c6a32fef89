"""WebTransport for the official clients: an HTTP/3 host beside the embedded server.

Needs the ``webtransport`` extra (aioquic): ``pip install 'aiosio[webtransport]'``. The engine must
allow the transport, and the host listens on a UDP port with a TLS certificate::

    io = aiosio.Server(transports=["polling", "websocket", "webtransport"])
    await io.listen(3000)
    wt = await serve_webtransport(io.engine, "0.0.0.0", 3000, certfile="cert.pem", keyfile="key.pem")
    ...
    await wt.close()
    await io.close()

A client then connects with ``transports: ["webtransport"]``, or starts on polling and upgrades
(the handshake offers ``webtransport`` when it is allowed). The ASGI app has no WebTransport: ASGI
servers do not speak it. See ``docs/webtransport.md``.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import ipaddress
import logging
from collections.abc import Iterable
from types import TracebackType

try:
    from aioquic.asyncio.server import QuicServer
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "aiosio.webtransport needs aioquic: pip install 'aiosio[webtransport]'"
    ) from exc
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ._h3.protocol import H3Protocol
from ._h3.session import WebTransportApp

__all__ = [
    "WebTransportApp",
    "WebTransportServer",
    "certificate_hash",
    "self_signed_certificate",
    "serve_webtransport",
]

logger = logging.getLogger("aiosio.webtransport")

#: How long a session may take to open its stream and send its first packet (seconds).
OPEN_TIMEOUT = 10.0


class WebTransportServer:
    """A listening WebTransport host. Create it with :func:`serve_webtransport`."""

    __slots__ = ("_closed", "_connections", "_server", "_transport", "host", "port")

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        server: QuicServer,
        connections: set[H3Protocol],
    ) -> None:
        self._transport = transport
        self._server = server
        self._connections = connections
        self._closed = False
        address = transport.get_extra_info("sockname")
        #: The address the server is bound to.
        self.host: str = str(address[0])
        #: The bound UDP port (the one the system picked when ``serve_webtransport`` got port 0).
        self.port: int = int(address[1])

    @property
    def connection_count(self) -> int:
        """Open QUIC connections."""
        return len(self._connections)

    async def close(self, timeout: float = 1.0) -> None:  # noqa: ASYNC109
        """End every session, wait up to ``timeout`` seconds for the clients to acknowledge their
        last bytes, then close the connections and stop listening."""
        if self._closed:
            return
        self._closed = True
        connections = list(self._connections)
        for connection in connections:
            connection.end_sessions()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # aioquic signals no acknowledgement: look every few milliseconds.
        while loop.time() < deadline and not all(c.settled for c in connections):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        for connection in connections:
            connection.close_connection()
        # Let the close frames leave before the socket goes.
        await asyncio.sleep(0)
        self._server.close()

    async def __aenter__(self) -> WebTransportServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<WebTransportServer https://{self.host}:{self.port} (udp)>"


async def serve_webtransport(
    app: WebTransportApp,
    host: str = "127.0.0.1",
    port: int = 4433,
    *,
    certfile: str,
    keyfile: str,
    password: str | bytes | None = None,
    open_timeout: float = OPEN_TIMEOUT,
    idle_timeout: float = 60.0,
) -> WebTransportServer:
    """Serve WebTransport sessions for ``app`` (an :class:`~aiosio.EngineServer`, e.g. ``io.engine``)
    on UDP ``host:port``; port 0 picks a free port (see ``.port``).

    ``certfile`` and ``keyfile`` are PEM files; browsers check the certificate as for HTTPS, or
    against the hashes a page pins (``serverCertificateHashes``: an ECDSA certificate valid for less
    than 14 days, see :func:`self_signed_certificate`). A session must open its stream and send its
    first packet within ``open_timeout`` seconds; a QUIC connection silent for ``idle_timeout``
    seconds is dropped (keep it above the engine's ping interval plus ping timeout).
    """
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"invalid port: {port!r}")
    if open_timeout <= 0 or idle_timeout <= 0:
        raise ValueError("open_timeout and idle_timeout must be positive")
    configuration = QuicConfiguration(
        alpn_protocols=H3_ALPN,
        is_client=False,
        max_datagram_frame_size=65536,
        idle_timeout=idle_timeout,
    )
    configuration.load_cert_chain(certfile, keyfile, password)
    connections: set[H3Protocol] = set()
    create_protocol = functools.partial(
        H3Protocol, app=app, open_timeout=open_timeout, connections=connections
    )
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        lambda: QuicServer(configuration=configuration, create_protocol=create_protocol),
        local_addr=(host, port),
    )
    result = WebTransportServer(transport, server, connections)
    logger.debug("webtransport listening on udp %s:%s", result.host, result.port)
    return result


def self_signed_certificate(
    hosts: Iterable[str] = ("localhost", "127.0.0.1", "::1"), days: int = 10
) -> tuple[bytes, bytes]:
    """A new ECDSA P-256 certificate for ``hosts``, valid ``days`` days: ``(cert_pem, key_pem)``.

    Browsers accept such a certificate without a CA when the page pins its hash (see
    :func:`certificate_hash`) and it is valid for less than 14 days: for development and tests.
    """
    if not 0 < days < 14:
        raise ValueError("a pinned certificate must be valid for 1 to 13 days")
    names = list(hosts)
    if not names:
        raise ValueError("hosts must name at least one host")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def certificate_hash(cert_pem: bytes) -> bytes:
    """The SHA-256 of a PEM certificate's DER form: what ``serverCertificateHashes`` pins."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
