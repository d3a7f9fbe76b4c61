//! What both clients share below their protocols: opening a WebSocket over
//! TCP (and rustls for `wss://`) with a timeout, and the client thread.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::error::redact;
use super::ClientError;
use crate::parse::MAX_FRAME_LEN;

/// Bytes tungstenite reads from the socket at a time (its default is 128 KiB).
/// Under a flood each read fills the buffer; 512 KiB took about 4 % off the
/// time a frame in `wirebook bench` (median of 8 alternating runs: 702 against
/// 733 ns; 16 KiB was slower, 1 MiB no better). One buffer per connection.
const READ_BUFFER: usize = 512 * 1024;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a send that missed its deadline reports.
const SEND_BLOCKED: &str =
    "a send was still blocked at the connection's deadline (the server reads nothing)";

/// Sends `msg`, failing if the socket has not taken it by `deadline` (the
/// time the connection would be declared dead anyway). A peer that stops
/// reading fills the sockets' buffers, and a send that waited for it would
/// stall the connection's loop, its dead-connection check included, until
/// the peer read again.
pub(crate) async fn send_by(
    ws: &mut Ws,
    msg: Message,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    use futures_util::SinkExt;
    match tokio::time::timeout_at(deadline, ws.send(msg)).await {
        Ok(sent) => sent.map_err(|e| e.to_string()),
        Err(_) => Err(SEND_BLOCKED.to_owned()),
    }
}

/// Why a connection could not be opened.
pub(crate) enum OpenError {
    /// The server answered the handshake with this HTTP status.
    Status(u16),
    /// Anything else, as a client error.
    Other(ClientError),
}

/// Opens `url` with extra request headers (values are never logged by
/// wirebook; tungstenite's `trace` level logs the whole request).
pub(crate) async fn open(
    url: &str,
    headers: &[(&'static str, &str)],
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<Ws, OpenError> {
    let shown = redact(url);
    let fail = |reason: String| {
        OpenError::Other(ClientError::Connect {
            url: shown.clone(),
            reason,
        })
    };
    let mut request = url.into_client_request().map_err(|e| {
        OpenError::Other(ClientError::BadUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })
    })?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|_| {
            OpenError::Other(ClientError::BadUrl {
                url: shown.clone(),
                reason: format!("bad {name} header value"),
            })
        })?;
        request.headers_mut().insert(*name, value);
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_LEN))
        .max_frame_size(Some(MAX_FRAME_LEN))
        .read_buffer_size(READ_BUFFER);
    let connector = match tls {
        Some(tls) => Connector::Rustls(tls.clone()),
        None => Connector::Plain,
    };
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config),
        true,
        Some(connector),
    );
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(WsError::Http(response))) => Err(OpenError::Status(response.status().as_u16())),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(_) => Err(fail(format!("no connection within {timeout:?}"))),
    }
}

/// A client's handle on its thread: the command channel and the thread to join.
#[derive(Debug)]
pub(crate) struct Worker<C> {
    commands: tokio::sync::mpsc::UnboundedSender<C>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<C> Worker<C> {
    /// Starts `run` (given the command receiver) on a thread of its own.
    pub(crate) fn start<F, Fut>(name: &str, run: F) -> Result<Worker<C>, ClientError>
    where
        F: FnOnce(tokio::sync::mpsc::UnboundedReceiver<C>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (commands, rx) = tokio::sync::mpsc::unbounded_channel();
        let thread = spawn(name, run(rx))?;
        Ok(Worker {
            commands,
            thread: Some(thread),
        })
    }

    /// Hands a command to the thread; `Stopped` once it has ended.
    pub(crate) fn send(&self, command: C) -> Result<(), ClientError> {
        self.commands
            .send(command)
            .map_err(|_| ClientError::Stopped)
    }

    /// Sends `shutdown` and waits for the thread (once).
    pub(crate) fn stop(&mut self, shutdown: C) {
        let _ = self.commands.send(shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `task` on a thread of its own with a single-threaded runtime.
fn spawn<F>(name: &str, task: F) -> Result<std::thread::JoinHandle<()>, ClientError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let fail = |e: std::io::Error| ClientError::Connect {
        url: String::new(),
        reason: e.to_string(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(fail)?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || runtime.block_on(task))
        .map_err(fail)
}
