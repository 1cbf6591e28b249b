//! The RabbitMQ management HTTP API, where a RabbitMQ broker's users live (Amazon MQ's user API
//! is ActiveMQ only), called as the broker's administrator over HTTPS with the logins' trust
//! store.
//!
//! Written over our own `reqwest` rather than the RabbitMQ team's `rabbitmq_http_client`: we
//! call eight endpoints with plain JSON, and that crate brings a second crypto library (`ring`,
//! beside aws-lc), `regex`, `time` and a newer minimum Rust, for a Lambda whose package and
//! cold start are measured in kilobytes and milliseconds.

use super::broker::Broker;
use super::rules::Permission;
use crate::login::Login;
use crate::redact::Secret;
use crate::services::error::Error;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Credentials for the management API.
pub(super) struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Builds the HTTPS client on first use: most invocations never call RabbitMQ.
pub(super) struct Management {
    login: Arc<Login>,
    http: OnceLock<reqwest::Client>,
}

/// The management API of one broker, as its administrator.
pub(super) struct Session {
    http: reqwest::Client,
    /// The console endpoint that answered.
    pub base: String,
    admin: Credentials,
}

/// A RabbitMQ user, as `GET /api/users/{name}` shows it.
#[derive(Debug, Deserialize)]
pub(super) struct UserInfo {
    #[serde(deserialize_with = "tag_list")]
    pub tags: Vec<String>,
    /// Absent only from a server that does not show it; then the tags cannot be set without
    /// the password (`set_tags` refuses).
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    hashing_algorithm: Option<String>,
}

/// What the management API says of a user's password.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Authenticated {
    Yes,
    /// Accepted, and the user may not use the management API (no management tag): still proof
    /// that the password works.
    YesWithoutManagement,
    Refused(String),
}

/// RabbitMQ 3.9 and later answer a list; earlier ones a comma-separated string.
fn tag_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    })
}

/// The error and its causes, without the URL (reqwest puts it in its Display).
fn describe(e: reqwest::Error) -> String {
    crate::error::chain(&e.without_url())
}

impl Management {
    pub(super) fn new(login: Arc<Login>) -> Self {
        Self {
            login,
            http: OnceLock::new(),
        }
    }

    fn http(&self) -> Result<reqwest::Client, Error> {
        if let Some(http) = self.http.get() {
            return Ok(http.clone());
        }
        let tls = self.login.tls_config().map_err(|e| Error::Management {
            op: "TLS setup".into(),
            status: 0,
            reason: e.to_string(),
        })?;
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Management {
                op: "client setup".into(),
                status: 0,
                reason: describe(e),
            })?;
        Ok(self.http.get_or_init(|| http).clone())
    }

    /// A session with the first of the broker's console endpoints that answers.
    pub(super) async fn open(
        &self,
        broker: &Broker,
        admin: Credentials,
        admin_secret: &str,
    ) -> Result<Session, Error> {
        let http = self.http()?;
        let mut failures = Vec::new();
        for console in https_only(&broker.consoles, &mut failures) {
            let answer = http
                .get(format!("{console}/api/whoami"))
                .basic_auth(&admin.username, Some(admin.password.expose()))
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {
                    return Ok(Session {
                        http,
                        base: console.clone(),
                        admin,
                    });
                }
                Ok(r) if matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                    return Err(Error::AdminRefused {
                        broker_id: broker.id.clone(),
                        secret: admin_secret.to_owned(),
                        status: r.status().as_u16(),
                    });
                }
                Ok(r) => failures.push(format!("{console}: HTTP {}", r.status().as_u16())),
                Err(e) => failures.push(format!("{console}: {}", describe(e))),
            }
        }
        Err(Error::ManagementUnreachable {
            broker_id: broker.id.clone(),
            tried: if broker.consoles.is_empty() {
                "DescribeBroker gave no ConsoleURL".into()
            } else {
                broker.consoles.join(", ")
            },
            message: failures.join("; "),
        })
    }

    /// Whether `user` authenticates with `password`, by the management API's own check
    /// (`GET /api/whoami` as that user).
    pub(super) async fn authenticates(
        &self,
        broker: &Broker,
        user: &str,
        password: &Secret,
    ) -> Result<Authenticated, Error> {
        let http = self.http()?;
        let mut failures = Vec::new();
        for console in https_only(&broker.consoles, &mut failures) {
            let answer = http
                .get(format!("{console}/api/whoami"))
                .basic_auth(user, Some(password.expose()))
                .send()
                .await;
            let r = match answer {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{console}: {}", describe(e)));
                    continue;
                }
            };
            let status = r.status();
            if status.is_success() {
                return Ok(Authenticated::Yes);
            }
            let reason = reason(r).await;
            // RabbitMQ checks the password first, then the management tag, and says which
            // failed (rabbit_mgmt_util:is_authorized).
            return Ok(match status {
                StatusCode::UNAUTHORIZED if reason.contains("Not management user") => {
                    Authenticated::YesWithoutManagement
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Authenticated::Refused(reason),
                _ => {
                    return Err(Error::Management {
                        op: "GET /api/whoami".into(),
                        status: status.as_u16(),
                        reason,
                    });
                }
            });
        }
        Err(Error::ManagementUnreachable {
            broker_id: broker.id.clone(),
            tried: broker.consoles.join(", "),
            message: failures.join("; "),
        })
    }
}

