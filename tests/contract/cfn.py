"""Just enough of CloudFormation to turn a template's custom resources into the events
CloudFormation would send: parameters (defaults plus overrides), pseudo parameters,
conditions, and the intrinsic functions templates here use (Ref, Fn::GetAtt, Fn::Sub,
Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals/Not/And/Or, Condition).

Values of resources come from whoever "created" them (``Stack.created``): a secret's ARN from
the emulator, a custom resource's physical id and ``Data`` from the function's response. A
reference to anything not created yet, or to an attribute the response did not carry, is an
error naming it: exactly the drift these tests are for.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

PSEUDO_DEFAULTS = {
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


class TemplateError(AssertionError):
    """The template cannot be evaluated as CloudFormation would (a real finding)."""


_NO_VALUE = object()


def load_template(path: Path) -> dict[str, Any]:
    """YAML (short-form tags included) or JSON, as plain dicts/lists/strs."""
    tpl, matches = decode(str(path))
    if matches or tpl is None:
        raise TemplateError(f"{path}: cannot be parsed: {[str(m) for m in matches]}")
    return json.loads(json.dumps(tpl))  # drop cfn-lint's node classes (line marks)


@dataclasses.dataclass
class Created:
    ref: Any  # what Ref returns
    atts: dict[str, Any]  # what Fn::GetAtt returns, by attribute name
    source: str  # who provided it, for error messages


class Stack:
    def __init__(
        self,
        template: dict[str, Any],
        *,
        name: str,
        stack_id: str,
        region: str,
        account: str,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
        self.pseudo = {
            **PSEUDO_DEFAULTS,
            "AWS::StackName": name,
            "AWS::StackId": stack_id,
            "AWS::Region": region,
            "AWS::AccountId": account,
        }
        self.params: dict[str, Any] = {}
        for pname, spec in (template.get("Parameters") or {}).items():
            if parameters and pname in parameters:
                self.params[pname] = parameters[pname]
            elif "Default" in spec:
                self.params[pname] = spec["Default"]
        unknown = set(parameters or {}) - set(template.get("Parameters") or {})
        if unknown:
            raise TemplateError(f"no such parameters: {sorted(unknown)}")
        self._conditions: dict[str, bool] = {}
        self.created: dict[str, Created] = {}

    # -- conditions ---------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"no such condition {name}")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    def enabled(self, logical_id: str) -> bool:
        cond = self.resources[logical_id].get("Condition")
        return True if cond is None else self.condition(cond)

    # -- dependencies ---------------------------------------------------------------------
    def references(self, value: Any) -> set[str]:
        """Logical ids of resources that ``value`` refers to (Ref, GetAtt, Sub)."""
        out: set[str] = set()
        if isinstance(value, dict):
            if len(value) == 1:
                (k, v), = value.items()
                if k == "Ref" and v in self.resources:
                    out.add(v)
                elif k == "Fn::GetAtt":
                    target = v[0] if isinstance(v, list) else str(v).split(".", 1)[0]
                    if target in self.resources:
                        out.add(target)
                elif k == "Fn::Sub":
                    text, variables = (v, {}) if isinstance(v, str) else (v[0], v[1])
                    for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        base = var.split(".", 1)[0]
                        if base not in variables and base in self.resources:
                            out.add(base)
                    out |= self.references(variables)
                    return out
            for v in value.values():
                out |= self.references(v)
        elif isinstance(value, list):
            for v in value:
                out |= self.references(v)
        return out

    def order(self) -> list[str]:
        """Enabled resources in an order CloudFormation could create them (template order
        among independent ones)."""
        ids = [lid for lid in self.resources if self.enabled(lid)]
        deps: dict[str, set[str]] = {}
        for lid in ids:
            r = self.resources[lid]
            d = self.references(r.get("Properties") or {})
            depends_on = r.get("DependsOn") or []
            d |= set([depends_on] if isinstance(depends_on, str) else depends_on)
            deps[lid] = {x for x in d if x in ids}
        done: list[str] = []
        pending = list(ids)
        while pending:
            ready = [lid for lid in pending if deps[lid] <= set(done)]
            if not ready:
                raise TemplateError(f"circular dependency among {pending}")
            done.append(ready[0])
            pending.remove(ready[0])
        return done

    # -- intrinsic functions ------------------------------------------------------------
    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            if name not in self.created:
                raise TemplateError(f"Ref {name} ({self.resources[name]['Type']}): not created yet / not modelled")
            return self.created[name].ref
        raise TemplateError(f"Ref to unknown {name}")

    def _getatt(self, target: str, attribute: str) -> Any:
        if target not in self.resources:
            raise TemplateError(f"Fn::GetAtt of unknown resource {target}")
        if target not in self.created:
            raise TemplateError(f"Fn::GetAtt {target}.{attribute}: {target} not created yet / not modelled")
        c = self.created[target]
        if attribute not in c.atts:
            raise TemplateError(
                f"Fn::GetAtt {target}.{attribute}: {c.source} provides only {sorted(c.atts)}"
            )
        return c.atts[attribute]

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(m: re.Match[str]) -> str:
            var = m.group(1)
            if var.startswith("!"):
                return "${" + var[1:] + "}"
            if var in variables:
                v = variables[var]
            elif "." in var and var.split(".", 1)[0] in self.resources:
                v = self._getatt(*var.split(".", 1))
            else:
                v = self._ref(var)
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise TemplateError(f"Fn::Sub ${{{var}}} is not a string: {v!r}")
            return str(v)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (k, v), = value.items()
            if k == "Ref":
                return self._ref(v)
            if k == "Fn::GetAtt":
                target, attribute = v if isinstance(v, list) else str(v).split(".", 1)
                return self._getatt(target, self.resolve(attribute))
            if k == "Fn::Sub":
                if isinstance(v, str):
                    return self._sub(v, {})
                return self._sub(v[0], {n: self.resolve(x) for n, x in v[1].items()})
            if k == "Fn::Join":
                sep, items = v
                return str(sep).join(str(x) for x in self.resolve(items))
            if k == "Fn::Select":
                index, items = v
                return self.resolve(items)[int(self.resolve(index))]
            if k == "Fn::Split":
                sep, text = v
                return str(self.resolve(text)).split(sep)
            if k == "Fn::If":
                cond, yes, no = v
                return self.resolve(yes if self.condition(cond) else no)
            if k == "Fn::Equals":
                a, b = (self.resolve(x) for x in v)
                return str(a) == str(b)
            if k == "Fn::Not":
                return not self.resolve(v[0])
            if k == "Fn::And":
                return all(self.resolve(x) for x in v)
            if k == "Fn::Or":
                return any(self.resolve(x) for x in v)
            if k == "Condition":
                return self.condition(v)
            if k.startswith("Fn::"):
                raise TemplateError(f"{k} is not modelled here")
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}
