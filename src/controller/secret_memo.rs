//! A small memo of the Secrets this process last read or wrote, so that the reads of one
//! Secret that follow each other within seconds (after an issuance the trigger, readiness and
//! issuing controllers each wake on the Secret's and the status's watch events and read the
//! unchanged Secret; the CA signer reads its CA Secret for every request) cost one GET instead
//! of several.
//!
//! An entry is served only while the shared Secret metadata watch (`shared::SecretEvents`)
//! says the Secret is still at the entry's resourceVersion, so it is never staler than that
//! watch; an entry read before a change the watch has already seen is never served. Bounded
//! ([`CAPACITY`], oldest first out): a burst's working set, not a cache of every Secret
//! (DESIGN.md §1 keeps Secrets out of caches for memory).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;

use crate::controller::freshness::parse_version;

/// Entries kept: a few hundred Secrets of a few KiB each, about 2 MiB at most.
pub const CAPACITY: usize = 384;

type Key = (String, String);

#[derive(Default)]
pub struct SecretMemo {
    entries: HashMap<Key, (u64, Arc<Secret>)>,
    order: VecDeque<Key>,
}

impl SecretMemo {
    /// The remembered Secret `namespace/name` if its version is `current` (the watch's).
    pub fn get(&self, namespace: &str, name: &str, current: Option<u64>) -> Option<Arc<Secret>> {
        let current = current?;
        let (version, secret) = self.entries.get(&(namespace.to_owned(), name.to_owned()))?;
        (*version == current).then(|| secret.clone())
    }

    /// Remembers `secret` as read or written, unless an entry at a newer version is there (a
    /// GET that started before this process's own write and returned after it).
    pub fn put(&mut self, secret: &Secret) {
        let meta = &secret.metadata;
        let (Some(namespace), Some(name), Some(version)) = (
            meta.namespace.clone(),
            meta.name.clone(),
            parse_version(meta.resource_version.as_deref()),
        ) else {
            return;
        };
        let key = (namespace, name);
        match self.entries.get_mut(&key) {
            Some((held, _)) if *held > version => {}
            Some(entry) => *entry = (version, Arc::new(secret.clone())),
            None => {
                self.entries
                    .insert(key.clone(), (version, Arc::new(secret.clone())));
                self.order.push_back(key);
            }
        }
        while self.entries.len() > CAPACITY {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(namespace: &str, name: &str, version: &str) -> Secret {
        let mut s = Secret::default();
        s.metadata.namespace = Some(namespace.into());
        s.metadata.name = Some(name.into());
        s.metadata.resource_version = Some(version.into());
        s
    }

    fn version_of(s: Option<Arc<Secret>>) -> Option<String> {
        s.and_then(|s| s.metadata.resource_version.clone())
    }

    #[test]
    fn served_only_at_the_watched_version() {
        let mut memo = SecretMemo::default();
        memo.put(&secret("ns", "web-tls", "10"));
        let table = [
            ("the watch agrees", Some(10), Some("10")),
            ("the watch saw a change", Some(11), None),
            ("the watch has an older version", Some(9), None),
            (
                "the watch does not know it (deleted, or not listed)",
                None,
                None,
            ),
        ];
        for (case, current, want) in table {
            assert_eq!(
                version_of(memo.get("ns", "web-tls", current)),
                want.map(str::to_owned),
                "{case}"
            );
        }
        assert!(
            memo.get("other", "web-tls", Some(10)).is_none(),
            "namespace"
        );
    }

    #[test]
    fn a_late_older_read_does_not_replace_a_newer_entry() {
        let mut memo = SecretMemo::default();
        memo.put(&secret("ns", "web-tls", "12"));
        memo.put(&secret("ns", "web-tls", "11"));
        assert_eq!(
            version_of(memo.get("ns", "web-tls", Some(12))).as_deref(),
            Some("12")
        );
        memo.put(&secret("ns", "web-tls", "13"));
        assert_eq!(
            version_of(memo.get("ns", "web-tls", Some(13))).as_deref(),
            Some("13")
        );
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn bounded_oldest_first_out() {
        let mut memo = SecretMemo::default();
        for i in 0..CAPACITY + 10 {
            memo.put(&secret("ns", &format!("s{i}"), "5"));
        }
        assert_eq!(memo.len(), CAPACITY);
        assert!(
            memo.get("ns", "s0", Some(5)).is_none(),
            "the oldest went first"
        );
        assert!(
            memo.get("ns", &format!("s{}", CAPACITY + 9), Some(5))
                .is_some()
        );
        let unversioned = Secret::default();
        memo.put(&unversioned);
        assert_eq!(
            memo.len(),
            CAPACITY,
            "a Secret without a version is not kept"
        );
    }
}
