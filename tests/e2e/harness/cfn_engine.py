"""MiniStack (PyPI ``ministack``, pinned in ``tests/requirements-ministack.txt``) as the
CloudFormation engine and the Lambda service of the stack tests and the demo: a CloudFormation
engine we did not write, sending the custom-resource requests to the release binary.

The engine runs from its own virtualenv (``.venv-ministack``, made by ``scripts/env.sh``'s
``setup_ministack``) through ``ministack_launch.py`` (a record of what it sends and receives,
and the Delete after a failed Create that it lacks: see there). The function it runs is the
release binary (host architecture) as a ``provided.al2023`` function; its calls to ElastiCache,
MemoryDB, Amazon MQ and Secrets Manager go to **our** emulator (``AWS_ENDPOINT_URL``), only its
Lambda calls (continuations) to the engine (``AWS_ENDPOINT_URL_LAMBDA``).

MiniStack copies its own process environment into every function and lets its own
``AWS_ENDPOINT_URL`` (or ``LOCALSTACK_HOSTNAME``) override the function's: so the engine is
started with neither, and the function's environment decides (``function_environ`` shows it).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from collections import deque
from pathlib import Path
from typing import Any

from .constants import ACCOUNT_ID, REGION, REPO_ROOT
from .loopback import free_port

ENGINE_PYTHON = REPO_ROOT / ".venv-ministack" / "bin" / "python"
ENGINE_INSTALL_HINT = "source scripts/env.sh && setup_ministack   # .venv-ministack from tests/requirements-ministack.txt"
LAUNCHER = Path(__file__).with_name("ministack_launch.py")
AS_SHIPPED_TAG = {"Key": "userkeeper-test:engine", "Value": "as-shipped"}
TERMINAL = ("_COMPLETE", "_FAILED")


class EngineUnavailable(RuntimeError):
    pass


class StackFailed(AssertionError):
    pass


def engine_python() -> Path:
    p = Path(os.environ.get("USERKEEPER_MINISTACK_PYTHON", ENGINE_PYTHON))
    if not p.is_file():
        raise EngineUnavailable(f"MiniStack's python not found at {p}: run `{ENGINE_INSTALL_HINT}`")
    probe = subprocess.run([str(p), "-c", "import ministack"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise EngineUnavailable(f"{p} cannot import ministack ({probe.stderr.strip()[-300:]}): "
                                f"run `{ENGINE_INSTALL_HINT}`")
    return p


def bootstrap_zip(binary: Path) -> bytes:
    """A ``provided.al2023`` deployment package: the binary as an executable ``bootstrap``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    return buf.getvalue()


