"""Real servers on loopback for the rotation tests, whose testSecret step logs in for real.

* ``make_pki``       - a throw-away CA and a server certificate for 127.0.0.1/localhost
                        (openssl CLI), strict enough for rustls/webpki.
* ``RedisServer``    - Debian's ``redis-server`` (Redis 7), TLS only, ACL users managed the way
                        ElastiCache does when a user's password list changes.
* ``ActiveMqServer`` - Debian's ``activemq`` (ActiveMQ Classic 5.17) as a child JVM: one
                        ``stomp+ssl`` connector, JAAS ``PropertiesLoginModule`` with ``reload``.
* ``RabbitMqServer`` - Debian's ``rabbitmq-server`` (3.10) as a child Erlang node: amqps and
                        the management plugin over HTTPS only, an administrator, vhosts ``/``
                        and ``orders``; AMQP 0-9-1 clients from ``pika``.
* pytest fixtures ``pki``, ``redis_server``, ``activemq_server``, ``rabbitmq_server`` (session scope). pytest keeps
  one instance per module that imports them, so import them once, in conftest.py, when more
  than one test module uses them.

The Redis client is a few lines of RESP over ``ssl`` rather than redis-py: the fixtures need
AUTH, PING and ACL SETUSER only, and a hand-written client keeps full control of what goes on
the wire (one command per fresh connection in ``login``; no retries, no reconnects that would
hide a server closing an authenticated connection).

Nothing here skips: a missing binary raises ``ServerUnavailable`` with the install command,
and the fixtures turn that into ``pytest.fail``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import textwrap
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .harness.loopback import free_port

INSTALL_HINT = "scripts/install-test-servers (or: apt-get install -y redis-server activemq rabbitmq-server)"
LOOPBACK = "127.0.0.1"


class ServerUnavailable(RuntimeError):
    pass


def _require(cmd: str) -> str:
    path = shutil.which(cmd)
    if path is None:
        raise ServerUnavailable(f"`{cmd}` is not installed; run {INSTALL_HINT}")
    return path


def _run(args: list[str], cwd: Path | None = None) -> None:
    res = subprocess.run(args, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout}{res.stderr}")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def _stop_process(proc: subprocess.Popen | None, grace_s: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    # Each server runs in its own session, so the group id is its pid: anything it forked
    # goes too, and nothing else does.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


# --------------------------------------------------------------------------------------------
# PKI
# --------------------------------------------------------------------------------------------

# Our own config rather than the system openssl.cnf, whose default extension sections differ
# between distributions and would clash with these (OpenSSL refuses duplicate extensions).
_OPENSSL_CNF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


@dataclasses.dataclass(frozen=True)
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    def keystore(self, kind: str = "pkcs12", password: str = "changeit") -> Path:
        """The server key and certificate (with the CA as its chain) as a Java keystore.

        ``kind`` is ``pkcs12`` (openssl; Java 9+ reads it natively) or ``jks`` (keytool, from
        the PKCS12). Made on first request and reused.
        """
        kind = kind.lower()
        p12 = self.dir / f"server-{password}.p12"
        if not p12.exists():
            _run([_require("openssl"), "pkcs12", "-export", "-name", "server",
                  "-inkey", str(self.server_key), "-in", str(self.server_cert),
                  "-certfile", str(self.ca_cert), "-passout", f"pass:{password}", "-out", str(p12)])
        if kind == "pkcs12":
            return p12
        if kind != "jks":
            raise ValueError(f"keystore kind {kind!r}: use 'pkcs12' or 'jks'")
        jks = self.dir / f"server-{password}.jks"
        if not jks.exists():
            _run([_keytool(), "-importkeystore", "-noprompt",
                  "-srckeystore", str(p12), "-srcstoretype", "PKCS12", "-srcstorepass", password,
                  "-destkeystore", str(jks), "-deststoretype", "JKS", "-deststorepass", password])
        return jks

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA, checking the host name, strict X.509
        (closer to what rustls accepts than OpenSSL's defaults)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(self.ca_cert))
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


def make_pki(directory: Path | str, days: int = 30) -> Pki:
    """A test CA and a server certificate it signed, for ``127.0.0.1`` and ``localhost``.

    RSA 2048 / SHA-256: every TLS stack involved (rustls, OpenSSL, the JDK) takes it.
    """
    openssl = _require("openssl")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cnf = d / "openssl.cnf"
    cnf.write_text(_OPENSSL_CNF)
    pki = Pki(dir=d, ca_cert=d / "ca.crt", ca_key=d / "ca.key",
              server_cert=d / "server.crt", server_key=d / "server.key")
    _run([openssl, "req", "-x509", "-new", "-config", str(cnf), "-extensions", "ca_ext",
          "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(days),
          "-subj", "/O=userkeeper e2e/CN=userkeeper e2e test CA",
          "-keyout", str(pki.ca_key), "-out", str(pki.ca_cert)])
    csr = d / "server.csr"
    _run([openssl, "req", "-new", "-config", str(cnf), "-newkey", "rsa:2048", "-nodes",
          "-subj", "/O=userkeeper e2e/CN=localhost", "-keyout", str(pki.server_key), "-out", str(csr)])
    _run([openssl, "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert), "-CAkey", str(pki.ca_key),
          # A random serial: two runs' certificates never share issuer+serial.
          "-set_serial", str(secrets.randbits(63) + 1), "-sha256", "-days", str(days),
          "-extfile", str(cnf), "-extensions", "server_ext", "-out", str(pki.server_cert)])
    csr.unlink()
    for key in (pki.ca_key, pki.server_key):
        key.chmod(0o600)
    return pki


def _tls_connect(host: str, port: int, ctx: ssl.SSLContext, server_hostname: str | None = None,
                 timeout_s: float = 10) -> ssl.SSLSocket:
    raw = socket.create_connection((host, port), timeout=timeout_s)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname or host)
    except BaseException:
        raw.close()
        raise


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


class RespError(Exception):
    """An error reply (``-ERR ...``, ``-WRONGPASS ...``) from the server."""


def _resp_encode(*args: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _resp_read(f: Any) -> Any:
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed by the server")
    if not line.endswith(b"\r\n"):
        raise ConnectionError(f"truncated reply {line!r}")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ConnectionError(f"not a RESP2 reply: {line!r}")


class RedisConnection:
    """One TLS connection, RESP2. ``call`` returns error replies as ``RespError`` values."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, timeout_s: float = 10,
                 server_hostname: str | None = None) -> None:
        self.sock = _tls_connect(host, port, ctx, server_hostname=server_hostname, timeout_s=timeout_s)
        self._rf = self.sock.makefile("rb")

    def call(self, *args: str | bytes) -> Any:
        self.sock.sendall(_resp_encode(*args))
        return _resp_read(self._rf)

    def check(self, *args: str | bytes) -> Any:
        reply = self.call(*args)
        if isinstance(reply, RespError):
            raise reply
        return reply

    def ping(self) -> bool:
        """True on PONG; False when the server refuses (e.g. NOAUTH) or has closed the
        connection: what matters to callers is whether this client still works."""
        try:
            return self.call("PING") == "PONG"
        except (OSError, ConnectionError):
            return False

    def close(self) -> None:
        try:
            self._rf.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RedisConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _ServerProcess:
    """A server the tests start: a process in its own directory, waited for until it answers,
    stopped (and its directory removed) at the end."""

    proc: subprocess.Popen | None = None
    dir: Path | None = None
    startup_s: float | None = None
    ready_timeout_s: float = 30

    def _wait_ready(self, t0: float, ready: Callable[[], bool], errors: tuple[type[BaseException], ...],
                    poll_s: float, what: Callable[[], str], details: Callable[[], str]) -> Any:
        deadline = time.monotonic() + self.ready_timeout_s
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                break
            try:
                if ready():
                    self.startup_s = time.monotonic() - t0
                    return self
            except errors as e:
                last = e
            time.sleep(poll_s)
        rc = self.proc.poll() if self.proc else None
        self.stop(keep_dir=True)
        raise RuntimeError(f"{what()} within {self.ready_timeout_s}s (exit code {rc}, last error {last!r}); "
                           f"{details()}")

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self, keep_dir: bool = False) -> None:
        _stop_process(self.proc)
        self.proc = None
        if self.dir is not None and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class RedisServer(_ServerProcess):
    """``redis-server`` on a free loopback port, TLS only, in a temp dir, no persistence.

    ``default`` is disabled; an admin user (``admin_user``/``admin_password``) made from the
    config file runs ``set_user``. ``redis-server`` must be a TLS build (Debian's is).
    """

    def __init__(self, pki: Pki, ready_timeout_s: float = 20) -> None:
        self.pki = pki
        self.ready_timeout_s = ready_timeout_s
        self.host = LOOPBACK
        self.port = 0
        self.admin_user = "e2e-admin"
        self.admin_password = secrets.token_hex(16)
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self._ctx = pki.client_context()

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "redis.log"

    def start(self) -> "RedisServer":
        binary = _require("redis-server")
        t0 = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="userkeeper-redis-"))
        self.port = free_port()
        conf = self.dir / "redis.conf"
        conf.write_text(textwrap.dedent(f"""\
            bind {self.host}
            port 0
            tls-port {self.port}
            tls-cert-file {self.pki.server_cert}
            tls-key-file {self.pki.server_key}
            tls-ca-cert-file {self.pki.ca_cert}
            tls-auth-clients no
            dir {self.dir}
            logfile {self.log_path}
            daemonize no
            save ""
            appendonly no
            user default off resetpass -@all
            user {self.admin_user} on >{self.admin_password} ~* &* +@all
            """))
        with open(self.dir / "stdout.log", "wb") as out:
            self.proc = subprocess.Popen([binary, str(conf)], cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        def ready() -> bool:
            with self.admin() as c:
                return c.ping()

        return self._wait_ready(t0, ready, (OSError, ssl.SSLError, ConnectionError, RespError), 0.05,
                                lambda: f"redis-server did not accept TLS on {self.host}:{self.port}",
                                lambda: f"config {conf}, log:\n{_tail(self.log_path)}\n"
                                        f"{_tail(self.dir / 'stdout.log')}")

    # -- clients -------------------------------------------------------------------------
    def _connect(self) -> RedisConnection:
        return RedisConnection(self.host, self.port, self._ctx)

    def admin(self) -> RedisConnection:
        c = self._connect()
        try:
            c.check("AUTH", self.admin_user, self.admin_password)
        except BaseException:
            c.close()
            raise
        return c

    def set_user(self, name: str, passwords: list[str]) -> None:
        """What ElastiCache applies when a user's password list changes: the user is rebuilt
        from scratch with exactly these passwords (none: nobody can log in as it)."""
        with self.admin() as c:
            c.check("ACL", "SETUSER", name, "reset", "on", *[f">{p}" for p in passwords],
                    "~*", "&*", "+@all")

    def delete_user(self, name: str) -> None:
        with self.admin() as c:
            c.check("ACL", "DELUSER", name)

    def login(self, name: str, password: str) -> bool:
        """A new TLS connection doing AUTH. False on WRONGPASS; any other failure raises."""
        with self._connect() as c:
            reply = c.call("AUTH", name, password)
        if reply == "OK":
            return True
        if isinstance(reply, RespError) and str(reply).startswith("WRONGPASS"):
            return False
        raise RuntimeError(f"unexpected AUTH reply {reply!r}")

    def connect(self, name: str, password: str) -> RedisConnection:
        """An authenticated connection the caller holds (and closes)."""
        c = self._connect()
        try:
            c.check("AUTH", name, password)
        except BaseException:
            c.close()
            raise
        return c


# --------------------------------------------------------------------------------------------
# ActiveMQ
# --------------------------------------------------------------------------------------------

ACTIVEMQ_HOME = Path("/usr/share/activemq")


def _java() -> str:
    # Debian's default JVM first: a newer JDK elsewhere on PATH may not run Debian's Spring 3.
    for cand in (os.environ.get("USERKEEPER_TEST_JAVA"), "/usr/lib/jvm/default-java/bin/java"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return _require("java")


def _keytool() -> str:
    sibling = Path(_java()).resolve().parent / "keytool"
    return str(sibling) if os.access(sibling, os.X_OK) else _require("keytool")


def _java_properties_escape(s: str, key: bool) -> str:
    """java.util.Properties.load syntax: it reads ISO-8859-1, so everything else is \\uXXXX
    (UTF-16 units, as Java strings are)."""
    out = []
    for i, ch in enumerate(s):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\t\n\r\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}[ch])
        elif ch in "=:#!":
            out.append("\\" + ch)
        elif ch == " " and (key or i == 0):
            out.append("\\ ")
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            units = ch.encode("utf-16-be")
            out.extend(f"\\u{units[j]:02x}{units[j + 1]:02x}" for j in range(0, len(units), 2))
    return "".join(out)


