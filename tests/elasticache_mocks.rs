//! ElastiCache error variants that no emulator produces on demand, through aws-smithy-mocks:
//! a user busy with another change, throttling, a 5xx storm, a collision with a user someone
//! else owns, and an error message that quotes a password.

mod support;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::operation::create_user::CreateUserError;
use aws_sdk_elasticache::operation::delete_user::DeleteUserOutput;
use aws_sdk_elasticache::operation::describe_users::DescribeUsersOutput;
use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_elasticache::operation::modify_user::{ModifyUserError, ModifyUserOutput};
use aws_sdk_elasticache::types::error::{
    InvalidParameterValueException, InvalidUserStateFault, UserAlreadyExistsFault,
};
use aws_sdk_elasticache::types::{Tag, User as ApiUser};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::json;
use std::time::Duration;
use support::*;
use userkeeper::aws::Secrets;
use userkeeper::cfn::props::{self, Diff};
use userkeeper::cfn::responder::Responder;
use userkeeper::cfn::{Cx, Owner, Provider, Resource};
use userkeeper::redact::Redactor;
use userkeeper::services::elasticache::{User, UserProps};

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/guid";
const ARN: &str = "arn:aws:elasticache:us-east-1:123456789012:user:app-user";

fn user(status: &str) -> ApiUser {
    ApiUser::builder()
        .user_id("app-user")
        .user_name("app")
        .status(status)
        .engine("redis")
        .minimum_engine_version("6.0")
        .arn(ARN)
        .build()
}

fn described(status: &'static str) -> impl Fn() -> DescribeUsersOutput + Send + Sync {
    move || DescribeUsersOutput::builder().users(user(status)).build()
}

fn not_found() -> aws_sdk_elasticache::operation::describe_users::DescribeUsersError {
    aws_sdk_elasticache::operation::describe_users::DescribeUsersError::UserNotFoundFault(
        aws_sdk_elasticache::types::error::UserNotFoundFault::builder().build(),
    )
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

fn props() -> UserProps {
    props::parse(
        json!({
            "UserId": "app-user", "UserName": "app", "Engine": "redis",
            "AccessString": "on ~* +@all", "Passwords": ["a-sixteen-char-pw-1"]
        })
        .as_object()
        .unwrap(),
    )
    .unwrap()
}

fn tags(stack: &str, logical: &str) -> impl Fn() -> ListTagsForResourceOutput + Send + Sync {
    let (stack, logical) = (stack.to_owned(), logical.to_owned());
    move || {
        ListTagsForResourceOutput::builder()
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

fn query_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
         </Error><RequestId>r</RequestId></ErrorResponse>"
    )
}

#[tokio::test]
async fn a_busy_user_is_waited_for_and_the_change_retried() {
    let describe = mock!(Client::describe_users).then_output(described("active"));
    let modify = mock!(Client::modify_user)
        .sequence()
        .error(|| {
            ModifyUserError::InvalidUserStateFault(
                InvalidUserStateFault::builder()
                    .message("User is modifying")
                    .build(),
            )
        })
        .output(|| ModifyUserOutput::builder().build())
        .build();
    let owned = mock!(Client::list_tags_for_resource).then_output(tags(STACK, "AppUser"));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &owned, &modify]
    );
    let old = json!({"AccessString": "on ~* -@all"});
    let new = json!({"AccessString": "on ~* +@all"});
    let diff = Diff::new(old.as_object(), new.as_object().unwrap());
    let out = User::new(client, no_secrets())
        .update("app-user", props(), &diff, &cx())
        .await
        .unwrap();
    assert_eq!(out.physical_id, "app-user");
    assert_eq!(modify.num_calls(), 2, "retried once after InvalidUserState");
}

#[tokio::test]
async fn unchanged_password_properties_are_never_re_sent() {
    let describe = mock!(Client::describe_users).then_output(described("active"));
    let modify = mock!(Client::modify_user)
        .match_requests(|r| r.authentication_mode().is_none() && r.passwords().is_empty())
        .then_output(|| ModifyUserOutput::builder().build());
    let owned = mock!(Client::list_tags_for_resource).then_output(tags(STACK, "AppUser"));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &owned, &modify]
    );
    let old = json!({"AccessString": "on ~* -@all", "Passwords": ["a-sixteen-char-pw-1"]});
    let new = json!({"AccessString": "on ~* +@all", "Passwords": ["a-sixteen-char-pw-1"]});
    let diff = Diff::new(old.as_object(), new.as_object().unwrap());
    User::new(client, no_secrets())
        .update("app-user", props(), &diff, &cx())
        .await
        .unwrap();
    assert_eq!(modify.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .http_status(400, Some(query_error("Throttling", "Rate exceeded")))
        .output(described("active"))
        .build();
    let owned = mock!(Client::list_tags_for_resource).then_output(tags(STACK, "AppUser"));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::Sequential,
        [&describe, &owned]
    );
    let diff = Diff::new(Some(&serde_json::Map::new()), &serde_json::Map::new());
    let out = User::new(client, no_secrets())
        .update("app-user", props(), &diff, &cx())
        .await
        .unwrap();
    assert_eq!(out.data["Status"], "active");
    assert_eq!(describe.num_calls(), 2);
}

