//! One watch and one cache of Certificates for the six Certificate controllers. Each used to
//! keep its own reflector: six watches, and six copies of every Certificate in memory (most of
//! the controller's growth per Certificate). Here one reflector fills one store, and every
//! change is handed to each controller as the store's own `Arc`, so nothing is copied.
//!
//! Two kinds of subscription: `controller()` triggers on applied objects (a Controller's
//! primary stream), `touched()` also on deleted ones (the sibling watch: a holder deleted frees
//! its Secret for the others). A subscriber first receives everything already in the store,
//! so one that subscribes after the initial list misses nothing; a change seen twice is only a
//! second reconcile.
//!
//! The controllers start once the store is listed: kube-runtime's `Store::wait_until_ready`
//! wakes one waiter only, so six controllers waiting on one store would not all start.

use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use crate::api::Certificate;
use crate::controller::Context;

/// The name `/readyz` reports this cache under.
const CACHE: &str = "certificates";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wants {
    /// Objects created or changed.
    Applied,
    /// Also objects deleted.
    Touched,
}

struct Subscriber {
    wants: Wants,
    sender: mpsc::UnboundedSender<Arc<Certificate>>,
}

/// The shared Certificate cache and its subscribers.
pub struct SharedCertificates {
    reader: Store<Certificate>,
    config: kube::runtime::controller::Config,
    subscribers: Mutex<Vec<Subscriber>>,
}

impl SharedCertificates {
    /// The cache, and the writer `drive` fills it with.
    pub fn new(ctx: &Context) -> (Arc<Self>, reflector::store::Writer<Certificate>) {
        let (reader, writer) = reflector::store();
        let shared = SharedCertificates {
            reader,
            config: ctx.controller_config(),
            subscribers: Mutex::new(Vec::new()),
        };
        (Arc::new(shared), writer)
    }

    /// The cache every Certificate controller reads.
    pub fn store(&self) -> Store<Certificate> {
        self.reader.clone()
    }

    /// A Controller over the shared cache, triggered by every created or changed Certificate.
    pub fn controller(&self) -> Controller<Certificate> {
        Controller::for_shared_stream(self.subscribe(Wants::Applied), self.reader.clone())
            .with_config(self.config.clone())
    }

    /// Every created, changed or deleted Certificate.
    pub fn touched(&self) -> impl Stream<Item = Arc<Certificate>> + Send + 'static {
        self.subscribe(Wants::Touched)
    }

    fn subscribe(&self, wants: Wants) -> impl Stream<Item = Arc<Certificate>> + Send + 'static {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut subscribers = self.lock();
        for certificate in self.reader.state() {
            let _ = sender.send(certificate);
        }
        subscribers.push(Subscriber { wants, sender });
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|c| (c, receiver))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, certificate: &Arc<Certificate>, deleted: bool) {
        let mut subscribers = self.lock();
        subscribers.retain(|s| {
            if deleted && s.wants == Wants::Applied {
                return true;
            }
            // A closed receiver is a controller that stopped: forget it.
            s.sender.send(certificate.clone()).is_ok()
        });
    }

    /// Watches Certificates into the cache and hands each change to the subscribers until
    /// `shutdown`; `listed` is sent once the first full list is in the cache.
    pub async fn drive(
        self: Arc<Self>,
        ctx: &Context,
        writer: reflector::store::Writer<Certificate>,
        listed: tokio::sync::oneshot::Sender<()>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let health = ctx.health.clone();
        health.expect_cache(CACHE);
        let mut listed = Some(listed);
        let events = reflector::reflector(
            writer,
            watcher(ctx.watched::<Certificate>(), watcher::Config::default())
                .default_backoff()
                .modify(crate::controller::drop_managed_fields),
        );
        let work = events.for_each(|event| {
            match event {
                Ok(watcher::Event::Apply(c)) => {
                    // The store's own Arc: the reflector has just put it there.
                    if let Some(cached) = self.reader.get(&ObjectRef::from_obj(&c)) {
                        self.send(&cached, false);
                    }
                }
                Ok(watcher::Event::Delete(c)) => self.send(&Arc::new(c), true),
                // A (re)list is buffered by the reflector and enters the store at InitDone, so
                // its objects are handed out then, all of them: after a watch expired, objects
                // created meanwhile are only in the relist.
                Ok(watcher::Event::InitApply(_)) => {}
                Ok(watcher::Event::InitDone) => {
                    for cached in self.reader.state() {
                        self.send(&cached, false);
                    }
                    health.cache_synced(CACHE);
                    if let Some(listed) = listed.take() {
                        let _ = listed.send(());
                    }
                }
                Ok(watcher::Event::Init) => {}
                Err(err) => tracing::warn!(%err, "watching Certificates failed; retrying"),
            }
            futures::future::ready(())
        });
        tokio::select! {
            _ = work => {}
            _ = shutdown => {}
        }
    }
}
