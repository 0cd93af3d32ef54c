//! Watches shared by several controllers, so the API server sends each change once and the
//! controller keeps one copy of each object.
//!
//! - `SharedCache<K>`: one watch and one cache of a kind (Certificates, CertificateRequests).
//!   Each change is handed to every subscriber as the store's own `Arc`, so nothing is copied,
//!   and lookups read the cache instead of GETting the object.
//! - `SecretEvents`: one metadata-only watch of Secrets, handed on without a cache. Secrets are
//!   the kind a cluster has tens of thousands of (Helm releases), so their metadata is not
//!   kept: subscribers only learn which Secret changed and map it to their own objects.
//!
//! Two kinds of subscription: `controller()` triggers on applied objects (a Controller's
//! primary stream), `touched()` also on deleted ones (owner and sibling watches). A cache
//! subscriber first receives everything already in the store, so one that subscribes after
//! the initial list misses nothing; a change seen twice is only a second reconcile.
//!
//! Controllers over a shared cache start once it is listed (`listed()`): kube-runtime's
//! `Store::wait_until_ready` wakes one waiter only, so several controllers waiting on one
//! store would not all start.

use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use tokio::sync::mpsc;

use crate::telemetry::health::Health;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wants {
    /// Objects created or changed.
    Applied,
    /// Also objects deleted.
    Touched,
}

struct Subscriber<K> {
    wants: Wants,
    sender: mpsc::UnboundedSender<Arc<K>>,
}

/// Subscribers of one kind's changes.
struct Subscribers<K>(Mutex<Vec<Subscriber<K>>>);

impl<K> Subscribers<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber<K>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new subscriber, first handed `replay`.
    fn add(
        &self,
        wants: Wants,
        replay: impl IntoIterator<Item = Arc<K>>,
    ) -> impl Stream<Item = Arc<K>> + Send + 'static
    where
        K: Send + Sync + 'static,
    {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut subscribers = self.lock();
        for object in replay {
            let _ = sender.send(object);
        }
        subscribers.push(Subscriber { wants, sender });
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|o| (o, receiver))
        })
    }

    fn send(&self, object: &Arc<K>, deleted: bool) {
        self.lock().retain(|s| {
            if deleted && s.wants == Wants::Applied {
                return true;
            }
            // A closed receiver is a controller that stopped: forget it.
            s.sender.send(object.clone()).is_ok()
        });
    }
}

/// One watch and one cache of `K`, and its subscribers.
pub struct SharedCache<K: Resource<DynamicType = ()> + Clone + 'static> {
    /// The name `/readyz` reports this cache under.
    name: &'static str,
    reader: Store<K>,
    writer: Mutex<Option<reflector::store::Writer<K>>>,
    config: kube::runtime::controller::Config,
    subscribers: Subscribers<K>,
    /// `None` until the first list is in; `Some(false)` if the watch stopped before that.
    listed: tokio::sync::watch::Sender<Option<bool>>,
}

