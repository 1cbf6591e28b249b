"""The local loop the README documents, run for real: `cargo lambda watch --release` serving the
function, and every file in events/ sent with `cargo lambda invoke --data-file`, exactly as a user
does it. The events' ResponseURL points at 127.0.0.1:9001, so a receiver listens there. The
rotation events in events/rotation/ run after `scripts/seed-rotation-sample`, as the README says."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .harness.constants import REPO_ROOT
from .harness.emulator import Emulator, create_activemq_broker, with_broker
from .harness.events import load_event
from .rabbitmq_helpers import rabbitmq_samples
from .servers import Pki, RabbitMqServer

EVENTS = Path(REPO_ROOT) / "events"
# Dependencies first: the default user, then the app user, then the group; deletes last.
ORDER = [
    "elasticache-user-default-create",
    "elasticache-user-create",
    "elasticache-user-group-create",
    "elasticache-user-update",
    "elasticache-user-update-replace",
    "elasticache-user-group-update",
    "elasticache-user-group-update-replace",
    "elasticache-user-group-delete",
    "elasticache-user-delete",
    "memorydb-user-create",
    "memorydb-acl-create",
    "memorydb-user-update",
    "memorydb-user-update-replace",
    "memorydb-acl-update",
    "memorydb-acl-update-replace",
    "memorydb-acl-delete",
    "memorydb-user-delete",
    "mq-user-create",
    "mq-user-update",
    "mq-user-update-replace",
    "mq-user-delete",
    "rabbitmq-user-create",
    "rabbitmq-user-update",
    "rabbitmq-user-update-replace",
    "rabbitmq-user-delete",
]
ROTATION = ["createSecret", "setSecret", "testSecret", "finishSecret"]
SEED = Path(REPO_ROOT) / "scripts" / "seed-rotation-sample"


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Recorder.received.append((self.path.split("?")[0], json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def cargo_lambda() -> str:
    exe = shutil.which("cargo-lambda")
    if exe is None:
        pytest.fail("cargo-lambda is not on PATH: run `pip install -r tests/requirements.txt` "
                    "(scripts/test does) and put the venv's bin first on PATH", pytrace=False)
    return exe


def test_events_through_cargo_lambda_watch_and_invoke(cargo_lambda: str, emulator: Emulator, tmp_path: Path,
                                                      pki: Pki, rabbitmq_server: RabbitMqServer):
    assert sorted(p.stem for p in EVENTS.glob("*.json")) == sorted(ORDER), "every sample event is exercised"
    assert _free(9001) and _free(9000), "ports 9000 (cargo lambda) and 9001 (events' ResponseURL) must be free"
    _Recorder.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 9001), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # The RabbitMQ samples reach the test's RabbitMQ, whose certificate the test CA signed.
        "USERKEEPER_TLS_CA_FILE": str(pki.ca_cert),
    }
    for leftover in ("app-rmq", "app-rmq-v2"):  # from an earlier test on this worker's server
        rabbitmq_server.delete_user(leftover)
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "--release", "--invoke-port", "9000"],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _free(9000):
            assert watch.poll() is None, watch.stdout.read().decode()
            assert time.monotonic() < deadline, "cargo lambda watch did not start listening"
            time.sleep(0.2)
        # The MQ samples name a placeholder broker (and the RabbitMQ ones placeholder secrets):
        # as a user would, point them at real ones.
        broker = create_activemq_broker(emulator)
        rabbitmq = rabbitmq_samples(emulator, rabbitmq_server)
        for i, name in enumerate(ORDER):
            data_file = EVENTS / f"{name}.json"
            if name.startswith("mq-"):
                data_file = tmp_path / f"{name}.json"
                data_file.write_text(json.dumps(with_broker(load_event(name), broker)))
            elif name.startswith("rabbitmq-"):
                data_file = tmp_path / f"{name}.json"
                data_file.write_text(json.dumps(rabbitmq(name)))
            out = subprocess.run(
                ["cargo", "lambda", "invoke", "userkeeper", "--invoke-port", "9000",
                 "--data-file", str(data_file)],
                # The first invoke waits for `cargo run --release`, a rebuild if the tree changed.
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900 if i == 0 else 120,
            )
            assert out.returncode == 0, f"{name}: {out.stdout}{out.stderr}"
            assert json.loads(out.stdout.strip().splitlines()[-1])["Status"] == "SUCCESS", f"{name}: {out.stdout}"
        paths = [path for path, _ in _Recorder.received]
        assert paths == [f"/cfn-response/{n}" for n in ORDER], paths
        assert all(body["Status"] == "SUCCESS" for _, body in _Recorder.received), _Recorder.received
        state = emulator.state()["elasticache"]
        # "default" is the user every account has.
        assert sorted(u["UserId"] for u in state["users"]) == ["app-default", "app-user-v2", "default"], state
        assert [g["UserGroupId"] for g in state["user_groups"]] == ["app-users-v2"], state
        mdb = emulator.state()["memorydb"]
        assert sorted(u["Name"] for u in mdb["users"] if u["Name"].startswith("app-")) == ["app-mdb-v2"], mdb
        assert rabbitmq_server.user("app-rmq") is None
        assert rabbitmq_server.login("app-rmq-v2", rabbitmq.password, "orders")
        rabbitmq_server.delete_user("app-rmq-v2")

        seeded = subprocess.run([sys.executable, str(SEED)], env=env, capture_output=True, text=True, timeout=60)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert sorted(p.stem for p in (EVENTS / "rotation").glob("*.json")) == sorted(ROTATION)
        for step in ROTATION:
            out = subprocess.run(
                ["cargo", "lambda", "invoke", "userkeeper", "--invoke-port", "9000",
                 "--data-file", str(EVENTS / "rotation" / f"{step}.json")],
                cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
            )
            assert out.returncode == 0, f"{step}: {out.stdout}{out.stderr}"
            assert json.loads(out.stdout.strip().splitlines()[-1])["Step"] == step, out.stdout
        sm = emulator.client("secretsmanager")
        current = sm.get_secret_value(SecretId="userkeeper/sample/elasticache-app-user", VersionStage="AWSCURRENT")
        assert current["VersionId"] == json.loads((EVENTS / "rotation" / "setSecret.json").read_text())["ClientRequestToken"]
        app_user = next(u for u in emulator.state()["elasticache"]["users"] if u["UserId"] == "app-user")
        assert app_user["Passwords"] == [json.loads(current["SecretString"])["password"], "initial-Password-0123456789"]
    finally:
        os.killpg(watch.pid, 15)
        watch.wait(timeout=30)
        server.shutdown()
