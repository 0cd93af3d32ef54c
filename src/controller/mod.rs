//! `certsmith controller`: the kube-rs controllers, their shared context, and the process that
//! runs them until SIGTERM/SIGINT.

pub mod acme;
pub mod approver;
pub mod backoff;
pub mod certificates;
pub mod issuers;
pub mod requests;
pub mod selection;
pub mod shim;

use std::sync::Arc;

use futures::future::{FutureExt, Shared};
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

use backoff::ErrorBackoff;

/// Everything a reconciler needs besides the object.
pub struct Context {
    pub client: Client,
    /// Namespace holding the Secrets of ClusterIssuers (cert-manager's
    /// `--cluster-resource-namespace`).
    pub cluster_resource_namespace: String,
    pub recorder: Recorder,
    /// Per-object retry delays after transient errors.
    pub backoff: ErrorBackoff,
    /// The only namespace watched, if the controller is namespace-scoped.
    pub namespace: Option<String>,
    /// ACME accounts, request counters and settings.
    pub acme: acme::accounts::AcmeRuntime,
    pub shim: ShimSettings,
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
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("connecting to the Kubernetes API failed: {0}")]
    Connect(#[source] kube::Error),
}

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

/// Runs every controller until a shutdown signal.
pub async fn run(settings: Settings) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Connect)?;
    let reporter = Reporter {
        controller: "certsmith".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        cluster_resource_namespace: settings.cluster_resource_namespace,
        backoff: ErrorBackoff::default(),
        namespace: settings.namespace,
        acme: acme::accounts::AcmeRuntime {
            settings: settings.acme,
            ..Default::default()
        },
        shim: settings.shim,
    });
    tracing::info!(
        cluster_resource_namespace = %ctx.cluster_resource_namespace,
        namespace = ctx.namespace.as_deref().unwrap_or("(all)"),
        "certsmith controller starting"
    );
    let shutdown = shutdown_signal();
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
    let approver_on = settings.controllers.approver;
    let approver = async {
        if approver_on {
            approver::run(ctx.clone(), shutdown.clone()).await;
        } else {
            tracing::info!(
                "the built-in approver is off (--controllers): approve requests by hand"
            );
        }
    };
    let cluster_issuers = async {
        if ctx.namespace.is_none() {
            issuers::run_cluster_issuers(ctx.clone(), shutdown.clone()).await;
        }
    };
    futures::join!(
        issuers::run_issuers(ctx.clone(), shutdown.clone()),
        cluster_issuers,
        approver,
        requests::run(ctx.clone(), shutdown.clone()),
        certificates::run(ctx.clone(), shutdown.clone()),
        acme::orders::run(ctx.clone(), shutdown.clone()),
        acme::challenges::run(ctx.clone(), shutdown.clone()),
        ingress_shim,
        gateway_shim,
    );
    tracing::info!("certsmith controller stopped");
    Ok(())
}