impl<K> SharedCache<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    /// An empty cache; `drive` fills it. Controllers over it run with `config`.
    pub fn new(name: &'static str, config: kube::runtime::controller::Config) -> Arc<Self> {
        let (reader, writer) = reflector::store();
        Arc::new(SharedCache {
            name,
            reader,
            writer: Mutex::new(Some(writer)),
            config,
            subscribers: Subscribers(Mutex::new(Vec::new())),
            listed: tokio::sync::watch::Sender::new(None),
        })
    }

    /// The cache.
    pub fn store(&self) -> Store<K> {
        self.reader.clone()
    }

    /// The cached copy of `namespace/name`, if any.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.reader.get(&ObjectRef::new(name).within(namespace))
    }

    /// Resolves once the first full list is in the cache (`true`), or the watch stopped
    /// before that (`false`, at shutdown).
    pub async fn listed(&self) -> bool {
        let mut listed = self.listed.subscribe();
        let state = listed.wait_for(Option::is_some).await;
        state.is_ok_and(|s| *s == Some(true))
    }

    /// A Controller over the cache, triggered by every created or changed object.
    pub fn controller(&self) -> Controller<K> {
        Controller::for_shared_stream(self.subscribe(Wants::Applied), self.reader.clone())
            .with_config(self.config.clone())
    }

    /// Every created, changed or deleted object.
    pub fn touched(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribe(Wants::Touched)
    }

    fn subscribe(&self, wants: Wants) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribers.add(wants, self.reader.state())
    }

    /// Watches `api` into the cache and hands each change to the subscribers until
    /// `shutdown`. Runs once: a second call returns at once.
    pub async fn drive(
        self: Arc<Self>,
        health: &Health,
        api: Api<K>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        health.expect_cache(self.name);
        let events = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default())
                .default_backoff()
                .modify(crate::controller::drop_managed_fields),
        );
        let work = events.for_each(|event| {
            match event {
                Ok(watcher::Event::Apply(o)) => {
                    // The store's own Arc: the reflector has just put it there.
                    if let Some(cached) = self.reader.get(&ObjectRef::from_obj(&o)) {
                        self.subscribers.send(&cached, false);
                    }
                }
                Ok(watcher::Event::Delete(o)) => self.subscribers.send(&Arc::new(o), true),
                // A (re)list is buffered by the reflector and enters the store at InitDone, so
                // its objects are handed out then, all of them: after a watch expired, objects
                // created meanwhile are only in the relist.
                Ok(watcher::Event::InitApply(_)) => {}
                Ok(watcher::Event::InitDone) => {
                    for cached in self.reader.state() {
                        self.subscribers.send(&cached, false);
                    }
                    health.cache_synced(self.name);
                    self.listed.send_replace(Some(true));
                }
                Ok(watcher::Event::Init) => {}
                Err(err) => tracing::warn!(cache = self.name, %err, "watch failed; retrying"),
            }
            futures::future::ready(())
        });
        tokio::select! {
            _ = work => {}
            _ = shutdown => {}
        }
        self.listed.send_if_modified(|state| {
            let first = state.is_none();
            state.get_or_insert(false);
            first
        });
    }
}

/// The metadata of a changed Secret as subscribers get it: namespace and name only.
pub type SecretMeta = PartialObjectMeta<Secret>;

/// One metadata-only watch of Secrets, handed to every subscriber; nothing is cached.
pub struct SecretEvents {
    subscribers: Subscribers<SecretMeta>,
}

impl SecretEvents {
    pub fn new() -> Arc<Self> {
        Arc::new(SecretEvents {
            subscribers: Subscribers(Mutex::new(Vec::new())),
        })
    }

    /// Every Secret created, changed or deleted from now on (and every Secret of each
    /// (re)list). Subscribe before `drive` starts to see the first list.
    pub fn touched(&self) -> impl Stream<Item = Arc<SecretMeta>> + Send + 'static {
        self.subscribers.add(Wants::Touched, [])
    }

    /// Watches Secret metadata and hands each change on until `shutdown`.
    pub async fn drive(
        self: Arc<Self>,
        api: Api<SecretMeta>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let events = watcher(api, watcher::Config::default()).default_backoff();
        let work = events.for_each(|event| {
            match event {
                Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) => {
                    self.subscribers.send(&Arc::new(name_only(s)), false)
                }
                Ok(watcher::Event::Delete(s)) => {
                    self.subscribers.send(&Arc::new(name_only(s)), true)
                }
                Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
                Err(err) => tracing::warn!(%err, "watching Secret metadata failed; retrying"),
            }
            futures::future::ready(())
        });
        tokio::select! {
            _ = work => {}
            _ = shutdown => {}
        }
    }
}

/// What subscribers need of a Secret's metadata: where it is. The rest is dropped at once so a
/// relist of tens of thousands of Secrets queued for a busy controller stays small.
fn name_only(secret: SecretMeta) -> SecretMeta {
    let mut slim = SecretMeta::default();
    slim.metadata.name = secret.metadata.name;
    slim.metadata.namespace = secret.metadata.namespace;
    slim.metadata.uid = secret.metadata.uid;
    slim.metadata.resource_version = secret.metadata.resource_version;
    slim
}
