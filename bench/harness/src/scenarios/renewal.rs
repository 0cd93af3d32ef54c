//! Scenario 6: a renewal storm. N CA Certificates (duration 1h) are issued; then each gets the
//! `renewBefore` that puts its renewal time at one common instant T (notAfter - T, to the second;
//! renewBefore is not part of the request, so this re-issues nothing by itself). From T on: the
//! delay until each Certificate's next revision is seen, and the apiserver write rate (its
//! counters scraped every second). This is the one scenario whose controller runs with a client
//! write limit (`--kube-api-qps`/`--kube-api-burst`, the runner's flags of the same names, when
//! the binary has them): the write rate is judged against the limit it was given.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;

use super::{Bench, p50_p99, report_writes, settle};
use crate::apimetrics::{self, Snapshot};
use crate::controller::Controller;
use crate::load::{self, certificates};
use crate::stats;
use crate::targets::Target;
use crate::watch::CertWatch;

pub async fn run(b: &mut Bench) {
    let n = b.n(1000);
    eprintln!("== renewal storm: {n} CA Certificates renewing at one instant");
    for run in 1..=b.runs {
        let ns = b.namespace("renewal", run);
        if let Err(e) = load::ensure_namespace(&b.client, &ns).await {
            b.note(format!("renewal run {run}: {e}"));
            continue;
        }
        let limit = b.rate_limit_args();
        let mut c = match b.ready_controller(&format!("renewal-{run}"), &limit).await {
            Ok(c) => c,
            Err(e) => {
                b.note(format!("renewal run {run}: {e}"));
                continue;
            }
        };
        if let Err(e) = one(b, &mut c, &ns, run, n).await {
            b.note(format!("renewal run {run}: {e}"));
        }
        b.finish(c, &ns, run).await;
    }
}

/// Writes not in the background (the harness writes nothing after T).
fn non_background(s: &Snapshot) -> u64 {
    s.writes
        .iter()
        .filter(|(k, _)| !apimetrics::is_background(k))
        .map(|(_, v)| v)
        .sum()
}

