use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    certsmith::cli::run(certsmith::cli::Cli::parse())
}
