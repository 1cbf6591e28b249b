"""MemoryDB users and ACLs, written to the MemoryDB API reference.

moto 5.2.5 has CreateUser/DescribeUsers/UpdateUser/DeleteUser with every user ``active`` at
once, no password checks at all, no paging, and deleted users gone at once; it has no ACLs
(only the ``open-access`` name on the default user), accepts any ``ACLName`` on clusters,
and its tag actions know neither ACLs nor the 50-tag quota. This module replaces the user
handlers, adds the four ACL actions, makes changes asynchronous (see ``core.begin``), ties
clusters to ACLs, and lets the tag actions work on users and ACLs. Error codes are those of
botocore's ``memorydb/2021-01-01/service-2.json`` (JSON protocol, every error HTTP 400).

With ``strict`` on (``POST /_emulator/config``) the tag actions refuse a user or ACL that is
not ``active``, as ElastiCache's do (see ``_own_resource``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.core.common_models import BaseModel
from moto.core.responses import ActionResult
from moto.memorydb.exceptions import (
    InvalidParameterValueException,
    MemoryDBClientError,
    UserAlreadyExistsFault,
    UserNotFoundFault,
)
from moto.memorydb.models import MemoryDBBackend, MemoryDBUser, memorydb_backends
from moto.memorydb.responses import MemoryDBResponse
from moto.utilities.utils import get_partition

from . import core
from .elasticache import FORBIDDEN_PASSWORD_CHARS, PASSWORD_CHARS

SERVICE = "memorydb"
OPEN_ACCESS = "open-access"
MAX_PASSWORDS = 2
MAX_TAGS = 50
NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")  # UserName and ACLName in the model
ARN = re.compile(r"^arn:[\w-]+:memorydb:[\w-]*:\d*:(?P<type>[a-z]+)/(?P<name>.+)$")
USER_FILTERS = {"user-name": "user_name", "access-string": "access_string", "status": "status"}


class _Fault(MemoryDBClientError):
    fault_code = "InternalFailure"

    def __init__(self, msg: str):
        super().__init__(self.fault_code, msg)


class ACLAlreadyExistsFault(_Fault):
    fault_code = "ACLAlreadyExistsFault"


class ACLNotFoundFault(_Fault):
    fault_code = "ACLNotFoundFault"


class InvalidACLStateFault(_Fault):
    fault_code = "InvalidACLStateFault"


class InvalidUserStateFault(_Fault):
    fault_code = "InvalidUserStateFault"


class DuplicateUserNameFault(_Fault):
    fault_code = "DuplicateUserNameFault"


class InvalidParameterCombinationException(_Fault):
    fault_code = "InvalidParameterCombinationException"


class InvalidARNFault(_Fault):
    fault_code = "InvalidARNFault"


class TagNotFoundFault(_Fault):
    fault_code = "TagNotFoundFault"


class TagQuotaPerResourceExceeded(_Fault):
    fault_code = "TagQuotaPerResourceExceeded"

    def __init__(self) -> None:
        super().__init__(
            "The request cannot be processed because it would cause the resource to have more "
            f"than the allowed number of tags. The maximum number of tags permitted on a resource is {MAX_TAGS}."
        )


class ACL(BaseModel):
    status = core.AsyncStatus()

    def __init__(self, backend: MemoryDBBackend, name: str, user_names: list[str]):
        self.name = name
        self.user_names = list(user_names)
        # UpdateACL's changes show as PendingChanges while the ACL is "modifying" and reach
        # UserNames when it is active again.
        self.to_add: list[str] = []
        self.to_remove: list[str] = []
        region = backend.region_name
        self.arn = f"arn:{get_partition(region)}:memorydb:{region}:{backend.account_id}:acl/{name}"
        self.status = "active"

    def apply_pending(self) -> None:
        self.user_names = [u for u in self.user_names if u not in self.to_remove] + self.to_add
        self.to_add, self.to_remove = [], []


# --------------------------------------------------------------------------------------
# Backend state


core.track_status(MemoryDBUser)

_moto_backend_init = MemoryDBBackend.__init__


def _backend_init(self: MemoryDBBackend, region_name: str, account_id: str) -> None:
    _moto_backend_init(self, region_name, account_id)
    # AWS has an "open-access" ACL with the default user in every region; it cannot be
    # changed or deleted.
    self.acls: dict[str, ACL] = {OPEN_ACCESS: ACL(self, OPEN_ACCESS, ["default"])}
    for user in self.users.values():
        user.passwords = []


MemoryDBBackend.__init__ = _backend_init  # type: ignore[method-assign]


def _sync(backend: MemoryDBBackend) -> None:
    """Bring the lazily computed state up to date: finish elapsed transitions, drop what
    is gone (with its tags), recompute each user's ACLNames."""
    for gone in core.settle(backend.users) + core.settle(backend.acls):
        backend.tagger.delete_all_tags_for_resource(gone.arn)
    for acl in backend.acls.values():
        for names in (acl.user_names, acl.to_add, acl.to_remove):
            names[:] = [n for n in names if n in backend.users]
    for user in backend.users.values():
        user.acl_names = [a.name for a in backend.acls.values() if user.user_name in a.user_names]


