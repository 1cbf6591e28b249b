//! Logging in to a data store with candidate credentials: testSecret's proof that a password
//! works, not only that an API call was accepted.
//!
//! - Redis/Valkey (ElastiCache, MemoryDB): `AUTH username password` then `PING`, through the
//!   `redis` crate's async connection over a stream we open ourselves.
//! - ActiveMQ (Amazon MQ): a STOMP `CONNECT` (port 61614 on Amazon MQ, `stomp+ssl`). STOMP is
//!   the simplest protocol every Amazon MQ ActiveMQ broker listens on; the login is one frame
//!   and one answer (`CONNECTED` or `ERROR`), so it is written here rather than pulling in a
//!   messaging client (the STOMP crates on crates.io are unmaintained or lack TLS).
//!
//! - RabbitMQ (Amazon MQ for RabbitMQ): the AMQP 0-9-1 connection handshake (`amqp`), to
//!   `Open-Ok` and closed: RabbitMQ authenticates at `Start-Ok`, so an opened connection is a
//!   login.
//!
//! TLS is set up here once for all of them (and for the RabbitMQ management API's client), so that one trust store (the system's, plus
//! `USERKEEPER_TLS_CA_FILE` for private CAs and tests) applies everywhere.

mod amqp;

use crate::redact::Secret;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::either::Either;

/// A login gets this long, connection and TLS included.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a STOMP answer read: a `CONNECTED` or `ERROR` frame is far smaller.
const MAX_FRAME: usize = 64 * 1024;

pub const CA_FILE_ENV: &str = "USERKEEPER_TLS_CA_FILE";

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "{CA_FILE_ENV}={path}: {message}; point it at a PEM file of CA certificates, or unset it"
    )]
    CaFile { path: String, message: String },
    #[error("TLS is not usable: {0}")]
    Tls(String),
    #[error(
        "could not connect to {host}:{port}: {message}. A function in a VPC needs a route and a \
         security-group rule to the data store, and the port must be the one it listens on"
    )]
    Connect {
        host: String,
        port: u16,
        message: String,
    },
    #[error(
        "TLS with {host}:{port} failed: {message}. If the endpoint does not use TLS, set \
         \"tls\": false in the secret; for a private CA, set {CA_FILE_ENV}"
    )]
    Handshake {
        host: String,
        port: u16,
        message: String,
    },
    #[error("{host}:{port} refused the login of user {user}: {reply}")]
    Refused {
        host: String,
        port: u16,
        user: String,
        reply: String,
    },
    #[error("{host}:{port} answered the login of user {user} unexpectedly: {reply}")]
    Protocol {
        host: String,
        port: u16,
        user: String,
        reply: String,
    },
    #[error("the login to {host}:{port} took longer than {secs} s", secs = LOGIN_TIMEOUT.as_secs())]
    Timeout { host: String, port: u16 },
}

/// Where and how to log in.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: bool,
}

/// Builds its TLS configuration once, on first use: most invocations never log in, and adding
/// a CA file's certificates to the process's roots copies them.
pub struct Login {
    ca_file: Option<PathBuf>,
    config: Mutex<Option<Arc<rustls::ClientConfig>>>,
}

impl Login {
    /// Reads `USERKEEPER_TLS_CA_FILE` (not the file itself, yet).
    pub fn from_env() -> Self {
        Self::new(std::env::var_os(CA_FILE_ENV).map(PathBuf::from))
    }

    pub fn new(ca_file: Option<PathBuf>) -> Self {
        Self {
            ca_file,
            config: Mutex::new(None),
        }
    }

