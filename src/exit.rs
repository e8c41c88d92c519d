//! Exit codes, a contract scripts rely on: 0 success, 1 runtime failure,
//! 2 invalid input (a sweep file or argument that fails validation).

use std::process::ExitCode;

/// Marks an error as the user's input being invalid (exit code 2).
#[derive(Debug)]
pub struct InvalidInput(pub String);

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InvalidInput {}

pub const INVALID_INPUT: u8 = 2;

pub fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let invalid = e.chain().any(|c| {
                c.is::<InvalidInput>()
                    || c.is::<hyperplane_coordinator::sweep::SpecError>()
                    || c.is::<hyperplane_proto::transport::ClientSetupError>()
                    || matches!(
                        c.downcast_ref::<hyperplane_worker::client::WorkerError>(),
                        Some(hyperplane_worker::client::WorkerError::Setup(_))
                    )
                    || matches!(
                        c.downcast_ref::<hyperplane_coordinator::error::CoordinatorError>(),
                        Some(hyperplane_coordinator::error::CoordinatorError::InvalidArgument { .. })
                    )
            });
            ExitCode::from(if invalid { INVALID_INPUT } else { 1 })
        }
    }
}
