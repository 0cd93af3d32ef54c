//! What `/livez` and `/readyz` answer.
//!
//! Ready means: this process can do its job. The leader is ready once it holds the Lease and
//! every controller's cache has been listed; a standby replica (leader election on, Lease held
//! by another) is ready as soon as it is campaigning, so that a rolling update of two replicas
//! is never stuck waiting for a standby that by design reconciles nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;

/// Leadership as far as readiness is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Connecting, or waiting for the first answer about the Lease.
    Starting,
    /// Leader election on, Lease held by another process.
    Standby,
    /// Reconciling: the Lease is held, or leader election is off.
    Leader,
}

#[derive(Debug)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    role: Role,
    /// Every cache a controller registered, and whether its first list has completed.
    caches: BTreeMap<&'static str, bool>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: Mutex::new(State {
                role: Role::Starting,
                caches: BTreeMap::new(),
            }),
        }
    }
}

impl Health {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set_role(&self, role: Role) {
        self.lock().role = role;
    }

    /// Registers a cache that must be listed before the leader is ready.
    pub fn expect_cache(&self, name: &'static str) {
        self.lock().caches.entry(name).or_insert(false);
    }

    /// Marks a cache listed (its watch reached the end of the initial list).
    pub fn cache_synced(&self, name: &'static str) {
        if self.lock().caches.insert(name, true) != Some(true) {
            tracing::debug!(cache = name, "cache synced");
        }
    }

    /// `Ok(reason)` when ready, `Err(reason)` when not; the reason is the probe's body.
    pub fn readiness(&self) -> Result<String, String> {
        let state = self.lock();
        decide(state.role, &state.caches)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The readiness decision. Pure.
fn decide(role: Role, caches: &BTreeMap<&'static str, bool>) -> Result<String, String> {
    match role {
        Role::Starting => Err("starting: leader election not decided yet".into()),
        Role::Standby => Ok("ok: standby (another replica holds the leader Lease)".into()),
        Role::Leader => {
            let waiting: Vec<&str> = caches
                .iter()
                .filter(|(_, synced)| !**synced)
                .map(|(name, _)| *name)
                .collect();
            if caches.is_empty() {
                Err("leader: controllers not started yet".into())
            } else if waiting.is_empty() {
                Ok(format!("ok: leader, {} caches synced", caches.len()))
            } else {
                Err(format!(
                    "leader: waiting for caches: {}",
                    waiting.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_as_a_standby_or_as_a_leader_with_every_cache_synced() {
        let synced = BTreeMap::from([("certificates", true), ("issuers", true)]);
        let half = BTreeMap::from([("certificates", true), ("issuers", false)]);
        let none = BTreeMap::new();
        type Case<'a> = (Role, &'a BTreeMap<&'static str, bool>, Result<&'a str, &'a str>);
        let cases: [Case; 5] = [
            (
                Role::Starting,
                &synced,
                Err("starting: leader election not decided yet"),
            ),
            (
                Role::Standby,
                &none,
                Ok("ok: standby (another replica holds the leader Lease)"),
            ),
            (
                Role::Leader,
                &none,
                Err("leader: controllers not started yet"),
            ),
            (
                Role::Leader,
                &half,
                Err("leader: waiting for caches: issuers"),
            ),
            (Role::Leader, &synced, Ok("ok: leader, 2 caches synced")),
        ];
        for (role, caches, want) in cases {
            let got = decide(role, caches);
            let got = got.as_ref().map(String::as_str).map_err(String::as_str);
            assert_eq!(got, want, "{role:?} {caches:?}");
        }
    }
}
