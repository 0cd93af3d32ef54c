//! Leader election through a coordination.k8s.io Lease (kube-lease-manager), so that of several
//! replicas exactly one reconciles.
//!
//! kube-lease-manager takes and renews the Lease. Two things are added around it:
//! - a watch on the Lease: a standby otherwise sleeps until the old lease would have expired,
//!   even when the leader released it on SIGTERM; seeing it freed, the standby campaigns at
//!   once (a fresh manager, because the crate re-reads the Lease only after expiry);
//! - a watchdog on the leader: when its own renewals have not been seen for the renew deadline
//!   (API server unreachable) or another holder appears, leadership is given up and the process
//!   exits, as client-go controllers do, rather than risk two writers.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::watcher;
use kube::{Api, Client};
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseParams};
use tokio::sync::watch;

/// The Lease's name, as `certsmith check api` and the chart's RBAC know it.
pub const LEASE_NAME: &str = "certsmith-controller";

/// Leader election settings (cert-manager's flags).
#[derive(Clone, Debug)]
pub struct LeaderSettings {
    pub namespace: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderSettings {
    /// Checks the durations relate as client-go requires: retry < renew deadline < lease.
    pub fn validate(&self) -> Result<(), String> {
        let (lease, renew, retry) = (
            self.lease_duration.as_secs(),
            self.renew_deadline.as_secs(),
            self.retry_period.as_secs(),
        );
        if retry == 0 {
            return Err("--leader-election-retry-period must be at least 1s".into());
        }
        if !(retry < renew && renew < lease) {
            return Err(format!(
                "leader election needs retry period ({retry}s) < renew deadline ({renew}s) < \
                 lease duration ({lease}s), in whole seconds"
            ));
        }
        Ok(())
    }
}

/// This process's identity in the Lease: the Pod name (downward API) or host name, plus the
/// process id so two processes on one host never share it.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "certsmith".to_owned());
    format!("{host}_{}", std::process::id())
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
}

/// What the Lease watch last saw.
#[derive(Clone, Debug, Default)]
struct Seen {
    holder: Option<String>,
    renewed: Option<jiff::Timestamp>,
    duration: Option<Duration>,
}

impl Seen {
    fn from_lease(lease: Option<&Lease>) -> Self {
        let spec = lease.and_then(|l| l.spec.as_ref());
        Seen {
            holder: spec
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty()),
            renewed: spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0),
            duration: spec
                .and_then(|s| s.lease_duration_seconds)
                .map(|s| Duration::from_secs(s.max(0) as u64)),
        }
    }
}

/// Whether a standby may campaign now: nobody holds the Lease, or its holder let it expire.
/// Pure.
fn is_free(seen: &Seen, now: jiff::Timestamp) -> bool {
    match (&seen.holder, seen.renewed, seen.duration) {
        (None, _, _) => true,
        (Some(_), Some(renewed), Some(duration)) => {
            let expiry = renewed + jiff::SignedDuration::try_from(duration).unwrap_or_default();
            expiry < now
        }
        // held, with no renew time or duration: treat as held (the manager sorts it out)
        _ => false,
    }
}

/// Why the leader must stop, if it must. Pure.
fn lost(
    seen: &Seen,
    me: &str,
    last_own_renewal: jiff::Timestamp,
    now: jiff::Timestamp,
    renew_deadline: Duration,
) -> Option<String> {
    if let Some(holder) = &seen.holder
        && holder != me
    {
        return Some(format!("the Lease is now held by {holder}"));
    }
    let since = now.duration_since(last_own_renewal);
    let deadline = jiff::SignedDuration::try_from(renew_deadline).unwrap_or_default();
    (since > deadline).then(|| {
        format!(
            "no renewal of the Lease seen for {}s (renew deadline {}s)",
            since.as_secs(),
            deadline.as_secs()
        )
    })
}

/// Campaigns for, holds and releases the Lease.
pub struct Elector {
    client: Client,
    settings: LeaderSettings,
    seen: watch::Receiver<Seen>,
    manager: Option<LeaseManager>,
}