def _before_action(response: MemoryDBResponse) -> None:
    _sync(response.memorydb_backend)


def _backends() -> list[MemoryDBBackend]:
    return [b for regions in list(memorydb_backends.values()) for b in list(regions.values())]


def _state() -> dict[str, Any]:
    users, acls = [], []
    for backend in _backends():
        _sync(backend)
        tags = backend.tagger.get_tag_dict_for_resource
        for user in backend.users.values():
            out = user.to_dict()
            out.update(Tags=tags(user.arn), Passwords=list(getattr(user, "passwords", [])))
            users.append(out)
        for acl in backend.acls.values():
            out = _acl_out(backend, acl)
            out["Tags"] = tags(acl.arn)
            acls.append(out)
    return {"users": users, "acls": acls}


core.register(SERVICE, before_action=_before_action, state=_state)


# --------------------------------------------------------------------------------------
# Helpers


def _params(response: MemoryDBResponse) -> dict[str, Any]:
    return json.loads(response.body or "{}")


def _acl_out(backend: MemoryDBBackend, acl: ACL) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": acl.name,
        "Status": acl.status,
        "UserNames": list(acl.user_names),
        "MinimumEngineVersion": "6.2",
        "Clusters": _clusters_of(backend, acl.name),
        "ARN": acl.arn,
    }
    if acl.to_add or acl.to_remove:
        out["PendingChanges"] = {
            k: v for k, v in (("UserNamesToAdd", acl.to_add), ("UserNamesToRemove", acl.to_remove)) if v
        }
    return out


def _clusters_of(backend: MemoryDBBackend, acl_name: str) -> list[str]:
    return [c.cluster_name for c in backend.clusters.values() if c.acl_name == acl_name]


def _get_user(backend: MemoryDBBackend, name: str | None) -> MemoryDBUser:
    if name not in backend.users:
        raise UserNotFoundFault(msg=f"User {name} not found.")
    return backend.users[name]


def _get_acl(backend: MemoryDBBackend, name: str | None) -> ACL:
    if name not in backend.acls:
        raise ACLNotFoundFault(f"ACL {name} not found.")
    return backend.acls[name]


def _check_name(kind: str, name: str | None) -> None:
    if not NAME.match(name or ""):
        raise InvalidParameterValueException(
            msg=f"The {kind} name must begin with a letter and contain only letters, digits and hyphens."
        )


def _check_passwords(passwords: list[Any]) -> None:
    # Messages never include the password itself: they end up in logs.
    if len(passwords) > MAX_PASSWORDS:
        raise InvalidParameterValueException(
            msg=f"A user can have at most {MAX_PASSWORDS} passwords, {len(passwords)} were given."
        )
    for password in passwords:
        if not isinstance(password, str) or not 16 <= len(password) <= 128:
            raise InvalidParameterValueException(msg="Passwords length must be between 16-128 characters.")
        if not PASSWORD_CHARS.match(password) or FORBIDDEN_PASSWORD_CHARS & set(password):
            raise InvalidParameterValueException(
                msg='Passwords must contain only printable ASCII characters and none of , " / @.'
            )