def activemq_passcode(password: str) -> str:
    """``password`` as a client must send it for ActiveMQ to see it: the broker unescapes
    ``\\\\``, ``\\n`` and ``\\c`` in STOMP CONNECT headers whatever the version negotiated
    (STOMP 1.2 leaves CONNECT unescaped), so each backslash goes doubled, as userkeeper's own
    login sends it. Amazon MQ passwords hold no ``:`` and no line breaks."""
    return password.replace("\\", "\\\\")


class ActiveMqServer(_ServerProcess):
    """ActiveMQ Classic (Debian's package) as a child JVM, not the system service.

    Everything lives in a temp dir (``activemq.base``): conf/activemq.xml with a single
    ``stomp+ssl`` connector on a free loopback port, no persistence, no JMX, no advisories;
    conf/login.config pointing JAAS ``PropertiesLoginModule`` at users.properties and
    groups.properties with ``reload=true``. Debian ships no Jetty, so there is no web console.

    ``reload=true`` makes the module compare the file's mtime with the time of its last load
    on every login (no polling thread), so ``set_users`` takes effect at the next CONNECT.
    """

    JVM_OPTS = ["-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Djava.awt.headless=true"]

    def __init__(self, pki: Pki, ready_timeout_s: float = 90) -> None:
        self.pki = pki
        self.ready_timeout_s = ready_timeout_s
        self.host = LOOPBACK
        self.port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self.users: dict[str, str] = {}
        self._users_mtime_ns = 0
        self._ctx = pki.client_context()

    @property
    def conf_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "conf"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "broker.log"

    def start(self, users: dict[str, str] | None = None) -> "ActiveMqServer":
        if not (ACTIVEMQ_HOME / "bin" / "activemq.jar").exists():
            raise ServerUnavailable(f"ActiveMQ is not installed ({ACTIVEMQ_HOME}/bin/activemq.jar); "
                                    f"run {INSTALL_HINT}")
        java = _java()
        t0 = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="userkeeper-activemq-"))
        for sub in ("conf", "data", "tmp"):
            (self.dir / sub).mkdir()
        self.port = free_port()
        ks_password = secrets.token_hex(12)
        keystore = self.pki.keystore("pkcs12", ks_password)
        self._write_config(keystore, ks_password)
        self.set_users(users or {})
        conf, data = self.conf_dir, self.dir / "data"
        cmd = [java, *self.JVM_OPTS,
               f"-Djava.security.auth.login.config={conf / 'login.config'}",
               f"-Djava.io.tmpdir={self.dir / 'tmp'}",
               f"-Dactivemq.classpath={conf}",  # log4j.properties is found on it
               f"-Dactivemq.home={ACTIVEMQ_HOME}",
               f"-Dactivemq.base={self.dir}",
               f"-Dactivemq.conf={conf}",
               f"-Dactivemq.data={data}",
               "-jar", str(ACTIVEMQ_HOME / "bin" / "activemq.jar"),
               "start", f"xbean:file:{conf / 'activemq.xml'}"]
        (self.dir / "command").write_text(" ".join(cmd) + "\n")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        def ready() -> bool:
            _tls_connect(self.host, self.port, self._ctx, timeout_s=5).close()
            return True

        return self._wait_ready(t0, ready, (OSError, ssl.SSLError), 0.1,
                                lambda: f"ActiveMQ did not accept TLS on {self.host}:{self.port}",
                                lambda: f"dir {self.dir}, broker log:\n{_tail(self.log_path)}")

    def _write_config(self, keystore: Path, ks_password: str) -> None:
        conf = self.conf_dir
        (conf / "activemq.xml").write_text(textwrap.dedent(f"""\
            <beans xmlns="http://www.springframework.org/schema/beans"
                   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                   xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                     http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
              <broker xmlns="http://activemq.apache.org/schema/core"
                      brokerName="userkeeper-e2e" useJmx="false" persistent="false"
                      advisorySupport="false" schedulerSupport="false" useShutdownHook="true"
                      dataDirectory="{self.dir / 'data'}" tmpDataDirectory="{self.dir / 'tmp'}">
                <plugins>
                  <jaasAuthenticationPlugin configuration="userkeeper-e2e"/>
                </plugins>
                <sslContext>
                  <sslContext keyStore="file:{keystore}" keyStorePassword="{ks_password}" keyStoreType="PKCS12"/>
                </sslContext>
                <transportConnectors>
                  <transportConnector name="stomp+ssl"
                      uri="stomp+ssl://{self.host}:{self.port}?transport.needClientAuth=false&amp;transport.wantClientAuth=false"/>
                </transportConnectors>
              </broker>
            </beans>
            """))
        # Relative file names: PropertiesLoader resolves them against this file's directory
        # (an absolute name would be appended to it, not used as is).
        (conf / "login.config").write_text(textwrap.dedent("""\
            userkeeper-e2e {
                org.apache.activemq.jaas.PropertiesLoginModule required
                    org.apache.activemq.jaas.properties.user="users.properties"
                    org.apache.activemq.jaas.properties.group="groups.properties"
                    reload=true;
            };
            """))
        (conf / "log4j.properties").write_text(textwrap.dedent("""\
            log4j.rootLogger=INFO, out
            log4j.logger.org.apache.activemq.jaas=DEBUG
            log4j.logger.org.springframework=WARN
            log4j.logger.org.apache.xbean=WARN
            log4j.appender.out=org.apache.log4j.ConsoleAppender
            log4j.appender.out.layout=org.apache.log4j.PatternLayout
            log4j.appender.out.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n
            """))

    def _replace(self, name: str, text: str, mtime_ns: int) -> None:
        path = self.conf_dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="iso-8859-1")
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
        # Atomic: a login never reads a half-written file.
        os.replace(tmp, path)

    def set_users(self, users: dict[str, str]) -> None:
        """Replace every broker user (name -> password); effective from the next login.

        The module reloads when mtime > the time of its last load. Written "now", a file can
        lose that race (the kernel's coarse file clock lags currentTimeMillis by a few ms, or
        a load in flight read the old file just before the rename), and the change would never
        be seen. So the mtime is set 2 s ahead: every login until then reloads, the last of
        those reloads reads the new file. Strictly increasing across calls for the same reason.
        """
        self.users = dict(users)
        mtime_ns = max(time.time_ns() + 2_000_000_000, self._users_mtime_ns + 1_000_000)
        self._users_mtime_ns = mtime_ns
        lines = ["# written by tests/e2e/servers.py"]
        lines += [f"{_java_properties_escape(u, key=True)}={_java_properties_escape(p, key=False)}"
                  for u, p in users.items()]
        group = ",".join(_java_properties_escape(u, key=False) for u in users)
        self._replace("users.properties", "\n".join(lines) + "\n", mtime_ns)
        self._replace("groups.properties", f"users={group}\n", mtime_ns)

    def stomp_login(self, user: str, password: str, host: str = "localhost") -> bool:
        """A new TLS connection sending a STOMP 1.2 CONNECT. True on CONNECTED, False on
        ERROR. CONNECT headers are not escaped (STOMP 1.2), so CR/LF cannot be sent."""
        if any(c in s for s in (user, password) for c in "\r\n\0"):
            raise ValueError("STOMP CONNECT headers cannot carry CR, LF or NUL")
        frame = (f"CONNECT\naccept-version:1.2\nhost:{host}\nlogin:{user}\npasscode:{password}\n"
                 "heart-beat:0,0\n\n").encode() + b"\0"
        with _tls_connect(self.host, self.port, self._ctx) as s:
            s.sendall(frame)
            buf = b""
            while b"\0" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            if buf.startswith(b"CONNECTED\n"):
                try:
                    s.sendall(b"DISCONNECT\n\n\0")
                except OSError:
                    pass
        command = buf.split(b"\n", 1)[0].rstrip(b"\r")
        if command == b"CONNECTED":
            return True
        if command == b"ERROR":
            return False
        raise RuntimeError(f"unexpected STOMP reply {buf[:500]!r}")


