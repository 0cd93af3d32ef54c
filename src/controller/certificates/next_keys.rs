//! The next private keys of issuances in progress, in memory, by Certificate UID and the
//! revision they will become. The request manager makes a key when it makes the request;
//! the issuing controller writes it into the Secret with the signed certificate; the SelfSigned
//! signer signs with it. For certsmith's CA and SelfSigned issuers this is the only copy,
//! which saves four API writes per issuance (create and delete a temporary Secret, set and
//! clear `nextPrivateKeySecretName`); see `keys` for the issuers whose keys are also kept in a
//! Secret.
//!
//! A restart loses the keys held only here: the request of an issuance in progress then
//! carries a key nobody holds, and the request manager replaces it (one more signature made
//! in-cluster). With rotationPolicy Never the key is the current Secret's, so nothing is lost.
//!
//! Keys stay in `ParsedKey`'s zeroing buffer and never reach a log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::pki::keys::ParsedKey;

/// Entries older than this are dropped on the next insert. A Certificate deleted mid-issuance
/// leaves its entry behind (nothing reconciles a deleted Certificate), and an issuance that has
/// waited this long makes a new key (and request) at no real loss.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Certificate UID and the revision the issuance will reach.
type IssuanceKey = (String, i32);

#[derive(Default)]
pub struct NextKeys {
    keys: Mutex<HashMap<IssuanceKey, (Arc<ParsedKey>, Instant)>>,
}

impl NextKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IssuanceKey, (Arc<ParsedKey>, Instant)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next key of Certificate `uid`'s issuance of `revision`, if this process holds one.
    pub fn get(&self, uid: &str, revision: i32) -> Option<Arc<ParsedKey>> {
        self.lock()
            .get(&(uid.to_owned(), revision))
            .map(|(k, _)| k.clone())
    }

    /// Holds `key` as the next key of Certificate `uid`'s issuance of `revision`, replacing
    /// any other.
    pub fn insert(&self, uid: &str, revision: i32, key: Arc<ParsedKey>) {
        let now = Instant::now();
        let mut keys = self.lock();
        keys.retain(|_, (_, at)| now.duration_since(*at) < FORGET_AFTER);
        keys.insert((uid.to_owned(), revision), (key, now));
    }

    /// Drops the keys of Certificate `uid`'s issuances up to `revision`: those revisions are
    /// reached, so their keys are in the Secret or no longer wanted. A later revision's key
    /// is kept, so a reconcile holding an older copy of the Certificate cannot drop the key
    /// of the issuance in progress.
    pub fn forget_up_to(&self, uid: &str, revision: i32) {
        self.lock().retain(|(u, r), _| u != uid || *r > revision);
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
    fn holds_by_certificate_and_revision() {
        let keys = NextKeys::default();
        let k = key();
        keys.insert("uid-a", 2, k.clone());
        let got = keys.get("uid-a", 2).expect("held");
        assert!(Arc::ptr_eq(&got, &k));
        assert!(keys.get("uid-b", 2).is_none(), "another Certificate");
        assert!(keys.get("uid-a", 3).is_none(), "another revision");
        let replacement = key();
        keys.insert("uid-a", 2, replacement.clone());
        assert!(Arc::ptr_eq(&keys.get("uid-a", 2).unwrap(), &replacement));
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn forgets_only_reached_revisions() {
        let keys = NextKeys::default();
        keys.insert("uid-a", 2, key());
        keys.insert("uid-a", 3, key());
        keys.insert("uid-b", 2, key());
        // A copy of the Certificate at revision 1 (older than the issuance in progress).
        keys.forget_up_to("uid-a", 1);
        assert_eq!(keys.len(), 3);
        keys.forget_up_to("uid-a", 2);
        assert!(keys.get("uid-a", 2).is_none());
        assert!(keys.get("uid-a", 3).is_some());
        assert!(
            keys.get("uid-b", 2).is_some(),
            "another Certificate's key stays"
        );
    }
}
