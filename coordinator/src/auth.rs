//! Access control on the server side: the token check every coordinator and admin call
//! passes before its handler runs, and the rule that an open coordinator stays on loopback.

use std::net::SocketAddr;

use hyperplane_proto::auth::{BEARER, TOKEN_ENV, TOKEN_HEADER, Token};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::error::{CoordinatorError, Result};

/// The server interceptor. Missing or wrong token → `UNAUTHENTICATED`, before any handler
/// (and so before any validation or database work) sees the request.
#[derive(Clone, Debug)]
pub struct TokenCheck {
    /// The expected token; `None` means the coordinator is open and bound to loopback.
    token: Option<Token>,
}

impl TokenCheck {
    pub fn new(token: Option<Token>) -> Self {
        TokenCheck { token }
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.token else {
            return Ok(request);
        };
        let Some(value) = request.metadata().get(TOKEN_HEADER) else {
            return Err(Status::unauthenticated(format!(
                "this coordinator requires a token: pass --token, --token-file or set {TOKEN_ENV}"
            )));
        };
        match value.as_bytes().strip_prefix(BEARER.as_bytes()) {
            Some(presented) if token.matches(presented) => Ok(request),
            Some(_) => Err(Status::unauthenticated("wrong token")),
            None => Err(Status::unauthenticated(format!("the `{TOKEN_HEADER}` header must be `{BEARER}<token>`"))),
        }
    }
}

/// Without a token anyone who can reach the port could submit sweeps or fake results, so an
/// open coordinator may only listen on a loopback address.
pub fn check_exposure(listen: SocketAddr, token: Option<&Token>) -> Result<()> {
    if token.is_none() && !listen.ip().is_loopback() {
        return Err(CoordinatorError::invalid(
            "listen",
            format!(
                "refusing to listen on {listen} without a token; give --token, --token-file or {TOKEN_ENV}, \
                 or listen on 127.0.0.1"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn call(check: &mut TokenCheck, header: Option<&str>) -> Result<(), Code> {
        let mut request = Request::new(());
        if let Some(h) = header {
            request.metadata_mut().insert(TOKEN_HEADER, h.parse().unwrap());
        }
        check.call(request).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let token = Token::new("correct-horse-battery", "test").unwrap();
        let mut check = TokenCheck::new(Some(token));
        assert_eq!(call(&mut check, Some("Bearer correct-horse-battery")), Ok(()));
        assert_eq!(call(&mut check, None), Err(Code::Unauthenticated));
        assert_eq!(call(&mut check, Some("Bearer correct-horse-batterx")), Err(Code::Unauthenticated));
        assert_eq!(call(&mut check, Some("correct-horse-battery")), Err(Code::Unauthenticated));
        assert_eq!(call(&mut check, Some("Bearer ")), Err(Code::Unauthenticated));
        let mut open = TokenCheck::new(None);
        assert_eq!(call(&mut open, None), Ok(()));
    }

    #[test]
    fn an_open_coordinator_stays_on_loopback() {
        let token = Token::new("correct-horse-battery", "test").unwrap();
        assert!(check_exposure("127.0.0.1:50051".parse().unwrap(), None).is_ok());
        assert!(check_exposure("[::1]:50051".parse().unwrap(), None).is_ok());
        let err = check_exposure("0.0.0.0:50051".parse().unwrap(), None).unwrap_err().to_string();
        assert!(err.contains("without a token"), "{err}");
        assert!(check_exposure("0.0.0.0:50051".parse().unwrap(), Some(&token)).is_ok());
    }
}