/// The console endpoints credentials may be sent to: HTTPS ones. Amazon MQ's are; anything
/// else is noted among the failures and skipped.
fn https_only<'a>(consoles: &'a [String], failures: &mut Vec<String>) -> Vec<&'a String> {
    consoles
        .iter()
        .filter(|c| {
            let https = c.starts_with("https://");
            if !https {
                failures.push(format!("{c}: not HTTPS, so no credentials were sent"));
            }
            https
        })
        .collect()
}

/// RabbitMQ's `{"error": ..., "reason": ...}`, or the start of whatever it answered.
async fn reason(r: reqwest::Response) -> String {
    let text = r.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or(text);
    reason.chars().take(300).collect()
}

impl Session {
    /// `{base}/api/<segments>`, each segment percent-encoded (a virtual host named `/`
    /// becomes `%2F`).
    fn url(&self, segments: &[&str]) -> Result<url::Url, Error> {
        let bad = |reason: String| Error::Management {
            op: "URL".into(),
            status: 0,
            reason,
        };
        let mut url = url::Url::parse(&self.base)
            .map_err(|e| bad(format!("console URL {}: {e}", self.base)))?;
        url.path_segments_mut()
            .map_err(|()| bad(format!("console URL {} cannot take a path", self.base)))?
            .pop_if_empty()
            .push("api")
            .extend(segments);
        Ok(url)
    }

