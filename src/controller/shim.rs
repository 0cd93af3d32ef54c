//! The Ingress shim: an Ingress annotated `cert-manager.io/cluster-issuer` (or `issuer`, the
//! legacy `certmanager.k8s.io/*`, or `kubernetes.io/tls-acme: "true"` with a default issuer)
//! gets one Certificate per TLS `secretName`, owned by the Ingress and kept in step with it.
//!
//! It never touches a Certificate it did not create (another Ingress's, or a hand-written one
//! of the same name): that is an Event on the Ingress, and no flapping between owners. Bad
//! annotations are an Event too, and the Certificates already there stay as they are.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::Context;
use crate::api::Certificate;
use crate::shim::annotations::{certificate_template, is_shim_managed};
use crate::shim::ingress::tls_certificates;

const CONTROLLER: &str = "ingress-shim";
const FIELD_MANAGER: &str = "certsmith-ingress-shim";

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
}

/// Runs the Ingress shim until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    Controller::new(ctx.watched::<Ingress>(), watcher::Config::default())
        .owns(ctx.watched::<Certificate>(), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| super::log_outcome(CONTROLLER, r))
        .await;
}

/// Whether `certificate` is controlled by `ingress` (by uid).
fn controlled_by(certificate: &Certificate, ingress: &Ingress) -> bool {
    let Some(uid) = ingress.metadata.uid.as_deref() else {
        return false;
    };
    certificate
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// Who controls `certificate`, for messages.
fn controller_of(certificate: &Certificate) -> String {
    certificate
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| format!("{} {}", o.kind, o.name))
        .unwrap_or_else(|| "no controller (created by hand)".into())
}

async fn reconcile(ingress: Arc<Ingress>, ctx: Arc<Context>) -> Result<Action, ShimError> {
    if ingress.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = ingress.namespace().unwrap_or_default();
    let name = ingress.name_any();
    let certificates: Api<Certificate> = Api::namespaced(ctx.client.clone(), &namespace);
    let owned: Vec<Certificate> = certificates
        .list(&ListParams::default())
        .await
        .map_err(|source| ShimError::Kube {
            what: format!("listing Certificates in {namespace}"),
            source,
        })?
        .items
        .into_iter()
        .filter(|c| controlled_by(c, &ingress))
        .collect();
    let annotations = ingress.annotations();
    if !is_shim_managed(annotations) {
        // The annotation went away: the Certificates it made go too (their Secrets stay).
        for certificate in &owned {
            delete(
                &certificates,
                certificate,
                &ingress,
                &ctx,
                "the Ingress no longer asks for certificates",
            )
            .await?;
        }
        return Ok(Action::await_change());
    }
    let template = match certificate_template(&name, annotations, &ctx.shim.default_issuer) {
        Ok(t) => t,
        Err(errors) => {
            publish(
                &ctx,
                &ingress,
                EventType::Warning,
                "BadConfig",
                format!(
                    "Not creating or changing Certificates: {}",
                    errors.join("; ")
                ),
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let (wanted, warnings) = tls_certificates(&ingress);
    for warning in warnings {
        publish(&ctx, &ingress, EventType::Warning, "BadConfig", warning).await;
    }
    for tls in &wanted {
        let existing = certificates
            .get_opt(&tls.secret_name)
            .await
            .map_err(|source| ShimError::Kube {
                what: format!("reading Certificate {namespace}/{}", tls.secret_name),
                source,
            })?;
        if let Some(existing) = &existing
            && !controlled_by(existing, &ingress)
        {
            publish(
                &ctx,
                &ingress,
                EventType::Warning,
                "ConflictingCertificate",
                format!(
                    "Certificate {} for Secret {} already exists and belongs to {}: not touching it; \
                     give this Ingress's TLS entry another secretName",
                    tls.secret_name,
                    tls.secret_name,
                    controller_of(existing)
                ),
            )
            .await;
            continue;
        }
        let mut spec = template.spec.clone();
        spec.secret_name = tls.secret_name.clone();
        spec.dns_names = Some(tls.dns_names.clone());
        let up_to_date = existing.as_ref().is_some_and(|e| {
            e.spec == spec
                && template
                    .annotations
                    .iter()
                    .all(|(k, v)| e.annotations().get(k) == Some(v))
        });
        if up_to_date {
            continue;
        }
        let mut desired = Certificate::new(&tls.secret_name, spec);
        desired.metadata.namespace = Some(namespace.clone());
        desired.metadata.annotations =
            Some(template.annotations.clone()).filter(|a: &BTreeMap<_, _>| !a.is_empty());
        desired.metadata.owner_references = ingress.controller_owner_ref(&()).map(|mut o| {
            o.block_owner_deletion = Some(true);
            vec![o]
        });
        let mut patch = serde_json::to_value(&desired).unwrap_or_default();
        patch["apiVersion"] = json!(Certificate::api_version(&()));
        patch["kind"] = json!(Certificate::kind(&()));
        certificates
            .patch(
                &tls.secret_name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|source| ShimError::Kube {
                what: format!("applying Certificate {namespace}/{}", tls.secret_name),
                source,
            })?;
        let (reason, verb) = if existing.is_some() {
            ("UpdateCertificate", "Updated")
        } else {
            ("CreateCertificate", "Created")
        };
        tracing::info!(
            namespace,
            ingress = name,
            certificate = tls.secret_name,
            "{verb} Certificate"
        );
        publish(
            &ctx,
            &ingress,
            EventType::Normal,
            reason,
            format!(
                "{verb} Certificate {} for {}",
                tls.secret_name,
                tls.dns_names.join(", ")
            ),
        )
        .await;
    }
    for certificate in owned
        .iter()
        .filter(|c| !wanted.iter().any(|w| w.secret_name == c.name_any()))
    {
        delete(
            &certificates,
            certificate,
            &ingress,
            &ctx,
            "its TLS entry is gone",
        )
        .await?;
    }
    ctx.backoff.reset(&key(&ingress));
    Ok(Action::await_change())
}

async fn delete(
    api: &Api<Certificate>,
    certificate: &Certificate,
    ingress: &Ingress,
    ctx: &Context,
    why: &str,
) -> Result<(), ShimError> {
    let name = certificate.name_any();
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(source) => {
            return Err(ShimError::Kube {
                what: format!("deleting Certificate {name}"),
                source,
            });
        }
    }
    publish(
        ctx,
        ingress,
        EventType::Normal,
        "DeleteCertificate",
        format!("Deleted Certificate {name}: {why} (its Secret is kept)"),
    )
    .await;
    Ok(())
}

async fn publish(ctx: &Context, ingress: &Ingress, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "IngressShim".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &ingress.object_ref(&())).await {
        tracing::warn!(%err, "publishing an Event failed");
    }
}

fn key(ingress: &Ingress) -> String {
    format!(
        "Ingress/{}/{}",
        ingress.namespace().unwrap_or_default(),
        ingress.name_any()
    )
}

fn error_policy(ingress: Arc<Ingress>, err: &ShimError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(&ingress));
    tracing::warn!(ingress = ingress.name_any(), %err, retry_in = ?delay, "ingress shim reconcile failed");
    Action::requeue(delay)
}
