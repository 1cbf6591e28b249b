//! MemoryDB error variants that no emulator produces on demand, through aws-smithy-mocks: a
//! user or ACL busy with another change, a collision with a user someone else owns, an ACL a
//! cluster still uses, throttling, and a user that is not there. Each test pins the outcome
//! and the calls made, in order (a `Calls` interceptor records every attempt, retries
//! included).

use aws_sdk_memorydb::Client;
use aws_sdk_memorydb::config::retry::RetryConfig;
use aws_sdk_memorydb::operation::create_user::{CreateUserError, CreateUserOutput};
use aws_sdk_memorydb::operation::delete_acl::{DeleteACLError, DeleteAclOutput};
use aws_sdk_memorydb::operation::delete_user::{DeleteUserError, DeleteUserOutput};
use aws_sdk_memorydb::operation::describe_acls::DescribeAcLsOutput;
use aws_sdk_memorydb::operation::describe_users::{DescribeUsersError, DescribeUsersOutput};
use aws_sdk_memorydb::operation::list_tags::ListTagsOutput;
use aws_sdk_memorydb::operation::update_acl::{UpdateACLError, UpdateAclOutput};
use aws_sdk_memorydb::operation::update_user::{UpdateUserError, UpdateUserOutput};
use aws_sdk_memorydb::types::error::{
    InvalidAclStateFault, InvalidUserStateFault, UserAlreadyExistsFault, UserNotFoundFault,
};
use aws_sdk_memorydb::types::{Acl as ApiAcl, Tag, User as ApiUser};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use userkeeper::aws::Secrets;
use userkeeper::cfn::props::{self, Diff};
use userkeeper::cfn::{Cx, Owner, Resource};
use userkeeper::redact::Redactor;
use userkeeper::services::memorydb::{Acl, AclProps, User, UserProps};

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/guid";
const USER_ARN: &str = "arn:aws:memorydb:us-east-1:123456789012:user/app";
const ACL_ARN: &str = "arn:aws:memorydb:us-east-1:123456789012:acl/app-acl";

/// Every attempt's operation name, in order, retries included.
#[derive(Clone, Debug, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn names(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self, op: &str) -> usize {
        self.names().iter().filter(|n| *n == op).count()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.0.lock().unwrap().push(m.name().to_owned());
        }
        Ok(())
    }
}

/// A mocked client that records its calls and retries after milliseconds, not seconds.
fn client(rules: &[&Rule], calls: &Calls) -> Client {
    let calls = calls.clone();
    mock_client!(aws_sdk_memorydb, RuleMode::MatchAny, rules, move |c| c
        .interceptor(calls.clone())
        .retry_config(
            RetryConfig::standard().with_initial_backoff(Duration::from_millis(5))
        ))
}

fn no_secrets() -> Secrets {
    let none: [&Rule; 0] = [];
    Secrets::new(mock_client!(aws_sdk_secretsmanager, none))
}

fn cx() -> Cx {
    Cx::new(
        Owner {
            stack_id: STACK.into(),
            logical_id: "AppUser".into(),
        },
        "req-1".into(),
        Redactor::new(),
        tokio::time::Instant::now() + Duration::from_secs(30),
    )
}

fn user(status: &str) -> ApiUser {
    ApiUser::builder()
        .name("app")
        .status(status)
        .access_string("on ~* +@all")
        .minimum_engine_version("6.2")
        .arn(USER_ARN)
        .build()
}

fn users(status: &'static str) -> impl Fn() -> DescribeUsersOutput + Send + Sync {
    move || DescribeUsersOutput::builder().users(user(status)).build()
}

fn user_not_found() -> DescribeUsersError {
    DescribeUsersError::UserNotFoundFault(
        UserNotFoundFault::builder()
            .message("User app not found")
            .build(),
    )
}

fn acl(status: &str, clusters: &[&str]) -> ApiAcl {
    ApiAcl::builder()
        .name("app-acl")
        .status(status)
        .user_names("default")
        .user_names("app")
        .set_clusters(Some(clusters.iter().map(|c| c.to_string()).collect()))
        .arn(ACL_ARN)
        .build()
}

fn acls(
    status: &'static str,
    clusters: &'static [&'static str],
) -> impl Fn() -> DescribeAcLsOutput + Send + Sync {
    move || {
        DescribeAcLsOutput::builder()
            .acls(acl(status, clusters))
            .build()
    }
}

