//! What every user-facing command shares: kubectl's connection flags (`--kubeconfig`,
//! `--context`, `-n`, `-A`), the output format flag, and how a command's failure is printed.

use std::path::PathBuf;
use std::process::ExitCode;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Serialize;

/// Connection flags, as kubectl spells them.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConnectionArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace (default: the context's namespace, then `default`).
    #[arg(short = 'n', long, value_name = "NAME")]
    pub namespace: Option<String>,
}

/// A connected client and the namespace the command works in.
pub struct Connection {
    pub client: Client,
    pub namespace: String,
}

/// Why a command could not do its job; printed as `error: ...`, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("loading the kubeconfig failed: {0}")]
    Kubeconfig(String),
    #[error("connecting to the Kubernetes API failed: {0}")]
    Connect(String),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// An API error with what was being done.
    pub fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Api { what, source }
    }
}

impl ConnectionArgs {
    /// Loads the configuration as kubectl would and connects.
    pub async fn connect(&self) -> Result<Connection, CliError> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let config = match (&self.kubeconfig, &self.context) {
            (Some(path), _) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| CliError::Kubeconfig(format!("{}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| CliError::Kubeconfig(e.to_string()))?
            }
            (None, Some(_)) => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| CliError::Kubeconfig(e.to_string()))?,
            (None, None) => Config::infer()
                .await
                .map_err(|e| CliError::Kubeconfig(e.to_string()))?,
        };
        // kube fills this from the context's namespace, else `default`, as kubectl does.
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| CliError::Connect(e.to_string()))?;
        Ok(Connection { client, namespace })
    }
}

/// `-o text|json|yaml`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
    Yaml,
}

/// Prints `value` as JSON or YAML; `text` renders it otherwise.
pub fn print_report<T: Serialize>(
    format: OutputFormat,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<(), CliError> {
    let out = match format {
        OutputFormat::Text => text(value),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(value)
                .map_err(|e| CliError::Failed(format!("writing JSON failed: {e}")))?;
            s.push('\n');
            s
        }
        OutputFormat::Yaml => serde_saphyr::to_string(value)
            .map_err(|e| CliError::Failed(format!("writing YAML failed: {e}")))?,
    };
    print!("{out}");
    Ok(())
}

/// Runs an async command on a fresh runtime; prints its error and maps it to an exit code.
pub fn block_on(
    command: &str,
    fut: impl std::future::Future<Output = Result<ExitCode, CliError>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("certsmith {command}: starting the async runtime failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
