//! The AMQP 0-9-1 connection handshake, as far as a login needs it: protocol header,
//! `Start`/`Start-Ok` (PLAIN), `Tune`/`Tune-Ok`, `Open`/`Open-Ok` or the server's `Close`, then
//! our `Close`. No channel is opened and nothing is published.
//!
//! Written here rather than with an AMQP client: the one that fits our runtime, `amqprs`, does
//! not advertise the `authentication_failure_close` capability, so RabbitMQ answers a wrong
//! password by dropping the connection after a delay (about 3 s seen), which a client cannot
//! tell from a network failure; testSecret must tell them apart, and with the capability
//! RabbitMQ says `403 ACCESS_REFUSED` at once. The handshake is four fixed frames, over the same
//! TLS stream as the other logins.

use std::io::{Error, ErrorKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;
/// The largest frame read: `Start` carries the server's properties, a few kilobytes.
const MAX_FRAME: u32 = 128 * 1024;
const CONNECTION: u16 = 10;
const START: u16 = 10;
const START_OK: u16 = 11;
const TUNE: u16 = 30;
const TUNE_OK: u16 = 31;
const OPEN: u16 = 40;
const OPEN_OK: u16 = 41;
const CLOSE: u16 = 50;
const CLOSE_OK: u16 = 51;

/// How the handshake ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Handshake {
    /// `Open-Ok`: logged in, and the virtual host opened.
    Opened,
    /// The server closed the connection with this code and text: 403 after `Start-Ok` is a
    /// refused login, 530 after `Open` a virtual host the user may not use.
    Closed {
        code: u16,
        text: String,
        after: Step,
    },
    /// Something no AMQP 0-9-1 server sends at this point.
    Unexpected(String),
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum Step {
    Credentials,
    VirtualHost,
}

/// Runs the handshake on `stream` as `user`; I/O errors are the transport's.
pub(super) async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    vhost: &str,
    user: &str,
    password: &str,
) -> std::io::Result<Handshake> {
    stream.write_all(PROTOCOL_HEADER).await?;
    stream.flush().await?;
    let (class, method, _) = match read_method(stream).await? {
        Ok(m) => m,
        Err(other) => return Ok(Handshake::Unexpected(other)),
    };
    if (class, method) != (CONNECTION, START) {
        return Ok(Handshake::Unexpected(format!(
            "method {class}.{method} instead of connection.start"
        )));
    }
    write_method(stream, START_OK, &start_ok(user, password)).await?;

    let (class, method, args) = match read_method(stream).await? {
        Ok(m) => m,
        Err(other) => return Ok(Handshake::Unexpected(other)),
    };
    match (class, method) {
        (CONNECTION, TUNE) => {}
        (CONNECTION, CLOSE) => return closed(stream, &args, Step::Credentials).await,
        _ => {
            return Ok(Handshake::Unexpected(format!(
                "method {class}.{method} after connection.start-ok"
            )));
        }
    }
    // Echo the server's channel and frame limits; no heartbeats for a connection this short.
    let mut tune_ok = args
        .get(..6)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| bad("short tune"))?;
    tune_ok.extend_from_slice(&0u16.to_be_bytes());
    write_method(stream, TUNE_OK, &tune_ok).await?;
    let mut open = Vec::new();
    short_str(&mut open, vhost)?;
    short_str(&mut open, "")?;
    open.push(0);
    write_method(stream, OPEN, &open).await?;

    let (class, method, args) = match read_method(stream).await? {
        Ok(m) => m,
        Err(other) => return Ok(Handshake::Unexpected(other)),
    };
    match (class, method) {
        (CONNECTION, OPEN_OK) => {
            let mut close = Vec::new();
            close.extend_from_slice(&200u16.to_be_bytes());
            short_str(&mut close, "login test done")?;
            close.extend_from_slice(&[0, 0, 0, 0]);
            write_method(stream, CLOSE, &close).await?;
            // The server's Close-Ok is a courtesy; the login is proven already.
            let _ = read_method(stream).await;
            Ok(Handshake::Opened)
        }
        (CONNECTION, CLOSE) => closed(stream, &args, Step::VirtualHost).await,
        _ => Ok(Handshake::Unexpected(format!(
            "method {class}.{method} after connection.open"
        ))),
    }
}

