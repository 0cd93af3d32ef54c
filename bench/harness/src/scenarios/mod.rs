//! The scenarios of certsmith issue 8 and what they share: the run context, figures, fresh
//! controllers, apiserver write counts, CPU time of the processes involved.

pub mod acme;
pub mod memory;
pub mod renewal;
pub mod startup;
pub mod throughput;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::Client;
use serde_json::{Value, json};

use crate::apimetrics::{self, Snapshot};
use crate::bed::Bed;
use crate::controller::{self, Controller};
use crate::procfs;
use crate::report::RunFigure;
use crate::stats;
use crate::targets::Target;

/// The cluster resource namespace every controller run is given.
pub const CLUSTER_RESOURCE_NAMESPACE: &str = "bench-system";

pub struct Bench {
    pub client: Client,
    pub bin: PathBuf,
    pub bed: Bed,
    /// Controller logs and chart data of this invocation.
    pub work: PathBuf,
    pub runs: usize,
    pub scale: f64,
    pub idle: Duration,
    /// The client write limit (`--kube-api-qps`, `--kube-api-burst`) the renewal scenario runs
    /// its controller with, when the binary has the flags. No other scenario passes it: they
    /// run the controller with its own defaults.
    pub rate_limit: Option<(u32, u32)>,
    pub figures: Vec<RunFigure>,
    pub notes: Vec<String>,
    pub curves: BTreeMap<&'static str, Vec<Value>>,
    /// Distinguishes this invocation's namespaces from earlier ones on a bed kept with --no-reset.
    pub token: String,
}

impl Bench {
    /// A full-scale count scaled down (never below 1).
    pub fn n(&self, full: usize) -> usize {
        ((full as f64 * self.scale).round() as usize).max(1)
    }

    pub fn fig(
        &mut self,
        name: &str,
        unit: &'static str,
        run: usize,
        value: f64,
        target: Option<Target>,
    ) {
        let judged = target
            .map(|t| {
                format!(
                    "  (target {}: {})",
                    t.describe(),
                    if t.met_by(value) { "met" } else { "MISSED" }
                )
            })
            .unwrap_or_default();
        eprintln!("  run {run}: {name} = {value:.3} {unit}{judged}");
        self.figures.push(RunFigure {
            name: name.to_owned(),
            unit,
            run,
            value,
            target,
        });
    }

    pub fn note(&mut self, note: String) {
        eprintln!("  NOTE: {note}");
        self.notes.push(note);
    }

    pub fn namespace(&self, scenario: &str, run: usize) -> String {
        format!("bench-{scenario}-{run}-{}", self.token)
    }

    /// The flags that set the client write limit to [`Bench::rate_limit`] (none when the
    /// binary has no such flags): for the renewal scenario only.
    pub fn rate_limit_args(&self) -> Vec<String> {
        match self.rate_limit {
            Some((qps, burst)) => vec![
                format!("--kube-api-qps={qps}"),
                format!("--kube-api-burst={burst}"),
            ],
            None => Vec::new(),
        }
    }

    /// A fresh controller process: the base flags plus `extra`, nothing else (its client write
    /// limit is its default unless `extra` sets one), its log in the work directory.
    pub async fn controller(&self, name: &str, extra: &[String]) -> Result<Controller, String> {
        let mut args = controller::base_args(CLUSTER_RESOURCE_NAMESPACE);
        args.extend(extra.iter().cloned());
        Controller::start(
            &self.bin,
            &args,
            self.work.join(format!("controller-{name}.log")),
        )
        .await
    }

    /// Starts a controller and waits for /readyz (noting it when there is none).
    pub async fn ready_controller(
        &mut self,
        name: &str,
        extra: &[String],
    ) -> Result<Controller, String> {
        let mut c = self.controller(name, extra).await?;
        if c.wait_ready(Duration::from_secs(120)).await.is_none() {
            if c.exited() {
                return Err(format!("the controller exited; see {}", c.log.display()));
            }
            self.note(format!("{name}: /readyz did not answer 200 within 120 s"));
        }
        Ok(c)
    }

