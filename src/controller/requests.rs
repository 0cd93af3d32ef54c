//! The CertificateRequest signer for certsmith's issuers: once a request is approved and its
//! issuer Ready, sign it (SelfSigned, CA) or have it signed through an ACME Order
//! (`controller::acme::requests`), and put the certificate in its status.
//! Terminal states (Issued, Failed, Denied) are never revisited.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::{Context, approver};
use crate::api::Order;
use crate::api::{
    ANN_CERTIFICATE_REVISION, ANN_PRIVATE_KEY_SECRET_NAME, CA_CERT_KEY, CLUSTER_ISSUER_KIND,
    CONDITION_APPROVED, CONDITION_DENIED, CONDITION_READY, CertificateRequest, ClusterIssuer,
    Condition, ConditionChange, ConditionStatus, GROUP, ISSUER_KIND, Issuer, IssuerSpec,
    REASON_DENIED, REASON_FAILED, REASON_ISSUED, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY,
    condition_change, find_condition,
};
use crate::controller::acme::requests::{AcmeRequestOutcome, sign_with_acme};
use crate::issuer::signer::{KeyMaterial, SignOutcome, Waiting, sign_request};
use crate::pki::csr::parse_csr;
use crate::pki::keys::{ParsedKey, parse_private_key_pem, public_keys_equal};

const FIELD_MANAGER: &str = "certsmith-certificaterequests";
/// How soon to look again at a request waiting for a Secret (Secrets are not watched here).
const SECRET_RECHECK: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("reading {what} failed: {source}")]
    Read { what: String, source: kube::Error },
    #[error("writing the status of CertificateRequest {namespace}/{name} failed: {source}")]
    PatchStatus {
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

/// Runs the signer until `shutdown`. Issuers and ClusterIssuers are watched so that a request
/// waiting for its issuer is signed as soon as the issuer becomes Ready. With `approve` (the
/// built-in approver is on), the signer approves what the approver policy approves, in the
/// same status write as its decision (see `approver`).
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    approve: bool,
) {
    if !ctx.requests.listed().await {
        return; // shut down before the first list
    }
    let controller = ctx.requests.controller();
    let store = controller.store();
    let store_for_cluster = store.clone();
    let mut controller = controller.watches(
        ctx.watched::<Issuer>(),
        watcher::Config::default(),
        move |issuer| {
            let (ns, name) = (issuer.namespace(), issuer.name_any());
            store
                .state()
                .into_iter()
                .filter(|cr| {
                    cr.namespace() == ns
                        && cr.spec.issuer_ref.name == name
                        && cr.spec.issuer_ref.kind_or_default() == ISSUER_KIND
                })
                .map(|cr| ObjectRef::from_obj(cr.as_ref()))
                .collect::<Vec<_>>()
        },
    );
    if ctx.namespace.is_none() {
        controller = controller.watches(
            Api::<ClusterIssuer>::all(ctx.client.clone()),
            watcher::Config::default(),
            move |issuer| {
                let name = issuer.name_any();
                store_for_cluster
                    .state()
                    .into_iter()
                    .filter(|cr| {
                        cr.spec.issuer_ref.name == name
                            && cr.spec.issuer_ref.kind_or_default() == CLUSTER_ISSUER_KIND
                    })
                    .map(|cr| ObjectRef::from_obj(cr.as_ref()))
                    .collect::<Vec<_>>()
            },
        );
    }
    controller
        .owns(ctx.watched::<Order>(), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("certificaterequests", &ctx, move |request, ctx| {
                reconcile(request, ctx, approve)
            }),
            error_policy,
            ctx,
        )
        .for_each(|r| super::log_outcome("certificaterequests", r))
        .await;
}

/// What to do with a request, before any issuer is consulted. With `approve`, a request the
/// built-in approver would approve is signed (and approved in the same write).
fn triage(request: &CertificateRequest, approve: bool) -> Triage {
    let conditions = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let ready_reason =
        find_condition(conditions, CONDITION_READY).and_then(|c| c.reason.as_deref());
    if matches!(ready_reason, Some(r) if r == REASON_ISSUED || r == REASON_FAILED || r == REASON_DENIED)
    {
        return Triage::Done;
    }
    if request.spec.issuer_ref.group_or_default() != GROUP {
        return Triage::Done; // an external issuer's request
    }
    if find_condition(conditions, CONDITION_DENIED)
        .is_some_and(|c| c.status == ConditionStatus::True)
    {
        return Triage::Denied;
    }
    let approved = find_condition(conditions, CONDITION_APPROVED)
        .is_some_and(|c| c.status == ConditionStatus::True);
    let approvable = approve && approver::should_approve(request);
    if !approved && !approvable {
        return Triage::Done; // the approver's update will wake us
    }
    Triage::Sign
}

