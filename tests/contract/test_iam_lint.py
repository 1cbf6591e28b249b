"""parliament over every identity policy of both templates (see iam_lint.py), and proof that a
finding fails the check: deliberately bad policies and templates must be caught."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import cfn, iam_lint

SYNTH_HINT = "run scripts/check-deploy (or `npx cdk synth` in cdk/) first"
ARN = f"{iam_lint.REGION}:{iam_lint.ACCOUNT}"
OWNERSHIP_CONDITION = {
    "StringLike": {"aws:RequestTag/userkeeper:stack-id": f"arn:aws:cloudformation:{ARN}:stack/*"},
    "Null": {"aws:RequestTag/userkeeper:logical-id": "false"},
}


def _templates() -> list[Any]:
    return [pytest.param(p, id=p.name) for p in iam_lint.default_templates()]


def _policy(*statements: dict[str, Any]) -> iam_lint.Policy:
    return iam_lint.Policy("test", "inline", {"Version": "2012-10-17", "Statement": list(statements)})


def _failing(findings: list[iam_lint.Finding]) -> list[iam_lint.Finding]:
    return [f for f in findings if f.fails]


def test_the_cdk_templates_were_synthesized() -> None:
    assert list(iam_lint.CDK_OUT.glob("*.template.json")), f"no CDK templates in {iam_lint.CDK_OUT}: {SYNTH_HINT}"


@pytest.mark.parametrize("path", _templates())
def test_every_policy_of_the_template_lints_clean(path: Path) -> None:
    policies = iam_lint.template_policies(path)
    assert policies, f"{path.name}: no IAM policies found"
    findings = [f for p in policies for f in iam_lint.lint(p)]
    failing = _failing(findings)
    assert not failing, f"{path.name}: parliament:\n" + "\n".join(str(f) for f in failing)


@pytest.mark.parametrize("path", _templates())
def test_every_policy_is_found_and_made_concrete(path: Path) -> None:
    """Nothing escapes the lint: every AWS::IAM::Policy and AWS::IAM::ManagedPolicy and every
    inline policy of a role is linted, with every statement (the optional ones switched on), each Resource a concrete ARN
    (or "*") that parliament can match against the actions' resource types."""
    template = cfn.load_template(path)
    resources = template["Resources"]
    expected = sum(1 for r in resources.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"))
    expected += sum(len(r["Properties"].get("Policies") or []) for r in resources.values() if r["Type"] == "AWS::IAM::Role")
    policies = iam_lint.template_policies(path)
    assert len(policies) == expected
    for p in policies:
        raw = dict(iam_lint.raw_policies(template))[p.name]["Statement"]
        # Fn::If [cond, statement, AWS::NoValue] statements are in: their condition is on.
        assert len(p.document["Statement"]) == len(raw), f"{p.name}: a statement was dropped in resolving"
        for st in p.document["Statement"]:
            for r in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                concrete = r.startswith("arn:aws:") and f":{iam_lint.ACCOUNT}:" in r
                assert r == "*" or concrete, f"{p.name}: Resource {r!r}"


# -- a finding fails the check -------------------------------------------------------------------


def test_a_resource_mismatch_fails() -> None:
    """UpdateAcl on the members alone (as template.yaml had it): AWS also authorizes it on the
    ACL, so parliament finds no ACL resource for it: RESOURCE_MISMATCH, MEDIUM."""
    bad = _policy({"Effect": "Allow", "Action": "memorydb:UpdateAcl", "Resource": f"arn:aws:memorydb:{ARN}:user/uk-*"})
    failing = _failing(iam_lint.lint(bad))
    assert [(f.issue, f.severity) for f in failing] == [("RESOURCE_MISMATCH", "MEDIUM")]
    assert failing[0].statement == bad.document["Statement"][0]
    assert "arn:*:memorydb:*:*:acl/*" in str(failing[0].detail)


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        # CreateAcl on the ACL alone: the Service Authorization Reference's reading (members) fails.
        ({"Effect": "Allow", "Action": "memorydb:CreateAcl", "Resource": f"arn:aws:memorydb:{ARN}:acl/uk-*"}, "RESOURCE_MISMATCH"),
        # CreateUserGroup on the group alone.
        ({"Effect": "Allow", "Action": "elasticache:CreateUserGroup", "Resource": f"arn:aws:elasticache:{ARN}:usergroup:uk-*"}, "RESOURCE_MISMATCH"),
        # A misspelt action (LOW for parliament, failing here: FAIL_ALSO).
        ({"Effect": "Allow", "Action": "memorydb:CreateAccessList", "Resource": "*"}, "UNKNOWN_ACTION"),
        ({"Effect": "Allow", "Action": "memorydbx:CreateAcl", "Resource": "*"}, "UNKNOWN_PREFIX"),
        # A malformed ARN (an unresolved parameter would look like this).
        ({"Effect": "Allow", "Action": "memorydb:DeleteUser", "Resource": "arn:aws:memorydb:us-east-1:user/uk-*"}, "INVALID_ARN"),
        # Privilege escalation (a community auditor).
        ({"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}, "PRIVILEGE_ESCALATION"),
    ],
    ids=["create-acl-on-acl-only", "create-user-group-on-group-only", "unknown-action", "unknown-prefix", "invalid-arn", "privilege-escalation"],
)
def test_bad_statements_fail(statement: dict[str, Any], issue: str) -> None:
    failing = _failing(iam_lint.lint(_policy(statement)))
    assert issue in {f.issue for f in failing}, [str(f) for f in failing]


TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  MemoryDbAclPrefix: {Type: String, Default: uk-}
  MemoryDbUserPrefix: {Type: String, Default: uk-}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: acls
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
%s
"""
ACL = "!Sub arn:${AWS::Partition}:memorydb:${AWS::Region}:${AWS::AccountId}:acl/${MemoryDbAclPrefix}*"
USERS = "!Sub arn:${AWS::Partition}:memorydb:${AWS::Region}:${AWS::AccountId}:user/${MemoryDbUserPrefix}*"
# UpdateAcl split over the ACL's statement and the members' one (template.yaml before issue 10).
SPLIT = f"""\
              - Sid: Acls
                Effect: Allow
                Action: [memorydb:DescribeAcls, memorydb:UpdateAcl]
                Resource: {ACL}
              - Sid: AclMembers
                Effect: Allow
                Action: memorydb:UpdateAcl
                Resource: {USERS}"""
# The fix: one statement on the ACL and its members.
JOINED = f"""\
              - Sid: Acls
                Effect: Allow
                Action: memorydb:DescribeAcls
                Resource: {ACL}
              - Sid: AclMembership
                Effect: Allow
                Action: memorydb:UpdateAcl
                Resource:
                  - {ACL}
                  - {USERS}"""


def test_the_check_fails_on_a_template_with_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole path check-deploy runs (``python -m tests.contract.iam_lint TEMPLATE``): the
    template's !Sub of parameters resolved, its policy linted, each finding printed with its
    statement, exit status 1; and 0 once fixed."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEMPLATE % SPLIT)
    assert iam_lint.main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL  MEDIUM   RESOURCE_MISMATCH") == 2, out
    assert "statement Acls:" in out and "statement AclMembers:" in out
    assert f"arn:aws:memorydb:{ARN}:acl/uk-*" in out and f"arn:aws:memorydb:{ARN}:user/uk-*" in out
    good = tmp_path / "good.yaml"
    good.write_text(TEMPLATE % JOINED)
    assert iam_lint.main([str(good)]) == 0, capsys.readouterr().out


def test_an_unresolvable_policy_fails(tmp_path: Path) -> None:
    """A policy naming something the sample stack cannot make concrete is an error, not a
    policy linted with a placeholder left in it."""
    path = tmp_path / "unresolved.yaml"
    path.write_text(TEMPLATE % SPLIT.replace("${MemoryDbUserPrefix}", "${NoSuchPrefix}"))
    with pytest.raises(cfn.TemplateError, match="NoSuchPrefix"):
        iam_lint.template_policies(path)


def test_an_exception_accepts_only_what_it_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _policy({"Effect": "Allow", "Action": "memorydb:UpdateAcl", "Resource": f"arn:aws:memorydb:{ARN}:user/uk-*"})
    other = _policy({"Effect": "Allow", "Action": "elasticache:ModifyUserGroup", "Resource": f"arn:aws:elasticache:{ARN}:user:uk-*"})
    exc = iam_lint.Exception_("RESOURCE_MISMATCH", frozenset({"memorydb:updateacl"}), "a test")
    (f,) = iam_lint.lint(bad, [exc])
    assert f.excepted_by is exc and not f.fails
    # Another action, another issue: still failing.
    assert _failing(iam_lint.lint(other, [exc]))
    assert _failing(iam_lint.lint(_policy({"Effect": "Allow", "Action": "memorydb:UpdateAcll", "Resource": "*"}), [exc]))


# -- the exceptions ------------------------------------------------------------------------------


def test_exceptions_have_reasons_and_are_all_needed() -> None:
    """Each deliberate exception says why, and still matches a finding (no stale ones)."""
    _, findings = iam_lint.lint_templates(iam_lint.default_templates())
    for e in iam_lint.EXCEPTIONS:
        assert e.reason.strip() and e.actions == {a.lower() for a in e.actions}, e
        assert any(f.excepted_by is e for f in findings), f"stale exception (nothing matches it now): {e}"


@pytest.mark.parametrize(
    "statement",
    [
        {"Sid": "GenerateRotatedPasswords", "Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
        {"Sid": "MemoryDbCreateUsers", "Effect": "Allow", "Action": "memorydb:CreateUser", "Resource": "*", "Condition": OWNERSHIP_CONDITION},
    ],
    ids=["GetRandomPassword", "memorydb-CreateUser"],
)
def test_the_star_statements_aws_requires_need_no_exception(statement: dict[str, Any]) -> None:
    """Resource "*" where AWS requires it (no resource type) is no finding at all for parliament,
    which is why EXCEPTIONS is empty; the contract test (NO_RESOURCE_ACTIONS, UNSCOPED_ACTIONS in
    test_templates.py) keeps "*" to exactly these."""
    assert iam_lint.lint(_policy(statement)) == []
    # Whereas "*" on an action that has a resource type is one (LOW: reported, not failing).
    (f,) = iam_lint.lint(_policy({**statement, "Action": "memorydb:DeleteUser"}))
    assert f.issue == "RESOURCE_STAR" and not f.fails


def test_statements_are_located() -> None:
    """Findings name their statement (parliament locates by line in the JSON it reads)."""
    good = {"Sid": "A", "Effect": "Allow", "Action": "memorydb:DescribeUsers", "Resource": f"arn:aws:memorydb:{ARN}:user/uk-*"}
    bad = {"Sid": "B", "Effect": "Allow", "Action": "memorydb:UpdateAcl", "Resource": f"arn:aws:memorydb:{ARN}:acl/uk-*"}
    (f,) = iam_lint.lint(_policy(good, bad, good | {"Sid": "C"}))
    assert f.statement == bad, json.dumps(f.statement)
