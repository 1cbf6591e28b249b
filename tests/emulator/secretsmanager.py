"""Secrets Manager as userkeeper's password rotation sees it.

AWS rotates a secret by creating a new version id staged ``AWSPENDING`` with no value and
then invoking the rotation function (``createSecret``, ``setSecret``, ``testSecret``,
``finishSecret``) with that id as ``ClientRequestToken``. moto 5.2.5's ``RotateSecret``
insists the function exists in moto's own Lambda and runs it there (and copies values
around), which tests cannot use; so two control routes do AWS's part instead, without
invoking anything:

    POST /_emulator/secretsmanager/rotation {"secret": name or ARN, "lambda": function ARN,
                                             "enabled": true|false, "days": 30}
    POST /_emulator/secretsmanager/pending  {"secret": name or ARN, "token": optional}

The first sets what ``DescribeSecret`` shows (``RotationEnabled``, ``RotationLambdaARN``,
``RotationRules``); the second stages a new value-less version ``AWSPENDING`` and answers
``{"token": version id}``, which a test then passes to the function in a rotation event.

Where moto differs from AWS on the calls the rotation steps make, this module follows AWS:

* ``GetSecretValue`` of a version without a value answers ``ResourceNotFoundException``
  naming the ``VersionId`` (moto named the staging label ``AWSCURRENT``), and of a staging
  label no version carries "... for staging label: X" (moto: "can't find the specified secret").
* ``PutSecretValue`` never changes a version that has a value: the same value again is
  accepted and changes nothing, another value is ``ResourceExistsException`` (moto overwrote
  any version staged ``AWSPENDING``). A value-less version (the pending one) gets the value.
  ``RotationToken`` is recorded per version for ``GET /_emulator/state``. Moving
  ``AWSCURRENT`` (no ``VersionStages``, or ``AWSCURRENT`` among them) moves ``AWSPREVIOUS``
  to the version that carried ``AWSCURRENT``, found by its label: moto took its default
  version, which is stale after ``UpdateSecretVersionStage``, and ended with two versions
  ``AWSCURRENT``. ``UpdateSecret`` shares that fix. A secret marked for deletion refuses.
* ``UpdateSecretVersionStage`` checks everything before it changes anything (moto removed
  the label, then failed on a bad ``MoveToVersionId``), needs ``RemoveFromVersionId`` for
  any label already attached elsewhere (moto: only for ``AWSCURRENT``; other labels ended
  up on two versions) and never attaches a label twice. Kept from moto on purpose:
  ``GetSecretValue`` without ``VersionId``/``VersionStage`` keeps answering the version
  that was current before the move; userkeeper always asks for ``AWSCURRENT``.
* Versions without labels are deprecated: not in ``DescribeSecret``'s
  ``VersionIdsToStages`` and not in ``ListSecretVersionIds`` unless ``IncludeDeprecated``.
  ``ListSecretVersionIds`` answers the ARN (moto: the name), each version's own
  ``CreatedDate``, and ``ResourceNotFoundException`` for an unknown secret (moto: HTTP 500).
* ``GetRandomPassword``: length 1-4096 (else ``ValidationException``), at least one
  character of each included type when ``RequireEachIncludedType`` (at random positions;
  ``InvalidParameterException`` if the length is too short for the types), space only
  with ``IncludeSpace`` and never required. moto refused lengths below 4, answered 5
  characters for length 4 with ``IncludeSpace``, failed with HTTP 500 when
  ``ExcludeCharacters`` removed a whole type, and put the required characters last.

With ``strict`` on (``POST /_emulator/config``), ``PutSecretValue`` checks its
``RotationToken`` against the model's constraints (see ``_check_rotation_token``).
"""

from __future__ import annotations

import json
import re
import secrets as random_source
import string
import time
import uuid
from typing import Any

from moto.secretsmanager.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    OperationNotPermittedOnReplica,
    ResourceExistsException,
    ResourceNotFoundException,
    SecretNotFoundException,
    ValidationException,
)
from moto.secretsmanager.models import FakeSecret, ReplicaSecret, SecretsManagerBackend, secretsmanager_backends
from moto.secretsmanager.responses import SecretsManagerResponse

