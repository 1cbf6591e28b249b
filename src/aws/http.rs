//! The HTTPS client every SDK client shares: reqwest, on the process's one TLS configuration
//! (`crate::tls`).
//!
//! The SDK's default client builds its own TLS configuration, loading and parsing the system
//! trust store again, and it takes a ready-made rustls configuration only through its unstable
//! API (`aws_sdk_unstable`). Its `HttpClient` trait is stable, so it is implemented here on
//! reqwest, the ResponseURL's client already: one HTTP stack and one trust-store load per
//! process. What the SDK's client does is kept: HTTP/1.1 over rustls on aws-lc, the proxy from
//! the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), the connect and read
//! timeouts the SDK asks for, no redirects, and transport failures classified as the SDK
//! classifies them, so that its retry strategy retries the same ones.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::collections::HashMap;
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The client `main` gives aws-config, and so every SDK client made from its configuration.
pub fn client() -> Result<SharedHttpClient, crate::tls::NoTrustedRoots> {
    let mut tls = (*crate::tls::system()?).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(SharedHttpClient::new(Client {
        tls,
        connectors: Mutex::default(),
    }))
}

/// Connect timeout, read timeout.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct Client {
    tls: rustls::ClientConfig,
    /// One connector (and connection pool) per timeout setting, as the SDK's client keeps.
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl Client {
    fn connector(
        &self,
        connect_timeout: Option<Duration>,
        read_timeout: Option<Duration>,
    ) -> Connector {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls.clone())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(timeout) = connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        Connector {
            http: builder.build().map_err(Arc::new),
            read_timeout,
        }
    }
}

impl HttpClient for Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(self.connector(key.0, key.1)))
            .clone()
    }
}

#[derive(Debug)]
struct Connector {
    /// An error here (none is known with these settings) fails each request, as a connector
    /// cannot fail to exist.
    http: Result<reqwest::Client, Arc<reqwest::Error>>,
    read_timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
#[error("no response within the read timeout ({0:?})")]
struct ReadTimeout(Duration);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = match &self.http {
            Ok(http) => http.clone(),
            Err(e) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::other(
                    e.clone().into(),
                    None,
                )));
            }
        };
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?
                .map(reqwest::Body::wrap);
            let request =
                reqwest::Request::try_from(request).map_err(|e| ConnectorError::user(e.into()))?;
            // As the SDK's read timeout: until the response's head, not its whole body.
            let sent = http.execute(request);
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sent)
                    .await
                    .map_err(|_| ConnectorError::timeout(ReadTimeout(limit).into()))?,
                None => sent.await,
            }
            .map_err(classify)?;
            HttpResponse::try_from(http::Response::from(response).map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// What the SDK's own client reports for the same failure: a timeout, an I/O error (the
/// connection refused, reset or closed under the request) or a transient error, which its
/// retry strategy retries; anything else is not retried.
fn classify(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        return ConnectorError::timeout(e.into());
    }
    if e.is_builder() {
        return ConnectorError::user(e.into());
    }
    let mut io = e.is_connect();
    let mut incomplete = false;
    let mut source: Option<&(dyn Error + 'static)> = Some(&e);
    while let Some(s) = source {
        io |= s.is::<std::io::Error>();
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            io |= h.is_closed() || h.is_canceled();
            // A keep-alive connection the server closed as the request went out.
            incomplete |= h.is_incomplete_message();
        }
        source = s.source();
    }
    if io {
        ConnectorError::io(e.into())
    } else if incomplete {
        ConnectorError::other(e.into(), Some(ErrorKind::TransientError))
    } else {
        ConnectorError::other(e.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::byte_stream::ByteStream;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// The client with no trusted CA: these tests speak plain HTTP to a local server.
    fn connector(read_timeout: Option<Duration>) -> Connector {
        Client {
            tls: (*crate::tls::config_with(Arc::new(rustls::RootCertStore::empty()))).clone(),
            connectors: Mutex::default(),
        }
        .connector(Some(Duration::from_secs(3)), read_timeout)
    }

    fn request(port: u16, body: &'static str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body));
        request.set_method("POST").unwrap();
        request
            .set_uri(format!("http://127.0.0.1:{port}/the/path?x=1"))
            .unwrap();
        request
            .headers_mut()
            .insert("content-length", body.len().to_string());
        request
            .headers_mut()
            .insert("x-amz-target", "secretsmanager.GetSecretValue");
        request
    }

    /// Reads one request, head and `Content-Length` body, off `stream`.
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending a whole request");
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.parse().unwrap());
                if body.len() >= length {
                    return text;
                }
            }
        }
    }

    #[tokio::test]
    async fn a_request_goes_out_as_the_sdk_made_it_and_the_answer_comes_back_unfollowed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let seen = read_request(&mut s).await;
            s.write_all(
                b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/\r\n\
                  x-amzn-requestid: r-1\r\ncontent-length: 7\r\n\r\n{\"a\":1}",
            )
            .await
            .unwrap();
            seen
        });
        let response = connector(None)
            .call(request(port, "{\"SecretId\":\"s\"}"))
            .await
            .unwrap();
        // A redirect is the service's answer to the SDK, not a place to send signed requests.
        assert_eq!(response.status().as_u16(), 307);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r-1"));
        let body = ByteStream::new(response.into_body())
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(&body[..], b"{\"a\":1}");
        let seen = server.await.unwrap();
        assert!(
            seen.starts_with("POST /the/path?x=1 HTTP/1.1\r\n"),
            "{seen}"
        );
        assert!(seen.contains("\r\nx-amz-target: secretsmanager.GetSecretValue\r\n"));
        assert!(seen.contains("\r\ncontent-length: 16\r\n"), "{seen}");
        assert!(seen.ends_with("\r\n\r\n{\"SecretId\":\"s\"}"), "{seen}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = connector(None).call(request(port, "")).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
    }

    #[tokio::test]
    async fn no_answer_within_the_read_timeout_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            read_request(&mut s).await;
            // Holds the connection open without answering until the client gives up.
            let _ = s.read(&mut [0u8; 1]).await;
        });
        let err = connector(Some(Duration::from_millis(200)))
            .call(request(port, "x"))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        server.await.unwrap();
    }

    /// The case that matters on a warm Lambda: a pooled keep-alive connection the server has
    /// closed by the time the next request goes out on it.
    #[tokio::test]
    async fn a_pooled_connection_closed_under_a_request_is_retryable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            read_request(&mut s).await;
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            // The second request arrives on the same connection, and is not answered.
            read_request(&mut s).await;
        });
        let connector = connector(None);
        let first = connector.call(request(port, "one")).await.unwrap();
        // Read to its end, the connection goes back to the pool.
        ByteStream::new(first.into_body()).collect().await.unwrap();
        let second = connector.call(request(port, "two"));
        let err = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the second request went out on the pooled connection")
            .unwrap_err();
        assert!(
            err.is_io() || err.as_other() == Some(ErrorKind::TransientError),
            "{err:?}"
        );
        server.await.unwrap();
    }
}
