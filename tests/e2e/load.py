"""The load test: many requests at once through several function processes, the emulator
throttling a share of every service's calls. Shared by ``tools/load.py`` (full size, figures)
and ``test_load.py`` (reduced size, in CI).

As Lambda runs concurrent invocations: ``processes`` copies of the release binary poll one
runtime API, each taking one event at a time; an event waits in the queue until a process is
free, and its timeout runs from then (``LocalRuntimeApi(deadline_from_serve=True)``). The
function's self-invokes (continuations) come back through the emulator's Lambda forward.

(a) ``resources`` custom resources of all five types, as CloudFormation creates a stack: every
    user at once, then every group / ACL at once (they reference users); then deleted in the
    reverse order, every Create's physical id deleted (also a FAILED one's, as CloudFormation's
    rollback does). MQ users are spread over brokers, ``MQ_USERS_PER_BROKER`` each.
(b) ``secrets`` rotations fired together (a RotationSchedule created for all of them), each
    its four steps in order as Secrets Manager calls them; ``login_sample`` of them log in to
    the real Redis / ActiveMQ (servers.py), the rest check through the service API.

``run_load`` returns a :class:`LoadReport`: the figures, and ``problems``, every broken promise
(a request without exactly one response, a resource left behind, an AWSCURRENT that does not
work...). A request that ends FAILED cleanly is not a problem but is counted, with its reason.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import statistics
import threading
import time
import uuid
from collections import Counter
from typing import Any, Callable

from . import rotation_helpers as rh
from .harness.constants import FUNCTION_ARN
from .harness.emulator import TIMINGS, Emulator
from .harness.events import ROTATION_STEPS, cfn_event, rotation_event
from .harness.function import Function
from .harness.receiver import ResponseReceiver, check_put
from .harness.runtime_api import Invocation, LocalRuntimeApi
from .servers import activemq_passcode

#: MQ users per broker: ownership takes one broker tag per user today, and a broker holds 50.
MQ_USERS_PER_BROKER = 15
#: What a failure caused by throttling says (the services' codes, core.THROTTLE_ERRORS).
THROTTLE_WORDS = ("Throttling", "TooManyRequests", "Rate exceeded")
PASSWORD_ENGINES = ("elasticache", "memorydb")


@dataclasses.dataclass
class LoadConfig:
    resources: int = 200
    secrets: int = 500
    processes: int = 16
    throttle: float = 0.2  # share of every service's calls answered with its throttling error
    login_sample: int = 9  # rotations that log in for real (one of them MQ)
    timeout_s: float = 60.0  # each invocation's: the function's timeout
    seed: int | None = None  # the emulator's throttling draws
    give_up_s: float = 1200.0  # the whole run's bound, so a stuck run ends with a report


@dataclasses.dataclass
class LoadReport:
    config: dict[str, Any]
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def latency(values_s: list[float]) -> dict[str, Any]:
    if not values_s:
        return {"n": 0}
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50_ms": round(pct(ms, 50)), "p99_ms": round(pct(ms, 99)),
            "max_ms": round(max(ms)), "mean_ms": round(statistics.fmean(ms))}


def throttled(text: str) -> bool:
    return any(w in text for w in THROTTLE_WORDS)


def short(reason: str, limit: int = 300) -> str:
    return reason if len(reason) <= limit else reason[:limit] + "..."


class Fleet:
    """``processes`` function processes on one runtime API, continuations routed back to it,
    and a thread sampling each process's peak RSS."""

    def __init__(self, emulator: Emulator, processes: int, timeout_s: float, extra_env: dict[str, str]) -> None:
        self.runtime = LocalRuntimeApi(deadline_from_serve=True)
        self.runtime.async_timeout_s = timeout_s
        self.functions: list[Function] = []
        try:
            for _ in range(processes):
                self.functions.append(Function(self.runtime, emulator.url, extra_env=extra_env))
        except BaseException:
            self.stop()
            raise
        emulator.lambda_forward(FUNCTION_ARN, self.runtime.async_invoke_url())
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            for f in self.functions:
                f.read_rss()

    def dead(self) -> str | None:
        for f in self.functions:
            if (why := f.exited()) is not None:
                return f"process {f.pid}: {why}"
        return None

    def rss_kb(self) -> list[int]:
        for f in self.functions:
            f.read_rss()
        return [f.peak_rss_kb or 0 for f in self.functions]

    def logs(self) -> list[str]:
        return [line for f in self.functions for line in f.log_lines()]

    def stop(self) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()
        for f in self.functions:
            f.stop()
        self.runtime.close()


