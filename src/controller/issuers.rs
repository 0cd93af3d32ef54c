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
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Context;
use crate::acme::account_key_hash;
use crate::api::{
    AcmeIssuer, AcmeIssuerStatus, CONDITION_READY, ClusterIssuer, Condition, ConditionChange,
    ConditionStatus, GenericIssuer, Issuer, condition_change, find_condition,
};
use crate::controller::acme::accounts::{
    AccountError, REASON_ACCOUNT_REGISTERED, account_key, issuer_account,
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
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
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
    let controller = crate::controller::cached_controller(&ctx, "issuers", ctx.watched::<Issuer>());
    let store = controller.store();
    let _ = ctx.issuers.issuers.set(store.clone());
    // Secrets as metadata only: a CA issuer needs to know that its Secret changed, not every
    // Secret's data.
    controller
        .watches_shared_stream(ctx.secrets.touched(), move |secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            store
                .state()
                .into_iter()
                .filter(|iss| iss.namespace() == ns && uses_secret(iss.as_ref(), &name))
                .map(|iss| ObjectRef::from_obj(iss.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("issuers", &ctx, reconcile::<Issuer>),
            error_policy::<Issuer>,
            ctx,
        )
        .for_each(|r| super::log_outcome("issuers", r))
        .await;
}

/// Runs the ClusterIssuer controller until `shutdown`.
pub async fn run_cluster_issuers(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = crate::controller::cached_controller(
        &ctx,
        "clusterissuers",
        Api::<ClusterIssuer>::all(ctx.client.clone()),
    );
    let store = controller.store();
    let _ = ctx.issuers.cluster_issuers.set(store.clone());
    // The shared Secret watch covers every namespace whenever ClusterIssuers run.
    let namespace = ctx.cluster_resource_namespace.clone();
    controller
        .watches_shared_stream(ctx.secrets.touched(), move |secret| {
            if secret.namespace().as_deref() != Some(namespace.as_str()) {
                return Vec::new();
            }
            let name = secret.name_any();
            store
                .state()
                .into_iter()
                .filter(|iss| uses_secret(iss.as_ref(), &name))
                .map(|iss| ObjectRef::from_obj(iss.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("clusterissuers", &ctx, reconcile::<ClusterIssuer>),
            error_policy::<ClusterIssuer>,
            ctx,
        )
        .for_each(|r| super::log_outcome("clusterissuers", r))
        .await;
}

fn ca_secret_name<K: GenericIssuer>(issuer: &K) -> Option<&str> {
    issuer.spec().ca.as_ref().map(|ca| ca.secret_name.as_str())
}

/// Whether the issuer reads the Secret `name` (in its Secret namespace): a CA key pair, an ACME
/// account key or External Account Binding key.
fn uses_secret<K: GenericIssuer>(issuer: &K, name: &str) -> bool {
    let spec = issuer.spec();
    ca_secret_name(issuer) == Some(name)
        || spec.acme.as_ref().is_some_and(|acme| {
            acme.private_key_secret_ref.name == name
                || acme
                    .external_account_binding
                    .as_ref()
                    .is_some_and(|b| b.key_secret_ref.name == name)
        })
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
    if let Some(acme) = &issuer.spec().acme {
        return reconcile_acme(issuer.as_ref(), acme, &ctx).await;
    }
    let now = Timestamp::now();

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
    write_ready(
        issuer.as_ref(),
        &ctx,
        readiness.condition.clone(),
        None,
        now,
    )
    .await?;
    ctx.backoff.reset(&object_key(issuer.as_ref()));

    // Requeue when the answer can change without a watch event: at the CA's expiry.
    Ok(match readiness.recheck_at {
        Some(at) => Action::requeue(until(now, at)),
        None => Action::await_change(),
    })
}

/// Applies `condition` as the Ready condition (and, for ACME issuers, `acme` as `status.acme`)
/// when either says something new; an Event on a Ready transition.
async fn write_ready<K: IssuerKind>(
    issuer: &K,
    ctx: &Context,
    condition: Condition,
    acme: Option<&AcmeIssuerStatus>,
    now: Timestamp,
) -> Result<(), IssuerError> {
    let name = issuer.name_any();
    let old = issuer
        .status()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let old_condition = find_condition(old, CONDITION_READY);
    let acme_changed =
        acme.is_some_and(|a| issuer.status().and_then(|s| s.acme.as_ref()) != Some(a));
    let (condition, transition) = match condition_change(old_condition, condition, Time(now)) {
        ConditionChange::Write {
            condition,
            transition,
        } => (condition, transition),
        ConditionChange::Unchanged if acme_changed => match old_condition {
            Some(c) => (c.clone(), false),
            None => return Ok(()),
        },
        ConditionChange::Unchanged => return Ok(()),
    };
    let mut status = json!({ "conditions": [condition] });
    if let Some(acme) = acme {
        status["acme"] = json!(acme);
    }
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let written = issuer
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
    ctx.writes.record(&written);
    if transition {
        publish_transition(issuer, &condition, ctx).await;
    }
    tracing::info!(
        kind = kind_name::<K>(), name, ready = ?condition.status,
        reason = condition.reason.as_deref().unwrap_or_default(),
        "issuer readiness updated"
    );
    Ok(())
}

/// An ACME issuer: Ready once its account is registered. Registers (or finds) the account
/// only when something changed since the last registration — the key, the email, the spec —
/// so a restart or an unrelated event costs no ACME request.
async fn reconcile_acme<K: IssuerKind>(
    issuer: &K,
    acme: &AcmeIssuer,
    ctx: &Context,
) -> Result<Action, IssuerError> {
    let now = Timestamp::now();
    let namespace = secret_namespace(issuer, ctx);
    let recorded = issuer
        .status()
        .and_then(|s| s.acme.clone())
        .unwrap_or_default();
    let ready = issuer
        .status()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_READY))
        .is_some_and(|c| {
            c.status == ConditionStatus::True && c.observed_generation == issuer.meta().generation
        });
    let email = acme.email.clone().filter(|e| !e.is_empty());
    if ready && recorded.uri.is_some() && recorded.last_registered_email == email {
        // Same key as registered? One GET, no ACME request.
        if let Ok(pem) = account_key(ctx, acme, &namespace, false).await
            && account_key_hash(&pem).ok() == recorded.last_private_key_hash
        {
            return Ok(Action::await_change());
        }
    }
    let condition = |status, reason: &str, message: String| Condition {
        type_: CONDITION_READY.into(),
        status,
        last_transition_time: None,
        reason: Some(reason.into()),
        message: Some(message),
        observed_generation: issuer.meta().generation,
    };
    match issuer_account(ctx, acme, &namespace, recorded.uri.as_deref(), true).await {
        Ok(account) => {
            let status = AcmeIssuerStatus {
                uri: Some(account.account.url().to_owned()),
                last_registered_email: account.email.clone(),
                last_private_key_hash: Some(account.key_hash.clone()),
            };
            let ready = condition(
                ConditionStatus::True,
                REASON_ACCOUNT_REGISTERED,
                "The ACME account was registered with the ACME server".into(),
            );
            write_ready(issuer, ctx, ready, Some(&status), now).await?;
            ctx.backoff.reset(&object_key(issuer));
            Ok(Action::await_change())
        }
        Err(AccountError::Problem(problem)) => {
            let not_ready = condition(ConditionStatus::False, problem.reason, problem.message);
            write_ready(issuer, ctx, not_ready, None, now).await?;
            Ok(match problem.retry_after {
                // The server may come back: back off per issuer, at least as long as it asks.
                Some(after) => Action::requeue(after.max(ctx.backoff.next(&object_key(issuer)))),
                // Fixed by a change to the issuer or its Secrets, which wake this controller.
                None => Action::await_change(),
            })
        }
        Err(AccountError::Kube { what, source }) => Err(IssuerError::Kube { what, source }),
    }
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