/// The ownership tags of `stack` and `logical`.
fn owner_tags(stack: &str, logical: &str) -> impl Fn() -> ListTagsOutput + Send + Sync {
    let (stack, logical) = (stack.to_owned(), logical.to_owned());
    move || {
        ListTagsOutput::builder()
            .tag_list(Tag::builder().key(Owner::STACK_TAG).value(&stack).build())
            .tag_list(
                Tag::builder()
                    .key(Owner::LOGICAL_TAG)
                    .value(&logical)
                    .build(),
            )
            .build()
    }
}

fn user_props() -> UserProps {
    let p: UserProps = props::parse(
        json!({
            "UserName": "app", "AccessString": "on ~* +@all",
            "AuthenticationMode": {"Type": "password", "Passwords": ["a-sixteen-char-pw-1"]}
        })
        .as_object()
        .unwrap(),
    )
    .unwrap();
    User::validate(&p).unwrap();
    p
}

fn acl_props(users: &[&str]) -> AclProps {
    let p: AclProps = props::parse(
        json!({"ACLName": "app-acl", "UserNames": users})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    Acl::validate(&p).unwrap();
    p
}

fn json_error(code: &str, message: &str) -> String {
    json!({"__type": code, "message": message}).to_string()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_busy_user_update_waits_until_active_then_is_sent_again() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .output(users("active"))
        .output(users("modifying"))
        .output(users("active"))
        .repeatedly()
        .build();
    let update = mock!(Client::update_user)
        .match_requests(|r| {
            r.access_string() == Some("on ~* +@all") && r.authentication_mode().is_none()
        })
        .sequence()
        .error(|| {
            UpdateUserError::InvalidUserStateFault(
                InvalidUserStateFault::builder()
                    .message("User app is not in active state")
                    .build(),
            )
        })
        .output(|| UpdateUserOutput::builder().user(user("modifying")).build())
        .build();
    let list = mock!(Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(USER_ARN))
        .then_output(owner_tags(STACK, "AppUser"));
    let calls = Calls::default();
    let old = json!({"AccessString": "on ~* -@all"});
    let new = json!({"AccessString": "on ~* +@all"});
    let diff = Diff::new(old.as_object(), new.as_object().unwrap());
    let out = User::new(client(&[&describe, &list, &update], &calls), no_secrets())
        .update("app", user_props(), &diff, &cx())
        .await
        .unwrap();
    assert_eq!(out.physical_id, "app");
    assert_eq!(out.data["Status"], "active");
    assert_eq!(
        calls.names(),
        names(&[
            "DescribeUsers", // active before the change
            "ListTags",      // owned by this stack
            "UpdateUser",    // refused: InvalidUserState
            "DescribeUsers", // modifying
            "DescribeUsers", // active again
            "UpdateUser",    // sent again, accepted
            "DescribeUsers", // settled
        ])
    );
}

#[tokio::test]
async fn a_busy_user_delete_waits_until_active_then_is_sent_again() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .output(users("active"))
        .output(users("modifying"))
        .output(users("active"))
        .error(user_not_found)
        .build();
    let list = mock!(Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(USER_ARN))
        .then_output(owner_tags(STACK, "AppUser"));
    let delete = mock!(Client::delete_user)
        .match_requests(|r| r.user_name() == Some("app"))
        .sequence()
        .error(|| {
            DeleteUserError::InvalidUserStateFault(
                InvalidUserStateFault::builder()
                    .message("User app is not in active state")
                    .build(),
            )
        })
        .output(|| DeleteUserOutput::builder().user(user("deleting")).build())
        .build();
    let calls = Calls::default();
    User::new(client(&[&describe, &list, &delete], &calls), no_secrets())
        .delete("app", &Map::new(), &cx())
        .await
        .unwrap();
    assert_eq!(
        calls.names(),
        names(&[
            "DescribeUsers", // active
            "ListTags",      // owned by this stack
            "DeleteUser",    // refused: InvalidUserState
            "DescribeUsers", // modifying
            "DescribeUsers", // active again
            "DeleteUser",    // sent again, accepted
            "DescribeUsers", // gone
        ])
    );
}

