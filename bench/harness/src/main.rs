//! certsmith-bench: the benchmark runner behind bench/run.sh (certsmith issue 8). Runs each
//! scenario `--runs` times with a fresh release controller process per run against the bench's
//! private test bed, prints one JSON line per figure (median, min, max over the runs, against its
//! target), and writes bench/results/<UTC timestamp>.json, bench/results/latest.md and the chart
//! data. See bench/README.md for what each scenario does and how each figure is measured.

mod apimetrics;
mod bed;
mod controller;
mod load;
mod procfs;
mod report;
mod scenarios;
mod seed;
mod stats;
mod targets;
mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::scenarios::Bench;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Scenario {
    /// 1 and 3: 1,000 CA Certificates at once, writes per issuance, idle writes.
    Throughput,
    /// 4: ACME http-01 and dns-01 on Pebble.
    Acme,
    /// 6: 1,000 renewals at one instant.
    Renewal,
    /// 5: start with 10,000 Ready Certificates.
    Startup,
    /// 2: RSS with 50,000 unrelated Secrets and 2 x 1,000 Certificates (last: it leaves the
    /// Secrets behind).
    Memory,
}

#[derive(Debug, Parser)]
#[command(
    name = "certsmith-bench",
    about = "certsmith's benchmark runner (use bench/run.sh)"
)]
struct Args {
    /// Runs per scenario, each with a fresh controller process.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Multiplies every object count (1,000 Certificates, 50,000 Secrets, ...).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// How long the steady-state write count watches a controller with nothing to do.
    #[arg(long, default_value_t = 60)]
    idle_seconds: u64,
    /// The controller binary (the release build).
    #[arg(long)]
    controller: PathBuf,
    /// The repository (hack/testenv.sh, crds/).
    #[arg(long)]
    repo: PathBuf,
    /// Where controller logs and chart data go.
    #[arg(long)]
    work_dir: PathBuf,
    /// Where <timestamp>.json and latest.md go.
    #[arg(long)]
    results_dir: PathBuf,
    /// Client write limit (writes per second) of the renewal scenario's controller, whose write
    /// rate is judged against it; every other scenario runs the controller with its default.
    #[arg(long, default_value_t = 50)]
    kube_api_qps: u32,
    /// Writes at once above that rate, for the renewal scenario's controller only.
    #[arg(long, default_value_t = 100)]
    kube_api_burst: u32,
    /// Keep the bed's cluster as it is instead of starting from an empty one.
    #[arg(long)]
    no_reset: bool,
    /// Scenarios to run (default: all), always in the order listed here.
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certsmith-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let started = jiff::Timestamp::now();
    let stamp = started.strftime("%Y%m%dT%H%M%SZ").to_string();
    let work = args.work_dir.join(&stamp);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    std::fs::create_dir_all(&args.results_dir)
        .map_err(|e| format!("{}: {e}", args.results_dir.display()))?;
    let mut scenarios = if args.scenarios.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        args.scenarios.clone()
    };
    scenarios.sort();
    scenarios.dedup();

    let bed = bed::Bed::from_env(&args.repo)?;
    let mut notes = Vec::new();
    let reset = if args.no_reset {
        bed.install_crds()?;
        None
    } else {
        eprintln!("== resetting the bench bed to an empty cluster");
        Some(bed.reset()?)
    };
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("connecting to the bench bed: {e}"))?;
    let rate_limit = if controller::supports_flag(&args.controller, "--kube-api-qps").await {
        Some((args.kube_api_qps, args.kube_api_burst))
    } else {
        notes.push("the controller has no --kube-api-qps/--kube-api-burst flags yet: the renewal write rate is reported without a limit".to_owned());
        None
    };
    let mut b = Bench {
        client,
        bin: args.controller.clone(),
        bed,
        work: work.clone(),
        runs: args.runs.max(1),
        scale: args.scale,
        idle: Duration::from_secs(args.idle_seconds),
        rate_limit,
        figures: Vec::new(),
        notes,
        curves: BTreeMap::new(),
        token: stamp.to_ascii_lowercase().replace(['t', 'z'], ""),
    };
    if let Some(took) = reset {
        b.fig("bench_bed_reset_seconds", "s", 1, took.as_secs_f64(), None);
    }
    load::ensure_namespace(&b.client, scenarios::CLUSTER_RESOURCE_NAMESPACE)
        .await
        .map_err(|e| e.to_string())?;
    for s in &scenarios {
        match s {
            Scenario::Throughput => scenarios::throughput::run(&mut b).await,
            Scenario::Acme => scenarios::acme::run(&mut b).await,
            Scenario::Renewal => scenarios::renewal::run(&mut b).await,
            Scenario::Startup => scenarios::startup::run(&mut b).await,
            Scenario::Memory => scenarios::memory::run(&mut b).await,
        }
    }

    let summaries = report::summarize(&b.figures);
    for s in &summaries {
        println!("{}", report::to_json(s));
    }
    let meta = report::Meta {
        started: started.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        commit: commit(&args.repo),
        runs: b.runs,
        scale: b.scale,
        counts: format!(
            "{} CA Certificates, {} Secrets, {} at startup, {} http-01 + {} dns-01",
            b.n(1000),
            b.n(50_000),
            b.n(10_000),
            b.n(50),
            b.n(20)
        ),
        scenarios: scenarios
            .iter()
            .map(|s| {
                s.to_possible_value()
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            })
            .collect(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        notes: b.notes.clone(),
    };
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok::<_, String>(())
    };
    let results = report::results_json(&meta, &summaries);
    write(
        args.results_dir.join(format!("{stamp}.json")),
        serde_json::to_string_pretty(&results).expect("json") + "\n",
    )?;
    write(
        args.results_dir.join("latest.md"),
        report::markdown(&meta, &summaries),
    )?;
    write(
        work.join("curves.json"),
        serde_json::to_string(&b.curves).expect("json"),
    )?;
    // bench/run.sh finds the chart data here.
    write(
        args.work_dir.join("latest-curves-path"),
        work.join("curves.json").display().to_string(),
    )?;
    Ok(())
}

/// `git rev-parse --short HEAD`, `+dirty` when the tree has changes outside bench/results.
fn commit(repo: &std::path::Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let dirty = git(&["status", "--porcelain", "--", ".", ":!bench/results"])
        .is_some_and(|s| !s.is_empty());
    if dirty { format!("{head}+dirty") } else { head }
}
