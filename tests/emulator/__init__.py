"""moto server with the extensions userkeeper's end-to-end tests need.

Run it with ``python -m tests.emulator --port 5077`` from the repository root; see
``core.py`` for the control API under ``/_emulator/``, and ``elasticache.py``,
``memorydb.py``, ``mq.py``, ``awslambda.py`` and ``secretsmanager.py`` for what is added
to moto (``requests_log.py``: ``GET /_emulator/requests``). Importing :func:`install`
applies the extensions to moto in this process.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    """Apply every service extension to moto (idempotent)."""
    global _installed
    if _installed:
        return
    from . import awslambda, core, elasticache, memorydb, mq, requests_log, secretsmanager  # noqa: F401  (importing applies the patches)

    _installed = True