# -------------------------------------------------------------------------------------------
# (a) custom resources


@dataclasses.dataclass
class Resource:
    kind: str  # the ResourceType
    logical_id: str
    props: dict[str, Any]
    wave: int  # 0: users (created first, deleted last), 1: groups and ACLs
    service: str


@dataclasses.dataclass
class Request:
    """One custom-resource request, followed to its answer (however many invocations)."""

    resource: Resource
    event: dict[str, Any]
    sent_at: float
    first: Invocation

    def answer(self, receiver: ResponseReceiver) -> dict[str, Any] | None:
        accepted = [p for p in receiver.for_url(self.event["ResponseURL"]) if p.accepted]
        return accepted[0].json() if accepted else None


def plan_resources(total: int, tag: str, brokers: list[str]) -> list[Resource]:
    """``total`` resources of the five types; MQ users spread over ``brokers``."""
    groups = max(1, total // 20)
    acls = max(1, total // 20)
    mq = min(len(brokers) * MQ_USERS_PER_BROKER, max(1, (total * 15) // 100))
    rest = total - groups - acls - mq
    ec_users = rest // 2 + rest % 2 - groups  # plus one `default` user per group
    mdb_users = rest // 2
    assert ec_users >= groups and mdb_users >= acls, f"{total} resources are too few for every type"
    pw = lambda i: f"Load-Passw0rd-{tag}-{i:04d}"  # noqa: E731 - one line per type below
    out: list[Resource] = []
    ec_ids = []
    for i in range(ec_users):
        uid = f"{tag}-ec-{i}"
        ec_ids.append(uid)
        out.append(Resource("Custom::ElastiCacheUser", f"EcUser{i}", {
            "UserId": uid, "UserName": uid, "Engine": "redis", "AccessString": "on ~app:* +@read",
            "AuthenticationMode": {"Type": "password", "Passwords": [pw(i)]}}, 0, "elasticache"))
    for g in range(groups):
        did = f"{tag}-ecd-{g}"
        out.append(Resource("Custom::ElastiCacheUser", f"EcDefault{g}", {
            "UserId": did, "UserName": "default", "Engine": "redis", "AccessString": "off ~* -@all",
            "AuthenticationMode": {"Type": "no-password-required"}}, 0, "elasticache"))
        members = ec_ids[g::groups][:5]
        out.append(Resource("Custom::ElastiCacheUserGroup", f"EcGroup{g}", {
            "UserGroupId": f"{tag}-ecg-{g}", "Engine": "redis", "UserIds": [did, *members]}, 1, "elasticache"))
    mdb_names = []
    for i in range(mdb_users):
        name = f"{tag}-mdb-{i}"
        mdb_names.append(name)
        out.append(Resource("Custom::MemoryDBUser", f"MdbUser{i}", {
            "UserName": name, "AccessString": "on ~app:* +@read",
            "AuthenticationMode": {"Type": "password", "Passwords": [pw(i)]}}, 0, "memorydb"))
    for a in range(acls):
        out.append(Resource("Custom::MemoryDBACL", f"MdbAcl{a}", {
            "ACLName": f"{tag}-acl-{a}", "UserNames": mdb_names[a::acls][:5]}, 1, "memorydb"))
    for i in range(mq):
        out.append(Resource("Custom::AmazonMQUser", f"MqUser{i}", {
            "BrokerId": brokers[i % len(brokers)], "Username": f"{tag}-mq-{i}", "Password": pw(i),
            "ConsoleAccess": False, "Groups": ["apps"], "ApplyImmediately": False}, 0, "mq"))
    assert len(out) == total, (len(out), total)
    return out


def _send_wave(fleet: Fleet, receiver: ResponseReceiver, events: list[tuple[Resource, dict[str, Any]]],
               timeout_s: float, give_up_at: float) -> list[Request]:
    """Every event of the wave at once; back when each has an answer (or the run gives up)."""
    requests = [Request(r, e, time.monotonic(), fleet.runtime.submit(e, timeout_s)) for r, e in events]
    while time.monotonic() < give_up_at and not fleet.dead():
        if all(q.answer(receiver) is not None for q in requests):
            break
        time.sleep(0.1)
    return requests


def _check_requests(requests: list[Request], receiver: ResponseReceiver, invocations: list[Invocation],
                    problems: list[str]) -> None:
    """Exactly one accepted PUT per request, each PUT following the protocol, and every
    invocation (the first and each continuation) returning before its deadline."""
    for q in requests:
        puts = receiver.for_url(q.event["ResponseURL"])
        accepted = [p for p in puts if p.accepted]
        label = f"{q.event['RequestType']} {q.resource.logical_id}"
        if len(accepted) != 1:
            problems.append(f"{label}: {len(accepted)} accepted responses (PUTs: {[p.status for p in puts]})")
        for p in puts:
            if bad := check_put(p, q.event):
                problems.append(f"{label}: PUT breaks the protocol: {bad}")
    for inv in invocations:
        if not inv.finished:
            problems.append(f"invocation {inv.request_id} never returned ({inv.event.get('LogicalResourceId')})")
        elif inv.kind != "response" or not inv.before_deadline:
            problems.append(f"invocation {inv.request_id}: {inv!r}")


def _leftovers(emulator: Emulator, tag: str, brokers: list[str]) -> list[str]:
    state = emulator.state()
    ec, mdb = state["elasticache"], state["memorydb"]
    out = [f"elasticache user {u['UserId']}" for u in ec["users"] if u["UserId"].startswith(tag)]
    out += [f"elasticache user group {g['UserGroupId']}" for g in ec["user_groups"] if g["UserGroupId"].startswith(tag)]
    out += [f"memorydb user {u['Name']}" for u in mdb["users"] if u["Name"].startswith(tag)]
    out += [f"memorydb acl {a['Name']}" for a in mdb["acls"] if a["Name"].startswith(tag)]
    for b in state["mq"]["brokers"]:
        if b["BrokerId"] not in brokers:
            continue
        # Deleting an ActiveMQ user without a reboot leaves it pending DELETE until the next
        # one, as Amazon MQ does: gone for every purpose but the broker's next start.
        out += [f"mq user {u['Username']} on {b['BrokerId']} (pending {(u['Pending'] or {}).get('PendingChange')})"
                for u in b["users"] if u["Username"].startswith(tag)
                and (u["Pending"] or {}).get("PendingChange") != "DELETE"]
        out += [f"mq broker tag {k} on {b['BrokerId']}" for k in b["Tags"] if k.startswith("userkeeper:")]
    return out


def run_resources(emulator: Emulator, fleet: Fleet, cfg: LoadConfig, give_up_at: float,
                  report: LoadReport) -> None:
    tag = f"ld{uuid.uuid4().hex[:6]}"
    mq = emulator.client("mq")
    brokers = [mq.create_broker(
        BrokerName=f"{tag}-broker-{i}", DeploymentMode="SINGLE_INSTANCE", EngineType="ACTIVEMQ",
        HostInstanceType="mq.t3.micro", PubliclyAccessible=False,
        Users=[{"Username": "admin", "Password": "Admin-Passw0rd-123", "ConsoleAccess": True}])["BrokerId"]
        for i in range(max(1, math.ceil(cfg.resources * 15 / 100 / MQ_USERS_PER_BROKER)))]
    plan = plan_resources(cfg.resources, tag, brokers)
    receiver = ResponseReceiver()
    runtime = fleet.runtime
    before = len(runtime.invocations)
    emulator.clear_throttle()
    emulator.throttle(share=cfg.throttle, **({"seed": cfg.seed} if cfg.seed is not None else {}))
    try:
        t0 = time.monotonic()
        created: list[Request] = []
        for wave in (0, 1):
            created += _send_wave(fleet, receiver, [
                (r, cfn_event("Create", r.kind, r.props, response_url=receiver.url(f"create-{r.logical_id}"),
                              logical_id=r.logical_id)) for r in plan if r.wave == wave],
                cfg.timeout_s, give_up_at)
        t_created = time.monotonic()
        deleted: list[Request] = []
        for wave in (1, 0):
            events = []
            for q in created:
                if q.resource.wave != wave:
                    continue
                answer = q.answer(receiver) or {}
                if "PhysicalResourceId" not in answer:
                    continue  # never answered: already a problem; CloudFormation would time out
                r = q.resource
                events.append((r, cfn_event("Delete", r.kind, r.props, physical_id=answer["PhysicalResourceId"],
                                            response_url=receiver.url(f"delete-{r.logical_id}"),
                                            logical_id=r.logical_id)))
            deleted += _send_wave(fleet, receiver, events, cfg.timeout_s, give_up_at)
        t_deleted = time.monotonic()
        # Quiet time: a second PUT or a stray continuation would show up now.
        time.sleep(2.0)
        throttles = emulator.throttle()
        emulator.clear_throttle()

        problems: list[str] = []
        if (why := fleet.dead()):
            problems.append(why)
        all_requests = created + deleted
        _check_requests(all_requests, receiver, runtime.invocations[before:], problems)
        outcomes: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        failed_by_throttling = 0
        for q in all_requests:
            answer = q.answer(receiver)
            status = answer["Status"] if answer else "NO ANSWER"
            outcomes[f"{q.event['RequestType']} {status}"] += 1
            if answer and status == "FAILED":
                reasons[short(answer.get("Reason", ""))] += 1
                failed_by_throttling += throttled(answer.get("Reason", ""))
            if q.event["RequestType"] == "Delete" and status != "SUCCESS":
                problems.append(f"Delete {q.resource.logical_id} ended {status}: "
                                f"{short((answer or {}).get('Reason', ''))}")
        emulator.wait_settled(60)
        problems += [f"left behind: {x}" for x in _leftovers(emulator, tag, brokers)]

        def answered_after(q: Request) -> float | None:
            puts = [p for p in receiver.for_url(q.event["ResponseURL"]) if p.accepted]
            return puts[0].at - q.sent_at if puts else None

        invs = runtime.invocations[before:]
        report.figures["resources"] = {
            "requests": len(all_requests),
            "by_type": dict(Counter(r.kind.removeprefix("Custom::") for r in plan)),
            "brokers": len(brokers),
            "outcomes": dict(outcomes),
            "failed_reasons": dict(reasons.most_common(10)),
            "failed_by_throttling": failed_by_throttling,
            "wall_s": {"create": round(t_created - t0, 1), "delete": round(t_deleted - t_created, 1)},
            "throughput_rps": round(len(all_requests) / max(t_deleted - t0, 1e-9), 2),
            # CloudFormation's view: the event sent -> its response PUT, queueing included.
            "request_latency": latency([a for q in all_requests if (a := answered_after(q)) is not None]),
            # The function's view: one invocation, taken -> returned.
            "invocation_latency": latency([i.duration_s for i in invs if i.duration_s is not None]),
            "invocations": len(invs),
            "continuations": len(invs) - len(all_requests),
            "throttles_injected": throttles["injected"],
        }
        report.problems += problems
    finally:
        receiver.close()


# -------------------------------------------------------------------------------------------
# (b) rotations


@dataclasses.dataclass
class RotationOutcome:
    rotated: rh.Rotated
    token: str
    login: bool
    steps: list[tuple[str, Invocation, float]]  # step, invocation, submit -> result (s)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(ROTATION_STEPS) and all(i.kind == "response" for _, i, _ in self.steps)

    def error(self) -> str:
        for step, inv, _ in self.steps:
            if inv.kind != "response":
                res = inv.result
                msg = res.get("errorMessage", "") if isinstance(res, dict) else str(res)
                return f"{step}: {msg or inv.kind or 'no result'}"
        return ""


def _seed_secrets(emulator: Emulator, cfg: LoadConfig, redis: Any, activemq: Any) -> list[tuple[rh.Rotated, bool]]:
    """(rotated user, logs in for real) for ``cfg.secrets`` secrets: 40 % ElastiCache, 40 %
    MemoryDB, 20 % MQ (a broker each). The login sample: one MQ, the rest Redis, half each."""
    n_mq = max(1, cfg.secrets // 5)
    n_mdb = (cfg.secrets - n_mq) // 2
    n_ec = cfg.secrets - n_mq - n_mdb
    sample_redis = max(0, cfg.login_sample - 1)
    jobs: list[Callable[[], tuple[rh.Rotated, bool]]] = []
    for i in range(n_ec):
        live = i < (sample_redis + 1) // 2
        jobs.append(lambda live=live: (rh.seed_elasticache(
            emulator, redis if live else None, **({"host": redis.host, "port": redis.port} if live else {})), live))
    for i in range(n_mdb):
        live = i < sample_redis // 2
        jobs.append(lambda live=live: (rh.seed_memorydb(
            emulator, redis if live else None, **({"host": redis.host, "port": redis.port} if live else {})), live))
    for i in range(n_mq):
        live = i == 0 and cfg.login_sample > 0
        jobs.append(lambda live=live: (rh.seed_mq(
            emulator, activemq if live else None, reboot=True,
            **({"host": activemq.host, "port": activemq.port} if live else {})), live))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _rotate(fleet: Fleet, emulator: Emulator, r: rh.Rotated, token: str, login: bool, server: Any,
            cfg: LoadConfig, abort: Callable[[], str | None], sync_lock: threading.Lock) -> RotationOutcome:
    out = RotationOutcome(r, token, login, [])
    t0 = time.monotonic()
    for step in ROTATION_STEPS:
        s0 = time.monotonic()
        inv = fleet.runtime.submit(rotation_event(step, r.arn, token), cfg.timeout_s)
        fleet.runtime.wait(inv, abort=abort)
        out.steps.append((step, inv, time.monotonic() - s0))
        if inv.kind != "response":
            break  # Secrets Manager stops the attempt here (and tries again later)
        if step == "setSecret" and login:
            with sync_lock:  # the service applying the change to the data store (rotation_helpers.sync)
                rh.sync(emulator, server, r)
    out.wall_s = time.monotonic() - t0
    return out


def _current_works(r: rh.Rotated, secret: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """AWSCURRENT's value, and why its password does not work for the service (None: it does)."""
    current = [v for v in secret["Versions"].values() if "AWSCURRENT" in v["Stages"]]
    if len(current) != 1:
        return {}, f"{len(current)} versions staged AWSCURRENT"
    value = json.loads(current[0]["SecretString"])
    if r.engine in PASSWORD_ENGINES:
        users = (state["elasticache"]["users"] if r.engine == "elasticache" else state["memorydb"]["users"])
        key = "UserId" if r.engine == "elasticache" else "Name"
        name = r.user_id if r.engine == "elasticache" else r.username
        user = next((u for u in users if u[key] == name), None)
        if user is None:
            return value, f"{r.engine} user {name} is gone"
        if value.get("password") not in user["Passwords"]:
            return value, f"{r.engine} user {name} does not take AWSCURRENT's password"
        return value, None
    broker = next(b for b in state["mq"]["brokers"] if b["BrokerId"] == r.broker_id)
    user = next((u for u in broker["users"] if u["Username"] == value.get("username")), None)
    if user is None or user["Password"] != value.get("password"):
        return value, f"mq user {value.get('username')} on {r.broker_id} does not run with AWSCURRENT's password"
    return value, None


def run_rotations(emulator: Emulator, fleet: Fleet, cfg: LoadConfig, redis: Any, activemq: Any,
                  give_up_at: float, report: LoadReport) -> None:
    emulator.config(strict=False, transition_seconds=0, reboot_seconds=0, transition_jitter=0)
    seeded = _seed_secrets(emulator, cfg, redis, activemq)
    # What Secrets Manager does before it invokes the function: a pending version each. Done
    # before the rotations start, so that only the function's calls meet the load.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda s: emulator.new_pending(s[0].arn), seeded))
    emulator.config(strict=True, **TIMINGS)
    emulator.clear_throttle()
    emulator.throttle(share=cfg.throttle, **({"seed": cfg.seed} if cfg.seed is not None else {}))
    before = len(fleet.runtime.invocations)

    def abort() -> str | None:
        return fleet.dead() or ("the run's time is up" if time.monotonic() > give_up_at else None)

    sync_lock = threading.Lock()
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(seeded)) as pool:
        outcomes = list(pool.map(lambda s, token: _rotate(
            fleet, emulator, s[0], token, s[1], activemq if s[0].engine == "mq" else redis, cfg, abort, sync_lock),
            seeded, tokens))
    wall = time.monotonic() - t0
    throttles = emulator.throttle()
    emulator.clear_throttle()
    emulator.wait_settled(60)

    problems: list[str] = []
    state = emulator.state()
    secrets = {s["ARN"]: s for s in state["secretsmanager"]["secrets"]}
    failures: Counter[str] = Counter()
    failed_by_throttling = 0
    logins = 0
    for o in outcomes:
        r = o.rotated
        for step, inv, _ in o.steps:
            if not inv.finished:
                problems.append(f"{r.arn} {step}: no result before its deadline + grace")
            elif not inv.before_deadline:
                problems.append(f"{r.arn} {step}: returned after its deadline")
        if not o.ok:
            failures[short(o.error())] += 1
            failed_by_throttling += throttled(o.error())
        value, broken = _current_works(r, secrets[r.arn], state)
        if broken:
            problems.append(f"{r.arn}: AWSCURRENT does not work: {broken} (rotation {'done' if o.ok else o.error()})")
            continue
        if o.ok and "AWSCURRENT" not in secrets[r.arn]["Versions"].get(o.token, {}).get("Stages", []):
            problems.append(f"{r.arn}: every step succeeded, yet AWSCURRENT is not the new version")
        if o.login:
            logins += 1
            if r.engine == "mq":
                rh.sync_mq_users(emulator, activemq, r.broker_id)
                ok = activemq.stomp_login(value["username"], activemq_passcode(value["password"]))
            else:
                ok = redis.login(value["username"], value["password"])
            if not ok:
                problems.append(f"{r.arn}: AWSCURRENT's password does not log in to the real {r.engine} server")

    step_latency = {step: latency([d for o in outcomes for s, i, d in o.steps if s == step])
                    for step in ROTATION_STEPS}
    invs = fleet.runtime.invocations[before:]
    report.figures["rotations"] = {
        "secrets": len(outcomes),
        "by_engine": dict(Counter(o.rotated.engine for o in outcomes)),
        "rotated": sum(o.ok for o in outcomes),
        "not_rotated": dict(failures.most_common(10)),
        "failed_by_throttling": failed_by_throttling,
        "logins_checked": logins,
        "wall_s": round(wall, 1),
        "throughput_rotations_per_s": round(len(outcomes) / max(wall, 1e-9), 2),
        "steps_per_s": round(len(invs) / max(wall, 1e-9), 2),
        # Secrets Manager's view of one rotation: createSecret sent -> finishSecret answered.
        "rotation_latency": latency([o.wall_s for o in outcomes if o.ok]),
        # One step: sent -> answered, queueing included.
        "step_latency": step_latency,
        # The function's view of one step: taken -> returned.
        "step_invocation_latency": {step: latency([i.duration_s for o in outcomes for s, i, _ in o.steps
                                                   if s == step and i.duration_s is not None])
                                    for step in ROTATION_STEPS},
        "throttles_injected": throttles["injected"],
    }
    report.problems += problems


# -------------------------------------------------------------------------------------------


def summary(report: LoadReport) -> str:
    """The report for a reader."""
    f = report.figures
    lines = [f"config: {json.dumps(report.config)}"]
    if (a := f.get("resources")):
        lines += [
            f"(a) custom resources: {a['requests']} requests {a['by_type']} on {a['brokers']} brokers",
            f"    outcomes {a['outcomes']}; failed by throttling {a['failed_by_throttling']}",
            f"    wall create {a['wall_s']['create']} s, delete {a['wall_s']['delete']} s; "
            f"{a['throughput_rps']} requests/s",
            f"    per request (sent -> response) {a['request_latency']}",
            f"    per invocation {a['invocation_latency']}; {a['invocations']} invocations, "
            f"{a['continuations']} continuations",
            f"    throttles injected {a['throttles_injected']}",
        ]
        lines += [f"    FAILED x{n}: {why}" for why, n in a["failed_reasons"].items()]
    if (b := f.get("rotations")):
        lines += [
            f"(b) rotations: {b['secrets']} secrets {b['by_engine']}: {b['rotated']} rotated, "
            f"failed by throttling {b['failed_by_throttling']}; {b['logins_checked']} checked by login",
            f"    wall {b['wall_s']} s; {b['throughput_rotations_per_s']} rotations/s, {b['steps_per_s']} steps/s",
            f"    per rotation {b['rotation_latency']}",
        ]
        lines += [f"    {step:<13} sent -> answered {lat}; in the function {b['step_invocation_latency'][step]}"
                  for step, lat in b["step_latency"].items()]
        lines += [f"    throttles injected {b['throttles_injected']}"]
        lines += [f"    not rotated x{n}: {why}" for why, n in b["not_rotated"].items()]
    if (rss := f.get("peak_rss_kb")):
        lines.append(f"peak RSS per process (VmHWM): max {rss['max']} kB, median {rss['median']} kB; "
                     f"all {rss['per_process']}")
    lines.append(f"problems: {len(report.problems)}")
    lines += [f"  - {p}" for p in report.problems[:40]]
    return "\n".join(lines)


def run_load(emulator: Emulator, cfg: LoadConfig, redis: Any, activemq: Any, ca_file: str) -> LoadReport:
    """Both phases through one fleet of ``cfg.processes`` function processes."""
    report = LoadReport(config=dataclasses.asdict(cfg))
    give_up_at = time.monotonic() + cfg.give_up_s
    emulator.config(strict=True, **TIMINGS)
    report.config["timings"] = dict(TIMINGS)
    fleet = Fleet(emulator, cfg.processes, cfg.timeout_s, {"USERKEEPER_TLS_CA_FILE": ca_file})
    try:
        if cfg.resources:
            run_resources(emulator, fleet, cfg, give_up_at, report)
        if cfg.secrets:
            run_rotations(emulator, fleet, cfg, redis, activemq, give_up_at, report)
        rss = fleet.rss_kb()
        report.figures["peak_rss_kb"] = {"per_process": rss, "max": max(rss), "median": int(statistics.median(rss))}
        report.figures["next_polls"] = fleet.runtime.next_requests
        if fleet.runtime.unknown_requests:
            report.problems.append(f"unexpected runtime API requests: {fleet.runtime.unknown_requests[:5]}")
    finally:
        fleet.stop()
        emulator.lambda_forward(FUNCTION_ARN, None)
    return report
