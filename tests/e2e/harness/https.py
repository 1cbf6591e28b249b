"""HTTPS for the harness's plain-HTTP servers: a TLS front for the emulator and an HTTPS
ResponseURL receiver, as AWS and S3 speak, so that what the function's TLS does (its trust
store, its verification) is in what is tested and measured."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

from .receiver import ResponseReceiver

#: Where Debian/Ubuntu and Amazon Linux keep the system's CA bundle.
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def system_bundle() -> Path:
    found = next((Path(p) for p in SYSTEM_BUNDLES if Path(p).is_file()), None)
    if found is None:
        raise RuntimeError(f"no system CA bundle at {' or '.join(SYSTEM_BUNDLES)}: "
                           "apt-get install -y ca-certificates")
    return found


def server_context(chain: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    return ctx


def content_length(head: bytes) -> int | None:
    return next((int(ln.split(b":", 1)[1]) for ln in head.split(b"\r\n")
                 if ln.lower().startswith(b"content-length:")), None)


class TlsFront:
    """HTTPS in front of the emulator's plain HTTP, keeping the client's connection alive as
    AWS's endpoints do (the emulator closes its connection after every answer, which would
    make every call of both contenders pay a new TLS handshake)."""

    def __init__(self, target_port: int, ctx: ssl.SSLContext) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def exchange(head: bytes, body: bytes) -> bytes:
            ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
            uw.write(head + body)
            await uw.drain()
            status_headers = (await ur.readuntil(b"\r\n\r\n"))[:-4]
            length = content_length(status_headers)
            # Werkzeug closes its end some 10 ms after the answer: read what it announced.
            payload = await (ur.readexactly(length) if length is not None else ur.read())
            uw.close()
            lines = [ln for ln in status_headers.split(b"\r\n")
                     if not ln.lower().startswith((b"connection:", b"content-length:", b"keep-alive:"))]
            lines.append(b"Content-Length: %d" % len(payload))
            return b"\r\n".join(lines) + b"\r\n\r\n" + payload

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while head := await r.readuntil(b"\r\n\r\n"):
                    length = content_length(head) or 0
                    body = await r.readexactly(length) if length else b""
                    w.write(await exchange(head, body))
                    await w.drain()
            with contextlib.suppress(Exception):
                w.close()

        async def start() -> None:
            self.server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()

        def run() -> None:
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        threading.Thread(target=run, name="tls-front", daemon=True).start()
        started.wait(10)
        self.url = f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def https_receiver(ctx: ssl.SSLContext) -> ResponseReceiver:
    """The harness's ResponseURL receiver, speaking HTTPS (the handshake in its handler thread)."""
    rec = ResponseReceiver()
    srv = rec._server  # noqa: SLF001 - the harness's server, wrapped rather than copied
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    return rec