    /// `AUTH user password`, then `PING`, on a new connection.
    pub async fn redis(
        &self,
        to: Target<'_>,
        user: &str,
        password: &Secret,
    ) -> Result<(), LoginError> {
        let info = redis::RedisConnectionInfo::default()
            .set_username(user)
            .set_password(password.expose())
            .set_skip_set_lib_name();
        let refused = |e: redis::RedisError| {
            let reply = e.to_string();
            if e.kind() == redis::ErrorKind::AuthenticationFailed || reply.contains("WRONGPASS") {
                LoginError::Refused {
                    host: to.host.to_owned(),
                    port: to.port,
                    user: user.to_owned(),
                    reply,
                }
            } else {
                LoginError::Protocol {
                    host: to.host.to_owned(),
                    port: to.port,
                    user: user.to_owned(),
                    // A TLS-only port resets a plain-text client: say what to change.
                    reply: if to.tls {
                        reply
                    } else {
                        format!(
                            "{reply}; if the endpoint uses TLS (ElastiCache and MemoryDB with \
                             in-transit encryption do), remove \"tls\": false from the secret"
                        )
                    },
                }
            }
        };
        self.with_stream(to, async |stream| {
            let (mut conn, driver) = redis::aio::MultiplexedConnection::new_with_config(
                &info,
                stream,
                redis::AsyncConnectionConfig::new(),
            )
            .await
            .map_err(refused)?;
            let driver = tokio::spawn(driver);
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
            driver.abort();
            pong.map(drop).map_err(refused)
        })
        .await
    }

    /// A STOMP `CONNECT` with `login`/`passcode`; `CONNECTED` is success.
    pub async fn stomp(
        &self,
        to: Target<'_>,
        user: &str,
        password: &Secret,
    ) -> Result<(), LoginError> {
        self.with_stream(to, async |mut stream| {
            // The STOMP 1.2 spec leaves CONNECT headers unescaped, but ActiveMQ (the only engine
            // with MQ users) unescapes them anyway, even for 1.0 clients: a `\` in a password
            // must be sent as `\\` or the login fails. Tested against ActiveMQ 5.17.
            let frame = format!(
                "CONNECT\naccept-version:1.0,1.1,1.2\nhost:{}\nlogin:{}\npasscode:{}\n\
                 heart-beat:0,0\n\n\0",
                to.host,
                stomp_escape(user),
                stomp_escape(password.expose())
            );
            let io = |e: std::io::Error| LoginError::Connect {
                host: to.host.to_owned(),
                port: to.port,
                message: e.to_string(),
            };
            stream.write_all(frame.as_bytes()).await.map_err(io)?;
            stream.flush().await.map_err(io)?;
            let answer = read_frame(&mut stream).await.map_err(io)?;
            let (command, headers) = parse_frame(&answer);
            let reply = |fallback: &str| {
                headers
                    .iter()
                    .find(|(k, _)| *k == "message")
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_else(|| fallback.to_owned())
            };
            match command {
                "CONNECTED" => {
                    let _ = stream.write_all(b"DISCONNECT\n\n\0").await;
                    let _ = stream.shutdown().await;
                    Ok(())
                }
                "ERROR" => Err(LoginError::Refused {
                    host: to.host.to_owned(),
                    port: to.port,
                    user: user.to_owned(),
                    reply: reply("ERROR frame without a message"),
                }),
                _ if is_tls_record(&answer) => Err(LoginError::Protocol {
                    host: to.host.to_owned(),
                    port: to.port,
                    user: user.to_owned(),
                    reply: "a TLS record: the port speaks TLS, remove \"tls\": false from the \
                            secret"
                        .into(),
                }),
                other => Err(LoginError::Protocol {
                    host: to.host.to_owned(),
                    port: to.port,
                    user: user.to_owned(),
                    reply: format!("a {:?} frame", other.chars().take(40).collect::<String>()),
                }),
            }
        })
        .await
    }

