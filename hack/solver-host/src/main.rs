//! certsmith-solver-host: the test bed's stand-in for the kubelet and the ingress controller,
//! for HTTP-01 solver Pods only (DESIGN.md §5). Test tooling; never shipped.
//!
//! - kubelet part ([`processes`]): for every Pod labelled `acme.cert-manager.io/http01-solver=true`
//!   (all namespaces) it runs the real `certsmith acmesolver` with the Pod's container arguments,
//!   on a free loopback port, and stops it when the Pod is deleted. The binary is
//!   `$CERTSMITH_SOLVER_BIN`, else the newer of `<repo>/target/{release,debug}/certsmith`, looked
//!   up at each start. It also writes a Running/Ready Pod status so `kubectl get pods` reads
//!   right.
//! - ingress controller part ([`proxy`], [`routing`]): listens where Pebble validates http-01
//!   (127.0.0.1:5002; BIND answers every name in the test zone with 127.0.0.1) and forwards
//!   each request by Host and path through Ingress -> Service -> Pod to that Pod's process.
//!   Gateway controller part: the same for Gateway API HTTPRoutes (hostnames, Exact/PathPrefix
//!   path matches -> backendRef Service), watched once the HTTPRoute CRD exists (checked every
//!   5 s until it does; parentRefs are not checked: every Gateway is this one port).
//!
//! Started by `hack/testenv.sh up` (part `solver-host`), logging to the bed's log directory.

mod processes;
mod proxy;
mod routing;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use certsmith::http01::gateway::http_route_api_resource;
use certsmith::http01::resources::LABEL_SOLVER;
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, Resource};
use tokio::sync::Notify;

#[derive(Debug, Parser)]
#[command(
    name = "certsmith-solver-host",
    about = "The test bed's kubelet + ingress controller for HTTP-01 solver Pods"
)]
struct Args {
    /// Where to serve HTTP-01 requests (Pebble's httpPort).
    #[arg(long, default_value = "127.0.0.1:5002")]
    listen: SocketAddr,
    /// Kubeconfig of the bed's API server (default: $KUBECONFIG or in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The repository whose target/{release,debug}/certsmith runs the solvers.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))]
    repo: PathBuf,
    /// Do not write Pod statuses.
    #[arg(long)]
    no_pod_status: bool,
    /// Run solver Pods only in namespaces whose name starts with this (for a second, private
    /// instance on another port next to the bed's own, e.g. to try a change to this program).
    #[arg(long)]
    namespace_prefix: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(false)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("certsmith-solver-host: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("loading {}: {e}", path.display()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| format!("finding a kubeconfig: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("building the client: {e}"))
}

/// Watches `api` into a store, poking `wake` on every event.
fn watch<K>(api: Api<K>, config: watcher::Config, wake: Option<Arc<Notify>>) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&()).into_owned();
    tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(api, config).default_backoff().reflect(writer));
        while let Some(event) = events.next().await {
            match event {
                Ok(_) => {
                    if let Some(w) = &wake {
                        w.notify_one();
                    }
                }
                Err(err) => tracing::warn!(%kind, %err, "watch error (retrying)"),
            }
        }
    });
    reader
}

const HTTP_ROUTE_CRD: &str = "httproutes.gateway.networking.k8s.io";

/// Whether the API server serves HTTPRoutes.
async fn http_routes_served(client: &Client) -> bool {
    match Api::<CustomResourceDefinition>::all(client.clone())
        .get_opt(HTTP_ROUTE_CRD)
        .await
    {
        Ok(crd) => crd.is_some(),
        Err(err) => {
            tracing::warn!(%err, "looking up the HTTPRoute CRD");
            false
        }
    }
}