#[tokio::test]
async fn a_busy_acl_update_waits_until_active_then_is_sent_again() {
    let describe = mock!(Client::describe_acls)
        .sequence()
        .output(acls("active", &[]))
        .output(acls("modifying", &[]))
        .output(acls("active", &[]))
        .repeatedly()
        .build();
    // Only the missing member is added; `default`, which MemoryDB lists in every ACL, is kept.
    let update = mock!(Client::update_acl)
        .match_requests(|r| {
            r.user_names_to_add() == ["other".to_owned()] && r.user_names_to_remove().is_empty()
        })
        .sequence()
        .error(|| {
            UpdateACLError::InvalidAclStateFault(
                InvalidAclStateFault::builder()
                    .message("ACL app-acl is not in active state")
                    .build(),
            )
        })
        .output(|| UpdateAclOutput::builder().build())
        .build();
    let list = mock!(Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(ACL_ARN))
        .then_output(owner_tags(STACK, "AppUser"));
    let calls = Calls::default();
    let old = json!({"ACLName": "app-acl", "UserNames": ["app"]});
    let new = json!({"ACLName": "app-acl", "UserNames": ["app", "other"]});
    let diff = Diff::new(old.as_object(), new.as_object().unwrap());
    let out = Acl::new(client(&[&describe, &list, &update], &calls))
        .update("app-acl", acl_props(&["app", "other"]), &diff, &cx())
        .await
        .unwrap();
    assert_eq!(out.physical_id, "app-acl");
    assert_eq!(
        calls.names(),
        names(&[
            "DescribeACLs",
            "ListTags",  // owned by this stack
            "UpdateACL", // refused: InvalidACLState
            "DescribeACLs",
            "DescribeACLs",
            "UpdateACL", // sent again, accepted
            "DescribeACLs",
        ])
    );
}

#[tokio::test]
async fn a_user_someone_else_created_first_is_refused_by_name_without_a_write() {
    // Absent when looked up, then created by someone else before our CreateUser.
    let describe = mock!(Client::describe_users)
        .sequence()
        .error(user_not_found)
        .output(users("active"))
        .repeatedly()
        .build();
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::UserAlreadyExistsFault(
            UserAlreadyExistsFault::builder()
                .message("User app already exists")
                .build(),
        )
    });
    // No ownership tags at all.
    let list = mock!(Client::list_tags).then_output(|| ListTagsOutput::builder().build());
    let calls = Calls::default();
    let err = User::new(client(&[&describe, &create, &list], &calls), no_secrets())
        .create(user_props(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("user \"app\" already exists and is not managed by this stack"),
        "{err}"
    );
    assert!(err.contains("pick another name"), "{err}");
    assert_eq!(
        calls.names(),
        names(&["DescribeUsers", "CreateUser", "DescribeUsers", "ListTags"]),
        "no write beyond the create attempt"
    );
}

#[tokio::test]
async fn a_user_this_stack_created_is_adopted_after_the_collision() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .error(user_not_found)
        .output(users("active"))
        .repeatedly()
        .build();
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::UserAlreadyExistsFault(UserAlreadyExistsFault::builder().build())
    });
    let list = mock!(Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(USER_ARN))
        .then_output(owner_tags(STACK, "AppUser"));
    let calls = Calls::default();
    let out = User::new(client(&[&describe, &create, &list], &calls), no_secrets())
        .create(user_props(), &cx())
        .await
        .unwrap();
    assert_eq!(out.physical_id, "app");
    assert_eq!(out.data["Arn"], USER_ARN);
    assert_eq!(
        calls.names(),
        names(&[
            "DescribeUsers",
            "CreateUser",
            "DescribeUsers",
            "ListTags",
            "DescribeUsers",
        ]),
        "one create attempt, no write after it"
    );
}

#[tokio::test]
async fn a_user_of_the_same_stack_but_another_logical_id_is_refused() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .error(user_not_found)
        .output(users("active"))
        .repeatedly()
        .build();
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::UserAlreadyExistsFault(UserAlreadyExistsFault::builder().build())
    });
    let list = mock!(Client::list_tags).then_output(owner_tags(STACK, "OtherUser"));
    let calls = Calls::default();
    let err = User::new(client(&[&describe, &create, &list], &calls), no_secrets())
        .create(user_props(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"app\" already exists"), "{err}");
    assert_eq!(calls.count("CreateUser"), 1);
}

