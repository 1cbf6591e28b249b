"""ElastiCache and MemoryDB side by side: the same Redis users and groups of users (a MemoryDB
ACL is an ElastiCache user group) under other names. One description per service, so that a test
of behaviour both share is written once (``test_redis_family.py``), and each service's own tests
(``test_elasticache.py``, ``test_memorydb.py``) build properties and look things up the same way.

The lookups read the emulator: ``describe_*`` through the service's API (None once it is gone),
``state_*`` and ``tags_of`` from ``/_emulator/state``, which also holds what the API never shows
(passwords) or refuses while a resource is not ``active`` (tags, as AWS does).
"""

from __future__ import annotations

from typing import Any

from .cfn_helpers import CfnDriver, assert_success
from .harness.constants import ACCOUNT_ID, GROUP_TYPE, USER_TYPE
from .harness.emulator import Emulator

PW1 = "Correct-Horse-Battery-0001"
PW2 = "Correct-Horse-Battery-0002"
PW3 = "Correct-Horse-Battery-0003"


class RedisFamily:
    """What differs between the two services, by name. ``user_props()`` makes the user with id
    ``user_id``; ``group_props()`` the group with id ``group_id``."""

    name: str  # boto3's and the emulator's name of the service; the test id
    user_type: str
    group_type: str
    user_id: str
    group_id: str
    user_key: str  # the property, and the Data field, naming a user (its physical id)
    group_key: str  # the same for a group
    members_key: str  # the group property (and state field) listing its users
    user_groups_key: str  # the state field listing the groups a user is in
    clusters_key: str  # the state field listing what uses a group
    state_user_key: str  # the state field naming a user
    state_groups: str  # the emulator state's list of groups
    state_group_key: str
    modify_user: str  # action names
    create_group: str
    modify_group: str
    delete_group: str
    tag_actions: frozenset[str]
    mutating: frozenset[str]
    #: Users every group holds whatever the test asks for (an ElastiCache group needs a "default").
    required_members: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return self.name

    # -- properties ----------------------------------------------------------------------
    def user_props(self, user_id: str | None = None, **kw: Any) -> dict[str, Any]:
        raise NotImplementedError

    def group_props(self, group_id: str | None = None, members: list[str] | None = None,
                    **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def members(self, *user_ids: str) -> list[str]:
        """A group's member list holding ``user_ids``."""
        return [*self.required_members, *user_ids]

    def make_users(self, cfn: CfnDriver, *user_ids: str) -> None:
        """The users a group of ``members(*user_ids)`` needs, created through the function."""
        for u in user_ids:
            assert_success(cfn.create(self.user_type, self.user_props(u), logical_id=f"U{u.replace('-', '')}"))

    # -- what the service holds ----------------------------------------------------------
    def client(self, emulator: Emulator) -> Any:
        return emulator.client(self.name)

    def user_arn(self, user_id: str) -> str:
        raise NotImplementedError

    def group_arn(self, group_id: str) -> str:
        raise NotImplementedError

    def user_data(self, user_id: str) -> dict[str, Any]:
        """A user's Data in the response, but for MinimumEngineVersion."""
        raise NotImplementedError

    def user_record(self, user_id: str) -> dict[str, Any]:
        """What the service holds of ``user_props(user_id)``'s user, but its access and passwords."""
        raise NotImplementedError

    def group_data(self, group_id: str) -> dict[str, Any]:
        """A group's Data in the response."""
        return {"Arn": self.group_arn(group_id), self.group_key: group_id, "Status": "active"}

    def state_users(self, emulator: Emulator, user_id: str) -> list[dict[str, Any]]:
        return [u for u in emulator.state()[self.name]["users"] if u[self.state_user_key] == user_id]

    def state_user(self, emulator: Emulator, user_id: str) -> dict[str, Any] | None:
        users = self.state_users(emulator, user_id)
        assert len(users) <= 1, users
        return users[0] if users else None

    def state_group(self, emulator: Emulator, group_id: str) -> dict[str, Any] | None:
        groups = [g for g in emulator.state()[self.name][self.state_groups] if g[self.state_group_key] == group_id]
        assert len(groups) <= 1, groups
        return groups[0] if groups else None

    def tags_of(self, emulator: Emulator, arn: str) -> dict[str, str]:
        """The tags of the user or group with ``arn``, from ``/_emulator/state``: the tag
        API refuses a resource that is not ``active``, as AWS's does."""
        state = emulator.state()[self.name]
        found = [r["Tags"] for r in (*state["users"], *state[self.state_groups]) if r["ARN"] == arn]
        assert len(found) == 1, f"no {self.name} user or group {arn}"
        return found[0]

    def describe_user(self, emulator: Emulator, user_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def describe_group(self, emulator: Emulator, group_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def mutations(self, emulator: Emulator) -> list[str]:
        return [a for a in emulator.actions() if a in self.mutating]

    # -- changes behind the function's back ----------------------------------------------
    def create_foreign_user(self, emulator: Emulator, user_id: str, password: str) -> None:
        """A user this stack does not own, with access ``on ~* +@all``."""
        raise NotImplementedError

    def create_foreign_group(self, emulator: Emulator, group_id: str, members: list[str]) -> None:
        raise NotImplementedError

    def set_passwords(self, emulator: Emulator, user_id: str, passwords: list[str]) -> None:
        """What a rotation does: new passwords, straight through the service's API."""
        raise NotImplementedError

    def add_members(self, emulator: Emulator, group_id: str, user_ids: list[str]) -> None:
        """Someone adds users to the group straight through the service's API (the group is
        then busy for a while)."""
        raise NotImplementedError

    def put_group_in_use(self, emulator: Emulator, group_id: str) -> str:
        """A cluster (ElastiCache: replication group) using the group; returns its name."""
        raise NotImplementedError


class ElastiCache(RedisFamily):
    name = "elasticache"
    user_type = USER_TYPE
    group_type = GROUP_TYPE
    user_id = "app-user"
    group_id = "app-users"
    user_key = "UserId"
    group_key = "UserGroupId"
    members_key = "UserIds"
    user_groups_key = "UserGroupIds"
    clusters_key = "ReplicationGroups"
    state_user_key = "UserId"
    state_groups = "user_groups"
    state_group_key = "UserGroupId"
    modify_user = "ModifyUser"
    create_group = "CreateUserGroup"
    modify_group = "ModifyUserGroup"
    delete_group = "DeleteUserGroup"
    tag_actions = frozenset({"AddTagsToResource", "RemoveTagsFromResource"})
    mutating = frozenset({"CreateUser", "ModifyUser", "DeleteUser", "CreateUserGroup", "ModifyUserGroup",
                          "DeleteUserGroup", "AddTagsToResource", "RemoveTagsFromResource"})
    required_members = ("default-user",)

    def user_props(self, user_id: str | None = None, user_name: str = "app", *, passwords: list[str] | None = None,
                   auth: str | None = "password", engine: str = "redis", access: str = "on ~app:* +@all",
                   **extra: Any) -> dict[str, Any]:
        props: dict[str, Any] = {"UserId": user_id or self.user_id, "UserName": user_name, "Engine": engine,
                                 "AccessString": access}
        if auth == "password":
            props["AuthenticationMode"] = {"Type": "password", "Passwords": list(passwords or [PW1])}
        elif auth is not None:
            props["AuthenticationMode"] = {"Type": auth}
        props.update(extra)
        return props

    def default_user_props(self, user_id: str = "default-user") -> dict[str, Any]:
        return self.user_props(user_id, "default", auth="no-password-required", access="off ~* -@all")

    def group_props(self, group_id: str | None = None, members: list[str] | None = None,
                    **extra: Any) -> dict[str, Any]:
        return {"UserGroupId": group_id or self.group_id, "Engine": "redis",
                "UserIds": list(members or ["default-user"]), **extra}

    def make_users(self, cfn: CfnDriver, *user_ids: str) -> None:
        assert_success(cfn.create(self.user_type, self.default_user_props(), logical_id="DefaultUser"))
        for i in user_ids:
            assert_success(cfn.create(self.user_type, self.user_props(i, i), logical_id=f"U{i.replace('-', '')}"))

    def user_arn(self, user_id: str) -> str:
        return f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:user:{user_id}"

    def group_arn(self, group_id: str) -> str:
        return f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:usergroup:{group_id}"

    def user_data(self, user_id: str) -> dict[str, Any]:
        return {"Arn": self.user_arn(user_id), "UserId": user_id, "UserName": "app", "Status": "active"}

    def user_record(self, user_id: str) -> dict[str, Any]:
        return {"UserId": user_id, "UserName": "app", "Engine": "redis"}

    def describe_user(self, emulator: Emulator, user_id: str) -> dict[str, Any] | None:
        ec = self.client(emulator)
        try:
            users = ec.describe_users(UserId=user_id)["Users"]
        except ec.exceptions.UserNotFoundFault:
            return None
        users = [u for u in users if u["UserId"] == user_id]
        return users[0] if users else None

    def describe_group(self, emulator: Emulator, group_id: str) -> dict[str, Any] | None:
        ec = self.client(emulator)
        try:
            groups = ec.describe_user_groups(UserGroupId=group_id)["UserGroups"]
        except ec.exceptions.UserGroupNotFoundFault:
            return None
        groups = [g for g in groups if g["UserGroupId"] == group_id]
        return groups[0] if groups else None

    def create_foreign_user(self, emulator: Emulator, user_id: str, password: str) -> None:
        self.client(emulator).create_user(UserId=user_id, UserName="someone-else", Engine="redis",
                                          AccessString="on ~* +@all", Passwords=[password])

    def create_foreign_group(self, emulator: Emulator, group_id: str, members: list[str]) -> None:
        self.client(emulator).create_user_group(UserGroupId=group_id, Engine="redis", UserIds=members)

    def set_passwords(self, emulator: Emulator, user_id: str, passwords: list[str]) -> None:
        self.client(emulator).modify_user(UserId=user_id, Passwords=passwords)

    def add_members(self, emulator: Emulator, group_id: str, user_ids: list[str]) -> None:
        self.client(emulator).modify_user_group(UserGroupId=group_id, UserIdsToAdd=user_ids)

    def put_group_in_use(self, emulator: Emulator, group_id: str) -> str:
        self.client(emulator).create_replication_group(
            ReplicationGroupId="cache-rg", ReplicationGroupDescription="e2e", Engine="redis",
            CacheNodeType="cache.t4g.micro", NumCacheClusters=1, TransitEncryptionEnabled=True,
            UserGroupIds=[group_id])
        return "cache-rg"


class MemoryDB(RedisFamily):
    name = "memorydb"
    user_type = "Custom::MemoryDBUser"
    group_type = "Custom::MemoryDBACL"
    user_id = "app-mdb"
    group_id = "app-acl"
    user_key = "UserName"
    group_key = "ACLName"
    members_key = "UserNames"
    user_groups_key = "ACLNames"
    clusters_key = "Clusters"
    state_user_key = "Name"
    state_groups = "acls"
    state_group_key = "Name"
    modify_user = "UpdateUser"
    create_group = "CreateACL"
    modify_group = "UpdateACL"
    delete_group = "DeleteACL"
    tag_actions = frozenset({"TagResource", "UntagResource"})
    mutating = frozenset({"CreateUser", "UpdateUser", "DeleteUser", "CreateACL", "UpdateACL", "DeleteACL",
                          "TagResource", "UntagResource"})

    def user_props(self, user_id: str | None = None, *, passwords: list[str] | None = None,
                   auth: str | None = "password", access: str = "on ~app:* +@all", **extra: Any) -> dict[str, Any]:
        props: dict[str, Any] = {"UserName": user_id or self.user_id, "AccessString": access}
        if auth == "password":
            props["AuthenticationMode"] = {"Type": "password", "Passwords": list(passwords or [PW1])}
        elif auth is not None:
            props["AuthenticationMode"] = {"Type": auth}
        props.update(extra)
        return props

    def group_props(self, group_id: str | None = None, members: list[str] | None = None,
                    **extra: Any) -> dict[str, Any]:
        return {"ACLName": group_id or self.group_id,
                "UserNames": list(members if members is not None else [self.user_id]), **extra}

    def user_arn(self, user_id: str) -> str:
        return f"arn:aws:memorydb:us-east-1:{ACCOUNT_ID}:user/{user_id}"

    def group_arn(self, group_id: str) -> str:
        return f"arn:aws:memorydb:us-east-1:{ACCOUNT_ID}:acl/{group_id}"

    def user_data(self, user_id: str) -> dict[str, Any]:
        return {"Arn": self.user_arn(user_id), "UserName": user_id, "Status": "active"}

    def user_record(self, user_id: str) -> dict[str, Any]:
        return {"Name": user_id}

    def describe_user(self, emulator: Emulator, user_id: str) -> dict[str, Any] | None:
        c = self.client(emulator)
        try:
            users = c.describe_users(UserName=user_id)["Users"]
        except c.exceptions.UserNotFoundFault:
            return None
        users = [u for u in users if u["Name"] == user_id]
        return users[0] if users else None

    def describe_group(self, emulator: Emulator, group_id: str) -> dict[str, Any] | None:
        c = self.client(emulator)
        try:
            acls = c.describe_acls(ACLName=group_id)["ACLs"]
        except c.exceptions.ACLNotFoundFault:
            return None
        acls = [a for a in acls if a["Name"] == group_id]
        return acls[0] if acls else None

    def create_foreign_user(self, emulator: Emulator, user_id: str, password: str) -> None:
        self.client(emulator).create_user(UserName=user_id, AccessString="on ~* +@all",
                                          AuthenticationMode={"Type": "password", "Passwords": [password]})

    def create_foreign_group(self, emulator: Emulator, group_id: str, members: list[str]) -> None:
        self.client(emulator).create_acl(ACLName=group_id, UserNames=members)

    def set_passwords(self, emulator: Emulator, user_id: str, passwords: list[str]) -> None:
        self.client(emulator).update_user(UserName=user_id,
                                          AuthenticationMode={"Type": "password", "Passwords": passwords})

    def add_members(self, emulator: Emulator, group_id: str, user_ids: list[str]) -> None:
        self.client(emulator).update_acl(ACLName=group_id, UserNamesToAdd=user_ids)

    def put_group_in_use(self, emulator: Emulator, group_id: str) -> str:
        self.client(emulator).create_cluster(ClusterName="cache-cluster", NodeType="db.t4g.small", ACLName=group_id)
        return "cache-cluster"


ELASTICACHE = ElastiCache()
MEMORYDB = MemoryDB()
REDIS_FAMILY = (ELASTICACHE, MEMORYDB)
