//! Prometheus metrics with cert-manager's names, so existing dashboards and alerts work.
//!
//! Written in the Prometheus text format (0.0.4) by hand rather than through a metrics crate:
//! cert-manager's counters are named `..._count` without the `_total` suffix that OpenMetrics
//! encoders append, and its ACME request durations are a summary, which prometheus-client
//! cannot encode. Certificate gauges are computed at scrape time from the controller's
//! Certificate cache, so a deleted Certificate never leaves a stale series behind.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::acme::{AcmeRequestStats, RequestLabels, RequestTally};
use crate::api::{CONDITION_READY, Certificate, ConditionStatus, find_condition};

/// Upper bounds of the reconcile duration histogram, in seconds.
const RECONCILE_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's metrics: shared by every controller through the context.
#[derive(Default)]
pub struct Metrics {
    syncs: Mutex<BTreeMap<&'static str, SyncStats>>,
    certificates: OnceLock<Store<Certificate>>,
    acme: OnceLock<AcmeRequestStats>,
    leader: AtomicBool,
}

/// Reconcile calls, errors and durations of one controller.
#[derive(Clone, Debug, Default, PartialEq)]
struct SyncStats {
    calls: u64,
    errors: u64,
    /// Cumulative counts per bucket of [`RECONCILE_BUCKETS`].
    buckets: [u64; RECONCILE_BUCKETS.len()],
    seconds: f64,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records one reconcile of `controller`.
    pub fn record_sync(&self, controller: &'static str, elapsed: Duration, failed: bool) {
        let mut syncs = self.syncs.lock().unwrap_or_else(|e| e.into_inner());
        let stats = syncs.entry(controller).or_default();
        stats.calls += 1;
        if failed {
            stats.errors += 1;
        }
        let secs = elapsed.as_secs_f64();
        stats.seconds += secs;
        for (bound, count) in RECONCILE_BUCKETS.iter().zip(stats.buckets.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
    }

    /// The Certificate cache the certificate gauges are read from (the first one given wins).
    pub fn watch_certificates(&self, store: Store<Certificate>) {
        let _ = self.certificates.set(store);
    }

    /// The ACME request counters to export.
    pub fn watch_acme(&self, stats: AcmeRequestStats) {
        let _ = self.acme.set(stats);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    /// The whole exposition, as served on `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let certificates = self
            .certificates
            .get()
            .map(|s| s.state())
            .unwrap_or_default();
        encode_certificates(&certificates, &mut out);
        let acme = self.acme.get().map(|s| s.snapshot()).unwrap_or_default();
        encode_acme(&acme, &mut out);
        let syncs = self.syncs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        encode_syncs(&syncs, &mut out);
        family(
            &mut out,
            "certsmith_leader_election_leader",
            "1 when this process holds the leader Lease (or runs without leader election).",
            "gauge",
        );
        sample(
            &mut out,
            "certsmith_leader_election_leader",
            &[],
            f64::from(u8::from(self.leader.load(Ordering::Relaxed))),
        );
        let now = jiff::Timestamp::now().as_second() as f64;
        family(
            &mut out,
            "certmanager_clock_time_seconds_gauge",
            "The clock time given in seconds (from 1970/01/01 UTC).",
            "gauge",
        );
        sample(&mut out, "certmanager_clock_time_seconds_gauge", &[], now);
        out
    }
}

/// The certificate gauges, one series per Certificate that has the value.
fn encode_certificates(certificates: &[Arc<Certificate>], out: &mut String) {
    let mut sorted: Vec<&Arc<Certificate>> = certificates.iter().collect();
    sorted.sort_by_key(|c| (c.namespace(), c.name_any()));
    type Field = fn(&Certificate) -> Option<f64>;
    let timestamps: [(&str, &str, Field); 4] = [
        (
            "certmanager_certificate_expiration_timestamp_seconds",
            "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
            |c| seconds(c.status.as_ref()?.not_after.as_ref()?),
        ),
        (
            "certmanager_certificate_not_after_timestamp_seconds",
            "The timestamp after which the certificate is invalid. Expressed as a Unix Epoch Time.",
            |c| seconds(c.status.as_ref()?.not_after.as_ref()?),
        ),
        (
            "certmanager_certificate_not_before_timestamp_seconds",
            "The timestamp before which the certificate is invalid. Expressed as a Unix Epoch Time.",
            |c| seconds(c.status.as_ref()?.not_before.as_ref()?),
        ),
        (
            "certmanager_certificate_renewal_timestamp_seconds",
            "The number of seconds before expiration time the certificate should renew.",
            |c| seconds(c.status.as_ref()?.renewal_time.as_ref()?),
        ),
    ];
    for (name, help, field) in timestamps {
        family(out, name, help, "gauge");
        for c in &sorted {
            if let Some(value) = field(c) {
                sample(out, name, &certificate_labels(c, None), value);
            }
        }
    }
    let name = "certmanager_certificate_ready_status";
    family(out, name, "The ready status of the certificate.", "gauge");
    for c in &sorted {
        let status = c
            .status
            .as_ref()
            .and_then(|s| {
                find_condition(s.conditions.as_deref().unwrap_or_default(), CONDITION_READY)
            })
            .map(|cond| cond.status)
            .unwrap_or(ConditionStatus::Unknown);
        for candidate in [
            ConditionStatus::True,
            ConditionStatus::False,
            ConditionStatus::Unknown,
        ] {
            let value = f64::from(u8::from(candidate == status));
            sample(
                out,
                name,
                &certificate_labels(c, Some(status_label(candidate))),
                value,
            );
        }
    }
}

fn status_label(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

fn seconds(time: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Option<f64> {
    Some(time.0.as_second() as f64)
}

/// cert-manager's labels: the issuer reference exactly as written in the spec.
fn certificate_labels<'a>(
    c: &'a Certificate,
    condition: Option<&'a str>,
) -> Vec<(&'a str, String)> {
    let issuer = &c.spec.issuer_ref;
    let mut labels = vec![
        ("name", c.name_any()),
        ("namespace", c.namespace().unwrap_or_default()),
    ];
    if let Some(condition) = condition {
        labels.push(("condition", condition.to_owned()));
    }
    labels.extend([
        ("issuer_name", issuer.name.clone()),
        ("issuer_kind", issuer.kind.clone().unwrap_or_default()),
        ("issuer_group", issuer.group.clone().unwrap_or_default()),
    ]);
    labels
}

fn encode_acme(tallies: &[(RequestLabels, RequestTally)], out: &mut String) {
    let labels = |l: &RequestLabels| {
        vec![
            ("scheme", l.scheme.clone()),
            ("host", l.host.clone()),
            ("action", l.action.as_str().to_owned()),
            ("method", l.method.clone()),
            ("status", l.status.clone()),
        ]
    };
    let count = "certmanager_http_acme_client_request_count";
    family(
        out,
        count,
        "The number of requests made by the ACME client.",
        "counter",
    );
    for (l, t) in tallies {
        sample(out, count, &labels(l), t.count as f64);
    }
    let duration = "certmanager_http_acme_client_request_duration_seconds";
    family(
        out,
        duration,
        "The HTTP request latencies in seconds for the ACME client.",
        "summary",
    );
    for (l, t) in tallies {
        sample(
            out,
            &format!("{duration}_sum"),
            &labels(l),
            t.duration_seconds,
        );
        sample(
            out,
            &format!("{duration}_count"),
            &labels(l),
            t.count as f64,
        );
    }
}

fn encode_syncs(syncs: &BTreeMap<&'static str, SyncStats>, out: &mut String) {
    let per = |name: &str, help: &str, value: fn(&SyncStats) -> u64, out: &mut String| {
        family(out, name, help, "counter");
        for (controller, stats) in syncs {
            sample(
                out,
                name,
                &[("controller", (*controller).to_owned())],
                value(stats) as f64,
            );
        }
    };
    per(
        "certmanager_controller_sync_call_count",
        "The number of sync() calls made by a controller.",
        |s| s.calls,
        out,
    );
    per(
        "certmanager_controller_sync_error_count",
        "The number of errors encountered during controller sync().",
        |s| s.errors,
        out,
    );
    let name = "certsmith_reconcile_duration_seconds";
    family(
        out,
        name,
        "How long one reconcile took, per controller.",
        "histogram",
    );
    for (controller, stats) in syncs {
        for (bound, count) in RECONCILE_BUCKETS.iter().zip(stats.buckets) {
            sample(
                out,
                &format!("{name}_bucket"),
                &[
                    ("controller", (*controller).to_owned()),
                    ("le", number(*bound)),
                ],
                count as f64,
            );
        }
        let labels = [("controller", (*controller).to_owned())];
        sample(
            out,
            &format!("{name}_bucket"),
            &[
                ("controller", (*controller).to_owned()),
                ("le", "+Inf".to_owned()),
            ],
            stats.calls as f64,
        );
        sample(out, &format!("{name}_sum"), &labels, stats.seconds);
        sample(out, &format!("{name}_count"), &labels, stats.calls as f64);
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, String)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

/// Integral values without a fraction (timestamps read better), others as Rust prints them.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
