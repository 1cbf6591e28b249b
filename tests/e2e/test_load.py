"""The load test at a reduced size (the full size: ``scripts/load``, tools/load.py): several
function processes on one runtime API, the emulator throttling a tenth of every service's
calls; custom resources of all five types created and deleted a wave at a time, and rotations
fired together, a sample of them logging in to the real servers. What is checked:
``load.run_load`` (every request answered exactly once, by the protocol, before its deadline;
nothing left behind; every AWSCURRENT working). The figures are printed (``-s``)."""

from __future__ import annotations

from typing import Any

from .harness.emulator import Emulator
from .load import LoadConfig, run_load, summary
from .servers import ActiveMqServer, Pki, RedisServer

#: About a minute on CI's two cores, next to the other workers. A tenth throttled: hundreds of
#: throttles, and with the SDK's 6 attempts a call failing them all is a one-in-a-million draw;
#: at a fifth (the benchmark's default) one Delete in ~20 runs fails so (`scripts/load` figures).
CI_SIZE = LoadConfig(resources=40, secrets=60, processes=16, throttle=0.1, login_sample=5, give_up_s=300)


def test_load_with_throttling(userkeeper_bin: Any, emulator: Emulator, redis_server: RedisServer,
                              activemq_server: ActiveMqServer, pki: Pki) -> None:
    report = run_load(emulator, CI_SIZE, redis_server, activemq_server, str(pki.ca_cert))
    print("\n" + summary(report))
    assert report.problems == [], summary(report)

    a, b = report.figures["resources"], report.figures["rotations"]
    assert a["requests"] == 2 * CI_SIZE.resources  # each created, then deleted
    assert set(a["by_type"]) == {"ElastiCacheUser", "ElastiCacheUserGroup", "MemoryDBUser", "MemoryDBACL",
                                 "AmazonMQUser"}
    assert sum(a["outcomes"].values()) == a["requests"]
    assert b["secrets"] == CI_SIZE.secrets and set(b["by_engine"]) == {"elasticache", "memorydb", "mq"}
    assert b["logins_checked"] == CI_SIZE.login_sample
    # The run met throttling from every service it calls, or it proved nothing about it.
    injected = {s: a["throttles_injected"].get(s, 0) + b["throttles_injected"].get(s, 0)
                for s in ("elasticache", "memorydb", "mq", "secretsmanager")}
    assert all(n > 0 for n in injected.values()), injected
    assert len(report.figures["peak_rss_kb"]["per_process"]) == CI_SIZE.processes
