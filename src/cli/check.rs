//! `certsmith check api [--wait 2m]`: are the CRDs of both groups installed and Established,
//! and is the controller answering (its leader election Lease held and renewed)? Exits 1 with
//! the reason when not; `--wait` polls until ready or the time is up.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::Api;

use super::kube::{CliError, ConnectionArgs, OutputFormat, block_on, print_report};
use crate::diagnose::api_check::{
    ApiCheck, LEASE_NAME, REQUIRED_CRDS, api_check, check_crd, check_lease, render,
};

/// How often `--wait` looks again.
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub target: CheckTarget,
}

#[derive(Debug, clap::Subcommand)]
pub enum CheckTarget {
    /// Are the CRDs installed and the controller answering?
    Api(CheckApiArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckApiArgs {
    /// Keep checking until ready or this long has passed (Go duration, e.g. `2m`).
    #[arg(long, value_parser = super::parse_go_duration)]
    pub wait: Option<Duration>,
    /// Namespace of the controller's Lease `certsmith-controller` (the controller's flag of
    /// the same name).
    #[arg(
        long,
        env = "CERTSMITH_LEADER_ELECTION_NAMESPACE",
        default_value = "kube-system"
    )]
    pub leader_election_namespace: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Output format: text for people, json or yaml for tools.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn run(args: CheckArgs) -> ExitCode {
    match args.target {
        CheckTarget::Api(args) => block_on("check", check_api(args)),
    }
}

async fn check_api(args: CheckApiArgs) -> Result<ExitCode, CliError> {
    let deadline = args.wait.map(|w| Instant::now() + w);
    let conn = args.connection.connect().await?;
    loop {
        let result = once(&conn.client, &args.leader_election_namespace).await;
        let now = Timestamp::now();
        let retry = deadline.is_some_and(|d| Instant::now() + POLL < d);
        match result {
            Ok(check) if check.ready || !retry => {
                print_report(args.output, &check, |c| render(c, now))?;
                return Ok(if check.ready {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            Err(err) if !retry => return Err(err),
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// One round of checks. An API server that does not answer is an error (exit 1 with it).
async fn once(client: &Client, lease_namespace: &str) -> Result<ApiCheck, CliError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut checks = Vec::new();
    for name in REQUIRED_CRDS {
        let crd = crds
            .get_opt(name)
            .await
            .map_err(CliError::api(format!("reading CRD {name}")))?;
        checks.push(check_crd(name, crd.as_ref()));
    }
    let lease = Api::<Lease>::namespaced(client.clone(), lease_namespace)
        .get_opt(LEASE_NAME)
        .await
        .map_err(CliError::api(format!(
            "reading Lease {lease_namespace}/{LEASE_NAME}"
        )))?;
    let now = Timestamp::now();
    Ok(api_check(
        checks,
        lease_namespace,
        check_lease(lease.as_ref(), now),
        now,
    ))
}
