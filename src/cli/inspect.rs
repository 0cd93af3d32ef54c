//! `certsmith inspect secret NAME`: what a TLS Secret holds, in human terms (see
//! `diagnose::secret`). The private key is only compared, never printed.

use std::collections::BTreeMap;
use std::process::ExitCode;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde::Serialize;

use super::kube::{CliError, ConnectionArgs, OutputFormat, block_on, print_report};
use crate::diagnose::render::secret_text;
use crate::diagnose::secret::{SecretAnalysis, analyse};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(subcommand)]
    pub target: InspectTarget,
}

#[derive(Debug, clap::Subcommand)]
pub enum InspectTarget {
    /// Decode tls.crt, ca.crt and check tls.key of a Secret.
    Secret(InspectSecretArgs),
}

#[derive(Debug, clap::Args)]
pub struct InspectSecretArgs {
    /// Name of the Secret.
    pub name: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Output format: text for people, json or yaml for tools.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// `inspect secret` as data.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretReport {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    #[serde(flatten)]
    pub analysis: SecretAnalysis,
}

pub fn run(args: InspectArgs) -> ExitCode {
    match args.target {
        InspectTarget::Secret(args) => block_on("inspect", inspect_secret(args)),
    }
}

async fn inspect_secret(args: InspectSecretArgs) -> Result<ExitCode, CliError> {
    let conn = args.connection.connect().await?;
    let ns = conn.namespace;
    let secret = Api::<Secret>::namespaced(conn.client, &ns)
        .get_opt(&args.name)
        .await
        .map_err(CliError::api(format!("reading Secret {ns}/{}", args.name)))?
        .ok_or_else(|| CliError::Failed(format!("Secret {ns}/{} not found", args.name)))?;
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    let report = SecretReport {
        namespace: ns,
        name: args.name,
        type_: secret.type_,
        analysis: analyse(&data),
    };
    drop(data);
    let now = Timestamp::now();
    print_report(args.output, &report, |r| {
        secret_text(&r.namespace, &r.name, &r.analysis, now)
    })?;
    Ok(ExitCode::SUCCESS)
}
