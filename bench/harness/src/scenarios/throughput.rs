//! Scenarios 1 and 3: N CA Certificates (ECDSA P-256) applied at once until all are Ready (the
//! rate, per-certificate latency, conflicts), the apiserver writes per issuance, and then the
//! writes of a controller with nothing to do for `--idle-seconds`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Bench, latencies, p50_p99, ready_curve, report_writes, rss_mib, settle};
use crate::load::{self, certificates};
use crate::targets::{self, ZERO};
use crate::watch::CertWatch;

pub async fn run(b: &mut Bench) {
    let n = b.n(1000);
    eprintln!(
        "== throughput and API politeness: {n} CA Certificates at once, then {} s idle",
        b.idle.as_secs()
    );
    for run in 1..=b.runs {
        if let Err(e) = one(b, run, n).await {
            b.note(format!("throughput run {run}: {e}"));
        }
    }
}

async fn one(b: &mut Bench, run: usize, n: usize) -> Result<(), String> {
    let ns = b.namespace("ca", run);
    load::ensure_namespace(&b.client, &ns)
        .await
        .map_err(|e| e.to_string())?;
    let mut c = b
        .ready_controller(&format!("throughput-{run}"), &[])
        .await?;
    let result = measure(b, &mut c, &ns, run, n).await;
    b.finish(c, &ns, run).await;
    result
}

async fn measure(
    b: &mut Bench,
    c: &mut crate::controller::Controller,
    ns: &str,
    run: usize,
    n: usize,
) -> Result<(), String> {
    load::make_ca(&b.client, ns, Duration::from_secs(60)).await?;
    let watch = CertWatch::start(&b.client, ns).await;
    settle(c, Duration::from_secs(30)).await;
    let cpu0 = b.cpu(c);
    let w0 = b.writes().await;

    let t0 = Instant::now();
    let created = load::create_many(&b.client, ns, &certificates(), n, 64, |i| {
        load::certificate(
            &format!("c{i}"),
            "ca",
            &format!("c{i}.example.test"),
            &json!({}),
        )
    })
    .await;
    eprintln!(
        "  {} Certificates created in {:.1} s",
        created.created,
        created.elapsed.as_secs_f64()
    );
    let timeout = Duration::from_secs_f64(120.0 + n as f64 * 0.6);
    let all = watch
        .wait_ready(&format!("throughput run {run}"), "c", n, timeout)
        .await;
    let elapsed = t0.elapsed().as_secs_f64();
    let seen = watch.snapshot();
    b.curve(
        "throughput",
        ready_curve(
            run,
            t0,
            seen.iter()
                .filter(|(k, _)| k.starts_with('c'))
                .filter_map(|(_, s)| s.first_ready),
        ),
    );
    if !all {
        return Err(format!("not every Certificate Ready after {timeout:?}"));
    }
    b.fig(
        "ca_all_ready_seconds",
        "s",
        run,
        elapsed,
        Some(targets::ca_all_ready_seconds(n)),
    );
    b.fig(
        "ca_certificates_per_second",
        "certificates/s",
        run,
        n as f64 / elapsed,
        Some(targets::CA_RATE),
    );
    let (p50, p99) = p50_p99(&latencies(&created, &seen));
    b.fig("ca_apply_to_ready_p50_seconds", "s", run, p50, None);
    b.fig("ca_apply_to_ready_p99_seconds", "s", run, p99, None);

    // Trailing writes (the last statuses, temporary Secrets removed) belong to the issuance.
    settle(c, Duration::from_secs(30)).await;
    let w1 = b.writes().await;
    let cpu = b.cpu(c).since(cpu0);
    cpu.record(b, "ca", run);
    let delta = w1.since(&w0);
    let harness = BTreeMap::from([("certificates POST".to_owned(), created.attempts)]);
    let att = report_writes(&format!("throughput run {run}"), &delta, &harness, n as f64);
    b.fig(
        "ca_writes_per_certificate",
        "writes",
        run,
        att.controller_total() as f64 / n as f64,
        Some(targets::WRITES_PER_CA_ISSUANCE),
    );
    b.fig(
        "ca_apiserver_409_conflicts",
        "requests",
        run,
        delta.total_conflicts() as f64,
        None,
    );
    // "Zero optimistic-lock retries surfacing as failures": no Certificate with a failed
    // issuance, no warning or error about a conflict in the log.
    let failed = seen.values().filter(|s| s.failed).count();
    let (problems, conflict_lines) = c.log_problems();
    if !problems.is_empty() {
        eprintln!(
            "  controller log: {} warning/error lines; first: {}",
            problems.len(),
            problems[0]
        );
    }
    b.fig(
        "ca_conflicts_surfaced",
        "count",
        run,
        (failed + conflict_lines) as f64,
        Some(ZERO),
    );
    b.fig("ca_controller_rss_mib", "MiB", run, rss_mib(c), None);

    // Scenario 3, steady state: N Ready Certificates, nothing to do.
    let w2 = b.writes().await;
    let cpu_idle0 = b.cpu(c);
    tokio::time::sleep(b.idle).await;
    let w3 = b.writes().await;
    let idle = w3.since(&w2);
    let att = report_writes(
        &format!("idle run {run}"),
        &idle,
        &BTreeMap::new(),
        n as f64,
    );
    b.fig(
        "idle_writes",
        "writes",
        run,
        att.controller_total() as f64,
        Some(ZERO),
    );
    b.fig(
        "idle_cpu_seconds_controller",
        "s",
        run,
        b.cpu(c).since(cpu_idle0).controller,
        None,
    );
    Ok(())
}
