//! Watches the Certificates of one namespace and records, per Certificate, when the bench first
//! saw it Ready and when it first saw each revision: the throughput curve, the apply-to-Ready
//! latencies and the renewal delays come from these moments (millisecond resolution, where the
//! Ready condition's lastTransitionTime has only seconds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio::sync::Notify;

use crate::load::{certificates, is_ready};

#[derive(Clone, Debug)]
pub struct Seen {
    pub ready: bool,
    pub first_ready: Option<Instant>,
    pub revision: i64,
    /// When each revision was first seen.
    pub revisions: Vec<(i64, Instant)>,
    /// A failed issuance was recorded (failedIssuanceAttempts or lastFailureTime).
    pub failed: bool,
    pub not_after: Option<String>,
    pub renewal_time: Option<String>,
}

type State = Arc<Mutex<HashMap<String, Seen>>>;

pub struct CertWatch {
    state: State,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl CertWatch {
    /// Starts watching and returns once the initial list is in.
    pub async fn start(client: &Client, ns: &str) -> CertWatch {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &certificates());
        let state: State = Arc::default();
        let changed = Arc::new(Notify::new());
        let synced = Arc::new(Notify::new());
        let (st, ch, sy) = (state.clone(), changed.clone(), synced.clone());
        let task = tokio::spawn(async move {
            let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        record(&st, &o);
                        ch.notify_waiters();
                    }
                    Ok(watcher::Event::InitDone) => sy.notify_one(),
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("  certificate watch: {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(60), synced.notified()).await;
        CertWatch {
            state,
            changed,
            task,
        }
    }

    pub fn snapshot(&self) -> HashMap<String, Seen> {
        self.state.lock().unwrap().clone()
    }

    /// A snapshot taker a spawned task can own.
    pub fn snapshots(&self) -> impl Fn() -> HashMap<String, Seen> + Send + Sync + 'static {
        let state = self.state.clone();
        move || state.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the current state, printing progress (what `progress`
    /// says) every 5 s. Returns false on timeout.
    pub async fn wait_until(
        &self,
        label: &str,
        timeout: Duration,
        done: impl Fn(&HashMap<String, Seen>) -> bool,
        progress: impl Fn(&HashMap<String, Seen>) -> String,
    ) -> bool {
        let t0 = Instant::now();
        let mut next_report = t0 + Duration::from_secs(5);
        loop {
            let notified = self.changed.notified();
            {
                let s = self.state.lock().unwrap();
                if done(&s) {
                    return true;
                }
                if Instant::now() >= next_report {
                    eprintln!(
                        "  {label}: {} ({:.0} s)",
                        progress(&s),
                        t0.elapsed().as_secs_f64()
                    );
                    next_report += Duration::from_secs(5);
                }
            }
            if t0.elapsed() >= timeout {
                let s = self.state.lock().unwrap();
                eprintln!("  {label}: timed out after {timeout:?}: {}", progress(&s));
                return false;
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }

    /// Waits until `n` Certificates whose name starts with `prefix` are Ready.
    pub async fn wait_ready(&self, label: &str, prefix: &str, n: usize, timeout: Duration) -> bool {
        let count = |s: &HashMap<String, Seen>| {
            s.iter()
                .filter(|(k, v)| k.starts_with(prefix) && v.ready)
                .count()
        };
        self.wait_until(
            label,
            timeout,
            |s| count(s) >= n,
            |s| format!("{} of {n} Ready", count(s)),
        )
        .await
    }
}

impl Drop for CertWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record(state: &State, o: &DynamicObject) {
    let now = Instant::now();
    let status = &o.data["status"];
    let ready = is_ready(&o.data);
    let revision = status["revision"].as_i64().unwrap_or(0);
    let failed = status["failedIssuanceAttempts"].as_i64().unwrap_or(0) > 0
        || !status["lastFailureTime"].is_null();
    let mut s = state.lock().unwrap();
    let seen = s.entry(o.name_any()).or_insert_with(|| Seen {
        ready: false,
        first_ready: None,
        revision: 0,
        revisions: Vec::new(),
        failed: false,
        not_after: None,
        renewal_time: None,
    });
    seen.ready = ready;
    if ready && seen.first_ready.is_none() {
        seen.first_ready = Some(now);
    }
    if revision != seen.revision || seen.revisions.is_empty() {
        seen.revision = revision;
        if !seen.revisions.iter().any(|(r, _)| *r == revision) {
            seen.revisions.push((revision, now));
        }
    }
    seen.failed |= failed;
    seen.not_after = status["notAfter"].as_str().map(String::from);
    seen.renewal_time = status["renewalTime"].as_str().map(String::from);
}
