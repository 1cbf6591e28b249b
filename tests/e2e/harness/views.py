"""What a test reads from the PUTs a request produced, and helpers for looking at output."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from .receiver import ReceivedRequest
from .runtime_api import Invocation


class ResponseView:
    """What a test reads from the PUTs a request produced: ``puts`` is set by the subclass."""

    puts: list[ReceivedRequest]

    @property
    def accepted(self) -> list[ReceivedRequest]:
        return [p for p in self.puts if p.accepted]

    @property
    def response(self) -> dict[str, Any]:
        """The body of the (single) accepted PUT."""
        acc = self.accepted
        assert len(acc) == 1, f"expected exactly one accepted PUT, got {len(acc)}: {self.puts}"
        return acc[0].json()

    @property
    def status(self) -> str:
        return self.response["Status"]

    @property
    def reason(self) -> str:
        return self.response.get("Reason") or ""

    @property
    def physical_id(self) -> str:
        return self.response["PhysicalResourceId"]

    @property
    def data(self) -> dict[str, Any]:
        return self.response.get("Data") or {}


@dataclasses.dataclass
class CfnResult(ResponseView):
    """One custom-resource event driven through the function, with everything observed."""

    event: dict[str, Any]
    invocation: Invocation
    puts: list[ReceivedRequest]

    def __repr__(self) -> str:
        return f"CfnResult(puts={[(p.status, p.body[:400]) for p in self.puts]}, invocation={self.invocation})"


def contains_any(haystacks: Iterable[str | bytes], needles: Iterable[str]) -> list[tuple[str, str]]:
    """(needle, haystack excerpt) for every needle found in any haystack."""
    found = []
    needles = [n for n in needles if n]
    for h in haystacks:
        text = h.decode("utf-8", "replace") if isinstance(h, bytes) else h
        for n in needles:
            if n in text:
                i = text.index(n)
                found.append((n, text[max(0, i - 80): i + len(n) + 80]))
    return found


def mask_passwords(value: Any) -> Any:
    """Copy of emulator state with every password-like value masked (for printing)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if "password" in k.lower() and not k.lower().endswith(("count", "type", "arn")):
                if isinstance(v, list):
                    out[k] = ["****" for _ in v]
                elif isinstance(v, (str, int)) and not isinstance(v, bool):
                    out[k] = "****"
                else:
                    out[k] = mask_passwords(v)
            elif k in ("SecretString", "secret_string"):
                out[k] = "****"
            else:
                out[k] = mask_passwords(v)
        return out
    if isinstance(value, list):
        return [mask_passwords(v) for v in value]
    return value