class MiniStack:
    """The engine on a free loopback port, with boto3 clients and its record."""

    def __init__(self, ready_timeout_s: float = 60, extra_env: dict[str, str] | None = None) -> None:
        python = engine_python()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="ministack-")
        self.record_path = Path(self._dir.name) / "record.jsonl"
        self.record_path.touch()
        # Not the caller's AWS_* (nor LOCALSTACK_HOSTNAME): they would reach every function.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "LOCALSTACK_HOSTNAME"}
        env.update({
            "GATEWAY_PORT": str(self.port), "BIND_HOST": "127.0.0.1", "MINISTACK_HOST": "127.0.0.1",
            "MINISTACK_REGION": REGION, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
            "TMPDIR": self._dir.name,
            **(extra_env or {}),
        })
        self.output: deque[str] = deque(maxlen=400)
        self.proc = subprocess.Popen([str(python), str(LAUNCHER), str(self.record_path)], env=env,
                                     cwd=self._dir.name, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        ready = threading.Event()

        def pump() -> None:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                self.output.append(line)
                if "Running on http" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=pump, name="ministack-output", daemon=True).start()
        ready.wait(ready_timeout_s)
        if not self._listening():
            tail = "\n".join(list(self.output)[-30:])
            self.stop()
            raise EngineUnavailable(f"MiniStack did not start within {ready_timeout_s}s:\n{tail}")
        self.cfn = self.client("cloudformation")
        self.lam = self.client("lambda")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return self.proc.poll() is None
        except OSError:
            return False

    def client(self, service: str) -> Any:
        import boto3

        # MiniStack takes a 12-digit access key as the account id: the emulator's account.
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=ACCOUNT_ID, aws_secret_access_key="testing")

    # -- the function ------------------------------------------------------------------------
    def create_function(self, name: str, binary: Path, emulator_url: str, timeout_s: int = 900,
                        env: dict[str, str] | None = None) -> str:
        """The release binary as a function; answers its ARN (the ServiceToken)."""
        variables = {
            "AWS_ENDPOINT_URL": emulator_url,  # ElastiCache, MemoryDB, MQ, Secrets Manager: ours
            "AWS_ENDPOINT_URL_LAMBDA": self.url,  # continuations: the engine's Lambda
            **(env or {}),
        }
        arn = self.lam.create_function(
            FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Timeout=timeout_s,
            MemorySize=128, Architectures=["x86_64"], Role=f"arn:aws:iam::{ACCOUNT_ID}:role/userkeeper",
            Code={"ZipFile": bootstrap_zip(binary)}, Environment={"Variables": variables},
        )["FunctionArn"]
        return arn

    def function_environ(self, name: str) -> dict[str, str]:
        """The environment of the running ``bootstrap`` process of function ``name`` (the
        engine keeps one warm after an invocation): what the binary really sees."""
        for pid in self._descendants(self.proc.pid):
            try:
                raw = Path(f"/proc/{pid}/environ").read_bytes()
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
            env = dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)
            if exe.endswith("/bootstrap") and env.get("AWS_LAMBDA_FUNCTION_NAME") == name:
                return env
        raise AssertionError(f"no running bootstrap of {name} under the engine (pid {self.proc.pid})")

    @staticmethod
    def _descendants(root: int) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [root]
        while todo:
            for child in children.get(todo.pop(), []):
                out.append(child)
                todo.append(child)
        return out

    # -- the record --------------------------------------------------------------------------
    def record(self) -> list[dict[str, Any]]:
        with open(self.record_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def requests(self, stack_id: str | None = None) -> list[dict[str, Any]]:
        """The custom-resource requests the engine sent (first invocations, no continuations)."""
        return [e["event"] for e in self.record()
                if e["kind"] == "invoke" and isinstance(e["event"], dict) and "RequestType" in e["event"]
                and "UserkeeperContinuation" not in e["event"]
                and (stack_id is None or e["event"].get("StackId") == stack_id)]

    def invocations(self, function: str) -> list[dict[str, Any]]:
        return [e["event"] for e in self.record() if e["kind"] == "invoke" and e["function"] == function]

    def responses(self) -> dict[str, list[dict[str, Any]]]:
        """Every ResponseURL PUT body, by the URL's token."""
        out: dict[str, list[dict[str, Any]]] = {}
        for e in self.record():
            if e["kind"] == "response":
                out.setdefault(e["token"], []).append(e["body"])
        return out

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The one answer the function PUT for ``request``."""
        bodies = self.responses().get(request["ResponseURL"].rsplit("/", 1)[1], [])
        assert len(bodies) == 1, f"{len(bodies)} answers to {request['RequestType']} {request['LogicalResourceId']}"
        return bodies[0]

    def patched_deletes(self) -> list[dict[str, Any]]:
        return [e for e in self.record() if e["kind"] == "patched-delete"]

    # -- stacks ------------------------------------------------------------------------------
    def wait(self, name: str, timeout_s: float = 120) -> dict[str, Any]:
        end = time.monotonic() + timeout_s
        while True:
            stack = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
            if stack["StackStatus"].endswith(TERMINAL) and not stack["StackStatus"].endswith("_IN_PROGRESS"):
                return stack
            if time.monotonic() > end:
                raise StackFailed(f"{name} still {stack['StackStatus']} after {timeout_s}s:\n{self.events_text(name)}")
            time.sleep(0.2)

    def deploy(self, name: str, template: dict[str, Any], params: dict[str, str] | None = None,
               expect: str | None = None, tags: list[dict[str, str]] | None = None,
               timeout_s: float = 120) -> dict[str, Any]:
        """CreateStack, or UpdateStack when it exists; waits for the end and checks the status
        (``expect``, default ``CREATE_COMPLETE`` / ``UPDATE_COMPLETE``)."""
        kw: dict[str, Any] = {"StackName": name, "TemplateBody": json.dumps(template),
                              "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (params or {}).items()]}
        if tags:
            kw["Tags"] = tags
        try:
            existing = self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except self.cfn.exceptions.ClientError:
            existing = None
        if existing is None:
            self.cfn.create_stack(**kw)
            expect = expect or "CREATE_COMPLETE"
        else:
            self.cfn.update_stack(**kw)
            expect = expect or "UPDATE_COMPLETE"
        stack = self.wait(name, timeout_s)
        if stack["StackStatus"] != expect:
            raise StackFailed(f"{name}: {stack['StackStatus']}, expected {expect}:\n{self.events_text(name)}")
        return stack

    def delete(self, name: str, timeout_s: float = 120) -> None:
        stack_id = self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
        self.cfn.delete_stack(StackName=name)
        stack = self.wait(stack_id, timeout_s)
        if stack["StackStatus"] != "DELETE_COMPLETE":
            raise StackFailed(f"{name}: {stack['StackStatus']}:\n{self.events_text(stack_id)}")

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def events(self, name: str) -> list[dict[str, Any]]:
        """The stack's events, oldest first."""
        events: list[dict[str, Any]] = []
        kw: dict[str, Any] = {"StackName": name}
        while True:
            page = self.cfn.describe_stack_events(**kw)
            events += page["StackEvents"]
            if not page.get("NextToken"):
                return list(reversed(events))
            kw["NextToken"] = page["NextToken"]

    def events_text(self, name: str, since: int = 0) -> str:
        def physical(e: dict[str, Any]) -> str:
            # The stack's own rows carry the stack id: the name says it already.
            return "" if e["ResourceType"] == "AWS::CloudFormation::Stack" else e.get("PhysicalResourceId") or ""

        return "\n".join(
            f"  {e['LogicalResourceId']:<16} {e['ResourceStatus']:<45} {physical(e):<14} "
            f"{e.get('ResourceStatusReason') or ''}".rstrip()
            for e in self.events(name)[since:])

    def stop(self) -> None:
        """The engine and the function processes it started (its own process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)
        self._dir.cleanup()
