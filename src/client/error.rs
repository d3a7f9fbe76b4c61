//! Errors of the network layer.

use std::time::Duration;

use crate::store::StoreError;

/// Why the client could not start, or why it stopped.
///
/// ```
/// use wirebook::client::{ClientConfig, ClientError, ParsecClient};
/// // Refused before any connection is tried: plain ws:// to a host that is not loopback.
/// let err = ParsecClient::connect(ClientConfig::new("ws://example.com/ws", "pk_live_1")).unwrap_err();
/// assert!(matches!(&err, ClientError::Insecure { host } if host == "example.com"));
/// assert_eq!(err.to_string(), "refusing plain ws:// to non-loopback host \"example.com\": use wss:// or allow_insecure");
/// assert!(err.is_fatal());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be used. Fix the configuration.
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl {
        /// The URL, without its query string.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain `ws://` to a host that is not loopback. Use `wss://`, or opt in
    /// with `ClientConfig::allow_insecure`.
    #[error("refusing plain ws:// to non-loopback host {host:?}: use wss:// or allow_insecure")]
    Insecure {
        /// The host.
        host: String,
    },
    /// The first connection failed (DNS, TCP, TLS or the WebSocket
    /// handshake). Check the URL and the network; later drops reconnect by themselves.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL, without its query string.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The TLS configuration could not be built (a bad extra root certificate).
    #[error("TLS setup failed: {reason}")]
    Tls {
        /// What failed.
        reason: String,
    },
    /// The server rejected the key or token (`auth_error`, PROTOCOL.md A1).
    /// Fatal: the client stops and does not reconnect.
    #[error("authentication rejected (code {code}): {message}")]
    Auth {
        /// The error code (1002).
        code: u32,
        /// The server's message.
        message: String,
    },
    /// Parlay: the key's tier is below Business (close 4001, or HTTP 403 at
    /// the handshake on older servers). Fatal: upgrade the key.
    #[error("the key's tier is too low for odds streaming: it needs Business, Enterprise or Scale ({reason})")]
    Tier {
        /// What the server said.
        reason: String,
    },
    /// Parlay: no key was sent (close 4003). Fatal: configure the key.
    #[error("no API key was sent (close 4003)")]
    MissingKey,
    /// No `auth_ok` arrived in time on the first connection.
    #[error("no auth_ok within {0:?}")]
    AuthTimeout(Duration),
    /// The capture file could not be created or written. Recording stops; the connection goes on
    /// when this happens later.
    #[error("capture file {path}: {reason}")]
    Capture {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The client thread has stopped (after `shutdown` or a fatal error).
    #[error("the client has stopped")]
    Stopped,
    /// A book could not be tracked (the store's bound).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClientError {
    /// Whether retrying cannot help (a configuration or credential problem).
    ///
    /// ```
    /// use wirebook::client::ClientError;
    /// assert!(ClientError::Auth { code: 1002, message: "invalid api key".into() }.is_fatal());
    /// assert!(!ClientError::AuthTimeout(std::time::Duration::from_secs(15)).is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::BadUrl { .. }
                | ClientError::Insecure { .. }
                | ClientError::Tls { .. }
                | ClientError::Capture { .. }
                | ClientError::Auth { .. }
                | ClientError::Tier { .. }
                | ClientError::MissingKey
                | ClientError::Stopped
                | ClientError::Store(_)
        )
    }
}

/// The URL without query string, fragment or user information (keys may
/// travel in a query string, or as `user:password@` before the host): what
/// may be shown or logged of a server's URL.
///
/// ```
/// use wirebook::client::redact_url;
/// assert_eq!(redact_url("wss://u:pk_secret@h:443/ws?apiKey=pk_secret"), "wss://h:443/ws");
/// ```
pub fn redact(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    let authority = url.find("://").map_or(0, |i| i + 3);
    let host_end = url[authority..]
        .find('/')
        .map_or(url.len(), |i| authority + i);
    match url[authority..host_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..authority], &url[authority + at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_strings_are_pinned() {
        let cases = [
            (
                ClientError::Auth { code: 1002, message: "invalid api key".into() },
                "authentication rejected (code 1002): invalid api key",
            ),
            (
                ClientError::Insecure { host: "example.com".into() },
                "refusing plain ws:// to non-loopback host \"example.com\": use wss:// or allow_insecure",
            ),
            (
                ClientError::Connect { url: "ws://127.0.0.1:1/ws".into(), reason: "connection refused".into() },
                "cannot connect to ws://127.0.0.1:1/ws: connection refused",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn query_strings_never_reach_an_error() {
        assert_eq!(redact("wss://h/ws?apiKey=pk_secret#x"), "wss://h/ws");
        assert_eq!(redact("wss://h/ws"), "wss://h/ws");
        assert_eq!(redact("wss://pk_secret@h/ws"), "wss://h/ws");
        assert_eq!(redact("wss://u:pk_secret@h:443/ws?x=1"), "wss://h:443/ws");
        assert_eq!(redact("wss://h/a@b"), "wss://h/a@b"); // an @ in the path is no user
        assert_eq!(redact("u:pk_secret@h"), "h");
        assert_eq!(redact(""), "");
    }
}