def _authentication(mode: dict[str, Any] | None) -> tuple[str, list[str]]:
    """(type, passwords) from an AuthenticationMode (Type password|iam)."""
    mode = mode or {}
    passwords = mode.get("Passwords") or []
    auth_type = mode.get("Type") or ("password" if passwords else None)
    if auth_type not in ("password", "iam"):
        raise InvalidParameterValueException(
            msg=f"Input Authentication type: {auth_type} is not in the allowed list: [password,iam]"
        )
    if auth_type == "password":
        if not passwords:
            raise InvalidParameterCombinationException(
                "A user with Authentication Mode: password, must have at least one password"
            )
        _check_passwords(passwords)
    elif passwords:
        raise InvalidParameterCombinationException(
            f"Password field is not allowed with authentication type: {auth_type}"
        )
    return auth_type, list(passwords)


def _set_authentication(user: MemoryDBUser, auth: tuple[str, list[str]]) -> None:
    auth_type, passwords = auth
    user.set_authentication({"Type": auth_type, "Passwords": passwords})
    user.passwords = passwords


def _check_new_tags(tags: list[dict[str, Any]]) -> None:
    if len({t.get("Key") for t in tags}) > MAX_TAGS:
        raise TagQuotaPerResourceExceeded


def _unique(kind: str, names: list[str] | None) -> list[str]:
    names = list(names or [])
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DuplicateUserNameFault(f"User {duplicates[0]} appears more than once in {kind}.")
    return names


def _page(params: dict[str, Any], items: list[Any], key: Any) -> tuple[list[Any], str | None]:
    return core.paginate(
        items,
        key,
        params.get("MaxResults"),
        params.get("NextToken"),
        error=lambda message: InvalidParameterValueException(msg=message),
        size_param="MaxResults",
    )


# --------------------------------------------------------------------------------------
# Users


