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

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use tokio::sync::mpsc;

use crate::controller::freshness::parse_version;
use crate::controller::secret_memo::SecretMemo;
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

/// Objects by index key (e.g. "the Certificates naming Secret ns/x"), kept up to date with
/// the cache, so a watch mapper or a reconcile finds related objects with one lookup instead
/// of scanning the whole cache (quadratic at startup: every object replayed scanned them all).
struct Index<K: Resource<DynamicType = ()>> {
    keys_of: fn(&K) -> Vec<String>,
    by_key: HashMap<String, std::collections::HashSet<ObjectRef<K>>>,
    of: HashMap<ObjectRef<K>, Vec<String>>,
}

impl<K: Resource<DynamicType = ()>> Index<K> {
    fn remove(&mut self, object: &ObjectRef<K>) {
        for key in self.of.remove(object).unwrap_or_default() {
            if let Some(set) = self.by_key.get_mut(&key) {
                set.remove(object);
                if set.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    fn insert(&mut self, object: &K) {
        let reference = ObjectRef::from_obj(object);
        self.remove(&reference);
        let keys = (self.keys_of)(object);
        for key in &keys {
            self.by_key
                .entry(key.clone())
                .or_default()
                .insert(reference.clone());
        }
        self.of.insert(reference, keys);
    }

    fn rebuild<'a>(&mut self, objects: impl IntoIterator<Item = &'a K>)
    where
        K: 'a,
    {
        self.by_key.clear();
        self.of.clear();
        for object in objects {
            self.insert(object);
        }
    }
}

/// One watch and one cache of `K`, and its subscribers.
pub struct SharedCache<K: Resource<DynamicType = ()> + Clone + 'static> {
    index: Option<Mutex<Index<K>>>,
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
        Self::build(name, config, None)
    }

    /// The same, with an index of the cached objects by the keys `keys_of` gives each.
    pub fn indexed(
        name: &'static str,
        config: kube::runtime::controller::Config,
        keys_of: fn(&K) -> Vec<String>,
    ) -> Arc<Self> {
        let index = Index {
            keys_of,
            by_key: HashMap::new(),
            of: HashMap::new(),
        };
        Self::build(name, config, Some(Mutex::new(index)))
    }

    /// The cached objects indexed under `key` (none without an index).
    pub fn find(&self, key: &str) -> Vec<Arc<K>> {
        let Some(index) = &self.index else {
            return Vec::new();
        };
        let refs: Vec<ObjectRef<K>> = index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .get(key)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        refs.iter().filter_map(|r| self.reader.get(r)).collect()
    }

