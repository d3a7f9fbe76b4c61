//! TLS for `wss://`: rustls with the ring provider, trusting the webpki
//! roots plus any certificate the caller names (the simulator's, say).
//! Verification is never turned off.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use super::ClientError;

/// A rustls client configuration trusting webpki's roots and `extra_roots` (DER).
pub(crate) fn client_config(
    extra_roots: &[Vec<u8>],
) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in extra_roots {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| ClientError::Tls {
                reason: format!("extra root certificate: {e}"),
            })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls {
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Checks the URL: `wss://` anywhere, `ws://` only to loopback unless allowed.
/// Returns whether TLS is used.
pub(crate) fn check_url(url: &str, allow_insecure: bool) -> Result<bool, ClientError> {
    use tokio_tungstenite::tungstenite::http::Uri;
    let bad = |reason: &str| ClientError::BadUrl {
        url: super::error::redact(url),
        reason: reason.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    match uri.scheme_str() {
        Some("wss") => Ok(true),
        Some("ws") => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback || allow_insecure {
                Ok(false)
            } else {
                Err(ClientError::Insecure {
                    host: host.to_owned(),
                })
            }
        }
        _ => Err(bad("the scheme must be wss:// (or ws:// to loopback)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_websockets_only_to_loopback_or_when_allowed() {
        assert_eq!(check_url("wss://api.parsecapi.com/ws", false), Ok(true));
        assert_eq!(check_url("ws://127.0.0.1:9000/ws", false), Ok(false));
        assert_eq!(check_url("ws://[::1]:9000/ws", false), Ok(false));
        assert_eq!(check_url("ws://localhost:9000/ws", false), Ok(false));
        assert!(matches!(
            check_url("ws://example.com/ws", false),
            Err(ClientError::Insecure { .. })
        ));
        assert_eq!(check_url("ws://example.com/ws", true), Ok(false));
        assert!(matches!(
            check_url("http://example.com/ws", true),
            Err(ClientError::BadUrl { .. })
        ));
        assert!(matches!(
            check_url("not a url", true),
            Err(ClientError::BadUrl { .. })
        ));
    }

    #[test]
    fn a_bad_extra_root_is_a_tls_error() {
        assert!(client_config(&[]).is_ok());
        assert!(matches!(
            client_config(&[vec![1, 2, 3]]),
            Err(ClientError::Tls { .. })
        ));
    }
}