enum Triage {
    Done,
    Denied,
    Sign,
}

async fn reconcile(
    request: Arc<CertificateRequest>,
    ctx: Arc<Context>,
    approve: bool,
) -> Result<Action, RequestError> {
    let now = Timestamp::now();
    let namespace = request.namespace().unwrap_or_default();
    let verdict = triage(&request, approve);
    // The Approved condition this write carries: the request's own, or the one the signer
    // gives it now (see `approver::approval`).
    let approval = match verdict {
        Triage::Sign => approver::approval(&request, approve, now),
        _ => None,
    };
    let result = match verdict {
        Triage::Done => return Ok(Action::await_change()),
        Triage::Denied => Decision::Failed {
            reason: REASON_DENIED,
            message: "The CertificateRequest was denied by an approver".into(),
        },
        Triage::Sign => decide(&request, &namespace, &ctx, now).await?,
    };
    let action = match &result {
        Decision::Waiting(_, Some(after)) => Action::requeue(*after),
        _ => Action::await_change(),
    };
    write_status(&request, &namespace, result, approval, &ctx, now).await?;
    ctx.backoff.reset(&key(&request));
    Ok(action)
}

/// The outcome for a request: signed, terminally failed, or waiting (and when to look again if
/// no watch event will say).
enum Decision {
    Issued {
        certificate: String,
        ca: String,
    },
    Failed {
        reason: &'static str,
        message: String,
    },
    Waiting(Waiting, Option<Duration>),
}

/// Gathers the issuer and its key material, then signs.
async fn decide(
    request: &CertificateRequest,
    namespace: &str,
    ctx: &Context,
    now: Timestamp,
) -> Result<Decision, RequestError> {
    let issuer_ref = &request.spec.issuer_ref;
    let (issuer_spec, ready, resource_ns, label) = match issuer_ref.kind_or_default() {
        ISSUER_KIND => {
            let api: Api<Issuer> = Api::namespaced(ctx.client.clone(), namespace);
            let found = get(&api, &issuer_ref.name, || {
                format!("Issuer {namespace}/{}", issuer_ref.name)
            })
            .await?;
            let Some(issuer) = found else {
                return Ok(waiting(format!(
                    "Referenced Issuer {namespace}/{} does not exist",
                    issuer_ref.name
                )));
            };
            let ready = ready_message(issuer.status.as_ref().and_then(|s| s.conditions.as_deref()));
            (
                issuer.spec,
                ready,
                namespace.to_owned(),
                format!("Issuer {namespace}/{}", issuer_ref.name),
            )
        }
        CLUSTER_ISSUER_KIND if ctx.namespace.is_none() => {
            let api: Api<ClusterIssuer> = Api::all(ctx.client.clone());
            let found = get(&api, &issuer_ref.name, || {
                format!("ClusterIssuer {}", issuer_ref.name)
            })
            .await?;
            let Some(issuer) = found else {
                return Ok(waiting(format!(
                    "Referenced ClusterIssuer {} does not exist",
                    issuer_ref.name
                )));
            };
            let ready = ready_message(issuer.status.as_ref().and_then(|s| s.conditions.as_deref()));
            (
                issuer.spec,
                ready,
                ctx.cluster_resource_namespace.clone(),
                format!("ClusterIssuer {}", issuer_ref.name),
            )
        }
        other => {
            return Ok(waiting(format!(
                "Issuer kind {other:?} is not served by this controller (Issuer, and ClusterIssuer unless --namespace is set)"
            )));
        }
    };
    if let Err(why) = ready {
        return Ok(waiting(format!("Referenced {label} is not ready: {why}")));
    }
    if let Some(acme) = &issuer_spec.acme {
        let outcome =
            sign_with_acme(request, acme, ctx)
                .await
                .map_err(|source| RequestError::Read {
                    what: format!(
                        "the Order of CertificateRequest {namespace}/{}",
                        request.name_any()
                    ),
                    source,
                })?;
        return Ok(match outcome {
            AcmeRequestOutcome::Issued(certificate) => Decision::Issued {
                certificate,
                ca: String::new(),
            },
            AcmeRequestOutcome::Failed(message) => Decision::Failed {
                reason: REASON_FAILED,
                message,
            },
            // The Order is owned by the request: its changes wake this controller.
            AcmeRequestOutcome::Waiting(message) => waiting(message),
        });
    }
    sign_with(request, namespace, &issuer_spec, &resource_ns, ctx, now).await
}