from . import core

SERVICE = "secretsmanager"
AWSCURRENT, AWSPENDING, AWSPREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
MIN_PASSWORD, MAX_PASSWORD, DEFAULT_PASSWORD = 1, 4096, 32
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 1000, 30
MIN_TOKEN, MAX_TOKEN = 32, 64  # ClientRequestToken, which becomes the VersionId
# RotationTokenType in the model: 36-256 characters of [a-zA-Z0-9-], sensitive.
MIN_ROTATION_TOKEN, MAX_ROTATION_TOKEN = 36, 256
ROTATION_TOKEN_PATTERN = r"^[a-zA-Z0-9\-]+$"  # as the model (and AWS's message) writes it
ROTATION_TOKEN_CHARS = re.compile(r"[a-zA-Z0-9-]+")
LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$")
ROTATION_TOKEN = "emulator_rotation_token"  # key in moto's version dicts; moto never reads it


# --------------------------------------------------------------------------------------
# Versions and labels


def _has_value(version: dict[str, Any]) -> bool:
    return "secret_string" in version or "secret_binary" in version


def _holder(secret: FakeSecret | ReplicaSecret, stage: str) -> str | None:
    """The version carrying ``stage`` (labels are unique per secret)."""
    return next((vid for vid, v in secret.versions.items() if stage in v["version_stages"]), None)


def _move_previous(secret: FakeSecret, version_id: str) -> None:
    for version in secret.versions.values():
        if AWSPREVIOUS in version["version_stages"]:
            version["version_stages"].remove(AWSPREVIOUS)
    secret.versions[version_id]["version_stages"].append(AWSPREVIOUS)


def _attach(secret: FakeSecret, version_id: str, stages: list[str]) -> None:
    """Attach ``stages`` to a version as PutSecretValue does: each label leaves the version
    that had it; AWSCURRENT's old version gets AWSPREVIOUS, found by label rather than by
    moto's default version (stale after UpdateSecretVersionStage)."""
    target = secret.versions[version_id]["version_stages"]
    previous = None
    for stage in dict.fromkeys(stages):
        for other_id, other in secret.versions.items():
            if other_id != version_id and stage in other["version_stages"]:
                other["version_stages"].remove(stage)
                if stage == AWSCURRENT:
                    previous = other_id
        if stage not in target:
            target.append(stage)
    if AWSCURRENT in stages:
        if previous is not None:
            _move_previous(secret, previous)
        secret.set_default_version_id(version_id)


def _reset_default_version(self: FakeSecret, secret_version: dict[str, Any], version_id: str) -> None:
    # moto's UpdateSecret (and RotateSecret without a function) make a version current
    # here; moto's own code demoted its default version, which may no longer be current.
    self.versions[version_id] = secret_version
    _attach(self, version_id, [AWSCURRENT])


FakeSecret.reset_default_version = _reset_default_version  # type: ignore[method-assign]


def _version_ids_to_stages(self: FakeSecret) -> dict[str, list[str]]:
    # AWS lists only versions with labels; the others are deprecated.
    return {vid: list(v["version_stages"]) for vid, v in self.versions.items() if v["version_stages"]}


FakeSecret._form_version_ids_to_stages = _version_ids_to_stages  # type: ignore[method-assign,assignment]


# --------------------------------------------------------------------------------------
# Backend state


def _backends() -> list[SecretsManagerBackend]:
    return [b for regions in list(secretsmanager_backends.values()) for b in list(regions.values())]


def _state() -> dict[str, Any]:
    out = []
    for backend in _backends():
        for secret in list(backend.secrets.values()):
            if not isinstance(secret, FakeSecret):
                continue  # replicas show their primary's versions
            out.append(
                {
                    "Name": secret.name,
                    "ARN": secret.arn,
                    "RotationEnabled": bool(secret.rotation_enabled),
                    "RotationLambdaARN": secret.rotation_lambda_arn or None,
                    "Versions": {
                        vid: {
                            "Stages": list(v["version_stages"]),
                            "HasValue": _has_value(v),
                            "SecretString": v.get("secret_string"),
                            "RotationToken": v.get(ROTATION_TOKEN),
                        }
                        for vid, v in secret.versions.items()
                    },
                }
            )
    return {"secrets": out}


