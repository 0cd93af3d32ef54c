//! The next private keys of issuances in progress, parsed, by temporary Secret. The key
//! manager, the request manager and the issuing controller each need the next key on nearly
//! every wake-up of an issuance; reading it here instead of GETting its temporary Secret each
//! time saves about a dozen API reads per issuance. The Secret stays the record (a restart
//! reads it again); this is only a copy, dropped when the key manager deletes the Secret.
//!
//! Keys stay in `ParsedKey`'s zeroing buffer and never reach a log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::pki::keys::ParsedKey;

/// Entries older than this are dropped on the next insert: a Certificate deleted mid-issuance
/// leaves its entry behind (the garbage collector deletes its Secret, not the key manager).
const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// Namespace and name of a temporary key Secret.
type SecretKey = (String, String);

#[derive(Default)]
pub struct NextKeys {
    keys: Mutex<HashMap<SecretKey, (Arc<ParsedKey>, Instant)>>,
}

impl NextKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretKey, (Arc<ParsedKey>, Instant)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key held in the Secret `namespace/name`, if it was remembered.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<ParsedKey>> {
        self.lock()
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(|(k, _)| k.clone())
    }

    /// Remembers the key the Secret `namespace/name` holds.
    pub fn insert(&self, namespace: &str, name: &str, key: Arc<ParsedKey>) {
        let now = Instant::now();
        let mut keys = self.lock();
        keys.retain(|_, (_, at)| now.duration_since(*at) < FORGET_AFTER);
        keys.insert((namespace.to_owned(), name.to_owned()), (key, now));
    }

    /// Forgets the Secret `namespace/name` (deleted, or found not to hold a usable key).
    pub fn remove(&self, namespace: &str, name: &str) {
        self.lock().remove(&(namespace.to_owned(), name.to_owned()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::KeySpec;

    fn key() -> Arc<ParsedKey> {
        Arc::new(ParsedKey::generate(&KeySpec::from_private_key(None).unwrap()).unwrap())
    }

    #[test]
    fn remembers_by_namespace_and_name_until_removed() {
        let keys = NextKeys::default();
        let k = key();
        keys.insert("a", "web-x1", k.clone());
        let got = keys.get("a", "web-x1").expect("remembered");
        assert!(Arc::ptr_eq(&got, &k));
        assert!(keys.get("b", "web-x1").is_none(), "another namespace");
        assert!(keys.get("a", "web-x2").is_none(), "another Secret");
        keys.remove("a", "web-x1");
        assert!(keys.get("a", "web-x1").is_none());
        assert_eq!(keys.len(), 0);
    }
}
