"""The real-server fixtures (servers.py) do what the rotation tests will rely on.

If one of these fails, a rotation test failing against the same server says nothing about
userkeeper.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import uuid

import pytest

# The fixtures pki, redis_server, activemq_server and rabbitmq_server come from conftest.py (one
# of each per run, per worker).
from .servers import ActiveMqServer, Pki, RabbitMqServer, RedisServer, make_pki


def _name(prefix: str) -> str:
    # The servers live for the session: unique names keep tests independent of each other.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _password() -> str:
    return uuid.uuid4().hex + "Aa1!"


@pytest.fixture(params=["redis", "activemq", "rabbitmq-amqps", "rabbitmq-management"])
def tls_endpoint(request: pytest.FixtureRequest) -> tuple[str, int]:
    if request.param.startswith("rabbitmq"):
        rabbit = request.getfixturevalue("rabbitmq_server")
        return rabbit.host, rabbit.amqps_port if request.param.endswith("amqps") else rabbit.management_port
    server = request.getfixturevalue(f"{request.param}_server")
    return server.host, server.port


# -- PKI ---------------------------------------------------------------------------------------


def test_server_certificate_is_a_v3_leaf_for_loopback(pki: Pki) -> None:
    # What rustls/webpki insists on, checked on the certificate itself.
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pki.server_cert), "-noout", "-text"],
        capture_output=True, text=True, check=True).stdout
    assert "Version: 3 (0x2)" in out
    assert "CA:FALSE" in out
    assert "Digital Signature, Key Encipherment" in out
    assert "TLS Web Server Authentication" in out
    assert "IP Address:127.0.0.1" in out and "DNS:localhost" in out
    ca = subprocess.run(
        ["openssl", "x509", "-in", str(pki.ca_cert), "-noout", "-text"],
        capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE" in ca and "Certificate Sign" in ca
    verify = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", str(pki.ca_cert),
         str(pki.server_cert)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_jks_keystore_holds_the_server_key(pki: Pki) -> None:
    jks = pki.keystore("jks", "storepass")
    out = subprocess.run(["keytool", "-list", "-keystore", str(jks), "-storepass", "storepass"],
                         capture_output=True, text=True, check=True).stdout
    assert "PrivateKeyEntry" in out


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_both_names_verify_with_only_the_test_ca(pki: Pki, tls_endpoint: tuple[str, int], name: str) -> None:
    host, port = tls_endpoint
    with socket.create_connection((host, port), timeout=10) as raw:
        with pki.client_context().wrap_socket(raw, server_hostname=name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert tls.getpeercert()["subjectAltName"] == (("IP Address", "127.0.0.1"), ("DNS", "localhost"))


def test_a_client_checking_another_name_fails(pki: Pki, tls_endpoint: tuple[str, int]) -> None:
    host, port = tls_endpoint
    with socket.create_connection((host, port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError, match="match|mismatch"):
            pki.client_context().wrap_socket(raw, server_hostname="example.com")


def test_a_client_not_trusting_the_ca_fails_the_handshake(tmp_path, tls_endpoint: tuple[str, int]) -> None:
    host, port = tls_endpoint
    other = make_pki(tmp_path / "other")  # a look-alike CA: same subject, different key
    for ctx in (other.client_context(), ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)):
        with socket.create_connection((host, port), timeout=10) as raw:
            with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
                ctx.wrap_socket(raw, server_hostname=host)


def test_a_plain_connection_gets_no_service(tls_endpoint: tuple[str, int]) -> None:
    # The only listening port speaks TLS: plain RESP/STOMP bytes get at most a TLS alert
    # record (content type 0x15; ActiveMQ and RabbitMQ send one, Redis resets), then the
    # connection closes.
    host, port = tls_endpoint
    reply = b""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"PING\r\nCONNECT\naccept-version:1.2\n\n\0")
        try:
            while chunk := s.recv(4096):
                reply += chunk
        except ConnectionResetError:
            pass
    assert reply == b"" or reply.startswith(b"\x15\x03"), reply


# -- Redis ---------------------------------------------------------------------------------


def test_redis_login_with_the_right_password_only(redis_server: RedisServer) -> None:
    user, pw = _name("u"), _password()
    redis_server.set_user(user, [pw])
    assert redis_server.login(user, pw)
    assert not redis_server.login(user, pw + "x")
    assert not redis_server.login(_name("nobody"), pw)


def test_redis_both_passwords_of_a_user_work(redis_server: RedisServer) -> None:
    user, current, pending = _name("u"), _password(), _password()
    redis_server.set_user(user, [current, pending])
    assert redis_server.login(user, current)
    assert redis_server.login(user, pending)
    assert not redis_server.login(user, _password())


def test_redis_set_user_replaces_the_password_list(redis_server: RedisServer) -> None:
    user, old, new = _name("u"), _password(), _password()
    redis_server.set_user(user, [old])
    redis_server.set_user(user, [new])
    assert not redis_server.login(user, old)
    assert redis_server.login(user, new)
    redis_server.set_user(user, [])
    assert not redis_server.login(user, new)


def test_redis_a_held_connection_survives_password_changes(redis_server: RedisServer) -> None:
    user, old, new = _name("u"), _password(), _password()
    redis_server.set_user(user, [old])
    with redis_server.connect(user, old) as held:
        assert held.ping()
        redis_server.set_user(user, [old, new])
        assert held.ping()
        redis_server.set_user(user, [new])
        assert held.ping()
        assert not redis_server.login(user, old)
        assert redis_server.login(user, new)


def test_redis_ping_reports_a_dropped_connection(redis_server: RedisServer) -> None:
    # Redis closes a deleted user's connections: proof that ping() can say False, so the
    # survival test above is not vacuous.
    user, pw = _name("u"), _password()
    redis_server.set_user(user, [pw])
    with redis_server.connect(user, pw) as held:
        assert held.ping()
        redis_server.delete_user(user)
        assert not held.ping()


def test_redis_default_user_is_disabled(redis_server: RedisServer) -> None:
    assert not redis_server.login("default", "")
    with redis_server._connect() as anonymous:
        assert not anonymous.ping()  # NOAUTH


# -- ActiveMQ ------------------------------------------------------------------------------


def test_activemq_stomp_login_with_the_right_password_only(activemq_server: ActiveMqServer) -> None:
    user, pw = _name("mq"), _password()
    activemq_server.set_users({user: pw})
    assert activemq_server.stomp_login(user, pw)
    assert not activemq_server.stomp_login(user, pw + "x")
    assert not activemq_server.stomp_login(_name("nobody"), pw)
    assert not activemq_server.stomp_login(user, "")


def test_activemq_set_users_takes_effect_without_a_restart(activemq_server: ActiveMqServer) -> None:
    pid = activemq_server.proc.pid
    admin, app, old, new = _name("admin"), _name("app"), _password(), _password()
    activemq_server.set_users({admin: "admin-pw", app: old})
    assert activemq_server.stomp_login(app, old)
    for _ in range(3):  # back-to-back changes, each checked by the very next login
        activemq_server.set_users({admin: "admin-pw", app: new})
        assert not activemq_server.stomp_login(app, old)
        assert activemq_server.stomp_login(app, new)
        old, new = new, _password()
    activemq_server.set_users({admin: "admin-pw"})
    assert not activemq_server.stomp_login(app, old)
    assert activemq_server.stomp_login(admin, "admin-pw")
    assert activemq_server.proc.pid == pid and activemq_server.proc.poll() is None


def test_activemq_passwords_with_properties_syntax_round_trip(activemq_server: ActiveMqServer) -> None:
    # users.properties is java.util.Properties: these would be mangled if written raw.
    user = _name("mq")
    tricky = r"in ner=eq:colon#hash!bang\back é€"
    activemq_server.set_users({user: tricky})
    assert activemq_server.stomp_login(user, tricky)
    assert not activemq_server.stomp_login(user, tricky.replace("\\", ""))


def test_activemq_stomp_trims_the_passcode(activemq_server: ActiveMqServer) -> None:
    # The broker's STOMP decoder trims header values, so a password with an outer space can
    # never log in over STOMP: rotation must not generate one for Amazon MQ.
    user = _name("mq")
    activemq_server.set_users({user: " padded "})
    assert not activemq_server.stomp_login(user, " padded ")
    activemq_server.set_users({user: "padded"})
    assert activemq_server.stomp_login(user, " padded ")


# -- RabbitMQ ------------------------------------------------------------------------------


def test_rabbitmq_listens_with_tls_only(rabbitmq_server: RabbitMqServer) -> None:
    print(f"\nrabbitmq-server ready in {rabbitmq_server.startup_s:.2f} s")
    listeners = rabbitmq_server.management("GET", "/api/overview")["listeners"]
    assert {(x["protocol"], x["port"]) for x in listeners} == {
        ("amqp/ssl", rabbitmq_server.amqps_port), ("https", rabbitmq_server.management_port),
        ("clustering", rabbitmq_server.dist_port)}, listeners
    assert rabbitmq_server.console_url == f"https://127.0.0.1:{rabbitmq_server.management_port}"
    assert rabbitmq_server.amqps_endpoint == f"amqps://127.0.0.1:{rabbitmq_server.amqps_port}"


def test_rabbitmq_has_the_administrator_and_both_vhosts(rabbitmq_server: RabbitMqServer) -> None:
    admin = rabbitmq_server.user(rabbitmq_server.admin_user)
    assert admin is not None and admin["tags"] == ["administrator"]
    vhosts = {v["name"] for v in rabbitmq_server.management("GET", "/api/vhosts")}
    assert vhosts >= set(RabbitMqServer.VHOSTS)
    assert rabbitmq_server.user("guest") is None
    assert rabbitmq_server.management_login(rabbitmq_server.admin_user, rabbitmq_server.admin_password)
    assert not rabbitmq_server.management_login(rabbitmq_server.admin_user, _password())


def test_rabbitmq_login_with_the_right_password_only(rabbitmq_server: RabbitMqServer) -> None:
    user, pw = _name("rmq"), _password()
    rabbitmq_server.put_user(user, pw)
    rabbitmq_server.set_permissions(user, "orders", "", "", "^orders$")
    assert rabbitmq_server.login(user, pw, vhost="orders")
    assert not rabbitmq_server.login(user, pw + "x", vhost="orders")
    assert not rabbitmq_server.login(_name("nobody"), pw, vhost="orders")
    assert rabbitmq_server.permissions(user) == {"orders": {"configure": "", "write": "", "read": "^orders$"}}
    # Password right, vhost not allowed: an error, never taken for a wrong password.
    with pytest.raises(Exception, match="(?i)access|vhost|530"):
        rabbitmq_server.login(user, pw, vhost="/")
    rabbitmq_server.delete_user(user)
    assert rabbitmq_server.user(user) is None and rabbitmq_server.permissions(user) == {}


def test_rabbitmq_management_login_is_the_password_check(rabbitmq_server: RabbitMqServer) -> None:
    # A user without the management tag: 401 "Not management user", yet the password was right.
    user, pw = _name("rmq"), _password()
    rabbitmq_server.put_user(user, pw)
    assert rabbitmq_server.management_login(user, pw)
    assert not rabbitmq_server.management_login(user, pw + "x")
    rabbitmq_server.put_user(user, pw, ["monitoring"])
    assert rabbitmq_server.management_login(user, pw)
    assert rabbitmq_server.user(user)["tags"] == ["monitoring"]


def test_rabbitmq_a_held_connection_survives_a_password_change(rabbitmq_server: RabbitMqServer) -> None:
    user, old, new = _name("rmq"), _password(), _password()
    rabbitmq_server.put_user(user, old)
    rabbitmq_server.set_permissions(user, "/")
    with rabbitmq_server.connect(user, old) as held:
        assert held.alive()
        rabbitmq_server.put_user(user, new)
        assert held.alive()
        assert not rabbitmq_server.login(user, old)
        assert rabbitmq_server.login(user, new)


def test_rabbitmq_alive_reports_a_dropped_connection(rabbitmq_server: RabbitMqServer) -> None:
    # RabbitMQ closes a deleted user's connections: proof that alive() can say False, so the
    # survival test above is not vacuous.
    user, pw = _name("rmq"), _password()
    rabbitmq_server.put_user(user, pw)
    rabbitmq_server.set_permissions(user, "/")
    with rabbitmq_server.connect(user, pw) as held:
        assert held.alive()
        rabbitmq_server.delete_user(user)
        deadline = time.monotonic() + 5
        while held.alive():
            assert time.monotonic() < deadline, "the deleted user's connection is still served"
            time.sleep(0.05)
