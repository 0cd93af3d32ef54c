//! Scenario 5: a fresh controller starting on a cluster with 10,000 Ready Certificates: time to
//! /readyz (every cache synced) and to idle (under 2 % of a CPU for 1 s), the writes of its first
//! 30 s, and whether anything was re-issued.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::{Bench, report_writes, rss_mib};
use crate::load::{self, certificates};
use crate::targets::{self, ZERO};
use crate::watch::CertWatch;

const WATCH_WRITES_FOR: Duration = Duration::from_secs(30);

pub async fn run(b: &mut Bench) {
    let n = b.n(10_000);
    eprintln!("== startup with {n} Ready Certificates");
    let ns = b.namespace("startup", 0);
    if let Err(e) = load::ensure_namespace(&b.client, &ns).await {
        b.note(format!("startup: {e}"));
        return;
    }
    // The existing Certificates, issued once by a controller that is then stopped.
    let mut loader = match b.ready_controller("startup-load", &[]).await {
        Ok(c) => c,
        Err(e) => return b.note(format!("startup: {e}")),
    };
    let watch = match issue(b, &mut loader, &ns, n).await {
        Ok(w) => w,
        Err(e) => {
            b.note(format!("startup: {e}"));
            b.finish(loader, &ns, 1).await;
            return;
        }
    };
    loader.stop().await;
    for run in 1..=b.runs {
        if let Err(e) = one(b, &watch, run).await {
            b.note(format!("startup run {run}: {e}"));
        }
    }
    drop(watch);
    let took = load::clean_namespace(&b.client, &ns).await;
    b.fig(
        "bench_namespace_cleanup_seconds",
        "s",
        0,
        took.as_secs_f64(),
        None,
    );
}

async fn issue(
    b: &mut Bench,
    c: &mut crate::controller::Controller,
    ns: &str,
    n: usize,
) -> Result<CertWatch, String> {
    load::make_ca(&b.client, ns, Duration::from_secs(60)).await?;
    let watch = CertWatch::start(&b.client, ns).await;
    let t0 = std::time::Instant::now();
    load::create_many(&b.client, ns, &certificates(), n, 64, |i| {
        load::certificate(
            &format!("s{i}"),
            "ca",
            &format!("s{i}.example.test"),
            &json!({}),
        )
    })
    .await;
    let timeout = Duration::from_secs_f64(300.0 + n as f64 * 0.6);
    if !watch
        .wait_ready(
            "startup: issuing the existing Certificates",
            "s",
            n,
            timeout,
        )
        .await
    {
        return Err(format!("not every Certificate Ready after {timeout:?}"));
    }
    b.fig(
        "bench_startup_setup_seconds",
        "s",
        1,
        t0.elapsed().as_secs_f64(),
        None,
    );
    super::settle(c, Duration::from_secs(60)).await;
    Ok(watch)
}

async fn one(b: &mut Bench, watch: &CertWatch, run: usize) -> Result<(), String> {
    let before: BTreeMap<String, i64> = watch
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k, v.revision))
        .collect();
    let w0 = b.writes().await;
    let mut c = b.controller(&format!("startup-{run}"), &[]).await?;
    let ready = c.wait_ready(Duration::from_secs(120)).await;
    match ready {
        Some(t) => b.fig(
            "startup_ready_seconds",
            "s",
            run,
            t.as_secs_f64(),
            Some(targets::STARTUP_SECONDS),
        ),
        None => b.note(format!("startup run {run}: /readyz never answered 200")),
    }
    match c
        .sampler
        .wait_idle(Duration::from_secs(1), 0.02, Duration::from_secs(120))
        .await
    {
        Some(t) => b.fig(
            "startup_idle_seconds",
            "s",
            run,
            t.as_secs_f64(),
            Some(targets::STARTUP_SECONDS),
        ),
        None => b.note(format!(
            "startup run {run}: the controller did not go idle within 120 s"
        )),
    }
    let cpu = c.sampler.last().map(|s| s.reading.cpu_ticks).unwrap_or(0) as f64
        / crate::procfs::ticks_per_second() as f64;
    b.fig("startup_cpu_seconds_controller", "s", run, cpu, None);
    b.fig("startup_rss_mib", "MiB", run, rss_mib(&c), None);
    if let Some(rest) = WATCH_WRITES_FOR.checked_sub(c.started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let delta = b.writes().await.since(&w0);
    let att = report_writes(
        &format!("startup run {run}, first 30 s"),
        &delta,
        &BTreeMap::new(),
        before.len() as f64,
    );
    b.fig(
        "startup_writes_first_30s",
        "writes",
        run,
        att.controller_total() as f64,
        Some(ZERO),
    );
    let after = watch.snapshot();
    let reissued = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|r| *r != v.revision) || !v.ready)
        .count();
    b.fig(
        "startup_reissued_certificates",
        "count",
        run,
        reissued as f64,
        Some(ZERO),
    );
    c.stop().await;
    Ok(())
}
