"""ElastiCache RBAC users and user groups, written to the ElastiCache API reference.

moto 5.2.5 has CreateUser/DeleteUser/DescribeUsers only, with every user ``active`` at once,
no upper password length, a duplicate-user error naming the wrong user, and deleted users
lingering in ``deleting``; it has no serverless caches. This module replaces those handlers
and adds ModifyUser, the four user-group actions and Create/Describe/DeleteServerlessCache
(just enough to use a user group), makes changes asynchronous (see ``core.begin``), and lets
the tag actions work on users and user groups. Error codes are those of botocore's
``elasticache/2015-02-02/service-2.json``.

With ``strict`` on (``POST /_emulator/config``) it also does what AWS does and the emulator
did not, each place marked ``if core.strict()`` with its source:

* tag calls on a user or user group that is not ``active`` are refused;
* a user group change takes the users it adds or removes through ``modifying``;
* a ``valkey`` user group takes no user that does not authenticate;
* DeleteUserGroup is refused while a serverless cache uses the group.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

from moto.core.common_models import BaseModel
from moto.core.responses import ActionResult
from moto.elasticache.exceptions import (
    ElastiCacheException,
    InvalidARNFault,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    PasswordRequired,
    PasswordTooShort,
    UserNotFound,
)
from moto.elasticache.models import (
    ElastiCacheBackend,
    ReplicationGroup,
    User,
    elasticache_backends,
)
from moto.elasticache.responses import ElastiCacheResponse
from moto.utilities.utils import get_partition

from . import core

SERVICE = "elasticache"
ENGINES = ("redis", "valkey")
MAX_PASSWORDS = 2
MAX_TAGS = 50
# AWS: 16-128 printable ASCII characters, none of , " / @
PASSWORD_CHARS = re.compile(r'^[\x20-\x7e]{16,128}$')
FORBIDDEN_PASSWORD_CHARS = set(',"/@')
USER_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
ARN = re.compile(r"^arn:[\w-]+:elasticache:[\w-]*:\d*:(?P<type>[a-z]+):(?P<id>.+)$")
# What CreateUser/ModifyUser accept -> what DescribeUsers reports (the two enums differ).
AUTH_TYPE_OUT = {"password": "password", "no-password-required": "no-password", "iam": "iam"}


class UserAlreadyExists(ElastiCacheException):
    code = "UserAlreadyExists"


class InvalidUserState(ElastiCacheException):
    code = "InvalidUserState"


class DefaultUserAssociatedToUserGroup(ElastiCacheException):
    code = "DefaultUserAssociatedToUserGroup"


class UserGroupNotFound(ElastiCacheException):
    code = "UserGroupNotFound"


class UserGroupAlreadyExists(ElastiCacheException):
    code = "UserGroupAlreadyExists"


class InvalidUserGroupState(ElastiCacheException):
    code = "InvalidUserGroupState"


class DefaultUserRequired(ElastiCacheException):
    code = "DefaultUserRequired"
    message = "User group needs to contain a user with the user name default."


class DuplicateUserName(ElastiCacheException):
    code = "DuplicateUserName"


class TagNotFound(ElastiCacheException):
    code = "TagNotFound"


class NotAvailableForTagging(ElastiCacheException):
    """A tag call on a user (code ``UserNotFound``) or user group (``UserGroupNotFound``)
    that exists but is not settled: both 404 in the model, as for one that does not exist."""

    def __init__(self, code: str, resource_id: str):
        super().__init__(code, f"{resource_id} is not available for tagging")


class ServerlessCacheNotFound(ElastiCacheException):
    code = "ServerlessCacheNotFoundFault"


class ServerlessCacheAlreadyExists(ElastiCacheException):
    code = "ServerlessCacheAlreadyExistsFault"


class InvalidServerlessCacheState(ElastiCacheException):
    code = "InvalidServerlessCacheStateFault"


class TagQuotaPerResourceExceeded(ElastiCacheException):
    code = "TagQuotaPerResourceExceeded"
    message = (
        "The request cannot be processed because it would cause the resource to have more than "
        "the allowed number of tags. The maximum number of tags permitted on a resource is 50."
    )


class UserGroup(BaseModel):
    status = core.AsyncStatus()

    def __init__(self, backend: ElastiCacheBackend, group_id: str, engine: str, user_ids: list[str]):
        self.id = group_id
        self.engine = engine
        self.user_ids = list(user_ids)
        # ModifyUserGroup's changes show as PendingChanges while the group is "modifying"
        # and reach UserIds when it is active again.
        self.to_add: list[str] = []
        self.to_remove: list[str] = []
        region = backend.region_name
        self.arn = f"arn:{get_partition(region)}:elasticache:{region}:{backend.account_id}:usergroup:{group_id}"
        self.status = "active"

    def apply_pending(self) -> None:
        self.user_ids = [u for u in self.user_ids if u not in self.to_remove] + self.to_add
        self.to_add, self.to_remove = [], []


class ServerlessCache(BaseModel):
    """What a user group needs of a serverless cache: its name, status and UserGroupId."""

    status = core.AsyncStatus()

    def __init__(self, backend: ElastiCacheBackend, name: str, engine: str, params: dict[str, Any]):
        self.name = name
        self.engine = engine
        self.description = params.get("Description") or ""
        self.user_group_id = params.get("UserGroupId")
        self.create_time = datetime.now(timezone.utc)
        region = backend.region_name
        self.arn = f"arn:{get_partition(region)}:elasticache:{region}:{backend.account_id}:serverlesscache:{name}"
        self.status = "available"

    def out(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ServerlessCacheName": self.name,
            "Description": self.description,
            "CreateTime": self.create_time,
            "Status": self.status,
            "Engine": self.engine,
            "MajorEngineVersion": {"valkey": "8", "redis": "7", "memcached": "1.6"}[self.engine],
            "Endpoint": {"Address": f"{self.name}.serverless.emulator.cache.amazonaws.com", "Port": 6379},
            "ARN": self.arn,
        }
        if self.user_group_id:
            out["UserGroupId"] = self.user_group_id
        return out


# --------------------------------------------------------------------------------------
# Backend state


core.track_status(User)
core.track_status(ReplicationGroup)

_moto_backend_init = ElastiCacheBackend.__init__


def _backend_init(self: ElastiCacheBackend, region_name: str, account_id: str) -> None:
    _moto_backend_init(self, region_name, account_id)
    self.user_groups: dict[str, UserGroup] = {}
    self.serverless_caches: dict[str, ServerlessCache] = {}


ElastiCacheBackend.__init__ = _backend_init  # type: ignore[method-assign]


def _sync(backend: ElastiCacheBackend) -> None:
    """Bring the lazily computed state up to date: finish elapsed transitions, drop what
    is gone (with its tags), recompute each user's UserGroupIds."""
    gone = core.settle(backend.users) + core.settle(backend.user_groups) + core.settle(backend.serverless_caches)
    for resource in gone:
        backend.tagging_service.delete_all_tags_for_resource(resource.arn)
    core.settle(backend.replication_groups)
    for user in backend.users.values():
        user.user_group_ids = [g.id for g in backend.user_groups.values() if user.id in g.user_ids]


