//! `certsmith controller`: the kube-rs controllers, their shared context, and the process that
//! runs them until SIGTERM/SIGINT.

pub mod acme;
pub mod allocator;
pub mod approver;
pub mod backoff;
pub mod certificates;
pub mod events;
pub mod freshness;
pub mod issuers;
pub mod leader;
pub mod ratelimit;
pub mod requests;
pub mod secret_memo;
pub mod selection;
pub mod shared;
pub mod shim;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt, Shared};
use kube::Client;
use kube::runtime::events::Reporter;
use tracing::Instrument;

use crate::telemetry::health::{Health, Role};
use crate::telemetry::metrics::Metrics;
use backoff::ErrorBackoff;

/// Everything a reconciler needs besides the object.
pub struct Context {
    pub client: Client,
    /// Namespace holding the Secrets of ClusterIssuers (cert-manager's
    /// `--cluster-resource-namespace`).
    pub cluster_resource_namespace: String,
    pub recorder: events::EventRecorder,
    /// Per-object retry delays after transient errors.
    pub backoff: ErrorBackoff,
    /// Per-challenge delays between ACME self-checks (`ErrorBackoff::self_checks`).
    pub self_checks: ErrorBackoff,
    /// The only namespace watched, if the controller is namespace-scoped.
    pub namespace: Option<String>,
    /// ACME accounts, request counters and settings.
    pub acme: acme::accounts::AcmeRuntime,
    pub shim: ShimSettings,
    /// Prometheus metrics of this process.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` answers: leadership and cache sync.
    pub health: Arc<Health>,
    /// This process's latest write to each object, so no reconcile decides on an older copy.
    pub writes: Arc<freshness::WriteLog>,
    /// Reconciles each controller runs at once.
    pub concurrent_workers: u16,
    /// Next private keys of issuances in progress, by Certificate UID and revision.
    pub next_keys: certificates::next_keys::NextKeys,
    /// The one CertificateRequest watch and cache (the signers and four
    /// Certificate controllers read it); driven by `run_controllers`.
    pub requests: Arc<shared::SharedCache<crate::api::CertificateRequest>>,
    /// The one Secret metadata watch (Certificate and issuer controllers are woken by it).
    pub secrets: Arc<shared::SecretEvents>,
    /// The Issuer and ClusterIssuer controllers' caches, once they run.
    pub issuers: IssuerCaches,
}

/// The Issuer and ClusterIssuer controllers' caches, for readers elsewhere (which issuer kind
/// a Certificate names). Empty until those controllers start; a reader then asks the API.
#[derive(Default)]
pub struct IssuerCaches {
    pub issuers: std::sync::OnceLock<kube::runtime::reflector::Store<crate::api::Issuer>>,
    pub cluster_issuers:
        std::sync::OnceLock<kube::runtime::reflector::Store<crate::api::ClusterIssuer>>,
}

impl Context {
    /// The settings every Controller runs with: at most `concurrent_workers` reconciles at once.
    pub fn controller_config(&self) -> kube::runtime::controller::Config {
        kube::runtime::controller::Config::default().concurrency(self.concurrent_workers)
    }
}

/// The Ingress shim's settings.
#[derive(Clone, Debug)]
pub struct ShimSettings {
    /// Run the Ingress shim (on by default).
    pub ingress: bool,
    /// Run the Gateway shim (on by default; off by itself without the Gateway API CRDs).
    pub gateway: bool,
    /// The issuer for `kubernetes.io/tls-acme: "true"`.
    pub default_issuer: crate::shim::annotations::DefaultIssuer,
}

impl Default for ShimSettings {
    fn default() -> Self {
        ShimSettings {
            ingress: true,
            gateway: true,
            default_issuer: Default::default(),
        }
    }
}

impl Context {
    /// An API handle over the watched scope: one namespace, or all of them.
    pub fn watched<K>(&self) -> kube::Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match &self.namespace {
            Some(ns) => kube::Api::namespaced(self.client.clone(), ns),
            None => kube::Api::all(self.client.clone()),
        }
    }
}

/// Settings of the controller process.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster_resource_namespace: String,
    /// Watch only this namespace; ClusterIssuers are then not reconciled.
    pub namespace: Option<String>,
    pub acme: acme::accounts::AcmeSettings,
    pub shim: ShimSettings,
    /// Optional controllers turned on or off (`--controllers`).
    pub controllers: selection::Selection,
    /// Leader election, unless turned off.
    pub leader: Option<leader::LeaderSettings>,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_address: Option<SocketAddr>,
    /// Where `/livez` and `/readyz` are served, if anywhere.
    pub healthz_address: Option<SocketAddr>,
    /// Average API writes per second (0: unlimited) and the burst allowed at once.
    pub kube_api_qps: f64,
    pub kube_api_burst: u32,
    /// Reconciles each controller runs at once (`--concurrent-workers`).
    pub concurrent_workers: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("connecting to the Kubernetes API failed: {0}")]
    Connect(#[source] kube::Error),
    #[error("serving {what} on {address} failed: {source}")]
    Listen {
        what: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("leadership lost: {0}; exiting so that only one replica reconciles")]
    LostLeadership(String),
}

