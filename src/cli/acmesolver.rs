//! `certsmith acmesolver`: the process in each HTTP-01 solver Pod. Flags as cert-manager's
//! acmesolver image, so Pod specs read the same.

use std::net::IpAddr;
use std::process::ExitCode;

use crate::http01::solver::{self, DEFAULT_LISTEN_PORT, SolverChallenge};
use crate::telemetry::{LogFormat, init_logging};

#[derive(Debug, clap::Args)]
pub struct AcmesolverArgs {
    /// Port to serve the challenge on.
    #[arg(long, default_value_t = DEFAULT_LISTEN_PORT)]
    pub listen_port: u16,
    /// Address to listen on. Default: every address (IPv6 and IPv4).
    #[arg(long)]
    pub listen_address: Option<IpAddr>,
    /// The name being validated; only requests with this Host are answered.
    #[arg(long)]
    pub domain: String,
    /// The challenge token (the last path segment).
    #[arg(long)]
    pub token: String,
    /// The key authorization to answer with.
    #[arg(long)]
    pub key: String,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

pub fn run(args: AcmesolverArgs) -> ExitCode {
    init_logging(args.log_format, "info");
    let challenge = match SolverChallenge::new(&args.domain, &args.token, &args.key) {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(%err, "certsmith acmesolver: bad arguments");
            return ExitCode::from(2);
        }
    };
    // One connection at a time is plenty: a current-thread runtime keeps the Pod at a few MiB.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(%err, "starting the async runtime failed");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match solver::bind(args.listen_address, args.listen_port).await {
            Ok(l) => l,
            Err(err) => {
                tracing::error!(%err, "certsmith acmesolver cannot start");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(
            listen = %addr,
            domain = %challenge.host(),
            token = challenge.token(),
            "serving the HTTP-01 challenge"
        );
        match solver::serve(listener, challenge, stop_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(err) => {
                tracing::error!(%err, "serving failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// Completes on SIGTERM (the kubelet stopping the Pod) or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "cannot watch SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received; stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping"),
    }
}
