//! The `certsmith` command line: one binary, one subcommand per job. The user's commands
//! (status, renew, inspect, check, approve, deny, completion) share `kube` (connection and
//! output flags); what they conclude is computed in `crate::diagnose`.

pub mod acmesolver;
pub mod approve;
pub mod check;
pub mod completion;
pub mod crdgen;
pub mod inspect;
pub mod kube;
pub mod renew;
pub mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// certsmith: certificates for Kubernetes, cert-manager compatible.
#[derive(Debug, Parser)]
#[command(name = "certsmith", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the CustomResourceDefinitions generated from the API types: one file per CRD
    /// under crds/ and the Helm chart's CRD templates.
    Crdgen(crdgen::CrdgenArgs),
    /// Run the controllers (in a cluster, or against the current kubeconfig).
    Controller(Box<ControllerArgs>),
    /// Serve one ACME HTTP-01 challenge (what each solver Pod runs).
    Acmesolver(acmesolver::AcmesolverArgs),
    /// Why is a Certificate (not) ready? The whole chain in one screen.
    Status(status::StatusArgs),
    /// Re-issue Certificates now (Issuing condition, reason ManuallyTriggered).
    Renew(renew::RenewArgs),
    /// Decode what a TLS Secret holds.
    Inspect(inspect::InspectArgs),
    /// Are the CRDs installed and the controller answering?
    Check(check::CheckArgs),
    /// Approve a CertificateRequest (when the built-in approver is off).
    Approve(approve::DecisionArgs),
    /// Deny a CertificateRequest.
    Deny(approve::DecisionArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completion(completion::CompletionArgs),
    /// Print the version of this binary.
    Version,
}

#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// Namespace holding the Secrets that ClusterIssuers refer to (CA key pairs, ACME account
    /// keys, DNS credentials).
    #[arg(
        long,
        env = "CERTSMITH_CLUSTER_RESOURCE_NAMESPACE",
        default_value = "certsmith"
    )]
    pub cluster_resource_namespace: String,
    /// Watch only this namespace (ClusterIssuers are then ignored), as cert-manager's
    /// `--namespace`. Default: all namespaces.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `certsmith=debug,kube=info` (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// DNS resolvers (`host:port`, comma-separated) for ACME self-checks: the HTTP-01 solver's
    /// name and DNS-01 zone and record lookups, as cert-manager's flag. Default: the system's.
    #[arg(long, value_delimiter = ',')]
    pub dns01_recursive_nameservers: Vec<std::net::SocketAddr>,
    /// Check DNS-01 propagation with `--dns01-recursive-nameservers` only, instead of asking
    /// the zone's authoritative servers.
    #[arg(long)]
    pub dns01_recursive_nameservers_only: bool,
    /// The port the HTTP-01 self-check connects to (80 in a real cluster; the test bed routes
    /// Pebble's validation port).
    #[arg(long, default_value_t = 80)]
    pub acme_http01_self_check_port: u16,
    /// Image of the HTTP-01 solver Pods; it must run `certsmith acmesolver`.
    #[arg(long, env = "CERTSMITH_ACME_HTTP01_SOLVER_IMAGE", default_value = concat!("ghcr.io/certsmith/certsmith:v", env!("CARGO_PKG_VERSION")))]
    pub acme_http01_solver_image: String,
    /// At most this many ACME Challenges are processed at once.
    #[arg(long, default_value_t = 60)]
    pub max_concurrent_challenges: usize,
    /// Run the Ingress shim (Ingresses annotated cert-manager.io/cluster-issuer, issuer, or
    /// kubernetes.io/tls-acme get Certificates). `--ingress-shim=false` turns it off.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub ingress_shim: bool,
    /// Run the Gateway shim (Gateways with TLS listeners and the same annotations); it stays
    /// off by itself when the Gateway API CRDs are not installed. `--gateway-shim=false`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub gateway_shim: bool,
    /// Issuer for Ingresses annotated `kubernetes.io/tls-acme: "true"` without an issuer.
    #[arg(long)]
    pub default_issuer_name: Option<String>,
    /// Kind of the default issuer (Issuer or ClusterIssuer).
    #[arg(long, default_value = "Issuer")]
    pub default_issuer_kind: String,
    /// API group of the default issuer.
    #[arg(long, default_value = "cert-manager.io")]
    pub default_issuer_group: String,
    /// Elect a leader through a Lease so that, of several replicas, exactly one reconciles.
    /// `--leader-elect=false` for a single process (tests, local runs).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Namespace of the leader election Lease (`certsmith-controller`).
    #[arg(
        long,
        env = "CERTSMITH_LEADER_ELECTION_NAMESPACE",
        default_value = "kube-system"
    )]
    pub leader_election_namespace: String,
    /// How long a leader's Lease is valid without renewal: the longest a failover can take
    /// after a leader dies without releasing it (Go duration, e.g. `60s`).
    #[arg(long, default_value = "60s", value_parser = parse_go_duration)]
    pub leader_election_lease_duration: std::time::Duration,
    /// How long the leader keeps trying to renew before it gives up leadership (Go duration);
    /// must be shorter than the lease duration.
    #[arg(long, default_value = "40s", value_parser = parse_go_duration)]
    pub leader_election_renew_deadline: std::time::Duration,
    /// How often candidates try to acquire, and the leader renews, the Lease (Go duration).
    #[arg(long, default_value = "15s", value_parser = parse_go_duration)]
    pub leader_election_retry_period: std::time::Duration,
    /// Average API writes (create, update, patch, delete) per second this process may send;
    /// reads and watches are not limited. 0 turns the limit off. cert-manager's flag name.
    #[arg(long, default_value_t = 200.0)]
    pub kube_api_qps: f64,
    /// Writes allowed at once above the average rate.
    #[arg(long, default_value_t = 400)]
    pub kube_api_burst: u32,
    /// Objects each controller reconciles at once (cert-manager's flag and default). More
    /// does not issue faster (the API server is the bottleneck) and holds more memory in a
    /// burst: every reconcile in flight keeps its reads and writes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrent_workers: u16,
    /// Address of the Prometheus `/metrics` endpoint; an empty value or `0` turns it off.
    #[arg(long, default_value = "0.0.0.0:9402")]
    pub metrics_listen_address: String,
    /// Address of the `/livez` and `/readyz` probes; an empty value or `0` turns them off.
    #[arg(long, default_value = "0.0.0.0:9403")]
    pub healthz_listen_address: String,
    /// Optional controllers, cert-manager's spelling: `*` runs them all (the default);
    /// `*,-certificaterequests-approver` turns the built-in approver off, so requests wait for
    /// `certsmith approve`/`deny` or another approver.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
}

