//! `certsmith crdgen`: write (or check, or print) the generated CRD files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::api::crds;

#[derive(Debug, clap::Args)]
pub struct CrdgenArgs {
    /// Repository root under which crds/ and charts/certsmith/templates/ are written.
    #[arg(long, default_value_os_t = super::default_root())]
    pub root: PathBuf,
    /// Do not write: exit 1 and list the files that differ from what the types generate.
    #[arg(long, conflicts_with = "stdout")]
    pub check: bool,
    /// Print all CRDs as one multi-document YAML stream instead of writing files
    /// (e.g. `certsmith crdgen --stdout | kubectl apply --server-side -f -`).
    #[arg(long)]
    pub stdout: bool,
}

pub fn run(args: &CrdgenArgs) -> ExitCode {
    match execute(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("certsmith crdgen: {err}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CrdgenError {
    #[error("rendering the CRDs as YAML failed: {0}")]
    Render(#[from] serde_saphyr::SerializeError),
    #[error("writing {path} failed: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn execute(args: &CrdgenArgs) -> Result<ExitCode, CrdgenError> {
    if args.stdout {
        for crd in crds::all() {
            print!("---\n{}", crds::to_yaml(&crd)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let files = crds::generated_files()?;
    if args.check {
        let stale = stale_files(&args.root, &files);
        if stale.is_empty() {
            println!("{} generated files are up to date", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for path in &stale {
            eprintln!("out of date: {path}");
        }
        eprintln!("run `certsmith crdgen` (or `cargo run -- crdgen`) and commit the result");
        return Ok(ExitCode::FAILURE);
    }
    for (rel, contents) in &files {
        write_file(&args.root.join(rel), contents)?;
        println!("wrote {rel}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Generated files whose committed copy is missing or different.
pub fn stale_files(root: &Path, files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(rel, contents)| {
            std::fs::read_to_string(root.join(rel)).ok().as_deref() != Some(contents)
        })
        .map(|(rel, _)| rel.clone())
        .collect()
}

fn write_file(path: &Path, contents: &str) -> Result<(), CrdgenError> {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, contents)
    };
    write().map_err(|source| CrdgenError::Write {
        path: path.to_owned(),
        source,
    })
}
