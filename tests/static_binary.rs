//! The shipped binary, built by hack/build-static.sh exactly as the Dockerfile builds it (a
//! release build for musl: slow the first time, incremental later): statically linked (no
//! dynamic loader, so it runs in a distroless/static or scratch image), both subcommands the
//! image is used for start, and its size stays bounded.

mod support;

use std::process::Command;

use support::{repo_root, run};

/// Measured 25.1 MB (23.9 MiB) at v0.1.0, stripped; the bound leaves room to grow.
const MAX_SIZE_BYTES: u64 = 40 * 1024 * 1024;

/// ELF program header type of the dynamic loader's path.
const PT_INTERP: u32 = 3;

/// The program header types of a 64-bit little-endian ELF file. Pure.
fn program_header_types(elf: &[u8]) -> Vec<u32> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count)
        .map(|i| {
            let at = phoff + i * size;
            u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"))
        })
        .collect()
}

#[test]
fn build_static_script_makes_a_small_static_binary_that_runs_both_subcommands() {
    let started = std::time::Instant::now();
    let (ok, out, err) = run(&mut Command::new(repo_root().join("hack/build-static.sh")));
    assert!(ok, "hack/build-static.sh failed:\n{err}");
    let binary = std::path::PathBuf::from(out.trim());
    println!(
        "hack/build-static.sh: {} in {:.0?}",
        binary.display(),
        started.elapsed()
    );

    let elf = std::fs::read(&binary).expect("reading the binary");
    let types = program_header_types(&elf);
    assert!(!types.is_empty(), "no program headers");
    assert!(
        !types.contains(&PT_INTERP),
        "the binary asks for a dynamic loader (PT_INTERP): it would not start in a static image"
    );
    let size = elf.len() as u64;
    println!(
        "static binary size: {size} bytes ({:.1} MiB)",
        size as f64 / 1048576.0
    );
    assert!(
        size <= MAX_SIZE_BYTES,
        "the binary grew to {size} bytes (bound {MAX_SIZE_BYTES})"
    );

    let (ok, out, err) = run(Command::new(&binary).arg("version"));
    assert!(ok, "certsmith version failed: {err}");
    assert_eq!(
        out.trim(),
        format!("certsmith {}", env!("CARGO_PKG_VERSION"))
    );
    let (ok, out, err) = run(Command::new(&binary).args(["acmesolver", "--help"]));
    assert!(ok, "certsmith acmesolver --help failed: {err}");
    assert!(out.contains("--domain"), "{out}");
    let (ok, out, err) = run(Command::new(&binary).args(["controller", "--help"]));
    assert!(ok, "certsmith controller --help failed: {err}");
    assert!(out.contains("--leader-election-namespace"), "{out}");
}

#[test]
fn dockerfile_builds_with_the_script_and_runs_as_non_root() {
    let dockerfile =
        std::fs::read_to_string(repo_root().join("Dockerfile")).expect("reading the Dockerfile");
    let runs: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.trim_start().starts_with("RUN "))
        .collect();
    assert_eq!(runs.len(), 1, "one build step: {runs:?}");
    assert!(
        runs[0].contains("hack/build-static.sh"),
        "the image is built by the tested script: {}",
        runs[0]
    );
    assert!(dockerfile.contains("USER 65532:65532"));
    let last_from = dockerfile
        .lines()
        .rfind(|l| l.starts_with("FROM "))
        .expect("a final stage");
    assert!(last_from.contains("distroless/static"), "{last_from}");
}