/// The server's `Close`, answered with `Close-Ok`.
async fn closed<S: AsyncWrite + Unpin>(
    stream: &mut S,
    args: &[u8],
    after: Step,
) -> std::io::Result<Handshake> {
    let code = args
        .get(..2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| bad("short close"))?;
    let len = usize::from(*args.get(2).ok_or_else(|| bad("short close"))?);
    let text = args
        .get(3..3 + len)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .ok_or_else(|| bad("short close"))?;
    let _ = write_method(stream, CLOSE_OK, &[]).await;
    Ok(Handshake::Closed { code, text, after })
}

/// `Start-Ok` for PLAIN, advertising `authentication_failure_close`.
fn start_ok(user: &str, password: &str) -> Vec<u8> {
    let mut capabilities = Vec::new();
    table_bool(&mut capabilities, "authentication_failure_close", true);
    let mut properties = Vec::new();
    table_str(&mut properties, "product", "userkeeper");
    table_str(&mut properties, "connection_name", "userkeeper login test");
    properties.extend_from_slice(&[b"capabilities".len() as u8]);
    properties.extend_from_slice(b"capabilities");
    properties.push(b'F');
    long_bytes(&mut properties, &capabilities);
    let mut out = Vec::new();
    long_bytes(&mut out, &properties);
    out.push(5);
    out.extend_from_slice(b"PLAIN");
    let response = [b"\0", user.as_bytes(), b"\0", password.as_bytes()].concat();
    long_bytes(&mut out, &response);
    out.push(5);
    out.extend_from_slice(b"en_US");
    out
}

fn bad(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("malformed AMQP frame: {what}"),
    )
}

