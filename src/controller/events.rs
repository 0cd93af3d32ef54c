//! Publishing Kubernetes Events (events.k8s.io/v1), a repeat of the same Event within six
//! minutes counted on the first one (its `series`) instead of a new object.
//!
//! kube-runtime's `Recorder` does the same, but keeps a full copy of every Event it published
//! (and of its key: the whole object reference) for six minutes: about 2 KiB per Event, two
//! Events per issuance, so a burst of 1,000 issuances held ~4 MiB that only time released,
//! and each publish scanned that whole map under one write lock. Here a published Event is
//! remembered as a 64-bit key, its name and a count (under 100 bytes), at most `CAPACITY` of
//! them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};

/// How long a published Event takes repeats into its series (as client-go and kube-runtime).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);
/// At most this many Events remembered; past it the oldest is forgotten (its next repeat is
/// then a new Event, which is harmless).
const CAPACITY: usize = 4096;

/// Publishes Events for the controllers; cheap to share (`&self`).
pub struct EventRecorder {
    client: Client,
    reporter: Reporter,
    recent: Mutex<Recent>,
}

impl EventRecorder {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        EventRecorder {
            client,
            reporter,
            recent: Mutex::new(Recent::default()),
        }
    }

    /// Publishes `event` about `regarding`: a new Event, or the next count of the same one
    /// published within six minutes.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> kube::Result<()> {
        let now = Timestamp::now();
        let key = event_key(event, regarding);
        let repeat = self.lock().repeat(key, now);
        if let Some(seen) = repeat {
            let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &seen.namespace);
            let series = serde_json::json!({
                "series": EventSeries { count: seen.count, last_observed_time: MicroTime(now) }
            });
            match api
                .patch(&seen.name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Ok(_) => return Ok(()),
                // Gone (deleted by hand or expired): publish it anew below.
                Err(kube::Error::Api(s)) if s.is_not_found() => self.lock().forget(key),
                Err(e) => return Err(e),
            }
        }
        let object = new_event(&self.reporter, event, regarding, now);
        let namespace = object.metadata.namespace.clone().unwrap_or_default();
        let name = object.metadata.name.clone().unwrap_or_default();
        Api::<K8sEvent>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &object)
            .await?;
        self.lock().remember(key, namespace, name, now);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What identifies "the same Event": the object it is about (by uid when known), its type,
/// reason, action and note.
fn event_key(event: &Event, regarding: &ObjectReference) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match &regarding.uid {
        Some(uid) => uid.hash(&mut h),
        None => (&regarding.kind, &regarding.namespace, &regarding.name).hash(&mut h),
    }
    matches!(event.type_, EventType::Warning).hash(&mut h);
    (&event.reason, &event.action, &event.note).hash(&mut h);
    h.finish()
}

/// The Event object for a first occurrence. Cluster-scoped objects' Events go to `default`,
/// as kubectl looks for them there.
fn new_event(
    reporter: &Reporter,
    event: &Event,
    regarding: &ObjectReference,
    now: Timestamp,
) -> K8sEvent {
    let namespace = regarding
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let subject = regarding.name.as_deref().unwrap_or(&reporter.controller);
    K8sEvent {
        metadata: ObjectMeta {
            namespace: Some(namespace),
            name: Some(format!("{subject}.{:x}", now.as_nanosecond())),
            ..ObjectMeta::default()
        },
        action: Some(event.action.clone()),
        reason: Some(event.reason.clone()),
        note: event.note.clone(),
        type_: Some(match event.type_ {
            EventType::Normal => "Normal".to_owned(),
            EventType::Warning => "Warning".to_owned(),
        }),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding.clone()),
        related: event.secondary.clone(),
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(
            reporter
                .instance
                .clone()
                .unwrap_or_else(|| reporter.controller.clone()),
        ),
        ..K8sEvent::default()
    }
}

/// A published Event: where it is, how many times it happened, when last.
#[derive(Clone, Debug, PartialEq)]
struct Published {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

/// The Events published in the last six minutes, by key. Pure (the caller passes the time).
#[derive(Default)]
struct Recent {
    by_key: HashMap<u64, Published>,
}

impl Recent {
    /// For a repeat within the window: the Event to count it on, with its new count (already
    /// recorded). `None` for a first occurrence.
    fn repeat(&mut self, key: u64, now: Timestamp) -> Option<Published> {
        let seen = self.by_key.get_mut(&key)?;
        if seen.last + SERIES_WINDOW <= now {
            self.by_key.remove(&key);
            return None;
        }
        // A lone Event has no series; its first repeat makes it a series of 2.
        seen.count = seen.count.max(1) + 1;
        seen.last = now;
        Some(seen.clone())
    }

