//! How clients (workers, `submit`, `status`) reach a coordinator: the URL, optional TLS
//! and the token, in one place so every client behaves the same.

use std::path::PathBuf;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::auth::{Token, TokenInjector};

/// A channel that adds the token to every call; all generated clients are built on it.
pub type AuthChannel = InterceptedService<Channel, TokenInjector>;

/// What a client needs besides the URL.
#[derive(Debug, Clone, Default)]
pub struct ClientSecurity {
    /// Sent on every call; `None` for an open coordinator on loopback.
    pub token: Option<Token>,
    /// PEM file of the CA that signed the coordinator's certificate (`--tls-ca`). With an
    /// `https://` URL and no CA, the operating system's roots are used.
    pub tls_ca: Option<PathBuf>,
}

/// Why a client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error("invalid coordinator URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("--tls-ca {path}: {reason}")]
    TlsCa { path: String, reason: String },
    #[error("TLS setup for `{url}` failed: {reason}")]
    Tls { url: String, reason: String },
}

/// An endpoint for `url` with TLS configured when the URL is `https://`.
pub fn endpoint(url: &str, security: &ClientSecurity) -> Result<Endpoint, ClientSetupError> {
    let bad = |reason: String| ClientSetupError::BadUrl { url: url.to_string(), reason };
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| bad(e.to_string()))?;
    let https = url.starts_with("https://");
    match (&security.tls_ca, https) {
        (Some(path), false) => Err(ClientSetupError::TlsCa {
            path: path.display().to_string(),
            reason: format!("a CA is only used for https:// URLs, and the coordinator URL is `{url}`"),
        }),
        (None, false) => Ok(endpoint),
        (ca, true) => {
            let mut tls = ClientTlsConfig::new();
            tls = match ca {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|e| ClientSetupError::TlsCa {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        return Err(ClientSetupError::TlsCa {
                            path: path.display().to_string(),
                            reason: "expected a PEM file with a `BEGIN CERTIFICATE` block".into(),
                        });
                    }
                    tls.ca_certificate(Certificate::from_pem(pem))
                }
                None => tls.with_native_roots(),
            };
            endpoint.tls_config(tls).map_err(|e| ClientSetupError::Tls { url: url.to_string(), reason: e.to_string() })
        }
    }
}

/// A lazily connecting channel (it reconnects by itself after a coordinator restart).
pub fn lazy_channel(
    url: &str,
    security: &ClientSecurity,
    call_timeout: Duration,
) -> Result<AuthChannel, ClientSetupError> {
    let channel = endpoint(url, security)?
        .connect_timeout(Duration::from_secs(3))
        .timeout(call_timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(with_token(channel, security))
}

/// Wraps an already connected channel with the token.
pub fn with_token(channel: Channel, security: &ClientSecurity) -> AuthChannel {
    InterceptedService::new(channel, TokenInjector::new(security.token.as_ref()))
}