impl Elector {
    /// Starts watching the Lease. Nothing is written until [`Elector::acquire`].
    pub fn new(client: Client, settings: LeaderSettings) -> Self {
        let (tx, seen) = watch::channel(Seen::default());
        let api: Api<Lease> = Api::namespaced(client.clone(), &settings.namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={LEASE_NAME}"));
        tokio::spawn(async move {
            let mut events = watcher(api, config).boxed();
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(lease) | watcher::Event::InitApply(lease)) => {
                        let _ = tx.send(Seen::from_lease(Some(&lease)));
                    }
                    Ok(watcher::Event::Delete(_)) => {
                        let _ = tx.send(Seen::default());
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(%err, "watching the leader Lease failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Elector {
            client,
            settings,
            seen,
            manager: None,
        }
    }

    fn params(&self) -> LeaseParams {
        let duration = self.settings.lease_duration.as_secs();
        // Renew every retry period: the crate renews `grace` seconds before expiry.
        let grace = duration
            .saturating_sub(self.settings.retry_period.as_secs())
            .max(1);
        LeaseParams::new(
            self.settings.identity.clone(),
            duration,
            grace.min(duration - 1),
        )
        .with_field_manager(format!("certsmith-leader-{}", self.settings.identity))
    }

    /// Waits until this process holds the Lease (`true`), or until `shutdown` (`false`).
    pub async fn acquire(&mut self, shutdown: impl Future<Output = ()>) -> bool {
        let mut shutdown = std::pin::pin!(shutdown);
        let retry = self.settings.retry_period;
        loop {
            let manager = tokio::select! {
                built = LeaseManager::new(
                    self.client.clone(),
                    LEASE_NAME,
                    self.settings.namespace.clone(),
                    self.params(),
                    LeaseCreateMode::AutoCreate,
                ) => built,
                () = &mut shutdown => return false,
            };
            let manager = match manager {
                Ok(m) => m,
                Err(err) => {
                    tracing::warn!(%err, namespace = %self.settings.namespace, lease = LEASE_NAME, "reading the leader Lease failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(retry) => continue,
                        () = &mut shutdown => return false,
                    }
                }
            };
            loop {
                tokio::select! {
                    changed = manager.changed() => match changed {
                        Ok(true) => {
                            self.manager = Some(manager);
                            return true;
                        }
                        Ok(false) => {}
                        Err(err) => {
                            tracing::warn!(%err, "campaigning for the leader Lease failed; retrying");
                            tokio::select! {
                                () = tokio::time::sleep(retry) => break,
                                () = &mut shutdown => return false,
                            }
                        }
                    },
                    Ok(()) = self.seen.changed() => {
                        let seen = self.seen.borrow_and_update().clone();
                        if is_free(&seen, jiff::Timestamp::now()) {
                            tracing::info!(previous = ?seen.holder, "the leader Lease is free; campaigning now");
                            break; // a fresh manager re-reads the Lease at once
                        }
                    }
                    () = &mut shutdown => return false,
                }
            }
        }
    }

    /// Keeps the Lease renewed; resolves with the reason when leadership is lost.
    pub async fn hold(&self) -> String {
        let Some(manager) = &self.manager else {
            return "the Lease was never acquired".into();
        };
        let me = self.settings.identity.as_str();
        let mut seen = self.seen.clone();
        let mut last_renewal = jiff::Timestamp::now();
        let mut tick =
            tokio::time::interval(self.settings.retry_period.min(Duration::from_secs(1)));
        loop {
            tokio::select! {
                changed = manager.changed() => match changed {
                    Ok(false) => return "the Lease was taken over".into(),
                    Ok(true) => {}
                    Err(err) => {
                        tracing::warn!(%err, "renewing the leader Lease failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                Ok(()) = seen.changed() => {
                    let now = seen.borrow_and_update().clone();
                    if now.holder.as_deref() == Some(me) && let Some(renewed) = now.renewed {
                        last_renewal = last_renewal.max(renewed);
                    }
                }
                _ = tick.tick() => {
                    let current = seen.borrow().clone();
                    if let Some(reason) = lost(&current, me, last_renewal, jiff::Timestamp::now(), self.settings.renew_deadline) {
                        return reason;
                    }
                }
            }
        }
    }

    /// Gives the Lease up at once (on SIGTERM), so a standby takes over without waiting for it
    /// to expire.
    pub async fn release(&self) {
        if let Some(manager) = &self.manager {
            match tokio::time::timeout(Duration::from_secs(5), manager.release()).await {
                Ok(Ok(())) => tracing::info!(lease = LEASE_NAME, "leader Lease released"),
                Ok(Err(err)) => tracing::warn!(%err, "releasing the leader Lease failed"),
                Err(_) => tracing::warn!("releasing the leader Lease timed out"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_standby_campaigns_only_when_the_lease_is_free_or_expired() {
        let now = ts("2026-11-21T12:00:00Z");
        let held = |renewed: &str| Seen {
            holder: Some("other_1".into()),
            renewed: Some(ts(renewed)),
            duration: Some(Duration::from_secs(60)),
        };
        let cases = [
            ("never created", Seen::default(), true),
            (
                "released",
                Seen {
                    holder: None,
                    ..held("2026-11-21T11:59:50Z")
                },
                true,
            ),
            ("held and fresh", held("2026-11-21T11:59:50Z"), false),
            ("held, expired", held("2026-11-21T11:58:59Z"), true),
            (
                "held, no renew time",
                Seen {
                    renewed: None,
                    ..held("2026-11-21T11:59:50Z")
                },
                false,
            ),
        ];
        for (what, seen, want) in cases {
            assert_eq!(is_free(&seen, now), want, "{what}");
        }
    }

    #[test]
    fn the_leader_gives_up_when_renewals_stop_or_another_holds_the_lease() {
        let now = ts("2026-11-21T12:00:00Z");
        let deadline = Duration::from_secs(40);
        let mine = Seen {
            holder: Some("me_1".into()),
            ..Default::default()
        };
        let theirs = Seen {
            holder: Some("other_2".into()),
            ..Default::default()
        };
        let cases = [
            ("renewed 10s ago", &mine, "2026-11-21T11:59:50Z", None),
            (
                "renewed 41s ago",
                &mine,
                "2026-11-21T11:59:19Z",
                Some("no renewal of the Lease seen for 41s (renew deadline 40s)"),
            ),
            (
                "taken over",
                &theirs,
                "2026-11-21T11:59:50Z",
                Some("the Lease is now held by other_2"),
            ),
        ];
        for (what, seen, last, want) in cases {
            assert_eq!(
                lost(seen, "me_1", ts(last), now, deadline).as_deref(),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn durations_must_nest() {
        let s = |lease, renew, retry| LeaderSettings {
            namespace: "kube-system".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(renew),
            retry_period: Duration::from_secs(retry),
        };
        assert!(s(60, 40, 15).validate().is_ok());
        assert!(s(4, 3, 1).validate().is_ok());
        assert!(s(60, 60, 15).validate().is_err());
        assert!(s(60, 40, 0).validate().unwrap_err().contains("at least 1s"));
        assert!(
            s(10, 40, 15)
                .validate()
                .unwrap_err()
                .contains("retry period (15s) < renew deadline (40s) < lease duration (10s)")
        );
    }
}
