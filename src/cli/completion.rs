//! `certsmith completion bash|zsh|fish`: the shell completion script, from the clap definition.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh or fish (also elvish, powershell).
    pub shell: Shell,
}

/// Writes the script for `shell` to `out`.
pub fn write(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut super::Cli::command(), "certsmith", out);
}

pub fn run(args: CompletionArgs) -> ExitCode {
    write(args.shell, &mut std::io::stdout());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shell_names_the_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            write(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            for word in [
                "status",
                "renew",
                "inspect",
                "check",
                "approve",
                "deny",
                "completion",
            ] {
                assert!(text.contains(word), "{shell:?} script lacks {word}");
            }
        }
    }
}