    /// Opens an AMQP 0-9-1 connection to `vhost` as `user`, and closes it (see `amqp`). An
    /// endpoint that cannot be reached is [`LoginError::Connect`] or [`LoginError::Timeout`],
    /// told apart from one that answers and refuses. A virtual host refused after the password
    /// was accepted (`530 NOT_ALLOWED`) is a login: the password is what is tested.
    pub async fn amqp(
        &self,
        to: Target<'_>,
        vhost: &str,
        user: &str,
        password: &Secret,
    ) -> Result<AmqpLogin, LoginError> {
        let mut outcome = None;
        self.with_stream(to, async |mut stream| {
            let io = |e: std::io::Error| LoginError::Protocol {
                host: to.host.to_owned(),
                port: to.port,
                user: user.to_owned(),
                reply: format!("the connection failed during the AMQP handshake: {e}"),
            };
            let done = amqp::login(&mut stream, vhost, user, password.expose())
                .await
                .map_err(io)?;
            let _ = stream.shutdown().await;
            outcome = Some(done);
            Ok(())
        })
        .await?;
        let refused = |reply: String| LoginError::Refused {
            host: to.host.to_owned(),
            port: to.port,
            user: user.to_owned(),
            reply,
        };
        match outcome {
            Some(amqp::Handshake::Opened) => Ok(AmqpLogin::Opened),
            Some(amqp::Handshake::Closed {
                after: amqp::Step::VirtualHost,
                code: 530,
                ..
            }) => Ok(AmqpLogin::NoVhostAccess),
            Some(amqp::Handshake::Closed { code, text, .. }) => {
                Err(refused(format!("{code} {text}")))
            }
            Some(amqp::Handshake::Unexpected(what)) => Err(LoginError::Protocol {
                host: to.host.to_owned(),
                port: to.port,
                user: user.to_owned(),
                reply: what,
            }),
            None => Err(refused("no answer".into())),
        }
    }

    /// Connects (with TLS if asked) and runs `talk` on the stream, all within the timeout.
    async fn with_stream<F>(&self, to: Target<'_>, talk: F) -> Result<(), LoginError>
    where
        F: AsyncFnOnce(Stream) -> Result<(), LoginError>,
    {
        let work =
            async {
                let tcp = TcpStream::connect((to.host, to.port)).await.map_err(|e| {
                    LoginError::Connect {
                        host: to.host.to_owned(),
                        port: to.port,
                        message: e.to_string(),
                    }
                })?;
                let _ = tcp.set_nodelay(true);
                let stream =
                    if to.tls {
                        let name = ServerName::try_from(to.host.to_owned()).map_err(|_| {
                            LoginError::Handshake {
                                host: to.host.to_owned(),
                                port: to.port,
                                message: "the host is not a valid DNS name or IP address".into(),
                            }
                        })?;
                        let connector = tokio_rustls::TlsConnector::from(self.tls_config()?);
                        let tls = connector.connect(name, tcp).await.map_err(|e| {
                            LoginError::Handshake {
                                host: to.host.to_owned(),
                                port: to.port,
                                message: e.to_string(),
                            }
                        })?;
                        Either::Right(Box::new(tls))
                    } else {
                        Either::Left(tcp)
                    };
                talk(stream).await
            };
        tokio::time::timeout(LOGIN_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| {
                Err(LoginError::Timeout {
                    host: to.host.to_owned(),
                    port: to.port,
                })
            })
    }

    /// The TLS configuration of every login, and of the RabbitMQ management API: the
    /// process's trusted CAs (`crate::tls`, loaded once for all its clients), plus those of
    /// `USERKEEPER_TLS_CA_FILE`. Built on first use.
    pub fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, LoginError> {
        let mut cached = self.config.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = &*cached {
            return Ok(config.clone());
        }
        let mut roots = crate::tls::system_roots().clone();
        if let Some(path) = &self.ca_file {
            let ca_error = |message: String| LoginError::CaFile {
                path: path.display().to_string(),
                message,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_error(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("it holds no certificate".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            }
        }
        if roots.is_empty() {
            return Err(LoginError::Tls(format!(
                "no trusted CA certificates: the system has none readable; set {CA_FILE_ENV}"
            )));
        }
        let config = crate::tls::config_with(Arc::new(roots));
        *cached = Some(config.clone());
        Ok(config)
    }
}

/// How an AMQP login went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmqpLogin {
    /// The connection opened.
    Opened,
    /// The password was accepted and the virtual host refused (the user has no access there).
    NoVhostAccess,
}

/// A connection, with or without TLS (`Either` forwards reads and writes to the one it holds).
type Stream = Either<TcpStream, Box<tokio_rustls::client::TlsStream<TcpStream>>>;

/// Reads one STOMP frame (up to its NUL), skipping heart-beat newlines before it.
async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut frame = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return if frame.iter().all(u8::is_ascii_whitespace) {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without answering the STOMP CONNECT \
                     (is this a STOMP port?)",
                ))
            } else {
                Ok(frame)
            };
        }
        if let Some(end) = buf[..n].iter().position(|b| *b == 0) {
            frame.extend_from_slice(&buf[..end]);
            return Ok(frame);
        }
        frame.extend_from_slice(&buf[..n]);
        if frame.len() > MAX_FRAME {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the answer to the STOMP CONNECT is not a STOMP frame (too long)",
            ));
        }
    }
}

