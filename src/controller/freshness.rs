//! Read-your-writes for the caches: a reconcile that starts on an object older than what this
//! process last wrote to it would decide on stale state (a status already written looks
//! missing), rewrite it and, for ACME, could repeat a step. The writers record the
//! resourceVersion the API server returned; a reconcile handed an older copy waits for the
//! cache instead, which the write's own watch event brings a few milliseconds later.
//!
//! resourceVersions are compared as numbers: kube-apiserver's are etcd revisions, and
//! Kubernetes makes them comparable officially (KEP-5504). One that does not parse is never
//! called stale.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a recorded write is remembered: far longer than a watch event takes to arrive,
/// short enough that a lost event (a relist) cannot hold an object up for long.
const REMEMBER_FOR: Duration = Duration::from_secs(10);
/// Past this many entries, expired ones are swept on the next record.
const SWEEP_ABOVE: usize = 4096;

/// An object's uid: unique across kinds, and new when a name is reused.
type ObjectKey = String;

/// The newest resourceVersion this process wrote, per object; and the names it wrote, so a
/// cache that does not have an object yet is not taken to mean it does not exist.
#[derive(Default)]
pub struct WriteLog {
    written: Mutex<HashMap<ObjectKey, (u64, Instant)>>,
    named: Mutex<HashMap<String, Instant>>,
}

impl WriteLog {
    /// Remembers the object the API server returned from a write.
    pub fn record<K: kube::Resource>(&self, written: &K) {
        let meta = written.meta();
        let (Some(uid), Some(version)) = (
            meta.uid.clone(),
            parse_version(meta.resource_version.as_deref()),
        ) else {
            return;
        };
        let now = Instant::now();
        let mut map = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (_, at)| now.duration_since(*at) < REMEMBER_FOR);
        }
        let entry = map.entry(uid).or_insert((version, now));
        if version >= entry.0 {
            *entry = (version, now);
        }
    }

    /// Remembers that this process created or applied the `K` object `namespace/name`.
    pub fn record_name<K: kube::Resource<DynamicType = ()>>(&self, namespace: &str, name: &str) {
        let now = Instant::now();
        let mut map = self.named.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, at| now.duration_since(*at) < REMEMBER_FOR);
        }
        map.insert(name_key::<K>(namespace, name), now);
    }

    /// Whether this process wrote the `K` object `namespace/name` recently: a cache that
    /// lacks it may just not have seen the write yet.
    pub fn named_recently<K: kube::Resource<DynamicType = ()>>(
        &self,
        namespace: &str,
        name: &str,
    ) -> bool {
        let map = self.named.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&name_key::<K>(namespace, name))
            .is_some_and(|at| at.elapsed() < REMEMBER_FOR)
    }

    /// Remembers that this process deleted the object `uid`: every cached copy of it is stale
    /// until the deletion reaches the cache.
    pub fn record_deletion(&self, uid: &str) {
        let mut map = self.written.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(uid.to_owned(), (u64::MAX, Instant::now()));
    }

    /// Whether `cached` is older than this process's last write to it.
    pub fn is_stale<K: kube::Resource>(&self, cached: &K) -> bool {
        let meta = cached.meta();
        let Some(uid) = meta.uid.as_deref() else {
            return false;
        };
        let map = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let written = map.get(uid).copied();
        is_behind(
            parse_version(meta.resource_version.as_deref()),
            written,
            Instant::now(),
        )
    }
}

/// The key of a name written: the kind comes from the type, so a reader and a writer of the
/// same kind cannot disagree on its spelling.
fn name_key<K: kube::Resource<DynamicType = ()>>(namespace: &str, name: &str) -> String {
    format!("{}/{namespace}/{name}", K::kind(&()))
}

pub(crate) fn parse_version(version: Option<&str>) -> Option<u64> {
    version?.parse().ok()
}

/// The decision: a cached copy is behind when a write newer than it was recorded recently.
fn is_behind(cached: Option<u64>, written: Option<(u64, Instant)>, now: Instant) -> bool {
    match (cached, written) {
        (Some(cached), Some((written, at))) => {
            cached < written && now.duration_since(at) < REMEMBER_FOR
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::certificate::Certificate;

    #[test]
    fn behind_only_when_an_older_copy_meets_a_recent_write() {
        let now = Instant::now();
        let recent = Some((20, now));
        let old = Some((20, now - REMEMBER_FOR - Duration::from_millis(1)));
        let cases = [
            ("older copy, recent write", Some(19), recent, true),
            ("the written copy", Some(20), recent, false),
            (
                "newer copy (someone wrote after us)",
                Some(21),
                recent,
                false,
            ),
            ("older copy, forgotten write", Some(19), old, false),
            ("nothing written", Some(19), None, false),
            ("unparsable version", None, recent, false),
        ];
        for (case, cached, written, want) in cases {
            assert_eq!(is_behind(cached, written, now), want, "{case}");
        }
    }

    fn certificate(name: &str, version: &str) -> Certificate {
        let mut c = Certificate::new(name, Default::default());
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some(format!("uid-{name}"));
        c.metadata.resource_version = Some(version.into());
        c
    }

    #[test]
    fn log_keeps_the_newest_write_per_object() {
        let log = WriteLog::default();
        log.record(&certificate("a", "10"));
        log.record(&certificate("a", "8"));
        assert!(
            log.is_stale(&certificate("a", "9")),
            "behind the write of 10"
        );
        assert!(!log.is_stale(&certificate("a", "10")));
        assert!(!log.is_stale(&certificate("b", "1")), "another object");
        let mut recreated = certificate("a", "9");
        recreated.metadata.uid = Some("uid-a2".into());
        assert!(
            !log.is_stale(&recreated),
            "a new object under the same name"
        );
        log.record(&certificate("a", "not-a-number"));
        assert!(log.is_stale(&certificate("a", "9")), "kept 10");
    }

    #[test]
    fn names_written_are_remembered_by_kind_namespace_and_name() {
        use crate::api::CertificateRequest;
        use k8s_openapi::api::core::v1::Secret;
        let log = WriteLog::default();
        log.record_name::<Secret>("a", "web-tls");
        assert!(log.named_recently::<Secret>("a", "web-tls"));
        assert!(
            !log.named_recently::<Secret>("b", "web-tls"),
            "another namespace"
        );
        assert!(
            !log.named_recently::<CertificateRequest>("a", "web-tls"),
            "another kind"
        );
        assert!(!log.named_recently::<Secret>("a", "web"), "another name");
    }

    #[test]
    fn a_deleted_object_is_stale_in_every_copy() {
        let log = WriteLog::default();
        log.record(&certificate("a", "10"));
        log.record_deletion("uid-a");
        assert!(log.is_stale(&certificate("a", "10")), "our own last write");
        assert!(log.is_stale(&certificate("a", "99")), "a later copy");
        let mut recreated = certificate("a", "11");
        recreated.metadata.uid = Some("uid-a2".into());
        assert!(!log.is_stale(&recreated), "made again under the same name");
        log.record(&certificate("a", "12"));
        assert!(
            log.is_stale(&certificate("a", "12")),
            "a write after the deletion does not undo it"
        );
    }
}
