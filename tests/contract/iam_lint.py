"""parliament (Duo Labs' IAM linter) over every identity policy of the deployment templates.

Every policy document of ``template.yaml`` (the role's inline ``Policies``, each
``AWS::IAM::Policy``) and of every CDK-synthesized template (``cdk/cdk.out/*.template.json``)
is resolved as CloudFormation would resolve it in one sample stack (account 123456789012,
us-east-1, every example and option switched on: see ``LINT_PARAMETERS``), so that parliament
sees concrete ARNs, and then linted statement by statement against parliament's copy of the
Service Authorization Reference. A finding of MEDIUM severity or above fails (and the two LOW
ones that mean an action name is wrong, ``FAIL_ALSO``), unless it is one of ``EXCEPTIONS``
(the one place deliberate ones are listed, each with its reason). Other LOW and INFO findings
are printed, not failed on.

parliament's checks and its community auditors (privilege escalation, permissions management,
credentials exposure, sensitive access, NotResource/NotPrincipal with Allow, single-valued
condition keys against sets), through its Python API.

    python -m tests.contract.iam_lint [TEMPLATE ...]   # default: template.yaml and cdk.out
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Iterable

import parliament

from . import cfn

# The community auditors' findings need their entries in parliament's config (as its CLI does
# for --include-community-auditors).
parliament.override_config(str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"))

REPO = Path(__file__).resolve().parents[2]
SAM_TEMPLATE = REPO / "template.yaml"
CDK_OUT = REPO / "cdk" / "cdk.out"

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "iam-lint"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/6b8b2a10-0000-4000-8000-000000000000"

# Every optional grant switched on, with a sample value where the default is empty: the
# customer-managed key (kms:Decrypt, kms:GenerateDataKey), the MQ example and its rotation,
# the RabbitMQ example (its broker and administrator's secret).
# Only the parameters a template declares are passed; every other keeps its default.
LINT_PARAMETERS = {
    # template.yaml
    "CreateExample": "true",
    "CreateMemoryDbExample": "true",
    "MqBrokerId": "b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9",
    "RotateMqExample": "true",
    "SecretsKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "RabbitMqBrokerId": "b-9876a5b6-78cd-901e-2fgh-3i45j6k178l9",
    # both
    "RabbitMqAdminSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:userkeeper/rabbitmq-admin-AbCdEf",
    # the CDK example app
    "MqBrokerArn": f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:uk-lint:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9",
    "RabbitMqBrokerArn": f"arn:aws:mq:{REGION}:{ACCOUNT}:broker:uk-lint-rabbit:b-9876a5b6-78cd-901e-2fgh-3i45j6k178l9",
}

# Fails the check: this severity and above.
FAIL_AT = "MEDIUM"
SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
# LOW for parliament, failing here too: a misspelt action (or service prefix) grants nothing,
# silently, and hides the missing grant it was meant to be.
FAIL_ALSO = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX"}


@dataclasses.dataclass(frozen=True)
class Exception_:
    """A finding deliberately accepted: parliament's ``issue`` on a statement whose actions are
    all in ``actions`` (lowercase), for ``reason``."""

    issue: str
    actions: frozenset[str]
    reason: str

    def covers(self, issue: str, actions: Iterable[str]) -> bool:
        acts = {a.lower() for a in actions}
        return issue == self.issue and bool(acts) and acts <= self.actions


# The deliberate exceptions, all of them, each with why. Empty today: the statements on "*"
# that AWS requires are not findings for parliament (it knows these actions have no resource
# type, so "*" is the only Resource that matches them), and everything else lints clean.
# For the record, those "*" statements (tests/contract/test_templates.py allows exactly these):
#   secretsmanager:GetRandomPassword  no resource type: reads and writes nothing (a random
#                                     string), as in AWS's own rotation functions' policies;
#   memorydb:CreateUser               no resource type (Service Authorization Reference), so no
#                                     ARN can match it: narrowed by the request's ownership
#                                     tags instead (aws:RequestTag/userkeeper:*).
# A new entry: Exception_("ISSUE", frozenset({"service:action"}), "why AWS leaves no choice").
EXCEPTIONS: list[Exception_] = []


@dataclasses.dataclass
class Policy:
    """One identity policy document of a template, resolved."""

    template: str  # file name
    name: str  # <logical id>[/<inline policy name>]
    document: dict[str, Any]


@dataclasses.dataclass
class Finding:
    policy: Policy
    issue: str
    severity: str
    title: str
    detail: Any
    statement: dict[str, Any] | None  # the statement it is about, when parliament says
    excepted_by: Exception_ | None = None

    @property
    def fails(self) -> bool:
        if self.excepted_by is not None:
            return False
        return self.issue in FAIL_ALSO or SEVERITIES.index(self.severity) >= SEVERITIES.index(FAIL_AT)

    def __str__(self) -> str:
        where = f"{self.policy.template}: {self.policy.name}"
        st = ""
        if self.statement is not None:
            sid = self.statement.get("Sid")
            st = f"\n      statement{' ' + sid if sid else ''}: {json.dumps(self.statement, sort_keys=True)}"
        why = f"\n      excepted: {self.excepted_by.reason}" if self.excepted_by else ""
        return f"{self.severity:<8} {self.issue} ({self.title}) in {where}\n      detail: {self.detail}{st}{why}"


def default_templates() -> list[Path]:
    return [SAM_TEMPLATE, *sorted(CDK_OUT.glob("*.template.json"))]


# -- resolving a template's policies -----------------------------------------------------------


def _placeholder(stack: cfn.Stack, lid: str, resource: dict[str, Any]) -> cfn.Created | None:
    """What Ref / Fn::GetAtt of a resource give in the sample stack, for the types policies
    refer to. Any other type stays uncreated: a policy referring to it fails to resolve,
    naming it (add it here)."""
    rtype = resource["Type"]
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    if rtype == "AWS::SecretsManager::Secret":
        try:
            name = stack.resolve((resource.get("Properties") or {}).get("Name") or lid)
        except cfn.TemplateError:
            name = lid
        full = arn.format("secretsmanager", f"secret:{name}-AbCdEf")
        return cfn.Created(full, {"Id": full}, f"sample secret {lid}")
    if rtype in cfn.FUNCTION_TYPES:
        return cfn.Created(lid, {"Arn": arn.format("lambda", f"function:{lid}")}, f"sample function {lid}")
    if rtype == "AWS::IAM::Role":
        return cfn.Created(lid, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{lid}", "RoleId": "AROASAMPLE"}, f"sample role {lid}")
    if rtype == "AWS::Logs::LogGroup":
        return cfn.Created(lid, {"Arn": arn.format("logs", f"log-group:{lid}:*")}, f"sample log group {lid}")
    if rtype == "AWS::KMS::Key":
        key = "0a1b2c3d-0000-4000-8000-00000000000b"
        return cfn.Created(key, {"Arn": arn.format("kms", f"key/{key}"), "KeyId": key}, f"sample key {lid}")
    return None


def sample_stack(template: dict[str, Any]) -> cfn.Stack:
    declared = template.get("Parameters") or {}
    stack = cfn.Stack(
        template,
        name=STACK_NAME,
        stack_id=STACK_ID,
        region=REGION,
        account=ACCOUNT,
        parameters={k: v for k, v in LINT_PARAMETERS.items() if k in declared},
    )
    for lid, r in stack.resources.items():
        created = _placeholder(stack, lid, r)
        if created is not None:
            stack.created[lid] = created
    return stack


def raw_policies(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, unresolved document) of every identity policy: AWS::IAM::Policy and
    AWS::IAM::ManagedPolicy resources, and the inline Policies of AWS::IAM::Role (and of
    AWS::IAM::User / Group, should a template ever have them)."""
    out = []
    for lid, r in (template.get("Resources") or {}).items():
        props = r.get("Properties") or {}
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out.append((lid, props["PolicyDocument"]))
        elif r["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for p in props.get("Policies") or []:
                out.append((f"{lid}/{p.get('PolicyName')}", p["PolicyDocument"]))
    return out


def _unresolved(value: Any) -> list[str]:
    """What in a resolved document is not a concrete value (an intrinsic left, a ${...})."""
    if isinstance(value, dict):
        if any(k.startswith("Fn::") or k == "Ref" for k in value):
            return [json.dumps(value)]
        return [x for v in value.values() for x in _unresolved(v)]
    if isinstance(value, list):
        return [x for v in value for x in _unresolved(v)]
    if isinstance(value, str) and "${" in value and "${aws:" not in value:
        return [value]
    return []


def template_policies(path: Path) -> list[Policy]:
    """Every identity policy of the template at ``path``, resolved in the sample stack.
    Raises cfn.TemplateError when one cannot be made concrete."""
    template = cfn.load_template(path)
    stack = sample_stack(template)
    out = []
    for name, raw in raw_policies(template):
        doc = stack.resolve(raw)
        left = _unresolved(doc)
        if left:
            raise cfn.TemplateError(f"{path.name}: {name}: not resolved to concrete values: {left}")
        out.append(Policy(path.name, name, doc))
    return out


# -- linting -----------------------------------------------------------------------------------


def _statement_lines(document: dict[str, Any]) -> tuple[str, list[tuple[int, int, dict[str, Any]]]]:
    """The document as the JSON parliament reads, and the (first, last) line of each statement
    in it (parliament locates findings by line)."""
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    head = {k: v for k, v in document.items() if k != "Statement"}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + ['  "Statement": [']
    spans = []
    for i, st in enumerate(statements):
        body = json.dumps(st, indent=2).splitlines()
        body = ["    " + line for line in body]
        if i < len(statements) - 1:
            body[-1] += ","
        first = len(lines) + 1
        lines += body
        spans.append((first, len(lines), st))
    lines += ["  ]", "}"]
    return "\n".join(lines), spans


def _actions(statement: dict[str, Any] | None) -> list[str]:
    if not statement:
        return []
    a = statement.get("Action") or []
    return [a] if isinstance(a, str) else list(a)


def lint(policy: Policy, exceptions: list[Exception_] | None = None) -> list[Finding]:
    """parliament's findings for one policy, each tied to its statement and to the exception
    that accepts it (if any)."""
    exceptions = EXCEPTIONS if exceptions is None else exceptions
    text, spans = _statement_lines(policy.document)
    # Parsed back first: what parliament reads is exactly the document.
    assert json.loads(text) == {**policy.document, "Statement": [s for _, _, s in spans]}
    result = parliament.analyze_policy_string(
        text, f"{policy.template}:{policy.name}", ignore_private_auditors=True, include_community_auditors=True
    )
    out = []
    for f in result.findings:
        parliament.enhance_finding(f)
        line = (f.location or {}).get("line") if isinstance(f.location, dict) else None
        statement = next((st for first, last, st in spans if line is not None and first <= line <= last), None)
        finding = Finding(policy, f.issue, f.severity, f.title, f.detail, statement)
        finding.excepted_by = next(
            (e for e in exceptions if statement is not None and e.covers(f.issue, _actions(statement))), None
        )
        out.append(finding)
    return out


def lint_templates(paths: Iterable[Path]) -> tuple[list[Policy], list[Finding]]:
    policies = [p for path in paths for p in template_policies(path)]
    return policies, [f for p in policies for f in lint(p)]


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or default_templates()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"no such template: {missing} (synthesize the CDK app first: `npx cdk synth` in cdk/)", file=sys.stderr)
        return 2
    policies, findings = lint_templates(paths)
    for path in paths:
        mine = [p for p in policies if p.template == path.name]
        n = sum(len(p.document.get("Statement") or []) for p in mine)
        print(f"parliament {parliament.__version__}: {path.name}: {len(mine)} policies, {n} statements")
    for f in findings:
        print(("FAIL  " if f.fails else "note  ") + str(f))
    failing = [f for f in findings if f.fails]
    print(
        f"{len(failing)} failing finding(s) ({FAIL_AT} or above, or {'/'.join(sorted(FAIL_ALSO))}), "
        f"{sum(1 for f in findings if f.excepted_by)} excepted (EXCEPTIONS in {Path(__file__).relative_to(REPO)}), "
        f"{sum(1 for f in findings if not f.fails and not f.excepted_by)} not failing (LOW, INFO)"
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