/// Watches all HTTPRoutes into a store.
fn watch_http_routes(client: Client) -> Store<DynamicObject> {
    let ar = http_route_api_resource();
    let writer = reflector::store::Writer::new(ar.clone());
    let reader = writer.as_reader();
    let api = Api::<DynamicObject>::all_with(client, &ar);
    tokio::spawn(async move {
        let config = watcher::Config::default();
        let mut events = std::pin::pin!(watcher(api, config).default_backoff().reflect(writer));
        while let Some(event) = events.next().await {
            if let Err(err) = event {
                tracing::warn!(kind = "HTTPRoute", %err, "watch error (retrying)");
            }
        }
    });
    reader
}

async fn run(args: Args) -> Result<(), String> {
    let repo = args.repo.canonicalize().unwrap_or(args.repo.clone());
    // Bind first: a busy port is the most likely start failure, and says so at once.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.listen))?;
    let client = client(args.kubeconfig.as_ref()).await?;
    match processes::solver_binary(&repo) {
        Ok(bin) => {
            tracing::info!(bin = %bin.display(), "solver binary (looked up again at each start)")
        }
        Err(err) => tracing::warn!("{err}"),
    }

    let wake = Arc::new(Notify::new());
    let pods: Store<Pod> = watch(
        Api::all(client.clone()),
        watcher::Config::default().labels(&format!("{LABEL_SOLVER}=true")),
        Some(wake.clone()),
    );
    let namespaces: Store<Namespace> = watch(
        Api::all(client.clone()),
        watcher::Config::default(),
        Some(wake.clone()),
    );
    let services: Store<Service> =
        watch(Api::all(client.clone()), watcher::Config::default(), None);
    let ingresses: Store<Ingress> =
        watch(Api::all(client.clone()), watcher::Config::default(), None);

    // HTTPRoutes: watched now if their CRD is there (and then part of "synced"), else as soon
    // as it appears.
    let http_routes = proxy::HttpRoutes::default();
    let routes_now = if http_routes_served(&client).await {
        let store = watch_http_routes(client.clone());
        let _ = http_routes.set(store.clone());
        Some(store)
    } else {
        tracing::info!("no HTTPRoute CRD yet; checking every 5 s");
        let (client, cell) = (client.clone(), http_routes.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                if http_routes_served(&client).await {
                    let _ = cell.set(watch_http_routes(client));
                    tracing::info!("HTTPRoute CRD found: watching HTTPRoutes");
                    return;
                }
            }
        });
        None
    };

    let ready = Arc::new(AtomicBool::new(false));
    {
        let (p, n, s, i, ready) = (
            pods.clone(),
            namespaces.clone(),
            services.clone(),
            ingresses.clone(),
            ready.clone(),
        );
        tokio::spawn(async move {
            let synced = futures::future::try_join4(
                p.wait_until_ready(),
                n.wait_until_ready(),
                s.wait_until_ready(),
                i.wait_until_ready(),
            )
            .await;
            let routes_synced = match routes_now {
                Some(r) => r.wait_until_ready().await.is_ok(),
                None => true,
            };
            if synced.is_ok() && routes_synced {
                ready.store(true, Ordering::Relaxed);
                tracing::info!("watches synced");
            }
        });
    }

    let table = processes::Table::default();
    let stop = Arc::new(Notify::new());
    let supervisor = tokio::spawn(
        processes::Supervisor {
            client: client.clone(),
            pods: pods.clone(),
            namespaces,
            table: table.clone(),
            repo: repo.clone(),
            mark_status: !args.no_pod_status,
            namespace_prefix: args.namespace_prefix.clone(),
        }
        .run(wake, stop.clone()),
    );

    tracing::info!(listen = %args.listen, repo = %repo.display(), "serving HTTP-01 requests");
    let proxy = proxy::Proxy {
        ingresses,
        http_routes,
        services,
        pods,
        table,
        ready,
    };
    proxy::serve(listener, proxy, shutdown_signal()).await;
    tracing::info!("stopping: terminating acmesolver processes");
    stop.notify_one();
    let _ = supervisor.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