#[tokio::test]
async fn a_5xx_storm_fails_naming_the_call_after_the_sdk_retries() {
    let create = mock!(Client::create_user)
        .sequence()
        .http_status(500, Some(query_error("InternalFailure", "oops")))
        .times(5)
        .build();
    let describe = mock!(Client::describe_users).then_error(not_found);
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &create]
    );
    let err = User::new(client, no_secrets())
        .create(props(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("ElastiCache CreateUser failed: InternalFailure"),
        "{err}"
    );
    assert_eq!(
        create.num_calls(),
        3,
        "the SDK's standard retry makes three attempts"
    );
}

#[tokio::test]
async fn existing_user_of_this_stack_is_adopted_not_created_twice() {
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::UserAlreadyExistsFault(UserAlreadyExistsFault::builder().build())
    });
    let describe = mock!(Client::describe_users).then_output(described("active"));
    let list = mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_name() == Some(ARN))
        .then_output(tags(STACK, "AppUser"));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&create, &describe, &list]
    );
    let out = User::new(client, no_secrets())
        .create(props(), &cx())
        .await
        .unwrap();
    assert_eq!(out.physical_id, "app-user");
    assert_eq!(
        create.num_calls(),
        0,
        "found by looking first: no second create"
    );
}

#[tokio::test]
async fn existing_user_of_another_owner_is_refused_and_left_alone() {
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::UserAlreadyExistsFault(UserAlreadyExistsFault::builder().build())
    });
    let describe = mock!(Client::describe_users).then_output(described("active"));
    let list = mock!(Client::list_tags_for_resource).then_output(tags(STACK, "SomeoneElse"));
    let delete = mock!(Client::delete_user).then_output(|| DeleteUserOutput::builder().build());
    let modify = mock!(Client::modify_user).then_output(|| ModifyUserOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&create, &describe, &list, &delete, &modify]
    );
    let err = User::new(client, no_secrets())
        .create(props(), &cx())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not managed by this stack"), "{err}");
    assert_eq!(
        create.num_calls() + delete.num_calls() + modify.num_calls(),
        0,
        "no write to a foreign user"
    );
}

#[tokio::test]
async fn delete_leaves_a_user_it_does_not_own() {
    let describe = mock!(Client::describe_users).then_output(described("active"));
    let list =
        mock!(Client::list_tags_for_resource).then_output(tags("arn:other-stack", "AppUser"));
    let delete = mock!(Client::delete_user).then_output(|| DeleteUserOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &list, &delete]
    );
    User::new(client, no_secrets())
        .delete("app-user", &serde_json::Map::new(), &cx())
        .await
        .unwrap();
    assert_eq!(delete.num_calls(), 0);
}

#[tokio::test]
async fn a_password_quoted_by_the_service_never_reaches_the_response() {
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::InvalidParameterValueException(
            InvalidParameterValueException::builder()
                .message("Password Planted-Secret-Value-1234567 is not allowed")
                .build(),
        )
    });
    let describe = mock!(Client::describe_users).then_error(not_found);
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &create]
    );
    let rx = Receiver::start(&[]).await;
    let mut p = Provider::new(Responder::new().unwrap());
    p.register(User::new(client, no_secrets()));
    let ev = event(
        "Create",
        User::TYPE,
        &rx.url("leak"),
        json!({
            "UserId": "app-user", "UserName": "app", "Engine": "redis",
            "AccessString": "on ~* +@all", "Passwords": ["Planted-Secret-Value-1234567"]
        }),
    );
    handle(&p, ev, Duration::from_secs(10)).await.unwrap();
    let put = rx.accepted();
    let text = String::from_utf8(put.body).unwrap();
    assert!(
        text.contains("\"FAILED\"") && text.contains("Password *** is not allowed"),
        "{text}"
    );
    assert!(!text.contains("Planted-Secret"), "{text}");
}

#[tokio::test]
async fn a_user_created_concurrently_by_this_stack_is_adopted_after_the_collision() {
    let describe = mock!(Client::describe_users)
        .sequence()
        .error(not_found)
        .output(described("active"))
        .repeatedly()
        .build();
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::UserAlreadyExistsFault(UserAlreadyExistsFault::builder().build())
    });
    let list = mock!(Client::list_tags_for_resource).then_output(tags(STACK, "AppUser"));
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &create, &list]
    );
    let out = User::new(client, no_secrets())
        .create(props(), &cx())
        .await
        .unwrap();
    assert_eq!(out.physical_id, "app-user");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn an_update_from_another_stack_changes_nothing_and_names_the_owner() {
    let describe = mock!(Client::describe_users).then_output(described("active"));
    let theirs = mock!(Client::list_tags_for_resource).then_output(tags(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/team-b/other",
        "TheirUser",
    ));
    let modify = mock!(Client::modify_user).then_output(|| ModifyUserOutput::builder().build());
    let client = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&describe, &theirs, &modify]
    );
    let old = json!({"AccessString": "on ~* -@all"});
    let new = json!({"AccessString": "on ~* +@all"});
    let diff = Diff::new(old.as_object(), new.as_object().unwrap());
    let e = User::new(client, no_secrets())
        .update("app-user", props(), &diff, &cx())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not managed by this stack"), "{e}");
    assert!(
        e.contains("stack/team-b/other") && e.contains("TheirUser"),
        "{e}"
    );
    assert!(e.contains("nothing was changed"), "{e}");
    assert_eq!(modify.num_calls(), 0);
}