#[tokio::test]
async fn deleting_an_acl_a_cluster_took_meanwhile_fails_naming_the_clusters() {
    // Free when looked at; a cluster picks it up before DeleteACL arrives.
    let describe = mock!(Client::describe_acls)
        .sequence()
        .output(acls("active", &[]))
        .output(acls("active", &["orders", "billing"]))
        .build();
    let list = mock!(Client::list_tags)
        .match_requests(|r| r.resource_arn() == Some(ACL_ARN))
        .then_output(owner_tags(STACK, "AppUser"));
    let delete = mock!(Client::delete_acl).then_error(|| {
        DeleteACLError::InvalidAclStateFault(
            InvalidAclStateFault::builder()
                .message("ACL app-acl is in use")
                .build(),
        )
    });
    let calls = Calls::default();
    let err = Acl::new(client(&[&describe, &list, &delete], &calls))
        .delete("app-acl", &Map::new(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "ACL \"app-acl\" is still used by cluster(s) orders, billing; point them at another \
         ACL before deleting it"
    );
    assert_eq!(
        calls.names(),
        names(&["DescribeACLs", "ListTags", "DeleteACL", "DescribeACLs"])
    );
}

#[tokio::test]
async fn deleting_an_acl_a_cluster_uses_fails_before_any_delete_call() {
    let describe = mock!(Client::describe_acls).then_output(acls("active", &["orders"]));
    let list = mock!(Client::list_tags).then_output(owner_tags(STACK, "AppUser"));
    let delete = mock!(Client::delete_acl).then_output(|| DeleteAclOutput::builder().build());
    let calls = Calls::default();
    let err = Acl::new(client(&[&describe, &list, &delete], &calls))
        .delete("app-acl", &Map::new(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("ACL \"app-acl\" is still used by cluster(s) orders;"),
        "{err}"
    );
    assert_eq!(calls.names(), names(&["DescribeACLs", "ListTags"]));
}

#[tokio::test]
async fn throttled_describe_users_is_retried_by_the_sdk() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .http_status(
            400,
            Some(json_error("ThrottlingException", "Rate exceeded")),
        )
        .output(users("active"))
        .build();
    let list = mock!(Client::list_tags).then_output(owner_tags(STACK, "AppUser"));
    let calls = Calls::default();
    let diff = Diff::new(Some(&Map::new()), &Map::new());
    let out = User::new(client(&[&describe, &list], &calls), no_secrets())
        .update("app", user_props(), &diff, &cx())
        .await
        .unwrap();
    assert_eq!(out.data["Status"], "active");
    assert_eq!(describe.num_calls(), 2, "one throttled attempt, one retry");
    assert_eq!(
        calls.names(),
        names(&["DescribeUsers", "DescribeUsers", "ListTags"])
    );
}

#[tokio::test]
async fn persistent_throttling_fails_naming_the_operation_and_the_code() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .http_status(
            400,
            Some(json_error("ThrottlingException", "Rate exceeded")),
        )
        .repeatedly()
        .build();
    let create = mock!(Client::create_user).then_output(|| CreateUserOutput::builder().build());
    let calls = Calls::default();
    let err = User::new(client(&[&describe, &create], &calls), no_secrets())
        .create(user_props(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "MemoryDB DescribeUsers failed: ThrottlingException: Rate exceeded"
    );
    assert_eq!(
        calls.names(),
        names(&["DescribeUsers"; 3]),
        "the SDK's standard retry makes three attempts; nothing is created blind"
    );
}

#[tokio::test]
async fn deleting_a_user_that_does_not_exist_succeeds_without_a_delete_call() {
    let describe = mock!(Client::describe_users).then_error(user_not_found);
    let delete = mock!(Client::delete_user).then_output(|| DeleteUserOutput::builder().build());
    let calls = Calls::default();
    User::new(client(&[&describe, &delete], &calls), no_secrets())
        .delete("app", &Map::new(), &cx())
        .await
        .unwrap();
    assert_eq!(calls.names(), names(&["DescribeUsers"]));
}

#[tokio::test]
async fn a_user_gone_between_the_look_and_the_delete_is_success() {
    let describe = mock!(Client::describe_users).then_output(users("active"));
    let list = mock!(Client::list_tags).then_output(owner_tags(STACK, "AppUser"));
    let delete = mock!(Client::delete_user)
        .then_error(|| DeleteUserError::UserNotFoundFault(UserNotFoundFault::builder().build()));
    let calls = Calls::default();
    User::new(client(&[&describe, &list, &delete], &calls), no_secrets())
        .delete("app", &Map::new(), &cx())
        .await
        .unwrap();
    assert_eq!(
        calls.names(),
        names(&["DescribeUsers", "ListTags", "DeleteUser"]),
        "no wait for a deletion that is not happening"
    );
}

#[tokio::test]
async fn updating_a_user_that_no_longer_exists_fails_saying_so() {
    let describe = mock!(Client::describe_users).then_error(user_not_found);
    let calls = Calls::default();
    let old = json!({"AccessString": "on ~* -@all"});
    let new = json!({"AccessString": "on ~* +@all"});
    let diff = Diff::new(old.as_object(), new.as_object().unwrap());
    let err = User::new(client(&[&describe], &calls), no_secrets())
        .update("app", user_props(), &diff, &cx())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "user \"app\" does not exist; it may have been deleted outside CloudFormation"
    );
    assert_eq!(calls.names(), names(&["DescribeUsers"]), "no UpdateUser");
}
