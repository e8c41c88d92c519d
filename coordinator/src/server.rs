//! Runs a coordinator: engine thread, Parquet sink, and the gRPC server (coordinator,
//! admin and the standard health service) with explicit message size limits.
//!
//! Shutdown order matters: stop leasing first, let in-flight calls finish (workers can
//! still release and report), stop the server, flush Parquet, then close the database.
//! The token interceptor wraps the coordinator and admin services; health stays open.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hyperplane_proto::auth::Token;
use hyperplane_proto::limits::MAX_MESSAGE_BYTES;
use hyperplane_proto::v1::admin_server::AdminServer;
use hyperplane_proto::v1::coordinator_server::CoordinatorServer;
use tokio::sync::oneshot;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::transport::server::TcpIncoming;
use tracing::{info, warn};

use crate::auth::{TokenCheck, check_exposure};
use crate::engine::{Engine, EngineConfig, StateLock, lock_state_dir};
use crate::error::{CoordinatorError, Result};
use crate::plan::SweepParser;
use crate::service::{AdminService, CoordinatorService};
use crate::sink::{Sink, SinkConfig};

/// Everything a coordinator needs to start.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Address to listen on; port 0 picks a free port (see [`RunningCoordinator::addr`]).
    pub listen: SocketAddr,
    /// The state directory (SQLite database and lock file).
    pub state_dir: PathBuf,
    /// The Parquet output root.
    pub out_dir: PathBuf,
    /// Lease lifetime without a heartbeat; workers heartbeat at a third of it.
    pub lease_ttl: Duration,
    /// How often finished trials are written to Parquet.
    pub flush_interval: Duration,
    /// The shared token every coordinator and admin call must carry; `None` is only
    /// allowed on a loopback address (see [`check_exposure`]).
    pub token: Option<Token>,
    /// Certificate and key (PEM) to serve TLS with; `None` serves plain HTTP/2.
    pub tls: Option<ServerTls>,
}

/// The coordinator's TLS identity, read from `--tls-cert` and `--tls-key`.
#[derive(Clone)]
pub struct ServerTls {
    /// PEM certificate chain, leaf first.
    pub cert_pem: Vec<u8>,
    /// PEM private key of the leaf.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerTls(<{} bytes of certificate>, <key>)", self.cert_pem.len())
    }
}

/// A coordinator serving in the background of the current tokio runtime.
pub struct RunningCoordinator {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// A handle to submit sweeps or query status in-process.
    pub engine: Engine,
    /// Fires the graceful shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// The server task; ends after the graceful shutdown completed.
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningCoordinator {
    /// Starts everything and returns once the port is bound.
    pub async fn start(config: CoordinatorConfig, parser: SweepParser) -> Result<RunningCoordinator> {
        check_exposure(config.listen, config.token.as_ref())?;
        let mut builder = Server::builder();
        if let Some(tls) = &config.tls {
            let identity = Identity::from_pem(&tls.cert_pem, &tls.key_pem);
            builder = builder
                .tls_config(ServerTlsConfig::new().identity(identity))
                .map_err(|e| CoordinatorError::invalid("tls", format!("the certificate or key is unusable: {e}")))?;
        }
        let lock: StateLock = lock_state_dir(&config.state_dir)?;
        let engine_config = EngineConfig { state_dir: config.state_dir.clone(), lease_ttl: config.lease_ttl };
        let (engine, engine_thread) = Engine::start(&engine_config, parser.clone())?;
        let sink = Sink::start(
            engine.clone(),
            SinkConfig {
                state_dir: config.state_dir.clone(),
                out_dir: config.out_dir.clone(),
                flush_interval: config.flush_interval,
            },
        )?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| CoordinatorError::io(format!("binding {}", config.listen), e))?;
        let addr = listener.local_addr().map_err(|e| CoordinatorError::io("reading the bound address", e))?;
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<CoordinatorServer<CoordinatorService>>().await;
        health.set_serving::<AdminServer<AdminService>>().await;
        let coordinator = CoordinatorServer::new(CoordinatorService::new(engine.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let admin = AdminServer::new(AdminService::new(engine.clone(), parser))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let check = TokenCheck::new(config.token.clone());
        let coordinator = InterceptedService::new(coordinator, check.clone());
        let admin = InterceptedService::new(admin, check);
        let (stop, stopped) = oneshot::channel::<()>();
        let engine_for_task = engine.clone();
        let engine_for_close = engine.clone();
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = stopped.await;
                // Step 1: no new leases; calls already in flight still complete.
                if let Err(e) = engine_for_task.drain().await {
                    warn!(error = %e, "draining the engine failed");
                }
                health.set_not_serving::<CoordinatorServer<CoordinatorService>>().await;
            };
            let served = builder
                .tcp_nodelay(true)
                .http2_keepalive_interval(Some(Duration::from_secs(20)))
                .add_service(health_service)
                .add_service(coordinator)
                .add_service(admin)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), signal)
                .await;
            if let Err(e) = &served {
                warn!(error = %e, "gRPC server stopped with an error");
            }
            // Step 2: flush Parquet, then close the database.
            let finished = tokio::task::spawn_blocking(move || {
                let parts = sink.finish();
                let closed = engine_for_close.shutdown_blocking();
                let _ = engine_thread.join();
                drop(lock);
                (parts, closed)
            });
            let (parts, closed) =
                finished.await.map_err(|e| CoordinatorError::Corrupt(format!("shutdown task panicked: {e}")))?;
            let parts = parts?;
            closed?;
            info!(parts, "coordinator stopped");
            Ok(())
        });
        info!(%addr, state = %config.state_dir.display(), out = %config.out_dir.display(), "coordinator listening");
        Ok(RunningCoordinator { addr, engine, stop: Some(stop), task })
    }

    /// Graceful shutdown: stop leasing, finish in-flight calls, flush Parquet, close the database.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits for the server to end (after [`RunningCoordinator::shutdown`] from elsewhere).
    async fn wait(self) -> Result<()> {
        self.task.await.map_err(|e| CoordinatorError::Corrupt(format!("server task panicked: {e}")))?
    }
}
