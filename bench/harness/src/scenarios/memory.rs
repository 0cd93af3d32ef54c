//! Scenario 2: controller RSS with no objects, with 50,000 unrelated 10 KiB Secrets (as Helm
//! release Secrets are), and after one and two batches of 1,000 CA Certificates on top; the
//! peak (VmHWM) over the run and the growth per 1,000 Certificates.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Bench, rss_curve, rss_mib, settle};
use crate::controller::Controller;
use crate::load::{self, certificates};
use crate::targets;
use crate::watch::CertWatch;

const SECRET_BYTES: usize = 10 * 1024;
pub const UNRELATED_NAMESPACE: &str = "bench-unrelated";

pub async fn run(b: &mut Bench) {
    let secrets = b.n(50_000);
    let n = b.n(1000);
    eprintln!(
        "== memory: no objects, then {secrets} unrelated Secrets of 10 KiB, then 2 x {n} CA Certificates"
    );
    for run in 1..=b.runs {
        if let Err(e) = no_objects(b, run).await {
            b.note(format!("memory (no objects) run {run}: {e}"));
        }
    }
    let t0 = Instant::now();
    if let Err(e) = load::ensure_namespace(&b.client, UNRELATED_NAMESPACE).await {
        b.note(format!("memory: namespace {UNRELATED_NAMESPACE}: {e}"));
        return;
    }
    let created = load::create_many(
        &b.client,
        UNRELATED_NAMESPACE,
        &load::secrets(),
        secrets,
        32,
        |i| {
            load::opaque_secret(
                &format!("sh.helm.release.v1.app{i}.v1"),
                SECRET_BYTES,
                i as u64 + 1,
            )
        },
    )
    .await;
    let took = t0.elapsed().as_secs_f64();
    eprintln!(
        "  {} Secrets created ({} existed) in {took:.1} s",
        created.created, created.existed
    );
    b.fig(
        "bench_secrets_created_per_second",
        "objects/s",
        1,
        secrets as f64 / took,
        None,
    );
    for run in 1..=b.runs {
        let ns = b.namespace("memory", run);
        if let Err(e) = load::ensure_namespace(&b.client, &ns).await {
            b.note(format!("memory run {run}: {e}"));
            continue;
        }
        let mut c = match b.ready_controller(&format!("memory-{run}"), &[]).await {
            Ok(c) => c,
            Err(e) => {
                b.note(format!("memory run {run}: {e}"));
                continue;
            }
        };
        let mut marks = Vec::new();
        if let Err(e) = with_load(b, &mut c, &ns, run, n, &mut marks).await {
            b.note(format!("memory run {run}: {e}"));
        }
        b.fig(
            "memory_peak_rss_mib",
            "MiB",
            run,
            c.sampler.peak_kib() as f64 / 1024.0,
            Some(targets::PEAK_RSS_MIB),
        );
        b.curve("memory", rss_curve(run, &c, &marks));
        b.finish(c, &ns, run).await;
    }
}

async fn no_objects(b: &mut Bench, run: usize) -> Result<(), String> {
    let c = b
        .ready_controller(&format!("memory-empty-{run}"), &[])
        .await?;
    settle(&c, Duration::from_secs(30)).await;
    b.fig("memory_rss_no_objects_mib", "MiB", run, rss_mib(&c), None);
    c.stop().await;
    Ok(())
}

async fn with_load(
    b: &mut Bench,
    c: &mut Controller,
    ns: &str,
    run: usize,
    n: usize,
    marks: &mut Vec<(f64, String)>,
) -> Result<(), String> {
    let mut mark = |c: &Controller, label: &str| {
        marks.push((c.started.elapsed().as_secs_f64(), label.to_owned()))
    };
    settle(c, Duration::from_secs(60)).await;
    let rss_secrets = rss_mib(c);
    mark(c, "Secrets only");
    b.fig(
        "memory_rss_unrelated_secrets_mib",
        "MiB",
        run,
        rss_secrets,
        None,
    );
    load::make_ca(&b.client, ns, Duration::from_secs(60)).await?;
    let watch = CertWatch::start(&b.client, ns).await;
    let timeout = Duration::from_secs_f64(120.0 + n as f64 * 0.6);
    let mut after = Vec::new();
    for batch in ["a", "b"] {
        load::create_many(&b.client, ns, &certificates(), n, 64, |i| {
            load::certificate(
                &format!("{batch}{i}"),
                "ca",
                &format!("{batch}{i}.example.test"),
                &json!({}),
            )
        })
        .await;
        if !watch
            .wait_ready(
                &format!("memory run {run} batch {batch}"),
                batch,
                n,
                timeout,
            )
            .await
        {
            return Err(format!(
                "batch {batch}: not every Certificate Ready after {timeout:?}"
            ));
        }
        settle(c, Duration::from_secs(60)).await;
        after.push(rss_mib(c));
        mark(c, &format!("+{n} Certificates"));
    }
    let per = n as f64 / 1000.0;
    b.fig(
        "memory_rss_after_first_certificates_mib",
        "MiB",
        run,
        after[0],
        None,
    );
    b.fig(
        "memory_rss_after_second_certificates_mib",
        "MiB",
        run,
        after[1],
        None,
    );
    b.fig(
        "memory_rss_growth_first_1000_certificates_mib",
        "MiB",
        run,
        (after[0] - rss_secrets) / per,
        None,
    );
    b.fig(
        "memory_rss_growth_per_1000_certificates_mib",
        "MiB",
        run,
        (after[1] - after[0]) / per,
        Some(targets::RSS_GROWTH_PER_1000_MIB),
    );
    Ok(())
}