    fn update_index(&self, update: impl FnOnce(&mut Index<K>)) {
        if let Some(index) = &self.index {
            update(&mut index.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    fn build(
        name: &'static str,
        config: kube::runtime::controller::Config,
        index: Option<Mutex<Index<K>>>,
    ) -> Arc<Self> {
        let (reader, writer) = reflector::store();
        Arc::new(SharedCache {
            index,
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

    /// The object `namespace/name` as far as this cache can tell: `Some(Some(_))` cached,
    /// `Some(None)` known not to exist, `None` unknown (not listed yet, or this process wrote
    /// it so recently that the cache may not have it: ask the API server).
    pub fn lookup(
        &self,
        writes: &crate::controller::freshness::WriteLog,
        namespace: &str,
        name: &str,
    ) -> Option<Option<Arc<K>>> {
        if let Some(cached) = self.get(namespace, name) {
            return (!writes.is_stale(cached.as_ref())).then_some(Some(cached));
        }
        let listed = *self.listed.borrow() == Some(true);
        (listed && !writes.named_recently::<K>(namespace, name)).then_some(None)
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
                        self.update_index(|index| index.insert(&cached));
                        self.subscribers.send(&cached, false);
                    }
                }
                Ok(watcher::Event::Delete(o)) => {
                    self.update_index(|index| index.remove(&ObjectRef::from_obj(&o)));
                    self.subscribers.send(&Arc::new(o), true)
                }
                // A (re)list is buffered by the reflector and enters the store at InitDone, so
                // its objects are handed out then, all of them: after a watch expired, objects
                // created meanwhile are only in the relist.
                Ok(watcher::Event::InitApply(_)) => {}
                Ok(watcher::Event::InitDone) => {
                    let state = self.reader.state();
                    self.update_index(|index| index.rebuild(state.iter().map(AsRef::as_ref)));
                    for cached in state {
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

/// One metadata-only watch of Secrets, handed to every subscriber; nothing is cached but a
/// count and the resourceVersion of Secrets per hash of namespace and name, so that "this
/// Secret does not exist" (a Certificate's Secret before its first issuance) needs no GET, and
/// a Secret read moments ago at the version the watch still shows needs none either
/// (`secret_memo`): about 1.5 MiB at 50,000 Secrets.
pub struct SecretEvents {
    subscribers: Subscribers<SecretMeta>,
    names: Mutex<SecretNames>,
    memo: Mutex<SecretMemo>,
}

/// Secrets per name hash (how many, and the resourceVersion when exactly one):
/// `current` once listed, `building` during a (re)list.
#[derive(Default)]
struct SecretNames {
    current: Option<HashMap<u64, NameEntry>>,
    building: HashMap<u64, NameEntry>,
    /// Between a relist's Init and InitDone: `current` may be behind the Secrets already
    /// handed to subscribers, so it vouches for no version.
    relisting: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NameEntry {
    count: u32,
    /// The resourceVersion last seen when `count` is 1; 0 when unknown.
    version: u64,
}

impl NameEntry {
    fn add(&mut self, version: u64) {
        self.count += 1;
        self.version = if self.count == 1 { version } else { 0 };
    }
}

fn version_of(s: &SecretMeta) -> u64 {
    parse_version(s.metadata.resource_version.as_deref()).unwrap_or(0)
}

fn name_hash(namespace: &str, name: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (namespace, name).hash(&mut h);
    h.finish()
}

impl SecretNames {
    /// Applies one watch event. Pure.
    fn apply(&mut self, event: &watcher::Event<SecretMeta>) {
        let key = |s: &SecretMeta| {
            name_hash(
                s.metadata.namespace.as_deref().unwrap_or_default(),
                s.metadata.name.as_deref().unwrap_or_default(),
            )
        };
        match event {
            watcher::Event::Init => {
                self.building.clear();
                self.relisting = true;
            }
            watcher::Event::InitApply(s) => {
                self.building.entry(key(s)).or_default().add(version_of(s))
            }
            watcher::Event::InitDone => {
                self.current = Some(std::mem::take(&mut self.building));
                self.relisting = false;
            }
            watcher::Event::Apply(s) => {
                if let Some(current) = &mut self.current {
                    // An Apply of a Secret already counted is a change, not a second Secret:
                    // a count of 1 means "exists"; collisions only make a lookup ask the API.
                    let entry = current.entry(key(s)).or_insert(NameEntry {
                        count: 1,
                        version: 0,
                    });
                    if entry.count == 1 {
                        entry.version = version_of(s);
                    }
                }
            }
            watcher::Event::Delete(s) => {
                if let Some(current) = &mut self.current
                    && let std::collections::hash_map::Entry::Occupied(mut e) =
                        current.entry(key(s))
                {
                    if e.get().count <= 1 {
                        e.remove();
                    } else {
                        e.get_mut().count -= 1;
                    }
                }
            }
        }
    }

    /// `Some(false)` when no Secret by that name exists, `Some(true)` when one may, `None`
    /// before the first list.
    fn may_exist(&self, namespace: &str, name: &str) -> Option<bool> {
        let current = self.current.as_ref()?;
        Some(current.contains_key(&name_hash(namespace, name)))
    }

    /// The resourceVersion the watch last saw of the Secret `namespace/name`, when known (listed,
    /// present, and no other Secret shares its hash).
    fn version(&self, namespace: &str, name: &str) -> Option<u64> {
        if self.relisting {
            return None;
        }
        let entry = self.current.as_ref()?.get(&name_hash(namespace, name))?;
        (entry.count == 1 && entry.version != 0).then_some(entry.version)
    }
}

impl SecretEvents {
    pub fn new() -> Arc<Self> {
        Arc::new(SecretEvents {
            subscribers: Subscribers(Mutex::new(Vec::new())),
            names: Mutex::new(SecretNames::default()),
            memo: Mutex::new(SecretMemo::default()),
        })
    }

    /// The Secret `namespace/name`: from the memo when the watch still shows the version
    /// remembered, else a GET (remembered for the next read).
    pub async fn get(
        &self,
        client: &kube::Client,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Secret>, kube::Error> {
        let current = self
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .version(namespace, name);
        let remembered = self
            .memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace, name, current);
        if let Some(secret) = remembered {
            return Ok(Some(Secret::clone(&secret)));
        }
        let read = Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await?;
        if let Some(secret) = &read {
            self.remember(secret);
        }
        Ok(read)
    }

    /// Remembers a Secret this process just read or wrote (as the API server returned it).
    pub fn remember(&self, secret: &Secret) {
        self.memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(secret);
    }

    /// Whether the Secret `namespace/name` is known not to exist (listed, and not written by
    /// this process so recently that the watch may not have brought it yet).
    pub fn known_absent(
        &self,
        writes: &crate::controller::freshness::WriteLog,
        namespace: &str,
        name: &str,
    ) -> bool {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.may_exist(namespace, name) == Some(false)
            && !writes.named_recently::<Secret>(namespace, name)
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
            if let Ok(event) = &event {
                self.names
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .apply(event);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(namespace: &str, name: &str) -> SecretMeta {
        let mut s = SecretMeta::default();
        s.metadata.namespace = Some(namespace.into());
        s.metadata.name = Some(name.into());
        s
    }

    #[test]
    fn secret_names_know_the_version_the_watch_saw() {
        use watcher::Event::*;
        let at = |name: &str, version: &str| {
            let mut s = secret("a", name);
            s.metadata.resource_version = Some(version.into());
            s
        };
        let mut names = SecretNames::default();
        names.apply(&Init);
        names.apply(&InitApply(at("x", "7")));
        assert_eq!(names.version("a", "x"), None, "unknown until listed");
        names.apply(&InitDone);
        assert_eq!(names.version("a", "x"), Some(7));
        names.apply(&Apply(at("x", "9")));
        assert_eq!(names.version("a", "x"), Some(9), "a change moves it");
        names.apply(&Apply(at("new", "12")));
        assert_eq!(names.version("a", "new"), Some(12), "created");
        names.apply(&Delete(at("x", "10")));
        assert_eq!(names.version("a", "x"), None, "deleted");
        names.apply(&Apply(secret("a", "bare")));
        assert_eq!(names.version("a", "bare"), None, "no version: unknown");
        // A relist hands Secrets on before InitDone: no version is vouched for meanwhile.
        names.apply(&Init);
        names.apply(&InitApply(at("new", "15")));
        assert_eq!(names.version("a", "new"), None, "relisting");
        names.apply(&InitDone);
        assert_eq!(names.version("a", "new"), Some(15));
        let mut entry = NameEntry::default();
        entry.add(5);
        entry.add(6);
        assert_eq!(
            entry,
            NameEntry {
                count: 2,
                version: 0
            },
            "a shared hash has no version"
        );
    }

    #[test]
    fn secret_names_follow_lists_and_watch_events() {
        use watcher::Event::*;
        let mut names = SecretNames::default();
        assert_eq!(
            names.may_exist("a", "x"),
            None,
            "unknown before the first list"
        );
        for event in [
            Init,
            InitApply(secret("a", "x")),
            InitApply(secret("a", "y")),
        ] {
            names.apply(&event);
        }
        assert_eq!(
            names.may_exist("a", "x"),
            None,
            "still unknown until InitDone"
        );
        names.apply(&InitDone);
        let cases = [
            ("listed", "a", "x", Some(true)),
            ("other namespace", "b", "x", Some(false)),
            ("never made", "a", "z", Some(false)),
        ];
        for (case, ns, name, want) in cases {
            assert_eq!(names.may_exist(ns, name), want, "{case}");
        }
        names.apply(&Apply(secret("a", "z")));
        names.apply(&Apply(secret("a", "z")));
        assert_eq!(names.may_exist("a", "z"), Some(true), "created");
        names.apply(&Delete(secret("a", "z")));
        assert_eq!(
            names.may_exist("a", "z"),
            Some(false),
            "a change is not a second Secret"
        );
        // A relist replaces the names at InitDone; until then the old ones answer.
        names.apply(&Init);
        names.apply(&InitApply(secret("a", "y")));
        assert_eq!(names.may_exist("a", "x"), Some(true));
        names.apply(&InitDone);
        assert_eq!(
            names.may_exist("a", "x"),
            Some(false),
            "gone while the watch was down"
        );
        assert_eq!(names.may_exist("a", "y"), Some(true));
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::api::Certificate;

    fn certificate(name: &str, secret: &str) -> Certificate {
        let mut c = Certificate::new(name, Default::default());
        c.metadata.namespace = Some("ns".into());
        c.spec.secret_name = secret.into();
        c
    }

    fn keys(c: &Certificate) -> Vec<String> {
        vec![format!("secret/{}", c.spec.secret_name)]
    }

    fn names(index: &Index<Certificate>, key: &str) -> Vec<String> {
        let mut n: Vec<String> = index
            .by_key
            .get(key)
            .map(|s| s.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default();
        n.sort();
        n
    }

    #[test]
    fn index_follows_changes_deletes_and_relists() {
        let mut index = Index {
            keys_of: keys,
            by_key: HashMap::new(),
            of: HashMap::new(),
        };
        index.insert(&certificate("a", "x"));
        index.insert(&certificate("b", "x"));
        assert_eq!(names(&index, "secret/x"), ["a", "b"]);
        index.insert(&certificate("a", "y"));
        assert_eq!(
            names(&index, "secret/x"),
            ["b"],
            "a moved to another Secret"
        );
        assert_eq!(names(&index, "secret/y"), ["a"]);
        index.remove(&ObjectRef::from_obj(&certificate("b", "x")));
        assert!(names(&index, "secret/x").is_empty());
        assert!(
            !index.by_key.contains_key("secret/x"),
            "empty keys are dropped"
        );
        index.rebuild([&certificate("c", "z")]);
        assert!(
            names(&index, "secret/y").is_empty(),
            "a relist replaces everything"
        );
        assert_eq!(names(&index, "secret/z"), ["c"]);
    }
}