core.register(SERVICE, state=_state)


# --------------------------------------------------------------------------------------
# Control API: AWS's side of a rotation, without invoking anything


def _find(ref: Any) -> FakeSecret:
    """A secret by name, ARN or partial ARN, in whichever account and region has it."""
    if not isinstance(ref, str) or not ref:
        raise core.BadRequest('"secret" must be a secret name or ARN')
    found = [
        s for backend in _backends() if isinstance(s := backend.secrets.get(ref), FakeSecret)
    ]
    if not found:
        raise core.BadRequest(f"no secret {ref!r}: create it first (CreateSecret)")
    if len(found) > 1:
        raise core.BadRequest(f"secret {ref!r} exists in more than one account or region: give its ARN")
    return found[0]


def _set_rotation(body: dict[str, Any]) -> dict[str, Any]:
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise core.BadRequest('"enabled" must be true or false')
    days = body.get("days")
    if days is not None and (
        not isinstance(days, int) or isinstance(days, bool) or not MIN_DAYS <= days <= MAX_DAYS
    ):
        raise core.BadRequest(f'"days" must be a whole number of days, {MIN_DAYS}-{MAX_DAYS}')
    function = body.get("lambda")
    if function is not None and (not isinstance(function, str) or not LAMBDA_ARN.match(function)):
        raise core.BadRequest(
            '"lambda" must be a function ARN, e.g. "arn:aws:lambda:us-east-1:123456789012:function:userkeeper"'
        )
    with core.locked(SERVICE):
        secret = _find(body.get("secret"))
        if enabled and not (function or secret.rotation_lambda_arn):
            raise core.BadRequest(
                '"lambda" is required to enable rotation of a secret that has no rotation function yet'
            )
        secret.rotation_requested = True  # moto shows the rotation fields only after this
        secret.rotation_enabled = enabled
        if function:
            secret.rotation_lambda_arn = function
        if days is not None or not secret.auto_rotate_after_days:
            secret.auto_rotate_after_days = days or DEFAULT_DAYS
        secret.next_rotation_date = (
            int(time.time()) + secret.auto_rotate_after_days * 86400 if enabled else None
        )
        return {
            "ARN": secret.arn,
            "Name": secret.name,
            "RotationEnabled": secret.rotation_enabled,
            "RotationLambdaARN": secret.rotation_lambda_arn,
            "RotationRules": {"AutomaticallyAfterDays": secret.auto_rotate_after_days},
        }


def _stage_pending(body: dict[str, Any]) -> dict[str, Any]:
    token = body.get("token")
    if token is None:
        token = str(uuid.uuid4())
    elif not isinstance(token, str) or not MIN_TOKEN <= len(token) <= MAX_TOKEN:
        raise core.BadRequest(f'"token" must be a string of {MIN_TOKEN}-{MAX_TOKEN} characters, e.g. a UUID')
    with core.locked(SERVICE):
        secret = _find(body.get("secret"))
        if token in secret.versions:
            raise core.BadRequest(f"secret {secret.name!r} already has a version {token}")
        for version in secret.versions.values():
            if AWSPENDING in version["version_stages"]:
                version["version_stages"].remove(AWSPENDING)
        secret.versions[token] = {
            "createdate": int(time.time()),
            "version_id": token,
            "version_stages": [AWSPENDING],
        }
        return {"token": token}


core.route("POST", "secretsmanager/rotation", _set_rotation)
core.route("POST", "secretsmanager/pending", _stage_pending)


# --------------------------------------------------------------------------------------
# Data plane

_moto_get_secret_value = SecretsManagerResponse.get_secret_value