# --------------------------------------------------------------------------------------------
# RabbitMQ
# --------------------------------------------------------------------------------------------

# The real start script: /usr/sbin/rabbitmq-server is a wrapper that, run as root, switches to
# the package's `rabbitmq` user and its /var/lib/rabbitmq; the node must run as whoever runs
# the tests, in its own directory.
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _pika() -> Any:
    try:
        import pika
    except ImportError:
        raise ServerUnavailable("the AMQP client `pika` is not installed; run "
                                "pip install -r tests/requirements.txt") from None
    return pika


class ManagementError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status} {body[:300]}")
        self.status = status


def _quote(name: str) -> str:
    # Every name is one path segment: the default vhost "/" goes as %2F.
    return urllib.parse.quote(name, safe="")


class AmqpClient:
    """An AMQP 0-9-1 connection a test holds open (pika's BlockingConnection): use it from one
    thread at a time."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def alive(self) -> bool:
        """True while the broker still serves this connection: opening and closing a channel
        is a round trip that needs no permission."""
        try:
            channel = self.connection.channel()
            channel.close()
            return True
        except Exception:  # noqa: BLE001 - whatever pika raises, the connection is gone
            return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.connection.is_open:
                self.connection.close()

    def __enter__(self) -> "AmqpClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RabbitMqServer(_ServerProcess):
    """RabbitMQ (Debian's package) as a child Erlang node, not the system service.

    Its own node name, directory (config, mnesia, logs, and HOME for the Erlang cookie, so it
    runs as root in CI as well), and free loopback ports: amqps, the management plugin's HTTPS
    listener, and the node's Erlang distribution port. No plain AMQP or HTTP listener. epmd, the
    Erlang port mapper, is shared by every node on the machine (the first node starts it).
    Plugins are enabled offline (``RABBITMQ_ENABLED_PLUGINS_FILE``). The administrator
    (``admin_user``/``admin_password``, tag ``administrator``) is RabbitMQ's default user,
    made at first boot; vhost ``orders`` is added once the management API answers.

    What Amazon MQ runs (3.13, 4.x) and this 3.10 differ in, for what the tests use: see
    tests/e2e/README.md ("RabbitMQ").
    """

    VHOSTS = ("/", "orders")

    def __init__(self, pki: Pki, ready_timeout_s: float = 90) -> None:
        self.pki = pki
        self.ready_timeout_s = ready_timeout_s
        self.host = LOOPBACK
        self.amqps_port = 0
        self.management_port = 0
        self.dist_port = 0
        self.node = f"userkeeper-e2e-{secrets.token_hex(4)}@localhost"
        self.admin_user = "e2e-admin"
        self.admin_password = secrets.token_hex(16)
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self._ctx = pki.client_context()

    @property
    def console_url(self) -> str:
        """What Amazon MQ's DescribeBroker gives as ``BrokerInstances[].ConsoleURL``."""
        return f"https://{self.host}:{self.management_port}"

    @property
    def amqps_endpoint(self) -> str:
        """What Amazon MQ's DescribeBroker lists in ``BrokerInstances[].Endpoints``."""
        return f"amqps://{self.host}:{self.amqps_port}"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "log" / f"{self.node}.log"

    def start(self) -> "RabbitMqServer":
        if not os.access(RABBITMQ_SERVER, os.X_OK):
            raise ServerUnavailable(f"RabbitMQ is not installed ({RABBITMQ_SERVER}); run {INSTALL_HINT}")
        _pika()
        t0 = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="userkeeper-rabbitmq-"))
        for sub in ("home", "mnesia", "log"):
            (self.dir / sub).mkdir()
        self.amqps_port, self.management_port, self.dist_port = free_port(), free_port(), free_port()
        self._write_config()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            # The cookie is made in $HOME on first start: ours, never root's or the package's.
            "HOME": str(self.dir / "home"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.config"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),  # none
            # Not /etc/rabbitmq/rabbitmq-env.conf: nothing of the machine's setup applies.
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"),
            # Distribution on loopback only, like every other port here.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        with open(self.dir / "stdout.log", "wb") as out:
            self.proc = subprocess.Popen([str(RABBITMQ_SERVER)], cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def ready() -> bool:
            self.management("GET", "/api/overview")
            _tls_connect(self.host, self.amqps_port, self._ctx, timeout_s=5).close()
            return True

        self._wait_ready(t0, ready, (OSError, ssl.SSLError, ManagementError, http.client.HTTPException), 0.1,
                         lambda: f"rabbitmq-server did not answer on {self.console_url} and {self.amqps_endpoint}",
                         lambda: f"dir {self.dir}, log:\n{_tail(self.log_path)}\n{_tail(self.dir / 'stdout.log')}")
        self.management("PUT", "/api/vhosts/orders", {})
        self.startup_s = time.monotonic() - t0
        return self

    def _write_config(self) -> None:
        """The classic Erlang-terms config file rather than rabbitmq.conf: the new format goes
        through cuttlefish and every plugin's schema at each boot, seconds of CPU."""
        assert self.dir is not None
        pki = self.pki
        tls = (f'{{cacertfile, "{pki.ca_cert}"}}, {{certfile, "{pki.server_cert}"}}, '
               f'{{keyfile, "{pki.server_key}"}}')
        (self.dir / "rabbitmq.config").write_text(textwrap.dedent(f"""\
            [
             {{rabbit, [
               {{tcp_listeners, []}},
               {{ssl_listeners, [{{"{self.host}", {self.amqps_port}}}]}},
               {{ssl_options, [{tls}, {{verify, verify_none}}, {{fail_if_no_peer_cert, false}}]}},
               {{default_user, <<"{self.admin_user}">>}},
               {{default_pass, <<"{self.admin_password}">>}},
               {{default_user_tags, [administrator]}},
               {{default_permissions, [<<".*">>, <<".*">>, <<".*">>]}},
               {{log, [{{console, [{{enabled, false}}]}}, {{file, [{{level, info}}]}}]}}
             ]}},
             %% Only the HTTPS listener: with ssl_config and no tcp_config the plugin opens no
             %% plain one.
             {{rabbitmq_management, [
               {{ssl_config, [{{ip, "{self.host}"}}, {{port, {self.management_port}}}, {tls}]}}
             ]}}
            ].
            """))
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def stop(self, keep_dir: bool = False) -> None:
        # SIGKILL at once: a clean shutdown takes RabbitMQ several seconds, saving state this
        # throw-away directory does not need.
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        super().stop(keep_dir)

    # -- management HTTP API ------------------------------------------------------------------
    def management(self, method: str, path: str, body: Any = None, user: str | None = None,
                   password: str | None = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        """One management API call (as the administrator unless ``user`` is given); the parsed
        JSON answer (None if empty). A status outside ``ok`` raises ``ManagementError``."""
        status, text = self._http(method, path, body, user or self.admin_user,
                                  self.admin_password if user is None else password or "")
        if status not in ok:
            raise ManagementError(method, path, status, text)
        return json.loads(text) if text.strip() else None

    def _http(self, method: str, path: str, body: Any, user: str, password: str) -> tuple[int, str]:
        conn = http.client.HTTPSConnection(self.host, self.management_port, context=self._ctx, timeout=10)
        try:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers = {"Authorization": f"Basic {token}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def user(self, name: str) -> dict[str, Any] | None:
        """``GET /api/users/{name}`` (``name``, ``tags`` as a list, ``password_hash``...), None if
        there is no such user."""
        try:
            return self.management("GET", f"/api/users/{_quote(name)}")
        except ManagementError as e:
            if e.status == 404:
                return None
            raise

    def user_names(self) -> set[str]:
        return {u["name"] for u in self.management("GET", "/api/users")}

    def permissions(self, name: str) -> dict[str, dict[str, str]]:
        """The user's permissions per vhost: ``{vhost: {"configure", "write", "read"}}``."""
        try:
            listed = self.management("GET", f"/api/users/{_quote(name)}/permissions")
        except ManagementError as e:
            if e.status == 404:
                return {}
            raise
        return {p["vhost"]: {k: p[k] for k in ("configure", "write", "read")} for p in listed}

    def put_user(self, name: str, password: str, tags: list[str] | tuple[str, ...] = ()) -> None:
        self.management("PUT", f"/api/users/{_quote(name)}", {"password": password, "tags": ",".join(tags)})

    def set_permissions(self, name: str, vhost: str, configure: str = ".*", write: str = ".*",
                        read: str = ".*") -> None:
        self.management("PUT", f"/api/permissions/{_quote(vhost)}/{_quote(name)}",
                        {"configure": configure, "write": write, "read": read})

    def delete_user(self, name: str) -> None:
        self.management("DELETE", f"/api/users/{_quote(name)}", ok=(204, 404))

    def management_login(self, name: str, password: str) -> bool:
        """The management API's own authentication check (``GET /api/whoami`` as the user):
        True when the password is accepted, also for a user without a management tag (401 "Not
        management user"); False on "Login failed"."""
        status, text = self._http("GET", "/api/whoami", None, name, password)
        if status == 200 or (status == 401 and "Not management user" in text):
            return True
        if status == 401:
            return False
        raise ManagementError("GET", "/api/whoami", status, text)

    # -- AMQP 0-9-1 clients --------------------------------------------------------------------
    def _parameters(self, name: str, password: str, vhost: str) -> Any:
        pika = _pika()
        return pika.ConnectionParameters(
            host=self.host, port=self.amqps_port, virtual_host=vhost,
            credentials=pika.PlainCredentials(name, password, erase_on_connect=True),
            ssl_options=pika.SSLOptions(self._ctx, server_hostname=self.host),
            # A held connection is not pumped while a test waits: no heartbeats to miss.
            heartbeat=0, connection_attempts=1, socket_timeout=10, blocked_connection_timeout=10,
            stack_timeout=15)

    def connect(self, name: str, password: str, vhost: str = "/") -> AmqpClient:
        """An authenticated AMQP connection over TLS that the caller holds (and closes)."""
        return AmqpClient(_pika().BlockingConnection(self._parameters(name, password, vhost)))

    def login(self, name: str, password: str, vhost: str = "/") -> bool:
        """A fresh AMQP connection over TLS, opened on ``vhost`` and closed. False when the
        broker refuses the credentials; anything else (no access to ``vhost``, TLS, network)
        raises, so that a test never mistakes it for a wrong password."""
        pika = _pika()
        try:
            conn = pika.BlockingConnection(self._parameters(name, password, vhost))
        except (pika.exceptions.AuthenticationError, pika.exceptions.ProbableAuthenticationError):
            return False
        with AmqpClient(conn):
            return True


# --------------------------------------------------------------------------------------------
# pytest fixtures (session scope: each server starts once per run)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    try:
        return make_pki(tmp_path_factory.mktemp("pki"))
    except ServerUnavailable as e:
        pytest.fail(str(e), pytrace=False)


def _serve(server: _ServerProcess) -> Iterator[Any]:
    """A started server for a fixture; a missing package fails the test, naming the install."""
    try:
        server.start()
    except ServerUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(pki: Pki) -> Iterator[RedisServer]:
    yield from _serve(RedisServer(pki))


@pytest.fixture(scope="session")
def activemq_server(pki: Pki) -> Iterator[ActiveMqServer]:
    yield from _serve(ActiveMqServer(pki))


@pytest.fixture(scope="session")
def rabbitmq_server(pki: Pki) -> Iterator[RabbitMqServer]:
    yield from _serve(RabbitMqServer(pki))


def start_login_servers(stack: contextlib.ExitStack, prefix: str) -> tuple[Pki, RedisServer, ActiveMqServer]:
    """A fresh CA and the real Redis and ActiveMQ behind it, stopped with ``stack``: what the
    tools that log in (tools/load.py, tools/rotation_bench.py) start. Raises
    ``ServerUnavailable`` naming what to install."""
    pki = make_pki(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    redis = stack.enter_context(RedisServer(pki))
    activemq = stack.enter_context(ActiveMqServer(pki))
    return pki, redis, activemq
