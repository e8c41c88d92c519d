//! The access-control flags every engine command shares: where the token comes from,
//! and TLS on either side. Problems with them are invalid input (exit 2) naming the flag or file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyperplane_coordinator::server::ServerTls;
use hyperplane_proto::auth::{TOKEN_ENV, Token, resolve_token};
use hyperplane_proto::transport::ClientSecurity;

use super::DEFAULT_URL;
use crate::exit::InvalidInput;

/// `--token` / `--token-file`, else `HYPERPLANE_TOKEN`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TokenArgs {
    /// The shared secret (16+ printable characters). Prefer --token-file or the
    /// HYPERPLANE_TOKEN variable: a flag is visible to other users in `ps`.
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// A file whose first line is the token (e.g. a Kubernetes secret mounted as a file).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl TokenArgs {
    pub fn resolve(&self) -> anyhow::Result<Option<Token>> {
        resolve_token(self.token.as_deref(), self.token_file.as_deref())
            .map_err(|e| InvalidInput(e.to_string()).into())
    }
}

/// How a client (worker, submit, status) reaches the coordinator.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// The coordinator, e.g. http://HOST:50051 (https://HOST:50051 when it serves TLS).
    #[arg(long, default_value = DEFAULT_URL)]
    pub coordinator: String,
    #[command(flatten)]
    pub token: TokenArgs,
    /// PEM file of the CA that signed the coordinator's certificate (https:// URLs; without
    /// it the system's CA roots are used).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

impl RemoteArgs {
    /// The token and CA file; the URL and CA are checked together when the endpoint is built
    /// (`hyperplane_proto::transport::endpoint`).
    pub fn security(&self) -> anyhow::Result<ClientSecurity> {
        Ok(ClientSecurity { token: self.token.resolve()?, tls_ca: self.tls_ca.clone() })
    }
}

/// `--tls-cert` and `--tls-key` on the coordinator.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerTlsArgs {
    /// PEM certificate chain to serve TLS with (workers then use https:// URLs).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn read_pem(flag: &str, path: &Path, block: &str) -> anyhow::Result<Vec<u8>> {
    let pem = std::fs::read(path).map_err(|e| InvalidInput(format!("--{flag} {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&pem);
    if !(text.contains("-----BEGIN ") && text.contains(block)) {
        return Err(InvalidInput(format!("--{flag} {}: expected a PEM file with a {block} block", path.display())).into());
    }
    Ok(pem)
}

impl ServerTlsArgs {
    pub fn load(&self) -> anyhow::Result<Option<ServerTls>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(ServerTls {
                cert_pem: read_pem("tls-cert", cert, "CERTIFICATE")?,
                key_pem: read_pem("tls-key", key, "PRIVATE KEY")?,
            })),
            _ => Ok(None),
        }
    }
}

/// Says how the coordinator is protected, so nobody runs an open one by accident.
pub fn describe_exposure(listen: SocketAddr, token: Option<&Token>, tls: bool) -> Option<String> {
    match (token, tls) {
        (None, _) => Some(format!(
            "no token configured ({TOKEN_ENV}, --token or --token-file): accepting connections from this \
             machine only, on {listen}"
        )),
        (Some(_), false) if !listen.ip().is_loopback() => Some(
            "the token is required on every call but travels unencrypted; use --tls-cert/--tls-key on networks \
             you do not trust"
                .to_string(),
        ),
        (Some(_), _) => None,
    }
}
