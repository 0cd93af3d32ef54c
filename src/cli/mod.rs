//! The `certsmith` command line: one binary, one subcommand per job.

pub mod acmesolver;
pub mod crdgen;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// certsmith: certificates for Kubernetes, cert-manager compatible.
#[derive(Debug, Parser)]
#[command(name = "certsmith", version, about, long_about = None)]
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
    Controller(ControllerArgs),
    /// Serve one ACME HTTP-01 challenge (what each solver Pod runs).
    Acmesolver(acmesolver::AcmesolverArgs),
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
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Crdgen(args) => crdgen::run(&args),
        Command::Controller(args) => run_controller(args),
        Command::Acmesolver(args) => acmesolver::run(args),
        Command::Version => {
            println!("certsmith {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

/// Where the repository's generated files live by default: the current directory.
fn default_root() -> PathBuf {
    PathBuf::from(".")
}

fn run_controller(args: ControllerArgs) -> ExitCode {
    crate::telemetry::init_logging(args.log_format, &args.log_level);
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
    };
    match runtime.block_on(crate::controller::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "certsmith controller failed");
            ExitCode::FAILURE
        }
    }
}
