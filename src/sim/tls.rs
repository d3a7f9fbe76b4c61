//! The simulator's `wss://`: a self-signed certificate for `localhost` and
//! `127.0.0.1`, generated at start with rcgen.

use std::io;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS acceptor and the certificate a client must trust.
pub(super) struct ServerTls {
    pub(super) acceptor: tokio_rustls::TlsAcceptor,
    pub(super) certificate_der: Vec<u8>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl ServerTls {
    pub(super) fn generate() -> io::Result<ServerTls> {
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(names).map_err(other)?;
        let certificate_der = cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(certificate_der.clone())], key)
            .map_err(other)?;
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            certificate_der,
        })
    }
}
