//! Test helpers: a local stand-in for the pre-signed S3 ResponseURL, and event builders.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use userkeeper::cfn::Request;

#[derive(Clone, Debug)]
pub struct Put {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
}

impl Put {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("response body is JSON")
    }
}

/// Records every request and answers with the queued statuses (then 200).
pub struct Receiver {
    pub base: String,
    puts: Arc<Mutex<Vec<Put>>>,
}

impl Receiver {
    pub async fn start(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let puts = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let (p, q) = (puts.clone(), queue.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (p, q) = (p.clone(), q.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let target = first.next().unwrap_or_default().to_owned();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let status = q.lock().unwrap().pop_front().unwrap_or(200);
                    p.lock().unwrap().push(Put {
                        method,
                        target,
                        headers,
                        body: buf[head_end..].to_vec(),
                        status,
                    });
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { base, puts }
    }

    /// A URL shaped like a pre-signed S3 URL, whose signature must never be logged.
    pub fn url(&self, name: &str) -> String {
        format!(
            "{}/cfn-response/{name}?X-Amz-Expires=7200&X-Amz-Signature=SECRETSIG{name}",
            self.base
        )
    }

    pub fn puts(&self) -> Vec<Put> {
        self.puts.lock().unwrap().clone()
    }

    /// The single accepted (2xx) response; panics unless there is exactly one.
    pub fn accepted(&self) -> Put {
        let ok: Vec<_> = self.puts().into_iter().filter(|p| p.status < 300).collect();
        assert_eq!(ok.len(), 1, "expected exactly one accepted PUT, got {ok:?}");
        ok.into_iter().next().unwrap()
    }
}

/// A URL on a loopback port where nothing listens.
pub async fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/cfn-response/dead?X-Amz-Signature=SECRETSIGdead")
}

pub fn event(request_type: &str, resource_type: &str, url: &str, props: Value) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:userkeeper",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/app/guid",
        "RequestId": format!("req-{request_type}"),
        "LogicalResourceId": "AppUser",
        "ResourceType": resource_type,
        "ResourceProperties": props,
    })
}

pub fn request(v: Value) -> Request {
    Request::from_value(v).expect("valid request")
}

pub fn deadline_in(d: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + d
}

/// Sends `event` through the provider as an invocation with `within` left.
pub async fn handle(
    p: &userkeeper::cfn::Provider,
    event: Value,
    within: Duration,
) -> Result<Value, userkeeper::cfn::responder::DeliveryError> {
    let inv = userkeeper::cfn::Invocation {
        deadline: deadline_in(within),
        function_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:userkeeper".into()),
    };
    p.handle(&event, request(event.clone()), &inv).await
}
