//! The shared token both sides of the wire agree on, and the client half of carrying it.
//!
//! A token is sent as `authorization: Bearer <token>` on every call. The coordinator
//! checks it in an interceptor (`hyperplane_coordinator::auth`); the health service is
//! left open so load balancers and `grpc_health_probe` work without the secret.

use std::path::Path;
use std::sync::Arc;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// The metadata key that carries the token.
pub const TOKEN_HEADER: &str = "authorization";
/// The scheme prefix of the header value.
pub const BEARER: &str = "Bearer ";
/// The environment variable that holds a token when neither `--token` nor `--token-file` is given.
pub const TOKEN_ENV: &str = "HYPERPLANE_TOKEN";

/// Shortest token accepted: 16 characters keep a guessed token out of reach of an online attack.
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest token accepted (it travels in a header on every call).
pub const MAX_TOKEN_LEN: usize = 1024;

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{origin}: the token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters, got {len}")]
    Length { origin: String, len: usize },
    #[error("{origin}: the token must be printable ASCII without spaces")]
    Charset { origin: String },
    #[error("{origin}: cannot read the token file: {source}")]
    Read { origin: String, source: std::io::Error },
}

/// A validated shared secret. `Debug` never prints it.
#[derive(Clone)]
pub struct Token {
    /// The secret itself; shared, because every cloned client and interceptor holds it.
    secret: Arc<str>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<{} characters>)", self.secret.len())
    }
}

impl Token {
    /// Validates a token; `origin` names where it came from (`--token`, a file, the environment)
    /// so the error can say which one is wrong. Surrounding whitespace (a file's newline) is dropped.
    pub fn new(text: &str, origin: &str) -> Result<Token, TokenError> {
        let secret = text.trim();
        if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&secret.len()) {
            return Err(TokenError::Length { origin: origin.to_string(), len: secret.len() });
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Charset { origin: origin.to_string() });
        }
        Ok(Token { secret: secret.into() })
    }

    /// Reads a token file (its first line; trailing newline ignored).
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read { origin: origin.clone(), source })?;
        Token::new(text.lines().next().unwrap_or(""), &origin)
    }

    /// 32 random bytes from the operating system, hex-encoded (256 bits).
    pub fn generate() -> Token {
        let mut bytes = [0u8; 32];
        // A machine without a random source cannot run a coordinator safely; this never
        // fails on Linux, macOS or Windows.
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Token { secret: hex.into() }
    }

    /// The secret, for writing a token file.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// Compares in time that does not depend on where the first difference is, so the
    /// token cannot be recovered byte by byte from response times.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.secret.as_bytes();
        let mut diff = u8::from(expected.len() != presented.len());
        for (i, &b) in presented.iter().enumerate() {
            diff |= b ^ expected[i % expected.len()];
        }
        diff == 0
    }

    /// The header value `Bearer <token>`.
    fn header_value(&self) -> MetadataValue<Ascii> {
        // A validated token is printable ASCII, which is always a valid header value.
        MetadataValue::try_from(format!("{BEARER}{}", self.secret)).expect("a validated token is a valid header")
    }
}

/// Where a token comes from, in the order the CLI consults them.
pub fn resolve_token(flag: Option<&str>, file: Option<&Path>) -> Result<Option<Token>, TokenError> {
    if let Some(text) = flag {
        return Token::new(text, "--token").map(Some);
    }
    if let Some(path) = file {
        return Token::from_file(path).map(Some);
    }
    match std::env::var(TOKEN_ENV) {
        Ok(text) if !text.trim().is_empty() => Token::new(&text, TOKEN_ENV).map(Some),
        _ => Ok(None),
    }
}

/// The client interceptor: puts the token on every outgoing call (or nothing without one).
#[derive(Clone, Default)]
pub struct TokenInjector {
    /// The prepared `Bearer ...` header; `None` talks to an open (loopback) coordinator.
    header: Option<MetadataValue<Ascii>>,
}

impl TokenInjector {
    pub fn new(token: Option<&Token>) -> Self {
        TokenInjector { header: token.map(Token::header_value) }
    }
}

impl Interceptor for TokenInjector {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(header) = &self.header {
            request.metadata_mut().insert(TOKEN_HEADER, header.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_validated_and_compared_exactly() {
        assert!(matches!(Token::new("short", "--token"), Err(TokenError::Length { .. })));
        assert!(matches!(Token::new("has a space in the middle!", "--token"), Err(TokenError::Charset { .. })));
        let token = Token::new("  0123456789abcdef\n", "file").unwrap();
        assert_eq!(token.expose(), "0123456789abcdef");
        assert!(token.matches(b"0123456789abcdef"));
        assert!(!token.matches(b"0123456789abcdeF"));
        assert!(!token.matches(b"0123456789abcde"));
        assert!(!token.matches(b"0123456789abcdef0123456789abcdef"));
        assert!(!token.matches(b""));
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[test]
    fn generated_tokens_differ_and_validate() {
        let (a, b) = (Token::generate(), Token::generate());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 64);
        assert!(Token::new(a.expose(), "generated").is_ok());
    }
}