def _before_action(response: ElastiCacheResponse) -> None:
    _sync(response.elasticache_backend)


def _backends() -> list[ElastiCacheBackend]:
    return [b for regions in list(elasticache_backends.values()) for b in list(regions.values())]


def _state() -> dict[str, Any]:
    users, groups = [], []
    for backend in _backends():
        _sync(backend)
        tags = backend.tagging_service.get_tag_dict_for_resource
        for user in backend.users.values():
            out = _user_out(user)
            out.update(Tags=tags(user.arn), Passwords=list(user.passwords))
            users.append(out)
        for group in backend.user_groups.values():
            out = _group_out(backend, group)
            out["Tags"] = tags(group.arn)
            groups.append(out)
    return {"users": users, "user_groups": groups}


core.register(SERVICE, before_action=_before_action, state=_state)


# --------------------------------------------------------------------------------------
# Helpers


def _user_out(user: User) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "Type": "no-password" if user.no_password_required else AUTH_TYPE_OUT.get(user.authentication_type)
    }
    if user.passwords:
        auth["PasswordCount"] = len(user.passwords)
    return {
        "UserId": user.id,
        "UserName": user.name,
        "Status": user.status,
        "Engine": user.engine,
        "MinimumEngineVersion": user.minimum_engine_version,
        "AccessString": user.access_string,
        "UserGroupIds": list(user.user_group_ids),
        "Authentication": auth,
        "ARN": user.arn,
    }