/// A STOMP header value as ActiveMQ reads it (backslash, newline and colon escaped).
fn stomp_escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace(':', "\\c")
}

/// Whether bytes read as a STOMP answer are a TLS record (an alert, a handshake): a plain-text
/// client talking to a TLS port.
fn is_tls_record(answer: &[u8]) -> bool {
    matches!(answer, [0x15 | 0x16, 0x03, ..])
}

/// A frame's command and headers (the body is not needed).
fn parse_frame(frame: &[u8]) -> (&str, Vec<(&str, &str)>) {
    let text = std::str::from_utf8(frame).unwrap_or("");
    let mut lines = text
        .trim_start_matches(['\r', '\n'])
        .split('\n')
        .map(|l| l.trim_end_matches('\r'));
    let command = lines.next().unwrap_or("");
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .collect();
    (command, headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_headers_are_escaped_as_activemq_reads_them() {
        assert_eq!(stomp_escape(r"a\b"), r"a\\b");
        assert_eq!(stomp_escape("a\nb:c"), r"a\nb\cc");
        assert!(is_tls_record(&[0x15, 0x03, 0x03, 0x00]));
        assert!(!is_tls_record(b"ERROR\n"));
    }

    #[test]
    fn frames_parse_after_heartbeats() {
        let (cmd, headers) =
            parse_frame(b"\n\r\nERROR\r\nmessage:User name [u] or password is invalid.\n\nbody");
        assert_eq!(cmd, "ERROR");
        assert_eq!(
            headers,
            vec![("message", "User name [u] or password is invalid.")]
        );
        assert_eq!(parse_frame(b"CONNECTED\nversion:1.2\n\n").0, "CONNECTED");
        assert_eq!(parse_frame(b"\xff\xfe").0, "");
    }

    #[tokio::test]
    async fn a_missing_ca_file_is_named() {
        let login = Login::new(Some("/nonexistent/ca.pem".into()));
        let err = login.tls_config().unwrap_err().to_string();
        assert!(
            err.contains("USERKEEPER_TLS_CA_FILE=/nonexistent/ca.pem"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn stomp_login_against_a_scripted_server() {
        use tokio::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in [
                &b"\nCONNECTED\nversion:1.2\n\n\0"[..],
                &b"ERROR\nmessage:User name [app] or password is invalid.\n\n\0"[..],
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let frame = read_frame(&mut s).await.unwrap();
                seen.push(String::from_utf8(frame).unwrap());
                s.write_all(answer).await.unwrap();
                let _ = s.shutdown().await;
            }
            seen
        });
        let login = Login::new(None);
        let to = Target {
            host: "127.0.0.1",
            port,
            tls: false,
        };
        let pw = Secret::new("right-password-1");
        login.stomp(to, "app", &pw).await.unwrap();
        let err = login.stomp(to, "app", &pw).await.unwrap_err();
        assert!(
            matches!(&err, LoginError::Refused { reply, .. } if reply.contains("invalid")),
            "{err}"
        );
        assert!(!err.to_string().contains("right-password-1"));
        let seen = server.await.unwrap();
        assert!(seen[0].starts_with("CONNECT\n"), "{:?}", seen[0]);
        assert!(seen[0].contains("\nlogin:app\npasscode:right-password-1\n"));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_naming_the_endpoint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = Login::new(None)
            .redis(
                Target {
                    host: "127.0.0.1",
                    port,
                    tls: false,
                },
                "u",
                &Secret::new("p".repeat(16)),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LoginError::Connect { .. })
                && err.to_string().contains(&port.to_string()),
            "{err}"
        );
    }
}
