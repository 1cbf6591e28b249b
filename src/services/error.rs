//! What can go wrong in a service, for its resources and its rotator: one enum each, shared by
//! every service, each message saying what to do next. Built on `crate::error` (the cause
//! chain and `ApiError`).

use crate::aws::SecretError;
use crate::cfn::Owner;
use crate::cfn::props::PropsError;
use crate::cfn::resource::{ErrorCode, INVALID_PROPERTIES};
pub use crate::error::ApiError;

/// A custom resource's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(
        "{kind} {id:?} already exists and is not managed by this stack and logical id (it lacks \
         the tags {stack_tag}/{logical_tag} naming them); pick another {id_word}, or delete the \
         existing {kind} first",
        stack_tag = Owner::STACK_TAG, logical_tag = Owner::LOGICAL_TAG
    )]
    NotOwned {
        kind: &'static str,
        id: String,
        /// What the template calls the id: "id" or "name".
        id_word: &'static str,
    },
    #[error(
        "{kind} {id:?} is not managed by this stack and logical id ({found}); an Update changes \
         only what its own resource created, so nothing was changed. If the template names the \
         wrong {id_word}, correct it; if the {kind} was made outside this stack, give this \
         resource another {id_word}"
    )]
    UpdateNotOwned {
        kind: &'static str,
        id: String,
        id_word: &'static str,
        /// Whose it is, as its tags say.
        found: String,
    },
    #[error(
        "changing {property} replaces the {kind}, and the replacement needs a new {id_property} \
         because ElastiCache identifies a {kind} by its {id_property}; change {id_property} \
         together with {property}"
    )]
    NeedsNewId {
        kind: &'static str,
        property: &'static str,
        id_property: &'static str,
    },
    #[error("{kind} {id:?} does not exist; it may have been deleted outside CloudFormation")]
    Missing { kind: &'static str, id: String },
    #[error("{kind} {id:?} is still {used_by} {users}; {fix}")]
    InUse {
        kind: &'static str,
        id: String,
        /// "associated with replication group(s)", "used by cluster(s)".
        used_by: &'static str,
        users: String,
        fix: &'static str,
    },
    #[error(
        "user group {group:?} is a valkey group, which takes only users that authenticate \
         (password or IAM; ElastiCache RBAC), but {users} authenticate with no password. Give \
         them a password (PasswordSecretArn), a `default` user included (with AccessString \
         \"off ~* -@all\" if it must not be used), or make the group Engine redis"
    )]
    NoPasswordMembers { group: String, users: String },
    #[error(
        "PasswordSecretArn is {length} characters long, more than the 256 a tag value holds; \
         userkeeper records it on the user (or broker) to bind the user to its secret. Give \
         the secret a shorter name"
    )]
    SecretArnTooLong { length: usize },
    #[error("broker {0:?} does not exist; check BrokerId")]
    NoBroker(String),
    #[error(
        "broker {0:?} is a RabbitMQ broker, whose users live in RabbitMQ itself (Amazon MQ's \
         user API is ActiveMQ only): use Custom::AmazonMQRabbitMQUser, and \"engine\": \
         \"rabbitmq\" in a rotated secret"
    )]
    RabbitMq(String),
    #[error(
        "user {username:?} already exists on broker {broker_id:?} and is not managed by this \
         stack and logical id (the broker has no tag {tag} naming them); pick another Username, \
         or delete the existing user first"
    )]
    NotOwnedOnBroker {
        broker_id: String,
        username: String,
        tag: String,
    },
    #[error(
        "user {username:?} does not exist on broker {broker_id:?}; it may have been deleted \
         outside CloudFormation"
    )]
    MissingOnBroker { broker_id: String, username: String },
    #[error(
        "broker {broker_id:?} has {count} tags, Amazon MQ's limit of {max} per broker, and \
         userkeeper records each user it manages as one broker tag; nothing was changed and \
         user {username:?} was not created. Remove broker tags you no longer need (aws mq \
         list-tags / delete-tags), or manage this user on another broker"
    )]
    BrokerTagsFull {
        broker_id: String,
        username: String,
        count: usize,
        max: usize,
    },
    #[error(
        "broker {0:?} runs ActiveMQ: its users are managed with Custom::AmazonMQUser (and \
         rotated with \"engine\": \"mq\"); this type is for RabbitMQ brokers"
    )]
    ActiveMq(String),
    #[error(
        "the RabbitMQ management API of broker {broker_id:?} could not be reached ({tried}): \
         {message}. A function in a VPC needs a route and a security-group rule to the broker's \
         console endpoint (HTTPS, 443); a private CA needs USERKEEPER_TLS_CA_FILE"
    )]
    ManagementUnreachable {
        broker_id: String,
        tried: String,
        message: String,
    },
    #[error(
        "the RabbitMQ management API of broker {broker_id:?} refused the administrator named \
         in secret {secret} ({status}); the secret must hold \"username\" and \"password\" of \
         a broker user with the RabbitMQ tag administrator"
    )]
    AdminRefused {
        broker_id: String,
        secret: String,
        status: u16,
    },
    #[error(
        "secret {arn} must be a JSON object with string \"username\" and \"password\" keys \
         (a broker administrator's credentials)"
    )]
    AdminSecretShape { arn: String },
    #[error("RabbitMQ management API: {op} answered {status}: {reason}")]
    Management {
        op: String,
        status: u16,
        reason: String,
    },
    #[error(
        "user {username:?} is the administrator userkeeper works as on broker {broker_id:?} \
         (from AdminSecretArn / admin_secret_arn); userkeeper never changes it, nor a user named \
         as its rotation pair. Keep the administrator in its own secret, rotated by Amazon MQ's \
         own means, and give this user another name"
    )]
    AdminUser { broker_id: String, username: String },
    #[error(
        "virtual host {vhost:?} does not exist on broker {broker_id:?}; create it first (an \
         AWS::AmazonMQ::Broker makes only \"/\"), or correct Permissions"
    )]
    NoVirtualHost { broker_id: String, vhost: String },
    #[error(
        "user {username:?} already exists on broker {broker_id:?} and is not managed by this \
         stack and logical id (it has no RabbitMQ tag {tag} naming them); pick another \
         Username, delete the existing user first, or set Adopt to take over a user made \
         outside userkeeper"
    )]
    NotOwnedOnRabbitMq {
        broker_id: String,
        username: String,
        tag: String,
    },
    #[error(transparent)]
    Props(#[from] PropsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// A rotator's failure: what the rotation protocol reports for the step.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Service(#[from] Error),
    #[error(
        "the pending version names {key} {pending:?} but AWSCURRENT names {current:?}; a \
         rotation changes one user's password. Start a new rotation"
    )]
    OtherUser {
        key: &'static str,
        current: String,
        pending: String,
    },
    #[error(
        "the pending version is for user {pending:?} on broker {pending_broker:?}, which is not \
         what AWSCURRENT ({current:?} on {broker:?}) rotates to; start a new rotation"
    )]
    OtherBrokerUser {
        current: String,
        broker: String,
        pending: String,
        pending_broker: String,
    },
    #[error(
        "user {user:?} is not bound to secret {secret}{bound_now}, so this secret may not \
         change its password; nothing was changed. A secret rotates only the user bound to it: \
         the custom resource managing the user binds it to its PasswordSecretArn; for a user \
         made elsewhere, {how}",
        bound_now = match bound {
            Some(b) => format!(" (it is bound to {b})"),
            None => String::new(),
        }
    )]
    NotBound {
        user: String,
        secret: String,
        bound: Option<String>,
        /// The one step that binds it.
        how: String,
    },
    #[error("user {0:?} authenticates with {1}, not passwords; rotation applies to password users")]
    NotPasswordUser(String, String),
    #[error(
        "user {id:?} is {status} with {count} password(s); expected active with {want} after \
         setSecret. Run setSecret again (Secrets Manager does on its next attempt)"
    )]
    NotSet {
        id: String,
        status: String,
        count: i32,
        want: i32,
    },
    #[error("user {id:?} does not exist in {service}; check {key} in the secret")]
    NoUser {
        id: String,
        service: &'static str,
        key: &'static str,
    },
    #[error(
        "user {username:?} does not exist on broker {broker_id:?}; setSecret creates or \
         updates it, so run setSecret first (Secrets Manager does on its next attempt)"
    )]
    NoBrokerUser { broker_id: String, username: String },
    #[error(
        "user {username:?} (the secret's AWSCURRENT user) does not exist on broker \
         {broker_id:?}; check \"username\" and \"broker_id\" in the secret. Nothing was changed"
    )]
    NoCurrentBrokerUser { broker_id: String, username: String },
    #[error(
        "user {username:?} on broker {broker_id:?} has a pending change ({change}) that goes \
         live only when the broker reboots; AWSCURRENT stays on the credentials that work. \
         Reboot the broker (or wait for its maintenance window) and let Secrets Manager retry \
         the rotation, or set \"reboot\": true in the secret to let userkeeper reboot it"
    )]
    Pending {
        broker_id: String,
        username: String,
        change: String,
    },
}