/// A kube-runtime Controller over `api` whose cache reports to `/readyz` when listed.
///
/// Built with `for_stream` on our own reflector rather than `Controller::new` so the initial
/// list can be observed in the stream: `Store::wait_until_ready` cannot be used for that,
/// because the store's ready signal wakes only one waiter and the controller's own runner
/// already waits on it (a second waiter can steal its wake-up).
pub(crate) fn cached_controller<K>(
    ctx: &Context,
    cache: &'static str,
    api: kube::Api<K>,
) -> kube::runtime::Controller<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, reflector, watcher};
    let (reader, writer) = reflector::store();
    let health = ctx.health.clone();
    health.expect_cache(cache);
    // No backoff here: the Controller backs off its trigger streams itself.
    let events = reflector(
        writer,
        watcher(api, watcher::Config::default()).modify(drop_managed_fields),
    )
    .inspect(move |event| {
        if let Ok(watcher::Event::InitDone) = event {
            health.cache_synced(cache);
        }
    });
    kube::runtime::Controller::for_stream(events.applied_objects(), reader)
        .with_config(ctx.controller_config())
}

/// Cached objects keep no `managedFields`: nothing reads them from a cache (the one reader,
/// Secret output drift, GETs its Secret), and with a field manager per controller they were
/// most of each cached Certificate's and CertificateRequest's memory.
pub(crate) fn drop_managed_fields<K: kube::Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Wraps a reconciler: each call runs in a span naming the controller and the object, and is
/// counted and timed in the metrics (cert-manager's sync call and error counts). A call handed
/// a cached copy older than this process's last write to the object does not run: the write's
/// watch event is on its way and triggers the reconcile again (the requeue is a backstop).
pub(crate) fn timed<K, C, E, F, Fut>(
    controller: &'static str,
    ctx: &Context,
    mut reconcile: F,
) -> impl FnMut(Arc<K>, Arc<C>) -> BoxFuture<'static, Result<kube::runtime::controller::Action, E>>
+ use<K, C, E, F, Fut>
where
    K: kube::Resource,
    F: FnMut(Arc<K>, Arc<C>) -> Fut,
    Fut: Future<Output = Result<kube::runtime::controller::Action, E>> + Send + 'static,
    E: Send + 'static,
{
    let metrics = ctx.metrics.clone();
    let writes = ctx.writes.clone();
    move |object, ctx| {
        let meta = object.meta();
        let span = tracing::info_span!(
            "reconcile",
            controller,
            namespace = meta.namespace.as_deref().unwrap_or(""),
            name = meta.name.as_deref().unwrap_or(""),
        );
        if writes.is_stale(object.as_ref()) {
            span.in_scope(|| tracing::debug!("cache behind our last write; waiting for it"));
            return futures::future::ready(Ok(kube::runtime::controller::Action::requeue(
                CACHE_CATCH_UP,
            )))
            .boxed();
        }
        let metrics = metrics.clone();
        let work = reconcile(object, ctx);
        async move {
            let start = Instant::now();
            let result = work.await;
            metrics.record_sync(controller, start.elapsed(), result.is_err());
            result
        }
        .instrument(span)
        .boxed()
    }
}

/// The backstop requeue of a reconcile skipped for a stale cache.
const CACHE_CATCH_UP: std::time::Duration = std::time::Duration::from_millis(250);

/// Logs what a controller's run stream reports besides successes: watch failures (e.g. a
/// missing CRD or RBAC) and objects the reconciler could not handle.
pub(crate) async fn log_outcome<T: std::fmt::Debug, E: std::fmt::Display>(
    controller: &'static str,
    result: Result<T, kube::runtime::controller::Error<E, kube::runtime::watcher::Error>>,
) {
    use kube::runtime::controller::Error;
    match result {
        Ok(_) => {}
        Err(Error::ReconcilerFailed(err, obj)) => {
            tracing::debug!(controller, object = %obj, %err, "reconcile failed");
        }
        Err(Error::ObjectNotFound(obj)) => {
            tracing::debug!(controller, object = %obj, "object gone")
        }
        Err(err) => tracing::warn!(controller, %err, "controller error"),
    }
}

/// Resolves once on SIGTERM or SIGINT; every controller stops on it, finishing in-flight
/// reconciles first.
fn shutdown_signal() -> Shared<futures::future::BoxFuture<'static, ()>> {
    async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested; finishing in-flight work");
    }
    .boxed()
    .shared()
}