    /// One call; `Ok(None)` for a 404 where `missing_ok`.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
        missing_ok: bool,
    ) -> Result<Option<String>, Error> {
        let op = || {
            format!(
                "{method} /api/{}",
                segments.first().copied().unwrap_or_default()
            )
        };
        let mut request = self
            .http
            .request(method.clone(), self.url(segments)?)
            .basic_auth(&self.admin.username, Some(self.admin.password.expose()));
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let r = request.send().await.map_err(|e| Error::Management {
            op: op(),
            status: 0,
            reason: describe(e),
        })?;
        let status = r.status();
        if status == StatusCode::NOT_FOUND && missing_ok {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Error::Management {
                op: op(),
                status: status.as_u16(),
                reason: reason(r).await,
            });
        }
        Ok(Some(r.text().await.map_err(|e| Error::Management {
            op: op(),
            status: status.as_u16(),
            reason: describe(e),
        })?))
    }

    fn parse<T: serde::de::DeserializeOwned>(op: &str, text: &str) -> Result<T, Error> {
        serde_json::from_str(text).map_err(|e| Error::Management {
            op: op.into(),
            status: 200,
            reason: format!("unexpected answer: {e}"),
        })
    }

    pub(super) async fn user(&self, name: &str) -> Result<Option<UserInfo>, Error> {
        match self.call(Method::GET, &["users", name], None, true).await? {
            Some(text) => Ok(Some(Self::parse("GET /api/users", &text)?)),
            None => Ok(None),
        }
    }

    /// Creates the user, or sets its password and tags.
    pub(super) async fn put_user(
        &self,
        name: &str,
        password: &Secret,
        tags: &[String],
    ) -> Result<(), Error> {
        let body = json!({"password": password.expose(), "tags": tags.join(",")});
        self.call(Method::PUT, &["users", name], Some(body), false)
            .await
            .map(drop)
    }

    /// Sets the tags of an existing user and leaves its password as it is: a PUT without a
    /// password would leave the user none, so the hash read from it is sent back.
    pub(super) async fn set_tags(
        &self,
        name: &str,
        user: &UserInfo,
        tags: &[String],
    ) -> Result<(), Error> {
        // A PUT without a password or its hash leaves the user none.
        let hash = user
            .password_hash
            .as_deref()
            .ok_or_else(|| Error::Management {
                op: format!("GET /api/users/{name}"),
                status: 200,
                reason: "the answer has no password_hash, so the user's tags cannot be changed \
                     without resetting its password"
                    .into(),
            })?;
        let mut body = json!({"password_hash": hash, "tags": tags.join(",")});
        if let Some(algorithm) = &user.hashing_algorithm {
            body["hashing_algorithm"] = json!(algorithm);
        }
        self.call(Method::PUT, &["users", name], Some(body), false)
            .await
            .map(drop)
    }

    /// Deletes the user (RabbitMQ drops its permissions with it); absent is success.
    pub(super) async fn delete_user(&self, name: &str) -> Result<(), Error> {
        self.call(Method::DELETE, &["users", name], None, true)
            .await
            .map(drop)
    }

    pub(super) async fn vhost_exists(&self, vhost: &str) -> Result<bool, Error> {
        Ok(self
            .call(Method::GET, &["vhosts", vhost], None, true)
            .await?
            .is_some())
    }

    pub(super) async fn permissions(&self, name: &str) -> Result<Vec<Permission>, Error> {
        #[derive(Deserialize)]
        struct Entry {
            vhost: String,
            configure: String,
            write: String,
            read: String,
        }
        let Some(text) = self
            .call(Method::GET, &["users", name, "permissions"], None, true)
            .await?
        else {
            return Ok(Vec::new());
        };
        let entries: Vec<Entry> = Self::parse("GET /api/users/permissions", &text)?;
        Ok(entries
            .into_iter()
            .map(|e| Permission {
                virtual_host: e.vhost,
                configure: e.configure,
                write: e.write,
                read: e.read,
            })
            .collect())
    }

    pub(super) async fn set_permission(&self, name: &str, p: &Permission) -> Result<(), Error> {
        let body = json!({"configure": p.configure, "write": p.write, "read": p.read});
        self.call(
            Method::PUT,
            &["permissions", &p.virtual_host, name],
            Some(body),
            false,
        )
        .await
        .map(drop)
    }

    pub(super) async fn clear_permission(&self, name: &str, vhost: &str) -> Result<(), Error> {
        self.call(Method::DELETE, &["permissions", vhost, name], None, true)
            .await
            .map(drop)
    }

    /// Brings `name`'s permissions to `want`: sets what differs, clears virtual hosts not in it.
    pub(super) async fn converge_permissions(
        &self,
        name: &str,
        want: &[Permission],
    ) -> Result<(), Error> {
        let have = self.permissions(name).await?;
        for p in want {
            if !have.contains(p) {
                self.set_permission(name, p).await?;
            }
        }
        for p in &have {
            if !want.iter().any(|w| w.virtual_host == p.virtual_host) {
                self.clear_permission(name, &p.virtual_host).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_as_list_or_string() {
        let u: UserInfo = serde_json::from_str(
            r#"{"name":"a","tags":["management","userkeeper:owner=g/L"],"password_hash":"h"}"#,
        )
        .unwrap();
        assert_eq!(u.tags, vec!["management", "userkeeper:owner=g/L"]);
        let u: UserInfo =
            serde_json::from_str(r#"{"name":"a","tags":"administrator, monitoring"}"#).unwrap();
        assert_eq!(u.tags, vec!["administrator", "monitoring"]);
        let u: UserInfo = serde_json::from_str(r#"{"name":"a","tags":""}"#).unwrap();
        assert!(u.tags.is_empty());
    }

    #[test]
    fn credentials_go_to_https_consoles_only() {
        let consoles = vec!["http://b-1:15672".to_owned(), "https://b-2".to_owned()];
        let mut failures = Vec::new();
        assert_eq!(https_only(&consoles, &mut failures), vec!["https://b-2"]);
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("not HTTPS"), "{failures:?}");
    }

    #[test]
    fn path_segments_are_encoded() {
        let s = Session {
            http: reqwest::Client::new(),
            base: "https://b-1.mq.us-east-1.amazonaws.com/".into(),
            admin: Credentials {
                username: "admin".into(),
                password: Secret::new("x"),
            },
        };
        let url = s.url(&["permissions", "/", "app~1"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://b-1.mq.us-east-1.amazonaws.com/api/permissions/%2F/app~1"
        );
        let url = s.url(&["vhosts", "a b/c"]).unwrap();
        assert!(url.as_str().ends_with("/api/vhosts/a%20b%2Fc"), "{url}");
    }
}