def _no_value(what: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Secrets Manager can't find the specified secret value for {what}")


@core.action(SecretsManagerResponse)
def get_secret_value(self: SecretsManagerResponse) -> str:
    secret = self.backend.secrets.get(self._get_param("SecretId") or "")
    if secret is not None and not secret.is_deleted():
        version_id = self._get_param("VersionId")
        stage = self._get_param("VersionStage")
        if version_id:
            version = secret.versions.get(version_id)
            if version is not None and not _has_value(version) and (not stage or stage in version["version_stages"]):
                raise _no_value(f"VersionId: {version_id}")
        elif stage:
            holder = _holder(secret, stage)
            if holder is None or not _has_value(secret.versions[holder]):
                raise _no_value(f"staging label: {stage}")
    return _moto_get_secret_value(self)


def _check_rotation_token(token: Any) -> None:
    """AWS checks a request's members against the model's constraints before anything else and
    answers ``ValidationException`` (400) "N validation error(s) detected: ...", one clause per
    broken constraint, leaving out the value of a sensitive member ("Value at 'secretBinary'
    failed to satisfy constraint: Member must have length less than or equal to 10240",
    kubernetes-sigs/cluster-api-provider-aws #1531). RotationTokenType is sensitive, 36-256
    characters, pattern ``^[a-zA-Z0-9\\-]+$`` (botocore's secretsmanager service-2.json)."""
    if not core.strict() or token is None:
        return
    token = str(token)
    broken = []
    if not ROTATION_TOKEN_CHARS.fullmatch(token):
        broken.append(f"Member must satisfy regular expression pattern: {ROTATION_TOKEN_PATTERN}")
    if len(token) < MIN_ROTATION_TOKEN:
        broken.append(f"Member must have length greater than or equal to {MIN_ROTATION_TOKEN}")
    if len(token) > MAX_ROTATION_TOKEN:
        broken.append(f"Member must have length less than or equal to {MAX_ROTATION_TOKEN}")
    if broken:
        clauses = "; ".join(f"Value at 'rotationToken' failed to satisfy constraint: {b}" for b in broken)
        plural = "error" if len(broken) == 1 else "errors"
        raise ValidationException(f"{len(broken)} validation {plural} detected: {clauses}")


@core.action(SecretsManagerResponse)
def put_secret_value(self: SecretsManagerResponse) -> str:
    _check_rotation_token(self._get_param("RotationToken"))
    backend = self.backend
    secret_string = self._get_param("SecretString")
    secret_binary = self._get_param("SecretBinary")
    if not secret_string and not secret_binary:
        raise InvalidRequestException("You must provide either SecretString or SecretBinary.")
    stages = self._get_param("VersionStages")
    stages = [AWSCURRENT] if stages is None else list(stages) if isinstance(stages, list) else [stages]
    secret_id = self._get_param("SecretId") or ""
    if secret_id not in backend.secrets:
        raise SecretNotFoundException()
    secret = backend.secrets[secret_id]
    if isinstance(secret, ReplicaSecret):
        raise OperationNotPermittedOnReplica()
    if secret.is_deleted():
        raise InvalidRequestException(
            "You can't perform this operation on the secret because it was marked for deletion."
        )
    version_id = backend._from_client_request_token(self._get_param("ClientRequestToken"))
    rotation_token = self._get_param("RotationToken")

    version = secret.versions.get(version_id)
    if version is not None and _has_value(version):
        if version.get("secret_string") != secret_string or version.get("secret_binary") != secret_binary:
            raise ResourceExistsException("You can't modify an existing version, you can only create a new version.")
        # The same request again (a retry): nothing changes.
    else:
        if not secret.versions and AWSCURRENT not in stages:
            stages.append(AWSCURRENT)  # a secret's first version is current (as moto)
        if version is None:
            version = {"createdate": int(time.time()), "version_id": version_id, "version_stages": []}
            secret.versions[version_id] = version
        if secret_string is not None:
            version["secret_string"] = secret_string
        if secret_binary is not None:
            version["secret_binary"] = secret_binary
        _attach(secret, version_id, stages)
        secret.last_changed_date = int(time.time())
    if rotation_token is not None:
        version[ROTATION_TOKEN] = rotation_token
    return json.dumps(
        {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version_id,
            "VersionStages": list(version["version_stages"]),
        }
    )


@core.action(SecretsManagerResponse)
def update_secret_version_stage(self: SecretsManagerResponse) -> str:
    secret_id = self._get_param("SecretId")
    stage = self._get_param("VersionStage")
    remove_from = self._get_param("RemoveFromVersionId")
    move_to = self._get_param("MoveToVersionId")
    if not secret_id or secret_id not in self.backend.secrets:
        raise SecretNotFoundException()
    secret = self.backend.secrets[secret_id]
    for version_id in (remove_from, move_to):
        if version_id and version_id not in secret.versions:
            raise InvalidParameterException(f"Not a valid version: {version_id}")
    if remove_from and stage not in secret.versions[remove_from]["version_stages"]:
        raise InvalidParameterException(f"Version stage {stage} not found in version {remove_from}")
    holder = _holder(secret, stage)
    if holder is not None and holder not in (move_to, remove_from):
        raise InvalidParameterException(
            f"The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently "
            f"attached to version {holder}, so you must explicitly reference that version in RemoveFromVersionId."
        )
    # Checked: from here on nothing fails.
    if remove_from and remove_from != move_to:
        secret.versions[remove_from]["version_stages"].remove(stage)
        if stage == AWSCURRENT:
            _move_previous(secret, remove_from)
    if move_to and stage not in secret.versions[move_to]["version_stages"]:
        secret.versions[move_to]["version_stages"].append(stage)
    # moto's default version stays where it was (see the module docstring).
    return json.dumps({"ARN": secret.arn, "Name": secret.name})


@core.action(SecretsManagerResponse)
def list_secret_version_ids(self: SecretsManagerResponse) -> str:
    secret_id = self._get_param("SecretId") or ""
    if secret_id not in self.backend.secrets:
        raise SecretNotFoundException()
    secret = self.backend.secrets[secret_id]
    include_deprecated = bool(self._get_param("IncludeDeprecated", if_none=False))
    now = int(time.time())
    versions = [
        {
            "VersionId": vid,
            "VersionStages": list(v["version_stages"]),
            "CreatedDate": v["createdate"],
            "LastAccessedDate": now,
        }
        for vid, v in secret.versions.items()
        if v["version_stages"] or include_deprecated
    ]
    return json.dumps({"ARN": secret.arn, "Name": secret.name, "Versions": versions})


def _length_error(length: Any, constraint: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{length}' at 'passwordLength' failed to satisfy "
        f"constraint: Member must have value {constraint}"
    )


@core.action(SecretsManagerResponse)
def get_random_password(self: SecretsManagerResponse) -> str:
    length = self._get_param("PasswordLength", if_none=DEFAULT_PASSWORD)
    if not isinstance(length, int) or isinstance(length, bool) or length < MIN_PASSWORD:
        raise _length_error(length, f"greater than or equal to {MIN_PASSWORD}")
    if length > MAX_PASSWORD:
        raise _length_error(length, f"less than or equal to {MAX_PASSWORD}")
    excluded = set(self._get_param("ExcludeCharacters", if_none="") or "")
    types = [
        chars
        for chars, exclude in (
            (string.ascii_lowercase, self._get_param("ExcludeLowercase")),
            (string.ascii_uppercase, self._get_param("ExcludeUppercase")),
            (string.digits, self._get_param("ExcludeNumbers")),
            (string.punctuation, self._get_param("ExcludePunctuation")),  # AWS's set: the same 32
        )
        if not exclude
    ]
    # A type whose characters are all in ExcludeCharacters is not included.
    types = [t for t in ("".join(c for c in chars if c not in excluded) for chars in types) if t]
    pool = "".join(types) + (" " if self._get_param("IncludeSpace") and " " not in excluded else "")
    if not pool:
        raise InvalidParameterException("No characters are left to generate a password from: every type is excluded.")
    rng = random_source.SystemRandom()
    chars = []
    if self._get_param("RequireEachIncludedType", if_none=True):
        if length < len(types):
            raise InvalidParameterException("Password length is too short based on the required types.")
        chars = [rng.choice(t) for t in types]
    chars += [rng.choice(pool) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return json.dumps({"RandomPassword": "".join(chars)})