fn short_str(out: &mut Vec<u8>, s: &str) -> std::io::Result<()> {
    let len = u8::try_from(s.len()).map_err(|_| {
        Error::new(
            ErrorKind::InvalidInput,
            "a virtual host name longer than 255 bytes cannot be sent over AMQP",
        )
    })?;
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn long_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn table_str(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(key.len() as u8);
    out.extend_from_slice(key.as_bytes());
    out.push(b'S');
    long_bytes(out, value.as_bytes());
}

fn table_bool(out: &mut Vec<u8>, key: &str, value: bool) {
    out.push(key.len() as u8);
    out.extend_from_slice(key.as_bytes());
    out.push(b't');
    out.push(u8::from(value));
}

async fn write_method<S: AsyncWrite + Unpin>(
    stream: &mut S,
    method: u16,
    args: &[u8],
) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(12 + args.len());
    frame.push(FRAME_METHOD);
    frame.extend_from_slice(&0u16.to_be_bytes());
    frame.extend_from_slice(&((4 + args.len()) as u32).to_be_bytes());
    frame.extend_from_slice(&CONNECTION.to_be_bytes());
    frame.extend_from_slice(&method.to_be_bytes());
    frame.extend_from_slice(args);
    frame.push(FRAME_END);
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// The next method frame as (class, method, arguments), skipping heartbeats; `Err` describes
/// an answer that is not an AMQP 0-9-1 frame.
async fn read_method<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> std::io::Result<Result<(u16, u16, Vec<u8>), String>> {
    loop {
        let mut header = [0u8; 7];
        stream.read_exact(&mut header).await?;
        if &header[..4] == b"AMQP" {
            // The server's own protocol header: it speaks another version, and closes.
            let mut revision = [0u8; 1];
            stream.read_exact(&mut revision).await?;
            return Ok(Err(format!(
                "the server speaks AMQP {}.{}.{} only",
                header[5], header[6], revision[0]
            )));
        }
        let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        if size > MAX_FRAME {
            return Ok(Err(format!(
                "a frame of {size} bytes (is this an AMQP port?)"
            )));
        }
        let mut payload = vec![0u8; size as usize + 1];
        stream.read_exact(&mut payload).await?;
        if payload.pop() != Some(FRAME_END) {
            return Ok(Err(
                "a frame without its end marker (is this an AMQP port?)".into(),
            ));
        }
        match header[0] {
            FRAME_HEARTBEAT => continue,
            FRAME_METHOD if payload.len() >= 4 => {
                let class = u16::from_be_bytes([payload[0], payload[1]]);
                let method = u16::from_be_bytes([payload[2], payload[3]]);
                return Ok(Ok((class, method, payload.split_off(4))));
            }
            kind => return Ok(Err(format!("a frame of type {kind} during the handshake"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    fn method(class: u16, method: u16, args: &[u8]) -> Vec<u8> {
        let mut f = vec![FRAME_METHOD, 0, 0];
        f.extend_from_slice(&((4 + args.len()) as u32).to_be_bytes());
        f.extend_from_slice(&class.to_be_bytes());
        f.extend_from_slice(&method.to_be_bytes());
        f.extend_from_slice(args);
        f.push(FRAME_END);
        f
    }

    fn close(code: u16, text: &str) -> Vec<u8> {
        let mut a = code.to_be_bytes().to_vec();
        a.push(text.len() as u8);
        a.extend_from_slice(text.as_bytes());
        a.extend_from_slice(&[0, 10, 0, 11]);
        method(CONNECTION, CLOSE, &a)
    }

    /// A server that sends `script` after reading the client's header and each frame.
    async fn run(script: Vec<Vec<u8>>) -> (std::io::Result<Handshake>, Vec<u8>) {
        let (mut client, mut server) = duplex(1 << 20);
        let serve = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut header = [0u8; 8];
            server.read_exact(&mut header).await.unwrap();
            seen.extend_from_slice(&header);
            for answer in script {
                server.write_all(&answer).await.unwrap();
                let mut h = [0u8; 7];
                if server.read_exact(&mut h).await.is_err() {
                    break;
                }
                let size = u32::from_be_bytes([h[3], h[4], h[5], h[6]]) as usize;
                let mut body = vec![0u8; size + 1];
                server.read_exact(&mut body).await.unwrap();
                seen.extend_from_slice(&h);
                seen.extend_from_slice(&body);
            }
            seen
        });
        let result = login(&mut client, "orders", "app", "pa\0ss-word").await;
        drop(client);
        (result, serve.await.unwrap())
    }

    fn start() -> Vec<u8> {
        let mut a = vec![0, 9];
        a.extend_from_slice(&0u32.to_be_bytes());
        long_bytes(&mut a, b"PLAIN AMQPLAIN");
        long_bytes(&mut a, b"en_US");
        method(CONNECTION, START, &a)
    }

    fn tune() -> Vec<u8> {
        let mut a = 2047u16.to_be_bytes().to_vec();
        a.extend_from_slice(&131_072u32.to_be_bytes());
        a.extend_from_slice(&60u16.to_be_bytes());
        method(CONNECTION, TUNE, &a)
    }

    #[tokio::test]
    async fn opens_then_closes() {
        let heartbeat = vec![FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END];
        let (r, seen) = run(vec![
            start(),
            [heartbeat, tune()].concat(),
            vec![],
            method(CONNECTION, OPEN_OK, &[0]),
            method(CONNECTION, CLOSE_OK, &[]),
        ])
        .await;
        assert_eq!(r.unwrap(), Handshake::Opened);
        assert!(seen.starts_with(PROTOCOL_HEADER));
        let text = String::from_utf8_lossy(&seen);
        assert!(text.contains("authentication_failure_close"), "{text}");
        assert!(text.contains("PLAIN") && text.contains("\0app\0pa\0ss-word"));
        assert!(text.contains("\x06orders"), "Open names the virtual host");
    }

    #[tokio::test]
    async fn a_refused_login_is_the_servers_close() {
        let (r, _) = run(vec![
            start(),
            close(403, "ACCESS_REFUSED - Login was refused"),
        ])
        .await;
        assert_eq!(
            r.unwrap(),
            Handshake::Closed {
                code: 403,
                text: "ACCESS_REFUSED - Login was refused".into(),
                after: Step::Credentials
            }
        );
    }

    #[tokio::test]
    async fn a_refused_virtual_host_comes_after_the_credentials() {
        let (r, _) = run(vec![start(), tune(), vec![], close(530, "NOT_ALLOWED")]).await;
        assert!(matches!(
            r.unwrap(),
            Handshake::Closed {
                code: 530,
                after: Step::VirtualHost,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn another_protocol_is_named() {
        let (r, _) = run(vec![b"AMQP\x00\x00\x08\x00".to_vec()]).await;
        assert!(matches!(r.unwrap(), Handshake::Unexpected(m) if m.contains("0.8.0")));
        let (r, _) = run(vec![b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()]).await;
        assert!(matches!(r.unwrap(), Handshake::Unexpected(_)));
    }
}