    fn remember(&mut self, key: u64, namespace: String, name: String, now: Timestamp) {
        if self.by_key.len() >= CAPACITY {
            self.by_key.retain(|_, p| p.last + SERIES_WINDOW > now);
        }
        if self.by_key.len() >= CAPACITY
            && let Some(oldest) = self
                .by_key
                .iter()
                .min_by_key(|(_, p)| p.last)
                .map(|(k, _)| *k)
        {
            self.by_key.remove(&oldest);
        }
        let published = Published {
            namespace,
            name,
            count: 1,
            last: now,
        };
        self.by_key.insert(key, published);
    }

    fn forget(&mut self, key: u64) {
        self.by_key.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn reference(uid: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("Certificate".into()),
            namespace: Some("apps".into()),
            name: Some("web".into()),
            uid: Some(uid.into()),
            ..ObjectReference::default()
        }
    }

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Issuing".into(),
            secondary: None,
        }
    }

    #[test]
    fn the_same_event_is_one_key_and_any_difference_another() {
        let base = event_key(&event("Issued", "ok"), &reference("u1"));
        let cases = [
            ("same again", event("Issued", "ok"), reference("u1"), true),
            (
                "another object",
                event("Issued", "ok"),
                reference("u2"),
                false,
            ),
            (
                "another reason",
                event("Failed", "ok"),
                reference("u1"),
                false,
            ),
            (
                "another note",
                event("Issued", "other"),
                reference("u1"),
                false,
            ),
        ];
        for (name, e, r, same) in cases {
            assert_eq!(event_key(&e, &r) == base, same, "{name}");
        }
        let mut warning = event("Issued", "ok");
        warning.type_ = EventType::Warning;
        assert_ne!(event_key(&warning, &reference("u1")), base, "another type");
    }

    #[test]
    fn repeats_within_six_minutes_count_on_the_first_event() {
        let mut recent = Recent::default();
        assert_eq!(recent.repeat(7, at(0)), None, "first occurrence");
        recent.remember(7, "apps".into(), "web.1".into(), at(0));
        let second = recent.repeat(7, at(60)).expect("a repeat");
        assert_eq!((second.name.as_str(), second.count), ("web.1", 2));
        let third = recent.repeat(7, at(120)).expect("a repeat");
        assert_eq!(third.count, 3);
        // Six minutes after the last one: a new Event.
        assert_eq!(recent.repeat(7, at(120 + 360)), None);
        assert!(recent.by_key.is_empty(), "the expired one is forgotten");
    }

    #[test]
    fn memory_is_bounded_expired_first_then_oldest() {
        let mut recent = Recent::default();
        for k in 0..CAPACITY as u64 {
            recent.remember(k, "apps".into(), format!("e{k}"), at(k as i64 / 100));
        }
        assert_eq!(recent.by_key.len(), CAPACITY);
        // Nothing has expired yet: the oldest (key 0, at 0 s) makes room.
        recent.remember(u64::MAX, "apps".into(), "new".into(), at(41));
        assert_eq!(recent.by_key.len(), CAPACITY);
        let first_second = (0..100).filter(|k| recent.by_key.contains_key(k)).count();
        assert_eq!(first_second, 99, "one of the oldest went");
        assert!(recent.by_key.contains_key(&u64::MAX));
        // Much later: everything old expires at once.
        recent.remember(1 << 40, "apps".into(), "later".into(), at(10_000));
        assert_eq!(recent.by_key.len(), 1);
    }

    #[test]
    fn a_first_event_names_its_object_reporter_and_namespace() {
        let reporter = Reporter {
            controller: "certsmith".into(),
            instance: None,
        };
        let e = new_event(&reporter, &event("Issued", "ok"), &reference("u1"), at(0));
        assert_eq!(e.metadata.namespace.as_deref(), Some("apps"));
        assert!(e.metadata.name.as_deref().unwrap().starts_with("web."));
        assert_eq!(e.reason.as_deref(), Some("Issued"));
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.reporting_instance.as_deref(), Some("certsmith"));
        let mut cluster = reference("u3");
        cluster.namespace = None;
        let e = new_event(&reporter, &event("Ready", "ok"), &cluster, at(0));
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
    }
}
