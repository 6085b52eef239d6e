"""Serve a simulated device's web API over HTTPS (its own self-signed certificate) or plain HTTP.

Each accepted connection is a session like any other (``sim.run_session``), so a reboot, a
power cut or ``stop()`` closes it; the TLS handshake runs in the session's thread, never in the
accept loop. Requests are HTTP/1.1 with keep-alive; the device answers through
``sim.handle_http(conn, request) -> HttpResponse``. The fault knobs apply to the whole response
as ``conn.send`` applies them (``garbage`` garbles the status line too, ``silent`` answers
nothing), except ``drop``, which sends the head and half the body, then closes.

Certificates: ``load_or_create_identity(path, host)`` keeps a key and a self-signed certificate
(ECDSA P-256, the address as subject alternative name) in ``path`` so a client's pinned
fingerprint survives a restart, as a real unit's certificate does; without a path a fresh one is
made at start. ``fingerprint`` is the SHA-256 of the DER certificate, what a client pins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import ipaddress
import os
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from simulators.harness import ConnectionClosed, DeviceSimulator, ListeningServer, SimConnection

#: How long a client may take for its TLS handshake, seconds.
HANDSHAKE_TIMEOUT = 5.0
#: Largest request body the simulator reads.
MAX_REQUEST = 1024 * 1024
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error"}


@dataclass(frozen=True)
class TlsIdentity:
    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER certificate, lowercase hex."""
        der = ssl.PEM_cert_to_DER_cert(self.cert_pem.decode())
        return hashlib.sha256(der).hexdigest()

    def write_cert(self, path: str | os.PathLike[str]) -> None:
        """The certificate alone (a CA file a client may verify against)."""
        Path(path).write_bytes(self.cert_pem)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:   # ssl loads chains from files only
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            key.chmod(0o600)
            ctx.load_cert_chain(str(cert), str(key))
        return ctx


def make_identity(host: str, common_name: str = "RoomOps simulator") -> TlsIdentity:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    with contextlib.suppress(ValueError):
        alt.insert(0, x509.IPAddress(ipaddress.ip_address(host)))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return TlsIdentity(cert.public_bytes(serialization.Encoding.PEM),
                       key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))


def load_or_create_identity(path: str | os.PathLike[str], host: str) -> TlsIdentity:
    """The key + certificate stored in ``path`` (one PEM file, 0600), created when missing."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(f"{file}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if file.exists():
            text = file.read_bytes()
            cert_end = text.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
            return TlsIdentity(text[:cert_end], text[cert_end:])
        ident = make_identity(host)
        fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(ident.cert_pem + ident.key_pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ident
    except ValueError as exc:
        raise OSError(f"simulator certificate {file} is unreadable: {exc}") from exc
    finally:
        os.close(lock_fd)


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.target.partition("?")[2]))

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class HttpResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    #: Run after the response went out (a reboot, an address change): may raise ConnectionClosed.
    after: list[object] = field(default_factory=list)


class HttpConnection(SimConnection):
    """One HTTP(S) client connection as the device sees it."""

    http = True

    def __init__(self, sim: DeviceSimulator, sock: socket.socket, peer: str) -> None:
        super().__init__(sim, peer)
        self.sock = sock

    def _recv(self, timeout: float) -> bytes:
        try:
            self.sock.settimeout(max(timeout, 0.001))
            data = self.sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return b""
        except (OSError, ValueError) as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if not data:
            raise ConnectionClosed(self.peer)
        return data

    def _send(self, data: bytes) -> None:
        try:
            self.sock.settimeout(5.0)
            self.sock.sendall(data)
        except (OSError, ValueError) as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class HttpsServer(ListeningServer):
    """HTTPS (``tls``, the default) or plain HTTP on ``host:port``."""

    def __init__(self, sim: DeviceSimulator, host: str, port: int = 0, *, tls: bool = True,
                 identity: TlsIdentity | None = None) -> None:
        super().__init__(sim, host, port)
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.identity = identity or (make_identity(host) if tls else None)
        self._context = self.identity.server_context() if self.identity is not None and tls else None

    @property
    def fingerprint(self) -> str:
        return self.identity.fingerprint if self.identity is not None else ""

    def handle_client(self, client: socket.socket, peer: str) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim.spawn(self._serve_client, client, peer, name=f"sim-http-{self.sim.name}-{peer}")

    def _serve_client(self, client: socket.socket, peer: str) -> None:
        sock: socket.socket = client
        if self._context is not None:
            client.settimeout(HANDSHAKE_TIMEOUT)
            try:
                sock = self._context.wrap_socket(client, server_side=True)
            except (OSError, ssl.SSLError):
                client.close()   # the client gave up or refused our certificate
                return
        self.sim.run_session(HttpConnection(self.sim, sock, peer))


def serve_http(conn: SimConnection, handle: object) -> None:
    """Read requests on ``conn`` and answer each with ``handle(request)`` until the client goes."""
    assert callable(handle)
    while True:
        head = conn.read_until(b"\r\n\r\n")
        request = _parse_head(head)
        if request is None:
            conn.send_raw(_head(400, b"", "text/plain", {"Connection": "close"}))
            conn.close()
            return
        length = request.header("content-length")
        if length and (not length.isdigit() or int(length) > MAX_REQUEST):
            conn.send_raw(_head(413, b"", "text/plain", {"Connection": "close"}))
            conn.close()
            return
        request.body = conn.read_exactly(int(length), timeout=10) if length else b""
        response: HttpResponse = handle(request)
        _send_response(conn, response)
        for action in response.after:
            assert callable(action)
            action()
        if request.header("connection").lower() == "close":
            conn.close()
            return


def _parse_head(head: bytes) -> HttpRequest | None:
    try:
        text = head.decode("latin-1")
        first, *lines = text.split("\r\n")
        method, target, version = first.split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                return None
            headers[name.strip().lower()] = value.strip()
    return HttpRequest(method, target, headers, b"")


def _head(status: int, body: bytes, content_type: str, extra: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Length: {len(body)}"]
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send_response(conn: SimConnection, response: HttpResponse) -> None:
    head = _head(response.status, response.body, response.content_type, response.headers)
    if conn.sim.faults.drop_mid_reply:
        conn.send_raw(head + response.body[: len(response.body) // 2])
        conn.close()
        raise ConnectionClosed(f"{conn.peer}: dropped mid-reply (fault)")
    conn.send(head + response.body)