def _group_out(backend: ElastiCacheBackend, group: UserGroup) -> dict[str, Any]:
    out: dict[str, Any] = {
        "UserGroupId": group.id,
        "Status": group.status,
        "Engine": group.engine,
        "UserIds": list(group.user_ids),
        "MinimumEngineVersion": "7.2" if group.engine == "valkey" else "6.0",
        "ReplicationGroups": _replication_groups_of(backend, group.id),
        "ServerlessCaches": _serverless_caches_of(backend, group.id),
        "ARN": group.arn,
    }
    if group.to_add or group.to_remove:
        out["PendingChanges"] = {
            k: v for k, v in (("UserIdsToAdd", group.to_add), ("UserIdsToRemove", group.to_remove)) if v
        }
    return out


def _replication_groups_of(backend: ElastiCacheBackend, group_id: str) -> list[str]:
    return [
        rg.replication_group_id
        for rg in backend.replication_groups.values()
        if group_id in (rg.user_group_ids or [])
    ]


def _serverless_caches_of(backend: ElastiCacheBackend, group_id: str) -> list[str]:
    return [c.name for c in backend.serverless_caches.values() if c.user_group_id == group_id]


def _get_user(backend: ElastiCacheBackend, user_id: str) -> User:
    if user_id not in backend.users:
        raise UserNotFound(user_id)
    return backend.users[user_id]


def _get_group(backend: ElastiCacheBackend, group_id: str) -> UserGroup:
    if group_id not in backend.user_groups:
        raise UserGroupNotFound(f"User group {group_id} not found.")
    return backend.user_groups[group_id]


def _check_user_id(user_id: str) -> None:
    if not USER_ID.match(user_id or ""):
        raise InvalidParameterValueException(
            "The user id must begin with a letter and contain only letters, digits and hyphens."
        )


def _engine(value: str | None) -> str:
    engine = (value or "").lower()
    if engine not in ENGINES:
        raise InvalidParameterValueException(
            f'Unknown parameter for Engine: "{value}", must be one of: {", ".join(ENGINES)}'
        )
    return engine


def _check_passwords(passwords: list[str]) -> None:
    # Messages never include the password itself: they end up in logs.
    if len(passwords) > MAX_PASSWORDS:
        raise InvalidParameterValueException(
            f"A user can have at most {MAX_PASSWORDS} passwords, {len(passwords)} were given."
        )
    for password in passwords:
        if not 16 <= len(password) <= 128:
            raise PasswordTooShort  # "Passwords length must be between 16-128 characters."
        if not PASSWORD_CHARS.match(password) or FORBIDDEN_PASSWORD_CHARS & set(password):
            raise InvalidParameterValueException(
                'Passwords must contain only printable ASCII characters and none of , " / @.'
            )


def _authentication(params: dict[str, Any], creating: bool) -> tuple[str, list[str]] | None:
    """(authentication type as requested, passwords) or None if ModifyUser leaves it alone.

    Authentication comes from AuthenticationMode, or the older Passwords/NoPasswordRequired.
    """
    passwords = params.get("Passwords")
    no_password = params.get("NoPasswordRequired")
    mode = params.get("AuthenticationMode")
    if mode:
        if passwords:
            raise InvalidParameterCombinationException(
                "Passwords provided via multiple arguments. Use only one argument"
            )
        auth_type = mode.get("Type")
        passwords = mode.get("Passwords") or []
        if auth_type not in AUTH_TYPE_OUT:
            raise InvalidParameterValueException(
                f"Input Authentication type: {auth_type} is not in the allowed list: [password,no-password-required,iam]"
            )
        if no_password and auth_type != "no-password-required":
            raise InvalidParameterCombinationException(
                f"No password required flag is true but provided authentication type is {auth_type}"
            )
    elif passwords:
        if no_password:
            raise InvalidParameterCombinationException(
                "Passwords cannot be provided when NoPasswordRequired is true."
            )
        auth_type = "password"
    elif no_password:
        auth_type, passwords = "no-password-required", []
    elif creating or no_password is not None:
        raise PasswordRequired
    else:
        return None

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