/// Parses a Go duration (`90s`, `1h30m`) for a flag.
pub(crate) fn parse_go_duration(input: &str) -> Result<std::time::Duration, String> {
    crate::pki::duration::parse_duration(input).map_err(|e| e.to_string())
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Crdgen(args) => crdgen::run(&args),
        Command::Controller(args) => run_controller(*args),
        Command::Acmesolver(args) => acmesolver::run(args),
        Command::Status(args) => status::run(args),
        Command::Renew(args) => renew::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Check(args) => check::run(args),
        Command::Approve(args) => approve::run(approve::Decision::Approve, args),
        Command::Deny(args) => approve::run(approve::Decision::Deny, args),
        Command::Completion(args) => completion::run(args),
        Command::Version => {
            println!("certsmith {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("certsmith controller: {message}");
    ExitCode::from(2)
}

/// Where the repository's generated files live by default: the current directory.
fn default_root() -> PathBuf {
    PathBuf::from(".")
}

fn run_controller(args: ControllerArgs) -> ExitCode {
    let controllers = match crate::controller::selection::parse(&args.controllers) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("certsmith controller: {err}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init_logging(args.log_format, &args.log_level);
    let addresses = (
        crate::telemetry::server::listen_address(&args.metrics_listen_address),
        crate::telemetry::server::listen_address(&args.healthz_listen_address),
    );
    let (metrics_address, healthz_address) = match addresses {
        (Ok(m), Ok(h)) => (m, h),
        (Err(e), _) => return usage_error(&format!("--metrics-listen-address: {e}")),
        (_, Err(e)) => return usage_error(&format!("--healthz-listen-address: {e}")),
    };
    let leader = args
        .leader_elect
        .then(|| crate::controller::leader::LeaderSettings {
            namespace: args.leader_election_namespace.clone(),
            identity: crate::controller::leader::identity(),
            lease_duration: args.leader_election_lease_duration,
            renew_deadline: args.leader_election_renew_deadline,
            retry_period: args.leader_election_retry_period,
        });
    if let Some(Err(e)) = leader.as_ref().map(|l| l.validate()) {
        return usage_error(&e);
    }
    crate::controller::allocator::tune();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("certsmith controller: starting the async runtime failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    let settings = crate::controller::Settings {
        cluster_resource_namespace: args.cluster_resource_namespace,
        namespace: args.namespace,
        acme: crate::controller::acme::accounts::AcmeSettings {
            nameservers: args.dns01_recursive_nameservers,
            nameservers_only: args.dns01_recursive_nameservers_only,
            http01_self_check_port: args.acme_http01_self_check_port,
            http01_solver_image: args.acme_http01_solver_image,
            max_concurrent_challenges: args.max_concurrent_challenges.max(1),
        },
        shim: crate::controller::ShimSettings {
            ingress: args.ingress_shim,
            gateway: args.gateway_shim,
            default_issuer: crate::shim::annotations::DefaultIssuer {
                name: args.default_issuer_name,
                kind: Some(args.default_issuer_kind),
                group: Some(args.default_issuer_group),
            },
        },
        controllers,
        leader,
        metrics_address,
        healthz_address,
        kube_api_qps: args.kube_api_qps,
        kube_api_burst: args.kube_api_burst,
        concurrent_workers: args.concurrent_workers,
    };
    match runtime.block_on(crate::controller::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "certsmith controller failed");
            ExitCode::FAILURE
        }
    }
}
