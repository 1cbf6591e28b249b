//! Delivers the response: one HTTP PUT to the pre-signed ResponseURL, retried on transient
//! failures, bounded by the invocation's deadline.
//!
//! Hand-written rather than a retry crate because the policy is tied to the protocol: give up
//! at a wall-clock instant (not after N tries), never retry a 4xx from S3 (an expired or
//! tampered signature will not heal), and never let the URL into an error message.

use super::request::ResponseUrl;
use std::time::Duration;
use tokio::time::Instant;

const ATTEMPT_TIMEOUT_MAX: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(4);
const FIRST_ATTEMPT_MIN: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "the ResponseURL refused the response with HTTP {status}; a pre-signed URL expires \
         about 2 hours after CloudFormation sent the request, so the stack operation has \
         likely timed out already"
    )]
    Rejected { status: u16 },
    #[error(
        "could not deliver the response to the ResponseURL in {attempts} attempt(s) before \
         the invocation deadline (last error: {last}); returning an error so that Lambda \
         retries the event. A function in a VPC needs a NAT gateway or an S3 gateway endpoint"
    )]
    GaveUp { attempts: u32, last: String },
    #[error(
        "the event's ResponseURL is refused ({0}); CloudFormation always sends an https URL, so \
         this event was not sent by CloudFormation. Nothing was done and no response was sent"
    )]
    NotAllowed(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Tls(#[from] crate::tls::NoTrustedRoots),
    #[error("could not set up the HTTPS client: {0}")]
    Client(#[from] reqwest::Error),
}

#[derive(Clone)]
pub struct Responder {
    http: reqwest::Client,
}

impl Responder {
    pub fn new() -> Result<Self, SetupError> {
        // The process's one TLS configuration (crate::tls), with the ALPN reqwest would set.
        let mut tls = (*crate::tls::system()?).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(3))
            // A pre-signed URL answers, it does not redirect: a redirect would send the
            // response somewhere CloudFormation did not name.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http })
    }

    /// PUTs `body` until S3 accepts it or `give_up_at` passes. Returns the number of attempts.
    pub async fn put(
        &self,
        url: &ResponseUrl,
        body: Vec<u8>,
        give_up_at: Instant,
    ) -> Result<u32, DeliveryError> {
        let mut attempts = 0u32;
        let mut backoff = BACKOFF_FIRST;
        let mut last = String::new();
        // A response is owed even when the deadline has (by the clock we were given) passed
        // already: one short attempt costs nothing and may still land.
        let give_up_at = give_up_at.max(Instant::now() + FIRST_ATTEMPT_MIN);
        loop {
            let left = give_up_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DeliveryError::GaveUp { attempts, last });
            }
            attempts += 1;
            let sent = self
                .http
                .put(url.expose())
                // S3 signs the Content-Type: any value other than empty breaks the signature.
                .header(reqwest::header::CONTENT_TYPE, "")
                .body(body.clone())
                .timeout(left.min(ATTEMPT_TIMEOUT_MAX))
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => return Ok(attempts),
                Ok(resp) => {
                    let status = resp.status();
                    if (status.is_client_error() || status.is_redirection())
                        && status != reqwest::StatusCode::REQUEST_TIMEOUT
                        && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                    {
                        return Err(DeliveryError::Rejected {
                            status: status.as_u16(),
                        });
                    }
                    last = format!("HTTP {}", status.as_u16());
                }
                Err(e) => last = describe(e),
            }
            tracing::warn!(attempt = attempts, error = %last, "response delivery failed; retrying");
            // Jitter keeps many resources of one stack from retrying in lock-step.
            let half = backoff / 2;
            let sleep = half + half.mul_f64(fastrand::f64());
            let left = give_up_at.saturating_duration_since(Instant::now());
            if sleep >= left {
                return Err(DeliveryError::GaveUp { attempts, last });
            }
            tokio::time::sleep(sleep).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

/// The error and its causes, without the URL (reqwest puts the URL in its Display).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = kind.to_owned();
    let e = e.without_url();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !text.contains("http://") && !text.contains("https://") {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
