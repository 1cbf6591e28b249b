"""End-to-end: the function's HTTPS, as on Lambda, where the AWS endpoints and the ResponseURL
are HTTPS and the CAs trusted are the system's (README, "Performance": one TLS configuration
for the whole process).

The other end-to-end tests talk plain HTTP to the emulator and the receiver; here a TLS front
stands before the emulator and the receiver speaks HTTPS, with a certificate from the test CA.
The function trusts what the system trust store holds (``SSL_CERT_FILE``, which
rustls-native-certs reads as it reads the distribution's bundle), and the CAs of
``USERKEEPER_TLS_CA_FILE`` for logins only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from .cfn_helpers import CfnDriver, assert_failed, assert_success
from .harness.constants import DEFAULT_STACK_ID, USER_TYPE
from .harness.emulator import Emulator
from .harness.function import Function
from .harness.https import TlsFront, https_receiver, server_context, system_bundle
from .harness.receiver import ResponseReceiver
from .harness.runtime_api import LocalRuntimeApi


def props(user_id: str) -> dict[str, Any]:
    return {"UserId": user_id, "UserName": user_id, "Engine": "redis", "AccessString": "on ~app:* +@read",
            "AuthenticationMode": {"Type": "password", "Passwords": ["Https-Password-0123456789"]}}


@pytest.fixture
def front(emulator: Emulator, pki: Any) -> Iterator[TlsFront]:
    f = TlsFront(emulator.port, server_context(pki.server_cert, pki.server_key))
    yield f
    f.close()


@pytest.fixture
def https(pki: Any) -> Iterator[ResponseReceiver]:
    r = https_receiver(server_context(pki.server_cert, pki.server_key))
    yield r
    r.close()


@pytest.fixture
def function(userkeeper_bin: Any, runtime: LocalRuntimeApi, front: TlsFront) -> Iterator[Any]:
    started: list[Function] = []

    def start(env: dict[str, str]) -> Function:
        f = Function(runtime, front.url, extra_env=env, binary=userkeeper_bin)
        started.append(f)
        return f

    yield start
    for f in started:
        f.stop()


def test_aws_calls_and_the_response_go_over_https_trusting_the_system_store(
        function: Any, https: ResponseReceiver, emulator: Emulator, pki: Any, tmp_path: Path) -> None:
    bundle = tmp_path / "system-and-test-ca.pem"
    bundle.write_bytes(system_bundle().read_bytes() + pki.ca_cert.read_bytes())
    cfn = CfnDriver(function({"SSL_CERT_FILE": str(bundle)}), https, DEFAULT_STACK_ID)
    for user in ("https-one", "https-two"):  # the second on the warm process's connections
        url = https.url(user).replace("http://", "https://", 1)
        res = cfn.create(USER_TYPE, props(user), response_url=url)
        assert_success(res)
        users = emulator.client("elasticache").describe_users(UserId=user)["Users"]
        assert [u["UserId"] for u in users] == [user]


def test_the_ca_file_is_trusted_for_logins_only(
        function: Any, receiver: ResponseReceiver, emulator: Emulator, pki: Any) -> None:
    # The test CA signed the AWS endpoint's certificate, but only USERKEEPER_TLS_CA_FILE names it:
    # the SDK's calls must refuse that endpoint (the ResponseURL is a plain-HTTP loopback one here,
    # so the refusal can be read in the answer).
    fn = function({"SSL_CERT_FILE": str(system_bundle()), "USERKEEPER_TLS_CA_FILE": str(pki.ca_cert),
                   "AWS_MAX_ATTEMPTS": "1"})
    res = CfnDriver(fn, receiver, DEFAULT_STACK_ID).create(USER_TYPE, props("https-refused"))
    assert_failed(res, "UnknownIssuer")
    users = emulator.client("elasticache").describe_users()["Users"]
    assert "https-refused" not in [u["UserId"] for u in users]