def _set_authentication(user: User, auth: tuple[str, list[str]]) -> None:
    user.authentication_type, user.passwords = auth
    user.no_password_required = auth[0] == "no-password-required"


def _check_tags(backend: ElastiCacheBackend, arn: str, tags: list[dict[str, Any]]) -> None:
    keys = set(backend.tagging_service.get_tag_dict_for_resource(arn)) | {t["Key"] for t in tags}
    if len(keys) > MAX_TAGS:
        raise TagQuotaPerResourceExceeded


def _check_membership(backend: ElastiCacheBackend, user_ids: list[str]) -> None:
    """A user group needs a user named "default", and user names must be unique in it."""
    names = [backend.users[u].name for u in user_ids]
    if "default" not in names:
        raise DefaultUserRequired
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DuplicateUserName(
            f"A user with the user name {duplicates[0]} already exists in the user group."
        )


def _check_valkey_members(backend: ElastiCacheBackend, group_engine: str, user_ids: list[str]) -> None:
    """ElastiCache RBAC guide (Clusters.RBAC): "A user group configured for the VALKEY engine
    can only contain users that use an authentication mechanism (password or IAM)". The code
    is the one CreateUserGroup and ModifyUserGroup both list for a bad parameter
    (InvalidParameterValue, 400); the wording is the emulator's."""
    if not core.strict() or group_engine != "valkey":
        return
    for user_id in user_ids:
        if backend.users[user_id].no_password_required:
            raise InvalidParameterValueException(
                f"User {user_id} does not authenticate (no password required): a user group "
                "with engine valkey can only contain users with a password or IAM authentication."
            )


def _unsettle_members(backend: ElastiCacheBackend, user_ids: list[str], seconds: float) -> None:
    """AWS takes member users through "modifying" while it applies a user group change, and
    they refuse ModifyUser and tag calls meanwhile (terraform-provider-aws #37911, #28688,
    #49976). Which members: the emulator's choice, those the change adds or removes; for as
    long as the group's change (``seconds``)."""
    if not core.strict():
        return
    deadline = time.monotonic() + seconds
    for user_id in user_ids:
        user = backend.users.get(user_id)
        # A user being deleted stays so; one already modifying for longer keeps its end.
        if user is None or user.status not in ("active", "modifying") or core.ends_at(user) >= deadline:
            continue
        core.begin(user, "modifying", "active", seconds=seconds)


def _unique(ids: list[str] | None) -> list[str]:
    return list(dict.fromkeys(ids or []))


# --------------------------------------------------------------------------------------
# Users


