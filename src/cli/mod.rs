//! The `certsmith` command line: one binary, one subcommand per job.

pub mod crdgen;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Print the version of this binary.
    Version,
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Crdgen(args) => crdgen::run(&args),
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
