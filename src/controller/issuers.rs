//! Issuer and ClusterIssuer controllers: keep each issuer's Ready condition true to what it
//! can do now. A CA issuer is re-checked when its Secret changes (watched as metadata only)
//! and when its CA certificate expires.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Context;
use crate::api::{
    CONDITION_READY, ClusterIssuer, Condition, ConditionChange, GenericIssuer, Issuer,
    condition_change, find_condition,
};
use crate::issuer::ca::inspect_ca_secret;
use crate::issuer::readiness::{CaSecretFacts, issuer_readiness};

const FIELD_MANAGER: &str = "certsmith-issuers";

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("reading Secret {namespace}/{name} failed: {source}")]
    GetSecret {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("writing the status of {kind} {name} failed: {source}")]
    PatchStatus {
        kind: &'static str,
        name: String,
        source: kube::Error,
    },
}

/// Runs the Issuer controller until `shutdown`.
pub async fn run_issuers(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = Controller::new(ctx.watched::<Issuer>(), watcher::Config::default());
    let store = controller.store();
    // Secrets as metadata only: a CA issuer needs to know that its Secret changed, not every
    // Secret's data.
    let secrets = watcher(
        ctx.watched::<PartialObjectMeta<Secret>>(),
        watcher::Config::default(),
    );
    controller
        .watches_stream(secrets.touched_objects(), move |secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            store
                .state()
                .into_iter()
                .filter(|iss| {
                    iss.namespace() == ns && ca_secret_name(iss.as_ref()) == Some(name.as_str())
                })
                .map(|iss| ObjectRef::from_obj(iss.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<Issuer>, error_policy::<Issuer>, ctx)
        .for_each(|r| super::log_outcome("issuers", r))
        .await;
}

/// Runs the ClusterIssuer controller until `shutdown`.
pub async fn run_cluster_issuers(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = Controller::new(
        Api::<ClusterIssuer>::all(ctx.client.clone()),
        watcher::Config::default(),
    );
    let store = controller.store();
    let secrets = watcher(
        Api::<PartialObjectMeta<Secret>>::namespaced(
            ctx.client.clone(),
            &ctx.cluster_resource_namespace,
        ),
        watcher::Config::default(),
    );
    controller
        .watches_stream(secrets.touched_objects(), move |secret| {
            let name = secret.name_any();
            store
                .state()
                .into_iter()
                .filter(|iss| ca_secret_name(iss.as_ref()) == Some(name.as_str()))
                .map(|iss| ObjectRef::from_obj(iss.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(
            reconcile::<ClusterIssuer>,
            error_policy::<ClusterIssuer>,
            ctx,
        )
        .for_each(|r| super::log_outcome("clusterissuers", r))
        .await;
}

fn ca_secret_name<K: GenericIssuer>(issuer: &K) -> Option<&str> {
    issuer.spec().ca.as_ref().map(|ca| ca.secret_name.as_str())
}

/// Where an issuer's Secrets live: its own namespace, or the cluster resource namespace.
fn secret_namespace<K: GenericIssuer>(issuer: &K, ctx: &Context) -> String {
    issuer
        .meta()
        .namespace
        .clone()
        .unwrap_or_else(|| ctx.cluster_resource_namespace.clone())
}

/// The two issuer kinds, each with an API handle of its own scope.
pub trait IssuerKind:
    GenericIssuer + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    fn api_for(&self, client: kube::Client) -> Api<Self>;
}

impl IssuerKind for Issuer {
    fn api_for(&self, client: kube::Client) -> Api<Self> {
        Api::namespaced(client, self.meta().namespace.as_deref().unwrap_or_default())
    }
}

impl IssuerKind for ClusterIssuer {
    fn api_for(&self, client: kube::Client) -> Api<Self> {
        Api::all(client)
    }
}

fn object_key<K: GenericIssuer>(issuer: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        issuer.meta().namespace.as_deref().unwrap_or(""),
        issuer.name_any()
    )
}

async fn reconcile<K: IssuerKind>(
    issuer: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, IssuerError> {
    let now = Timestamp::now();
    let name = issuer.name_any();

    // Gather: the CA Secret, if this is a CA issuer.
    let ca_facts =
        match ca_secret_name(issuer.as_ref()) {
            Some(secret_name) => {
                let namespace = secret_namespace(issuer.as_ref(), &ctx);
                let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
                let secret = secrets.get_opt(secret_name).await.map_err(|source| {
                    IssuerError::GetSecret {
                        namespace: namespace.clone(),
                        name: secret_name.to_owned(),
                        source,
                    }
                })?;
                Some(match secret {
                    Some(secret) => inspect_ca_secret(&secret, now),
                    None => CaSecretFacts::Missing {
                        namespace,
                        name: secret_name.to_owned(),
                    },
                })
            }
            None => None,
        };

    // Decide.
    let readiness = issuer_readiness(
        issuer.spec(),
        ca_facts.as_ref(),
        issuer.meta().generation,
        now,
    );

    // Act: write only when the condition says something new, and only our condition (other
    // field managers may own other entries of the list).
    let old = issuer
        .status()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let change = condition_change(
        find_condition(old, CONDITION_READY),
        readiness.condition.clone(),
        Time(now),
    );
    if let ConditionChange::Write {
        condition,
        transition,
    } = change
    {
        let patch = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": { "conditions": [condition] },
        });
        issuer
            .api_for(ctx.client.clone())
            .patch_status(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|source| IssuerError::PatchStatus {
                kind: kind_name::<K>(),
                name: name.clone(),
                source,
            })?;
        if transition {
            publish_transition(issuer.as_ref(), &condition, &ctx).await;
        }
        tracing::info!(
            kind = kind_name::<K>(), name, ready = ?condition.status,
            reason = condition.reason.as_deref().unwrap_or_default(),
            "issuer readiness updated"
        );
    }
    ctx.backoff.reset(&object_key(issuer.as_ref()));

    // Requeue when the answer can change without a watch event: at the CA's expiry.
    Ok(match readiness.recheck_at {
        Some(at) => Action::requeue(until(now, at)),
        None => Action::await_change(),
    })
}

/// Time from `now` to `at`, at least a second and at most a day: tokio's timer rejects
/// deadlines years away (a CA valid for 10 years), and a daily look costs nothing.
fn until(now: Timestamp, at: Timestamp) -> Duration {
    let secs = at
        .as_second()
        .saturating_sub(now.as_second())
        .clamp(1, 24 * 3600);
    Duration::from_secs(u64::try_from(secs).unwrap_or(1))
}

fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    if K::kind(&()) == "ClusterIssuer" {
        "ClusterIssuer"
    } else {
        "Issuer"
    }
}

async fn publish_transition<K: GenericIssuer>(issuer: &K, condition: &Condition, ctx: &Context) {
    let ready = condition.status == crate::api::ConditionStatus::True;
    let event = Event {
        type_: if ready {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: condition.reason.clone().unwrap_or_else(|| "Unknown".into()),
        note: condition.message.clone().filter(|m| !m.is_empty()),
        action: "CheckIssuer".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &issuer.object_ref(&())).await {
        tracing::warn!(%err, "publishing an Event failed");
    }
}

fn error_policy<K: GenericIssuer>(issuer: Arc<K>, err: &IssuerError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&object_key(issuer.as_ref()));
    tracing::warn!(kind = kind_name::<K>(), name = issuer.name_any(), %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}