async fn sign_with(
    request: &CertificateRequest,
    namespace: &str,
    issuer: &IssuerSpec,
    resource_ns: &str,
    ctx: &Context,
    now: Timestamp,
) -> Result<Decision, RequestError> {
    // SelfSigned, for a request a Certificate made: its key is held in memory.
    if issuer.ca.is_none()
        && let Some(key) = held_request_key(ctx, request)
    {
        return Ok(decision(sign_request(
            &request.spec,
            issuer,
            &KeyMaterial::SelfSigned { key: &key },
            now,
        )));
    }
    // The Secret holding the signing key: the request's own key (SelfSigned) or the CA's.
    let (secret_ns, secret_name) = if let Some(ca) = &issuer.ca {
        (resource_ns.to_owned(), ca.secret_name.clone())
    } else {
        let Some(name) = request.annotations().get(ANN_PRIVATE_KEY_SECRET_NAME) else {
            if certificate_owner(request).is_some() {
                // Made before a restart: the key is gone, and the Certificate's request
                // manager replaces the request. Failing it would fail the issuance.
                return Ok(waiting(
                    "This process does not hold the private key of this request (made before \
                     a restart); the Certificate's request manager replaces it"
                        .into(),
                ));
            }
            return Ok(Decision::Failed {
                reason: REASON_FAILED,
                message: format!(
                    "A SelfSigned issuer signs with the request's own key: annotate the request with \
                     {ANN_PRIVATE_KEY_SECRET_NAME} naming the Secret that holds it"
                ),
            });
        };
        (namespace.to_owned(), name.clone())
    };
    let read = ctx.secrets.get(&ctx.client, &secret_ns, &secret_name).await;
    let Some(secret) = read.map_err(|source| RequestError::Read {
        what: format!("Secret {secret_ns}/{secret_name}"),
        source,
    })?
    else {
        return Ok(Decision::Waiting(
            Waiting::new(format!(
                "Secret {secret_ns}/{secret_name} with the signing key does not exist yet"
            )),
            Some(SECRET_RECHECK),
        ));
    };
    let data = secret.data.unwrap_or_default();
    let key = match data
        .get(TLS_PRIVATE_KEY_KEY)
        .map(|k| parse_private_key_pem(&k.0))
    {
        Some(Ok(key)) => key,
        Some(Err(err)) => {
            return Ok(Decision::Waiting(
                Waiting::new(format!(
                    "Secret {secret_ns}/{secret_name}: {TLS_PRIVATE_KEY_KEY}: {err}"
                )),
                Some(SECRET_RECHECK),
            ));
        }
        None => {
            return Ok(Decision::Waiting(
                Waiting::new(format!(
                    "Secret {secret_ns}/{secret_name} has no {TLS_PRIVATE_KEY_KEY}"
                )),
                Some(SECRET_RECHECK),
            ));
        }
    };
    let ca_bundle: Vec<u8> = [TLS_CERT_KEY, CA_CERT_KEY]
        .iter()
        .filter_map(|k| data.get(*k))
        .flat_map(|v| v.0.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    let material = match issuer.ca {
        Some(_) => KeyMaterial::Ca {
            cert_pem: &ca_bundle,
            key: &key,
        },
        None => KeyMaterial::SelfSigned { key: &key },
    };
    Ok(decision(sign_request(
        &request.spec,
        issuer,
        &material,
        now,
    )))
}

fn decision(outcome: SignOutcome) -> Decision {
    match outcome {
        SignOutcome::Issued(signed) => Decision::Issued {
            certificate: signed.certificate_pem,
            ca: signed.ca_pem,
        },
        SignOutcome::Failed { reason, message } => Decision::Failed { reason, message },
    }
}

/// The UID of the Certificate that controls `request`, if one does.
fn certificate_owner(request: &CertificateRequest) -> Option<&str> {
    request
        .metadata
        .owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "Certificate")
        .map(|o| o.uid.as_str())
}

/// The private key of a request a Certificate made, when this process holds it
/// (`certificates::next_keys`, by Certificate UID and revision) and it is the CSR's key.
fn held_request_key(ctx: &Context, request: &CertificateRequest) -> Option<Arc<ParsedKey>> {
    let uid = certificate_owner(request)?;
    let revision = request
        .annotations()
        .get(ANN_CERTIFICATE_REVISION)?
        .parse()
        .ok()?;
    let key = ctx.next_keys.get(uid, revision)?;
    let csr = parse_csr(&request.spec.request.0).ok()?;
    public_keys_equal(&csr.public_key_der, &key.info().public_key_der).then_some(key)
}

fn waiting(message: String) -> Decision {
    Decision::Waiting(Waiting::new(message), None)
}