@core.action(MemoryDBResponse)
def create_user(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    name = params.get("UserName")
    _check_name("user", name)
    if name in backend.users:
        raise UserAlreadyExistsFault(msg=f"User {name} already exists.")
    auth = _authentication(params.get("AuthenticationMode"))
    tags = params.get("Tags") or []
    _check_new_tags(tags)
    user = MemoryDBUser(
        account_id=backend.account_id,
        region_name=backend.region_name,
        user_name=name,
        authentication_mode={},
        access_string=params.get("AccessString"),
    )
    _set_authentication(user, auth)
    backend.users[name] = user
    if tags:
        backend.tagger.tag_resource(user.arn, tags)
    # Users are "active", "modifying" or "deleting": a new one is "modifying" while it is
    # being set up.
    core.begin(user, "modifying", "active")
    return ActionResult({"User": user.to_dict()})


@core.action(MemoryDBResponse)
def update_user(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    user = _get_user(backend, params.get("UserName"))
    if user.user_name == "default":
        raise InvalidParameterValueException(msg="The default user cannot be modified.")
    if user.status != "active":
        raise InvalidUserStateFault(f"User {user.user_name} is not in active state.")
    mode, access = params.get("AuthenticationMode"), params.get("AccessString")
    if mode is None and access is None:
        raise InvalidParameterCombinationException(
            "At least one of AuthenticationMode and AccessString must be provided."
        )
    auth = _authentication(mode) if mode is not None else None
    if auth is not None:
        _set_authentication(user, auth)
    if access is not None:
        user.access_string = access
    core.begin(user, "modifying", "active")
    _sync(backend)
    return ActionResult({"User": user.to_dict()})


@core.action(MemoryDBResponse)
def delete_user(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    user = _get_user(backend, params.get("UserName"))
    if user.user_name == "default":
        raise InvalidParameterValueException(msg="The default user cannot be deleted.")
    if user.status != "active":
        raise InvalidUserStateFault(f"User {user.user_name} is not in active state.")
    # "The user will be removed from all ACLs": at once, not when the delete ends.
    for acl in backend.acls.values():
        for names in (acl.user_names, acl.to_add, acl.to_remove):
            if user.user_name in names:
                names.remove(user.user_name)
    core.begin(user, "deleting", None)
    _sync(backend)
    return ActionResult({"User": user.to_dict()})


@core.action(MemoryDBResponse)
def describe_users(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    users = list(backend.users.values())
    if params.get("UserName"):
        users = [_get_user(backend, params["UserName"])]
    for f in params.get("Filters") or []:
        field = USER_FILTERS.get(f.get("Name", ""))
        if field is None:
            raise InvalidParameterValueException(
                msg=f"Unsupported filter name: {f.get('Name')}; supported: {', '.join(USER_FILTERS)}"
            )
        users = [u for u in users if getattr(u, field) in (f.get("Values") or [])]
    page, token = _page(params, users, lambda u: u.user_name)
    return ActionResult({"Users": [u.to_dict() for u in page], "NextToken": token})


# --------------------------------------------------------------------------------------
# ACLs


@core.action(MemoryDBResponse)
def create_acl(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    name = params.get("ACLName")
    _check_name("ACL", name)
    if name in backend.acls:
        raise ACLAlreadyExistsFault(f"ACL {name} already exists.")
    user_names = _unique("UserNames", params.get("UserNames"))
    for user_name in user_names:
        _get_user(backend, user_name)
    tags = params.get("Tags") or []
    _check_new_tags(tags)
    acl = ACL(backend, name, user_names)
    backend.acls[name] = acl
    if tags:
        backend.tagger.tag_resource(acl.arn, tags)
    core.begin(acl, "creating", "active")
    _sync(backend)
    return ActionResult({"ACL": _acl_out(backend, acl)})


@core.action(MemoryDBResponse)
def describe_ac_ls(self: MemoryDBResponse) -> ActionResult:  # DescribeACLs, as moto names it
    params = _params(self)
    backend = self.memorydb_backend
    acls = list(backend.acls.values())
    if params.get("ACLName"):
        acls = [_get_acl(backend, params["ACLName"])]
    page, token = _page(params, acls, lambda a: a.name)
    return ActionResult({"ACLs": [_acl_out(backend, a) for a in page], "NextToken": token})


@core.action(MemoryDBResponse)
def update_acl(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    acl = _get_acl(backend, params.get("ACLName"))
    if acl.name == OPEN_ACCESS:
        raise InvalidParameterValueException(msg=f"The {OPEN_ACCESS} ACL cannot be modified.")
    if acl.status != "active":
        raise InvalidACLStateFault(f"ACL {acl.name} is not in active state.")
    to_add = _unique("UserNamesToAdd", params.get("UserNamesToAdd"))
    to_remove = _unique("UserNamesToRemove", params.get("UserNamesToRemove"))
    if not to_add and not to_remove:
        raise InvalidParameterCombinationException(
            "At least one of UserNamesToAdd and UserNamesToRemove must be provided."
        )
    if set(to_add) & set(to_remove):
        raise InvalidParameterCombinationException(
            "The same user cannot be both added to and removed from an ACL."
        )
    for user_name in to_add + to_remove:
        _get_user(backend, user_name)
    for user_name in to_add:
        if user_name in acl.user_names:
            raise InvalidParameterValueException(msg=f"User {user_name} is already a member of ACL {acl.name}.")
    for user_name in to_remove:
        if user_name not in acl.user_names:
            raise InvalidParameterValueException(msg=f"User {user_name} is not a member of ACL {acl.name}.")
    acl.to_add, acl.to_remove = to_add, to_remove
    core.begin(acl, "modifying", "active", on_done=acl.apply_pending)
    _sync(backend)
    return ActionResult({"ACL": _acl_out(backend, acl)})


@core.action(MemoryDBResponse)
def delete_acl(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    acl = _get_acl(backend, params.get("ACLName"))
    if acl.name == OPEN_ACCESS:
        raise InvalidParameterValueException(msg=f"The {OPEN_ACCESS} ACL cannot be deleted.")
    if acl.status != "active":
        raise InvalidACLStateFault(f"ACL {acl.name} is not in active state.")
    clusters = _clusters_of(backend, acl.name)
    if clusters:
        raise InvalidACLStateFault(
            f"ACL {acl.name} is in use by cluster(s): {', '.join(clusters)}. "
            "Associate the cluster(s) with another ACL before deleting it."
        )
    core.begin(acl, "deleting", None)
    out = _acl_out(backend, acl)
    _sync(backend)
    return ActionResult({"ACL": out})


# --------------------------------------------------------------------------------------
# Clusters: moto accepts any ACLName (that is the association DeleteACL checks).

_moto_create_cluster = MemoryDBResponse.create_cluster
_moto_update_cluster = MemoryDBResponse.update_cluster


def _check_cluster_acl(backend: MemoryDBBackend, name: str | None) -> None:
    if _get_acl(backend, name).status != "active":
        raise InvalidACLStateFault(f"ACL {name} is not in active state.")


@core.action(MemoryDBResponse)
def create_cluster(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    acl_name = params.get("ACLName")
    _check_cluster_acl(backend, acl_name)
    if params.get("TLSEnabled") is False and acl_name != OPEN_ACCESS:
        raise InvalidParameterCombinationException(
            f"A cluster without TLS must use the {OPEN_ACCESS} ACL."
        )
    return _moto_create_cluster(self)


@core.action(MemoryDBResponse)
def update_cluster(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    if params.get("ACLName") is not None:
        _check_cluster_acl(self.memorydb_backend, params["ACLName"])
    return _moto_update_cluster(self)


# --------------------------------------------------------------------------------------
# Tags: moto's resource check leaves out ACLs and has no quota.

_moto_tag_resource = MemoryDBResponse.tag_resource
_moto_untag_resource = MemoryDBResponse.untag_resource
_moto_list_tags = MemoryDBResponse.list_tags


def _own_resource(backend: MemoryDBBackend, arn: str | None) -> Any:
    """The user or ACL ``arn`` names (raising if it does not exist, or with ``strict`` if it
    is not active); None for the other resource types, which moto's handlers check."""
    match = ARN.match(arn or "")
    if not match:
        raise InvalidARNFault(f"Invalid ARN: {arn}")
    resource: MemoryDBUser | ACL | None = None
    if match["type"] == "user":
        resource = _get_user(backend, match["name"])
    elif match["type"] == "acl":
        resource = _get_acl(backend, match["name"])
    # ElastiCache refuses tag calls on a user or user group that is not active ("UserNotFound:
    # <id> is not available for tagging", terraform-provider-aws #34002, #47638); MemoryDB's
    # users and ACLs are expected to do the same (undocumented: inferred). Codes: the
    # not-found faults the tag actions list for these resources, with ElastiCache's wording.
    if core.strict() and resource is not None and resource.status != "active":
        if isinstance(resource, ACL):
            raise ACLNotFoundFault(f"{resource.name} is not available for tagging")
        raise UserNotFoundFault(msg=f"{resource.user_name} is not available for tagging")
    return resource


@core.action(MemoryDBResponse)
def list_tags(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    if _own_resource(backend, params.get("ResourceArn")) is None:
        return _moto_list_tags(self)
    return ActionResult({"TagList": backend.tagger.list_tags_for_resource(params["ResourceArn"])["Tags"]})


@core.action(MemoryDBResponse)
def tag_resource(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    arn, tags = params.get("ResourceArn"), params.get("Tags") or []
    resource = _own_resource(backend, arn)
    keys = set(backend.tagger.get_tag_dict_for_resource(arn)) | {t.get("Key") for t in tags}
    if len(keys) > MAX_TAGS:
        raise TagQuotaPerResourceExceeded
    if resource is None:
        return _moto_tag_resource(self)
    backend.tagger.tag_resource(arn, tags)
    return ActionResult({"TagList": backend.tagger.list_tags_for_resource(arn)["Tags"]})


@core.action(MemoryDBResponse)
def untag_resource(self: MemoryDBResponse) -> ActionResult:
    params = _params(self)
    backend = self.memorydb_backend
    arn = params.get("ResourceArn")
    if _own_resource(backend, arn) is None:
        return _moto_untag_resource(self)
    keys = params.get("TagKeys") or []
    existing = backend.tagger.get_tag_dict_for_resource(arn)
    missing = [k for k in keys if k not in existing]
    if missing:
        raise TagNotFoundFault(f"Tag {missing[0]} not found on resource {arn}.")
    backend.tagger.untag_resource_using_names(arn, keys)
    return ActionResult({"TagList": backend.tagger.list_tags_for_resource(arn)["Tags"]})