/// What a failed AWS call is called in metrics: the service's error code, or, where the call
/// got no answer, `Unreachable`.
fn api_code(e: &ApiError) -> String {
    e.code.clone().unwrap_or_else(|| "Unreachable".into())
}

impl ErrorCode for Error {
    fn code(&self) -> String {
        match self {
            Self::Api(e) => return api_code(e),
            Self::Props(_) => return INVALID_PROPERTIES.into(),
            _ => {}
        }
        match self {
            Self::NotOwned { .. }
            | Self::UpdateNotOwned { .. }
            | Self::NotOwnedOnBroker { .. }
            | Self::NotOwnedOnRabbitMq { .. }
            | Self::AdminUser { .. } => "NotOwned",
            Self::NeedsNewId { .. } => "NeedsReplacement",
            Self::Missing { .. }
            | Self::MissingOnBroker { .. }
            | Self::NoBroker(_)
            | Self::NoVirtualHost { .. } => "NotFound",
            Self::ManagementUnreachable { .. } => "Unreachable",
            Self::AdminRefused { .. } => "AdminRefused",
            Self::AdminSecretShape { .. } => "SecretUnreadable",
            Self::Management { status, .. } => return format!("RabbitMQ.{status}"),
            Self::InUse { .. } => "InUse",
            Self::BrokerTagsFull { .. } => "QuotaExceeded",
            Self::Secret(_) => "SecretUnreadable",
            _ => "Unsupported",
        }
        .into()
    }
}

impl RotateError {
    pub fn code(&self) -> String {
        match self {
            Self::Service(e) => e.code(),
            Self::NotBound { .. } => "NotBound".into(),
            Self::Pending { .. } => "ChangePending".into(),
            Self::NoUser { .. } | Self::NoBrokerUser { .. } | Self::NoCurrentBrokerUser { .. } => {
                "NotFound".into()
            }
            _ => "InvalidState".into(),
        }
    }
}

/// The metrics' `ErrorCode` of a rotator's failure (a `ServiceError`: whichever of the
/// services' error types it boxes).
pub fn code_of(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(e) = e.downcast_ref::<RotateError>() {
        e.code()
    } else if let Some(e) = e.downcast_ref::<Error>() {
        e.code()
    } else if let Some(e) = e.downcast_ref::<ApiError>() {
        api_code(e)
    } else if e.is::<crate::login::LoginError>() {
        "LoginFailed".into()
    } else if e.is::<crate::rotation::StoreError>() {
        "SecretsManagerError".into()
    } else {
        "ServiceError".into()
    }
}

impl From<ApiError> for RotateError {
    fn from(e: ApiError) -> Self {
        Self::Service(e.into())
    }
}
