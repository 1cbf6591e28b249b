//! The custom-resource request as CloudFormation sends it.
//!
//! Modelled here rather than taken from `aws_lambda_events` because that type prints the
//! ResponseURL in its `Debug` output and cannot represent a request whose `RequestType` is
//! unknown: we still owe CloudFormation a response for such a request, so the envelope
//! (everything needed to answer) is parsed apart from the request type and the properties.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

/// The pre-signed S3 URL. It is a credential, so it has no `Display` and a masked `Debug`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Where a response may go: `https` (CloudFormation's pre-signed S3 URLs always are), or
    /// plain `http` to a loopback address (the local loop and tests). A response carries the
    /// resource's `Data`, so a forged event must not direct it elsewhere.
    pub fn check(&self) -> Result<(), &'static str> {
        let url = reqwest::Url::parse(&self.0).map_err(|_| "it is not a URL")?;
        match url.scheme() {
            "https" => Ok(()),
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                if loopback {
                    Ok(())
                } else {
                    Err("plain http is allowed only to a loopback address")
                }
            }
            _ => Err("its scheme is not https"),
        }
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseUrl(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
        }
    }
}

/// A custom-resource request. Fields are the protocol's; see the CloudFormation user guide.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    #[serde(rename = "RequestType")]
    pub request_type_raw: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: ResponseUrl,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub resource_type: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Map<String, Value>,
    #[serde(default)]
    pub old_resource_properties: Option<Map<String, Value>>,
    /// Present when this invocation continues a request an earlier one started.
    #[serde(default, rename = "UserkeeperContinuation")]
    pub continuation: Option<super::continuation::Continuation>,
}

/// The envelope, and the properties' keys only: their values may be passwords.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        f.debug_struct("Request")
            .field("request_type", &self.request_type_raw)
            .field("response_url", &self.response_url)
            .field("stack_id", &self.stack_id)
            .field("request_id", &self.request_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("resource_type", &self.resource_type)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("resource_properties", &keys(&self.resource_properties))
            .field(
                "old_resource_properties",
                &self.old_resource_properties.as_ref().map(keys),
            )
            .field("continuation", &self.continuation)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(
        "not a CloudFormation custom-resource request: {0}. Check that the event is the one \
         CloudFormation sent (RequestType, ResponseURL, StackId, RequestId, LogicalResourceId, \
         ResourceType)"
    )]
    Envelope(String),
}

impl Request {
    pub fn from_value(value: Value) -> Result<Self, RequestError> {
        // serde's messages name the missing field and never quote values of this envelope,
        // but the ResponseURL is a value: do not let a type error echo it.
        serde_json::from_value(value).map_err(|e| {
            let msg = e.to_string();
            let msg = if msg.contains("http") {
                "a field has the wrong type".to_owned()
            } else {
                msg
            };
            RequestError::Envelope(msg)
        })
    }

    /// The request type, or an error message naming the field and the allowed values.
    pub fn request_type(&self) -> Result<RequestType, String> {
        match self.request_type_raw.as_str() {
            "Create" => Ok(RequestType::Create),
            "Update" => Ok(RequestType::Update),
            "Delete" => Ok(RequestType::Delete),
            other => Err(format!(
                "RequestType must be Create, Update or Delete, not {other:?}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "RequestType": "Update",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:userkeeper",
            "ResponseURL": "https://bucket.s3.amazonaws.com/key?X-Amz-Signature=SECRETSIG",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": "req-1",
            "LogicalResourceId": "AppUser",
            "PhysicalResourceId": "app-user",
            "ResourceType": "Custom::ElastiCacheUser",
            "ResourceProperties": {"ServiceToken": "arn", "UserId": "app-user",
                                   "Passwords": ["Planted-Secret-9876543"]},
            "OldResourceProperties": {"ServiceToken": "arn", "UserId": "old-user"}
        })
    }

    #[test]
    fn parses_an_update_and_hides_the_url_in_debug() {
        let req = Request::from_value(event()).unwrap();
        assert_eq!(req.request_type(), Ok(RequestType::Update));
        assert_eq!(req.physical_resource_id.as_deref(), Some("app-user"));
        assert_eq!(req.old_resource_properties.unwrap()["UserId"], "old-user");
        let debug = format!("{:?}", Request::from_value(event()).unwrap());
        assert!(!debug.contains("SECRETSIG"), "{debug}");
        assert!(!debug.contains("s3.amazonaws.com"), "{debug}");
        assert!(!debug.contains("Planted-Secret"), "{debug}");
        assert!(
            debug.contains("Passwords") && debug.contains("app-user"),
            "{debug}"
        );
    }

    #[test]
    fn only_https_or_loopback_http_may_receive_a_response() {
        for ok in [
            "https://bucket.s3.amazonaws.com/key?X-Amz-Signature=s",
            "http://127.0.0.1:9001/cfn-response/x",
            "http://localhost:9001/x",
            "http://[::1]:9001/x",
        ] {
            assert_eq!(ResponseUrl::new(ok).check(), Ok(()), "{ok}");
        }
        for bad in [
            "http://bucket.s3.amazonaws.com/key",
            "http://10.0.0.1/x",
            "http://127.0.0.1.example.com/x",
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(ResponseUrl::new(bad).check().is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_request_type_is_kept_so_we_can_still_answer() {
        let mut e = event();
        e["RequestType"] = json!("Bogus");
        let req = Request::from_value(e).unwrap();
        let err = req.request_type().unwrap_err();
        assert!(
            err.contains("RequestType") && err.contains("\"Bogus\""),
            "{err}"
        );
    }

    #[test]
    fn missing_envelope_field_is_named_and_url_never_echoed() {
        let mut e = event();
        e.as_object_mut().unwrap().remove("StackId");
        let err = Request::from_value(e).unwrap_err().to_string();
        assert!(err.contains("StackId"), "{err}");

        let mut e = event();
        e["StackId"] = json!(["https://bucket/key?X-Amz-Signature=SECRETSIG"]);
        e["ResponseURL"] = json!(42);
        let err = Request::from_value(e).unwrap_err().to_string();
        assert!(!err.contains("SECRETSIG"), "{err}");
    }
}