@core.action(ElastiCacheResponse)
def create_user(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    user_id = params.get("UserId")
    _check_user_id(user_id)
    engine = _engine(params.get("Engine"))
    if user_id in backend.users:
        raise UserAlreadyExists(f"User {user_id} already exists.")
    auth = _authentication(params, creating=True)
    tags = params.get("Tags") or []
    if len({t["Key"] for t in tags}) > MAX_TAGS:
        raise TagQuotaPerResourceExceeded
    user = User(
        account_id=backend.account_id,
        region=backend.region_name,
        user_id=user_id,
        user_name=params.get("UserName"),
        engine=engine,
        access_string=params.get("AccessString"),
        no_password_required=False,
    )
    _set_authentication(user, auth)
    backend.users[user_id] = user
    backend.tagging_service.tag_resource(user.arn, tags)
    # AWS documents users as active, modifying or deleting: a new one is "modifying" while
    # it is being set up.
    core.begin(user, "modifying", "active")
    return ActionResult(_user_out(user))


@core.action(ElastiCacheResponse)
def modify_user(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    user = _get_user(backend, params.get("UserId"))
    if user.id == "default":
        raise InvalidParameterValueException("The default user cannot be modified.")
    if user.status != "active":
        # AWS's wording (terraform-provider-aws #49726).
        raise InvalidUserState(f"User {user.id} has status {user.status}. Only active users can be modified.")
    access, append = params.get("AccessString"), params.get("AppendAccessString")
    if access and append:
        raise InvalidParameterCombinationException(
            "AccessString and AppendAccessString cannot be specified together."
        )
    auth = _authentication(params, creating=False)
    engine = _engine(params["Engine"]) if params.get("Engine") else user.engine

    if access:
        user.access_string = access
    elif append:
        user.access_string = f"{user.access_string} {append}"
    if auth is not None:
        _set_authentication(user, auth)
    user.engine = engine
    core.begin(user, "modifying", "active")
    _sync(backend)
    return ActionResult(_user_out(user))


@core.action(ElastiCacheResponse)
def delete_user(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    user = _get_user(backend, self._get_param("UserId"))
    if user.id == "default":
        raise InvalidParameterValueException("The default user cannot be deleted.")
    if user.status != "active":
        raise InvalidUserState(f"User {user.id} is not in active state.")
    groups = [g for g in backend.user_groups.values() if user.id in g.user_ids + g.to_add]
    if user.name == "default" and groups:
        raise DefaultUserAssociatedToUserGroup(
            f"User {user.id} is associated to user group(s) {', '.join(g.id for g in groups)}."
        )
    # "The user will be removed from all user groups": at once, not when the delete ends.
    for group in groups:
        for ids in (group.user_ids, group.to_add):
            if user.id in ids:
                ids.remove(user.id)
    core.begin(user, "deleting", None)
    out = _user_out(user)
    _sync(backend)
    return ActionResult(out)


@core.action(ElastiCacheResponse)
def describe_users(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    users = list(backend.users.values())
    if params.get("UserId"):
        users = [_get_user(backend, params["UserId"])]
    if params.get("Engine"):
        users = [u for u in users if u.engine == params["Engine"].lower()]
    fields = {"userid": "id", "username": "name", "engine": "engine", "status": "status"}
    for f in params.get("Filters") or []:
        field = fields.get(f["Name"].lower().replace("-", "").replace("_", ""))
        if field is None:
            raise InvalidParameterValueException(f"Unsupported filter name: {f['Name']}")
        users = [u for u in users if getattr(u, field) in f.get("Values", [])]
    page, marker = core.paginate(users, lambda u: u.id, params.get("MaxRecords"), params.get("Marker"))
    return ActionResult({"Users": [_user_out(u) for u in page], "Marker": marker})


# --------------------------------------------------------------------------------------
# User groups


@core.action(ElastiCacheResponse)
def create_user_group(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    group_id = params.get("UserGroupId")
    engine = _engine(params.get("Engine"))
    if group_id in backend.user_groups:
        raise UserGroupAlreadyExists(f"User group {group_id} already exists.")
    user_ids = _unique(params.get("UserIds"))
    for user_id in user_ids:
        _get_user(backend, user_id)
    _check_membership(backend, user_ids)
    _check_valkey_members(backend, engine, user_ids)
    tags = params.get("Tags") or []
    if len({t["Key"] for t in tags}) > MAX_TAGS:
        raise TagQuotaPerResourceExceeded
    group = UserGroup(backend, group_id, engine, user_ids)
    backend.user_groups[group_id] = group
    backend.tagging_service.tag_resource(group.arn, tags)
    seconds = core.jittered(core.transition_seconds())
    core.begin(group, "creating", "active", seconds=seconds)
    _unsettle_members(backend, user_ids, seconds)
    _sync(backend)
    return ActionResult(_group_out(backend, group))


@core.action(ElastiCacheResponse)
def describe_user_groups(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    groups = list(backend.user_groups.values())
    if params.get("UserGroupId"):
        groups = [_get_group(backend, params["UserGroupId"])]
    page, marker = core.paginate(groups, lambda g: g.id, params.get("MaxRecords"), params.get("Marker"))
    return ActionResult({"UserGroups": [_group_out(backend, g) for g in page], "Marker": marker})


@core.action(ElastiCacheResponse)
def modify_user_group(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    group = _get_group(backend, params.get("UserGroupId"))
    if group.status != "active":
        # AWS's wording (terraform-provider-aws #37911).
        raise InvalidUserGroupState(
            f"User group {group.id} has status {group.status}. Only active user groups can be modified."
        )
    to_add, to_remove = _unique(params.get("UserIdsToAdd")), _unique(params.get("UserIdsToRemove"))
    if not to_add and not to_remove:
        raise InvalidParameterCombinationException(
            "At least one of UserIdsToAdd and UserIdsToRemove must be provided."
        )
    if set(to_add) & set(to_remove):
        raise InvalidParameterCombinationException(
            "The same user cannot be both added to and removed from a user group."
        )
    for user_id in to_add + to_remove:
        _get_user(backend, user_id)
    for user_id in to_add:
        if user_id in group.user_ids:
            raise InvalidParameterValueException(
                f"User {user_id} is already a member of user group {group.id}."
            )
    for user_id in to_remove:
        if user_id not in group.user_ids:
            raise InvalidParameterValueException(
                f"User {user_id} is not a member of user group {group.id}."
            )
    _check_membership(backend, [u for u in group.user_ids if u not in to_remove] + to_add)
    _check_valkey_members(backend, group.engine, to_add)
    group.to_add, group.to_remove = to_add, to_remove
    seconds = core.jittered(core.transition_seconds())
    core.begin(group, "modifying", "active", on_done=group.apply_pending, seconds=seconds)
    _unsettle_members(backend, to_add + to_remove, seconds)
    _sync(backend)
    return ActionResult(_group_out(backend, group))


@core.action(ElastiCacheResponse)
def delete_user_group(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    group = _get_group(backend, self._get_param("UserGroupId"))
    if group.status != "active":
        raise InvalidUserGroupState(f"User group {group.id} is not in active state.")
    replication_groups = _replication_groups_of(backend, group.id)
    if replication_groups:
        raise InvalidUserGroupState(
            f"User group {group.id} is associated with replication group(s): "
            f"{', '.join(replication_groups)}. Remove the association before deleting the user group."
        )
    # The project's notes on AWS: "DeleteUserGroup is refused while a replication group or a
    # serverless cache uses the group"; DescribeUserGroups lists both (ReplicationGroups,
    # ServerlessCaches), the DeleteUserGroup API reference names replication groups only.
    # The wording is the emulator's.
    serverless_caches = _serverless_caches_of(backend, group.id)
    if core.strict() and serverless_caches:
        raise InvalidUserGroupState(
            f"User group {group.id} is associated with serverless cache(s): "
            f"{', '.join(serverless_caches)}. Remove the association before deleting the user group."
        )
    core.begin(group, "deleting", None)
    out = _group_out(backend, group)
    _sync(backend)
    return ActionResult(out)


# --------------------------------------------------------------------------------------
# Replication groups: moto accepts UserGroupIds (that is the association DeleteUserGroup
# checks) but never checks them, and leaves deleted groups "deleting" for ever.

_moto_create_replication_group = ElastiCacheResponse.create_replication_group
_moto_delete_replication_group = ElastiCacheResponse.delete_replication_group


@core.action(ElastiCacheResponse)
def create_replication_group(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    for group_id in self._get_param("UserGroupIds") or []:
        if _get_group(backend, group_id).status != "active":
            raise InvalidUserGroupState(f"User group {group_id} is not in active state.")
    return _moto_create_replication_group(self)


@core.action(ElastiCacheResponse)
def delete_replication_group(self: ElastiCacheResponse) -> ActionResult:
    result = _moto_delete_replication_group(self)
    rg = self.elasticache_backend.replication_groups[self._get_param("ReplicationGroupId")]
    core.begin(rg, "deleting", None)
    return result


# --------------------------------------------------------------------------------------
# Serverless caches: moto has none. Enough of them to use a user group (UserGroupId), which
# DescribeUserGroups lists (ServerlessCaches) and, with strict, DeleteUserGroup checks:
# "creating" -> "available", "deleting" -> gone, each for transition_seconds.


def _get_serverless_cache(backend: ElastiCacheBackend, name: str | None) -> ServerlessCache:
    if name not in backend.serverless_caches:
        raise ServerlessCacheNotFound(f"Serverless cache {name} not found.")
    return backend.serverless_caches[name]


@core.action(ElastiCacheResponse)
def create_serverless_cache(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    name = params.get("ServerlessCacheName")
    if not USER_ID.match(name or ""):
        raise InvalidParameterValueException(
            "The serverless cache name must begin with a letter and contain only letters, digits and hyphens."
        )
    engine = (params.get("Engine") or "").lower()
    if engine not in (*ENGINES, "memcached"):
        raise InvalidParameterValueException(
            f'Unknown parameter for Engine: "{params.get("Engine")}", must be one of: valkey, redis, memcached'
        )
    if name in backend.serverless_caches:
        raise ServerlessCacheAlreadyExists(f"Serverless cache {name} already exists.")
    group_id = params.get("UserGroupId")
    if group_id:
        if engine == "memcached":
            raise InvalidParameterCombinationException("UserGroupId is available for Valkey and Redis OSS only.")
        if _get_group(backend, group_id).status != "active":
            raise InvalidUserGroupState(f"User group {group_id} is not in active state.")
    cache = ServerlessCache(backend, name, engine, params)
    backend.serverless_caches[name] = cache
    core.begin(cache, "creating", "available")
    _sync(backend)
    return ActionResult({"ServerlessCache": cache.out()})


@core.action(ElastiCacheResponse)
def describe_serverless_caches(self: ElastiCacheResponse) -> ActionResult:
    params = self._get_params()
    backend = self.elasticache_backend
    caches = list(backend.serverless_caches.values())
    if params.get("ServerlessCacheName"):
        caches = [_get_serverless_cache(backend, params["ServerlessCacheName"])]
    page, token = core.paginate(
        caches, lambda c: c.name, params.get("MaxResults"), params.get("NextToken"), size_param="MaxResults"
    )
    return ActionResult({"ServerlessCaches": [c.out() for c in page], "NextToken": token})


@core.action(ElastiCacheResponse)
def delete_serverless_cache(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    cache = _get_serverless_cache(backend, self._get_param("ServerlessCacheName"))
    if cache.status != "available":
        raise InvalidServerlessCacheState(
            f"Serverless cache {cache.name} is in {cache.status} state. It must be available to be deleted."
        )
    core.begin(cache, "deleting", None)
    out = cache.out()
    _sync(backend)
    return ActionResult({"ServerlessCache": out})


# --------------------------------------------------------------------------------------
# Tags: moto's ARN check leaves out user groups, it tags ARNs of resources that do not
# exist, and its Add/Remove answer without the TagList the model defines.


def _taggable(backend: ElastiCacheBackend, arn: str) -> str:
    match = ARN.match(arn or "")
    if not match:
        raise InvalidARNFault(arn)
    kind, resource_id = match["type"], match["id"]
    resource: User | UserGroup | None = None
    if kind == "user":
        resource = _get_user(backend, resource_id)
    elif kind == "usergroup":
        resource = _get_group(backend, resource_id)
    # AWS refuses tag calls (list too) on a user or group that is not settled: "UserNotFound:
    # <id> is not available for tagging", 404, while a user is modifying (terraform-provider-aws
    # #34002, fixed for reads by waiting for active in #34396; #47638 for writes). For user
    # groups terraform-provider-aws retries UserGroupNotFound on the same race (#47700,
    # #48919): that code, with the users' wording (inferred).
    if core.strict() and resource is not None and resource.status != "active":
        code = "UserNotFound" if kind == "user" else "UserGroupNotFound"
        raise NotAvailableForTagging(code, resource_id)
    return arn


def _tag_list(backend: ElastiCacheBackend, arn: str) -> ActionResult:
    return ActionResult({"TagList": backend.tagging_service.list_tags_for_resource(arn)["Tags"]})


@core.action(ElastiCacheResponse)
def list_tags_for_resource(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    return _tag_list(backend, _taggable(backend, self._get_param("ResourceName")))


@core.action(ElastiCacheResponse)
def add_tags_to_resource(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    arn = _taggable(backend, self._get_param("ResourceName"))
    tags = self._get_param("Tags") or []
    _check_tags(backend, arn, tags)
    backend.tagging_service.tag_resource(arn, tags)
    return _tag_list(backend, arn)


@core.action(ElastiCacheResponse)
def remove_tags_from_resource(self: ElastiCacheResponse) -> ActionResult:
    backend = self.elasticache_backend
    arn = _taggable(backend, self._get_param("ResourceName"))
    keys = self._get_param("TagKeys") or []
    existing = backend.tagging_service.get_tag_dict_for_resource(arn)
    missing = [k for k in keys if k not in existing]
    if missing:
        raise TagNotFound(f"Tag {missing[0]} not found on resource {arn}.")
    backend.tagging_service.untag_resource_using_names(arn, keys)
    return _tag_list(backend, arn)