    /// The apiserver's write counters (retried: the apiserver may be busy).
    pub async fn writes(&self) -> Snapshot {
        for attempt in 1..=5 {
            match apimetrics::scrape(&self.client).await {
                Ok(s) => return s,
                Err(e) => {
                    eprintln!("  reading kube-apiserver /metrics (attempt {attempt}): {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        Snapshot::default()
    }

    /// CPU seconds used so far by the controller, kube-apiserver, etcd and the bench itself.
    pub fn cpu(&self, c: &Controller) -> Cpu {
        self.cpu_of(Some(c))
    }

    /// As [`Bench::cpu`]; without a controller its figure is 0.
    pub fn cpu_of(&self, c: Option<&Controller>) -> Cpu {
        let secs = |pid: Option<u32>| {
            pid.and_then(|p| procfs::read(p).ok())
                .map(|r| r.cpu_ticks as f64 / procfs::ticks_per_second() as f64)
                .unwrap_or(0.0)
        };
        Cpu {
            controller: secs(c.map(|c| c.pid)),
            apiserver: secs(self.bed.pid("kube-apiserver")),
            etcd: secs(self.bed.pid("etcd")),
            bench: secs(Some(std::process::id())),
        }
    }

    /// Stops the controller and deletes what the run left in `ns`.
    pub async fn finish(&mut self, c: Controller, ns: &str, run: usize) {
        c.stop().await;
        let took = crate::load::clean_namespace(&self.client, ns).await;
        self.fig(
            "bench_namespace_cleanup_seconds",
            "s",
            run,
            took.as_secs_f64(),
            None,
        );
    }

    pub fn curve(&mut self, kind: &'static str, curve: Value) {
        self.curves.entry(kind).or_default().push(curve);
    }
}

/// CPU seconds of the processes involved, to say where the time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub controller: f64,
    pub apiserver: f64,
    pub etcd: f64,
    pub bench: f64,
}

impl Cpu {
    pub fn since(self, before: Cpu) -> Cpu {
        Cpu {
            controller: self.controller - before.controller,
            apiserver: self.apiserver - before.apiserver,
            etcd: self.etcd - before.etcd,
            bench: self.bench - before.bench,
        }
    }

    /// Records the four as figures `<prefix>_cpu_seconds_<process>`.
    pub fn record(self, b: &mut Bench, prefix: &str, run: usize) {
        for (who, v) in [
            ("controller", self.controller),
            ("apiserver", self.apiserver),
            ("etcd", self.etcd),
            ("bench", self.bench),
        ] {
            b.fig(&format!("{prefix}_cpu_seconds_{who}"), "s", run, v, None);
        }
    }
}

/// Per-certificate seconds from the create request to the first moment seen Ready.
pub fn latencies(
    created: &crate::load::Created,
    seen: &std::collections::HashMap<String, crate::watch::Seen>,
) -> Vec<f64> {
    created
        .sent
        .iter()
        .filter_map(|(name, sent)| {
            let ready = seen.get(name)?.first_ready?;
            Some(ready.saturating_duration_since(*sent).as_secs_f64())
        })
        .collect()
}

/// The Ready count over time since `t0`: a point per Certificate.
pub fn ready_curve(run: usize, t0: Instant, names: impl Iterator<Item = Instant>) -> Value {
    let mut t: Vec<f64> = names
        .map(|i| i.saturating_duration_since(t0).as_secs_f64())
        .collect();
    t.sort_by(f64::total_cmp);
    let ready: Vec<usize> = (1..=t.len()).collect();
    json!({"run": run, "t": t, "ready": ready})
}

/// The RSS samples of a controller's life, MiB over seconds, with labelled moments.
pub fn rss_curve(run: usize, c: &Controller, marks: &[(f64, String)]) -> Value {
    let samples = c.sampler.samples();
    json!({
        "run": run,
        "t": samples.iter().map(|s| s.at_ms as f64 / 1000.0).collect::<Vec<_>>(),
        "rss_mib": samples.iter().map(|s| s.reading.rss_kib as f64 / 1024.0).collect::<Vec<_>>(),
        "marks": marks.iter().map(|(t, l)| json!({"t": t, "label": l})).collect::<Vec<_>>(),
    })
}

/// Prints the controller's writes in a window, by resource and verb, and returns them.
pub fn report_writes(
    label: &str,
    delta: &Snapshot,
    harness: &BTreeMap<String, u64>,
    per: f64,
) -> apimetrics::Attributed {
    let att = apimetrics::attribute(delta, harness);
    eprintln!(
        "  {label}: {} writes, {} by the controller ({:.2} per certificate); not counted: {} by the bench, {} background (apiserver Lease and endpoints, solver Pod status); 409 conflicts: {}",
        delta.total_writes(),
        att.controller_total(),
        att.controller_total() as f64 / per,
        att.harness,
        att.background,
        delta.total_conflicts()
    );
    let text = apimetrics::breakdown(&att, per);
    if !text.is_empty() {
        eprintln!("{text}");
    }
    for (k, n) in &delta.conflicts {
        eprintln!("    409 on {k}: {n}");
    }
    // Reads cost the apiserver too (every client's, the bench's watch included).
    let mut reads: Vec<(&String, &u64)> = delta.reads.iter().collect();
    reads.sort_by(|a, b| b.1.cmp(a.1));
    if !reads.is_empty() {
        let top: Vec<String> = reads
            .iter()
            .take(6)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        eprintln!("    reads (all clients): {}", top.join(", "));
    }
    att
}

/// Median and p99 of a sample, for the figures that report both.
pub fn p50_p99(v: &[f64]) -> (f64, f64) {
    (
        stats::percentile(v, 50.0).unwrap_or(f64::NAN),
        stats::percentile(v, 99.0).unwrap_or(f64::NAN),
    )
}

/// The last RSS reading, MiB.
pub fn rss_mib(c: &Controller) -> f64 {
    c.sampler
        .last()
        .map(|s| s.reading.rss_kib as f64 / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Waits until the controller has gone idle (under 2 % of a CPU for 1 s), at most `timeout`.
pub async fn settle(c: &Controller, timeout: Duration) -> bool {
    c.sampler
        .wait_idle(Duration::from_secs(1), 0.02, timeout)
        .await
        .is_some()
}