/// Runs every controller until a shutdown signal: serves metrics and probes at once, then,
/// with leader election on, waits for the Lease before reconciling anything.
pub async fn run(settings: Settings) -> Result<(), RunError> {
    let client = connect(settings.kube_api_qps, settings.kube_api_burst).await?;
    let metrics = Metrics::new();
    let health = Health::new();
    let servers = [
        ("metrics", settings.metrics_address),
        ("health probe", settings.healthz_address),
    ];
    for (what, address) in servers {
        if let Some(address) = address {
            crate::telemetry::server::bind(what, address, metrics.clone(), health.clone())
                .await
                .map_err(|source| RunError::Listen {
                    what,
                    address,
                    source,
                })?;
        }
    }
    let reporter = Reporter {
        controller: "certsmith".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context {
        recorder: events::EventRecorder::new(client.clone(), reporter),
        client: client.clone(),
        cluster_resource_namespace: settings.cluster_resource_namespace,
        backoff: ErrorBackoff::default(),
        self_checks: ErrorBackoff::self_checks(),
        namespace: settings.namespace,
        acme: acme::accounts::AcmeRuntime {
            settings: settings.acme,
            ..Default::default()
        },
        shim: settings.shim,
        metrics: metrics.clone(),
        health: health.clone(),
        writes: Default::default(),
        concurrent_workers: settings.concurrent_workers,
        next_keys: Default::default(),
        requests: shared::SharedCache::indexed(
            "certificaterequests",
            kube::runtime::controller::Config::default().concurrency(settings.concurrent_workers),
            certificates::revisions::index_keys,
        ),
        secrets: shared::SecretEvents::new(),
        issuers: Default::default(),
    });
    metrics.watch_acme(ctx.acme.stats.clone());
    tracing::info!(
        cluster_resource_namespace = %ctx.cluster_resource_namespace,
        namespace = ctx.namespace.as_deref().unwrap_or("(all)"),
        "certsmith controller starting"
    );
    let shutdown = shutdown_signal();

    let mut elector = None;
    if let Some(leader) = settings.leader {
        health.set_role(Role::Standby);
        tracing::info!(
            namespace = %leader.namespace,
            lease = leader::LEASE_NAME,
            identity = %leader.identity,
            "waiting to become the leader"
        );
        let mut campaign = leader::Elector::new(client, leader);
        if !campaign.acquire(shutdown.clone()).await {
            tracing::info!("certsmith controller stopped before becoming the leader");
            return Ok(());
        }
        tracing::info!("became the leader; starting the controllers");
        elector = Some(campaign);
    }
    health.set_role(Role::Leader);
    metrics.set_leader(true);

    let controllers = async {
        futures::join!(
            run_controllers(ctx.clone(), shutdown.clone(), settings.controllers),
            allocator::return_free_memory(shutdown.clone()),
        );
    };
    let outcome = match &elector {
        None => {
            controllers.await;
            Ok(())
        }
        Some(elector) => {
            tokio::select! {
                () = controllers => Ok(()),
                reason = elector.hold() => Err(RunError::LostLeadership(reason)),
            }
        }
    };
    metrics.set_leader(false);
    if let (Some(elector), Ok(())) = (&elector, &outcome) {
        elector.release().await;
    }
    tracing::info!("certsmith controller stopped");
    outcome
}

/// A client for the current kubeconfig or in-cluster config, with the write limit.
async fn connect(qps: f64, burst: u32) -> Result<Client, RunError> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| RunError::Connect(kube::Error::InferConfig(e)))?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(RunError::Connect)?;
    Ok(match ratelimit::WriteLimit::new(qps, burst) {
        Some(limit) => builder.with_layer(&limit).build(),
        None => builder.build(),
    })
}

/// Every controller, until `shutdown`.
async fn run_controllers(
    ctx: Arc<Context>,
    shutdown: Shared<BoxFuture<'static, ()>>,
    selection: selection::Selection,
) {
    let ingress_shim = async {
        if ctx.shim.ingress {
            shim::run(ctx.clone(), shutdown.clone()).await;
        }
    };
    let gateway_shim = async {
        if ctx.shim.gateway {
            shim::run_gateway(ctx.clone(), shutdown.clone()).await;
        }
    };
    // The built-in approver has no controller of its own: the signer approves with its first
    // status write (`approver::approval`).
    let approve = selection.approver;
    if !approve {
        tracing::info!("the built-in approver is off (--controllers): approve requests by hand");
    }
    let cluster_issuers = async {
        if ctx.namespace.is_none() {
            issuers::run_cluster_issuers(ctx.clone(), shutdown.clone()).await;
        }
    };
    // The shared watches. Subscribers of Secret events subscribe when their controller is
    // built, which is before this first poll for all but the Certificate controllers; those
    // reconcile every Certificate when they start, so a Secret event before then is not lost.
    let request_watch = ctx
        .requests
        .clone()
        .drive(&ctx.health, ctx.watched(), shutdown.clone());
    let secret_watch = ctx.secrets.clone().drive(ctx.watched(), shutdown.clone());
    futures::join!(
        request_watch,
        secret_watch,
        issuers::run_issuers(ctx.clone(), shutdown.clone()),
        cluster_issuers,
        requests::run(ctx.clone(), shutdown.clone(), approve),
        certificates::run(ctx.clone(), shutdown.clone()),
        acme::orders::run(ctx.clone(), shutdown.clone()),
        acme::challenges::run(ctx.clone(), shutdown.clone()),
        ingress_shim,
        gateway_shim,
    );
}