async fn one(
    b: &mut Bench,
    c: &mut Controller,
    ns: &str,
    run: usize,
    n: usize,
) -> Result<(), String> {
    load::make_ca(&b.client, ns, Duration::from_secs(60)).await?;
    let watch = CertWatch::start(&b.client, ns).await;
    load::create_many(&b.client, ns, &certificates(), n, 64, |i| {
        load::certificate(
            &format!("r{i}"),
            "ca",
            &format!("r{i}.example.test"),
            &json!({"duration": "1h", "renewBefore": "30m"}),
        )
    })
    .await;
    let timeout = Duration::from_secs_f64(120.0 + n as f64 * 0.6);
    if !watch
        .wait_ready(&format!("renewal run {run}: issuing"), "r", n, timeout)
        .await
    {
        return Err(format!("not every Certificate Ready after {timeout:?}"));
    }
    settle(c, Duration::from_secs(60)).await;

    // One renewal time for all: far enough ahead for the patches and the controller's
    // renewalTime updates to land first.
    let lead = Duration::from_secs_f64(15.0 + n as f64 * 0.03);
    let now = jiff::Timestamp::now();
    let at = jiff::Timestamp::from_second(now.as_second() + lead.as_secs() as i64 + 1)
        .map_err(|e| e.to_string())?;
    let at_instant =
        Instant::now() + Duration::from_millis((at.as_millisecond() - now.as_millisecond()) as u64);
    let seen = watch.snapshot();
    let mut patches = Vec::new();
    for (name, s) in seen.iter().filter(|(k, _)| k.starts_with('r')) {
        let not_after: jiff::Timestamp = s
            .not_after
            .as_deref()
            .ok_or_else(|| format!("{name} has no status.notAfter"))?
            .parse()
            .map_err(|e| format!("{name}: notAfter: {e}"))?;
        let before = not_after.as_second() - at.as_second();
        patches.push((name.clone(), format!("{before}s"), s.revision));
    }
    let base: BTreeMap<String, i64> = patches.iter().map(|(n, _, r)| (n.clone(), *r)).collect();
    let api: Api<DynamicObject> = Api::namespaced_with(b.client.clone(), ns, &certificates());
    let patched = futures::stream::iter(patches)
        .map(|(name, before, _)| {
            let api = api.clone();
            async move {
                api.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"renewBefore": before}})),
                )
                .await
                .is_ok()
            }
        })
        .buffer_unordered(32)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    if patched < n {
        b.note(format!(
            "renewal run {run}: only {patched} of {n} renewBefore patches succeeded"
        ));
    }
    // The renewal times the controller settled on, just before T.
    tokio::time::sleep_until((at_instant - Duration::from_millis(500)).into()).await;
    let want = at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let aligned = watch
        .snapshot()
        .values()
        .filter(|s| s.renewal_time.as_deref() == Some(&want))
        .count();
    b.fig(
        "renewal_times_aligned",
        "certificates",
        run,
        aligned as f64,
        None,
    );
    if aligned < n {
        b.note(format!(
            "renewal run {run}: {aligned} of {n} Certificates had status.renewalTime {want} at T - 0.5 s (the rest renew when their own time comes)"
        ));
    }

    tokio::time::sleep_until(at_instant.into()).await;
    let w0 = b.writes().await;
    // Each Certificate's renewBefore goes back to the default once its renewal is seen:
    // renewBefore = notAfter - T renews again (T - issuance) after the renewal, and a storm
    // longer than that would feed itself. These patches are the bench's, not counted.
    let released = Arc::new(AtomicU64::new(0));
    let releaser = {
        let (api, base, snapshots, released) = (
            api.clone(),
            base.clone(),
            watch.snapshots(),
            released.clone(),
        );
        tokio::spawn(async move {
            let mut done = std::collections::HashSet::new();
            loop {
                let now_renewed: Vec<String> = snapshots()
                    .into_iter()
                    .filter(|(k, v)| base.get(k).is_some_and(|r| v.revision > *r))
                    .map(|(k, _)| k)
                    .filter(|k| !done.contains(k))
                    .collect();
                for name in now_renewed {
                    let unset = Patch::Merge(json!({"spec": {"renewBefore": null}}));
                    let ok = api
                        .patch(&name, &PatchParams::default(), &unset)
                        .await
                        .is_ok();
                    // Counted once answered: the apiserver has counted it by then.
                    released.fetch_add(1, Ordering::Relaxed);
                    if ok {
                        done.insert(name);
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let rates: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    let scraper = {
        let (client, rates, released) = (b.client.clone(), rates.clone(), released.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                // Time and the bench's own patches taken before asking: the apiserver counts
                // as of the request, and a slow answer must not shrink the next interval.
                let (at, ours) = (
                    at_instant.elapsed().as_secs_f64(),
                    released.load(Ordering::Relaxed),
                );
                if let Ok(s) = apimetrics::scrape(&client).await {
                    let theirs = non_background(&s).saturating_sub(ours);
                    rates.lock().unwrap().push((at, theirs));
                }
            }
        })
    };
    let renewed = |s: &std::collections::HashMap<String, crate::watch::Seen>| {
        s.iter()
            .filter(|(k, v)| base.get(*k).is_some_and(|r| v.revision > *r))
            .count()
    };
    let timeout = Duration::from_secs_f64(120.0 + n as f64 * 0.6);
    let all = watch
        .wait_until(
            &format!("renewal run {run}"),
            timeout,
            |s| renewed(s) >= n,
            |s| format!("{} of {n} renewed", renewed(s)),
        )
        .await;
    let storm = at_instant.elapsed().as_secs_f64();
    settle(c, Duration::from_secs(30)).await;
    releaser.abort();
    scraper.abort();
    let w1 = b.writes().await;
    let seen = watch.snapshot();
    let count = renewed(&seen);
    b.fig(
        "renewal_certificates_renewed",
        "certificates",
        run,
        count as f64,
        Some(Target::at_least(n as f64)),
    );
    let delays: Vec<f64> = seen
        .iter()
        .filter_map(|(k, v)| {
            let r = base.get(k)?;
            let (_, at) = v.revisions.iter().find(|(rev, _)| rev > r)?;
            Some(at.saturating_duration_since(at_instant).as_secs_f64())
        })
        .collect();
    let (p50, p99) = p50_p99(&delays);
    b.fig("renewal_delay_p50_seconds", "s", run, p50, None);
    b.fig("renewal_delay_p99_seconds", "s", run, p99, None);
    b.fig(
        "renewal_delay_max_seconds",
        "s",
        run,
        stats::max(&delays).unwrap_or(f64::NAN),
        None,
    );
    if !all {
        b.note(format!(
            "renewal run {run}: {count} of {n} renewed within {timeout:?}"
        ));
    }
    let delta = w1.since(&w0);
    let harness = BTreeMap::from([(
        "certificates PATCH".to_owned(),
        released.load(Ordering::Relaxed),
    )]);
    let att = report_writes(&format!("renewal run {run}"), &delta, &harness, n as f64);
    b.fig(
        "renewal_writes_per_certificate",
        "writes",
        run,
        att.controller_total() as f64 / n as f64,
        None,
    );
    let points = rates.lock().unwrap().clone();
    let max = stats::max_rate(&points).unwrap_or(f64::NAN);
    // The mean over the storm itself (T to the last renewal), from the scraped counter.
    let mean = stats::window_rate(&points, storm).unwrap_or(f64::NAN);
    // The limit this run's controller was started with: a token bucket of `burst` refilled at
    // `qps` lets at most qps + burst through in one second, and qps × t + burst in t seconds.
    let (max_target, mean_target) = match b.rate_limit {
        Some((qps, burst)) => (
            Some(Target::at_most(f64::from(qps + burst))),
            Some(Target::at_most(
                f64::from(qps) + f64::from(burst) / storm.max(1.0),
            )),
        ),
        None => (None, None),
    };
    b.fig(
        "renewal_write_rate_max_per_second",
        "writes/s",
        run,
        max,
        max_target,
    );
    b.fig(
        "renewal_write_rate_mean_per_second",
        "writes/s",
        run,
        mean,
        mean_target,
    );
    Ok(())
}