/// `Ok` when the issuer's Ready condition is True, else its message.
fn ready_message(conditions: Option<&[Condition]>) -> Result<(), String> {
    match find_condition(conditions.unwrap_or_default(), CONDITION_READY) {
        Some(c) if c.status == ConditionStatus::True => Ok(()),
        Some(c) => Err(c
            .message
            .clone()
            .unwrap_or_else(|| "no reason given".into())),
        None => Err("it has no Ready condition yet".into()),
    }
}

async fn get<K>(
    api: &Api<K>,
    name: &str,
    what: impl Fn() -> String,
) -> Result<Option<K>, RequestError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name)
        .await
        .map_err(|source| RequestError::Read {
            what: what(),
            source,
        })
}

async fn write_status(
    request: &CertificateRequest,
    namespace: &str,
    decision: Decision,
    approval: Option<Condition>,
    ctx: &Context,
    now: Timestamp,
) -> Result<(), RequestError> {
    let (status, reason, message, certificate, ca, failed) = match decision {
        Decision::Issued { certificate, ca } => (
            ConditionStatus::True,
            REASON_ISSUED,
            "Certificate fetched from issuer successfully".to_owned(),
            Some(certificate),
            Some(ca),
            false,
        ),
        Decision::Failed { reason, message } => {
            (ConditionStatus::False, reason, message, None, None, true)
        }
        Decision::Waiting(w, _) => (
            ConditionStatus::False,
            w.reason,
            w.message,
            None,
            None,
            false,
        ),
    };
    let new = Condition {
        type_: CONDITION_READY.into(),
        status,
        reason: Some(reason.into()),
        message: Some(message),
        observed_generation: request.metadata.generation,
        last_transition_time: None,
    };
    let old = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let old_ready = find_condition(old, CONDITION_READY);
    let reason_changed = old_ready.and_then(|c| c.reason.as_deref()) != Some(reason);
    let approving = approval
        .as_ref()
        .is_some_and(|a| find_condition(old, CONDITION_APPROVED) != Some(a));
    let (condition, transition) = match condition_change(old_ready, new, Time(now)) {
        ConditionChange::Write {
            condition,
            transition,
        } => (condition, transition),
        // Only the approval is new: Ready is carried as it is (an apply without it would drop
        // it from this manager's fields).
        ConditionChange::Unchanged if approving => match old_ready {
            Some(ready) => (ready.clone(), false),
            None => return Ok(()),
        },
        ConditionChange::Unchanged => return Ok(()),
    };
    let conditions: Vec<&Condition> = std::iter::once(&condition)
        .chain(approval.as_ref())
        .collect();
    let mut status_patch = json!({ "conditions": conditions });
    if let Some(cert) = certificate {
        status_patch["certificate"] =
            serde_json::to_value(ByteString(cert.into_bytes())).unwrap_or_default();
    }
    if let Some(ca) = ca.filter(|ca| !ca.is_empty()) {
        status_patch["ca"] = serde_json::to_value(ByteString(ca.into_bytes())).unwrap_or_default();
    }
    if failed {
        status_patch["failureTime"] = json!(Time(now));
    }
    let patch = json!({ "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "status": status_patch });
    let name = request.name_any();
    let written = Api::<CertificateRequest>::namespaced(ctx.client.clone(), namespace)
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| RequestError::PatchStatus {
            namespace: namespace.into(),
            name: name.clone(),
            source,
        })?;
    ctx.writes.record(&written);
    if approving {
        tracing::info!(namespace, name, "approved CertificateRequest");
    }
    tracing::info!(namespace, name, reason, "CertificateRequest updated");
    // Events on transitions (or a new reason), not on every rewrite of a waiting message; none
    // for a signed request, whose Certificate's `Issued` Event says it (an Event is a write).
    if (transition || reason_changed) && status != ConditionStatus::True {
        let event = Event {
            type_: if status == ConditionStatus::True || reason == crate::api::REASON_PENDING {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: reason.into(),
            note: condition.message.clone(),
            action: "SignRequest".into(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &request.object_ref(&())).await {
            tracing::warn!(%err, "publishing an Event failed");
        }
    }
    Ok(())
}

fn key(request: &CertificateRequest) -> String {
    format!(
        "CertificateRequest/{}/{}",
        request.namespace().unwrap_or_default(),
        request.name_any()
    )
}

fn error_policy(request: Arc<CertificateRequest>, err: &RequestError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(&request));
    tracing::warn!(name = request.name_any(), %err, retry_in = ?delay, "CertificateRequest reconcile failed");
    Action::requeue(delay)
}
