//! The Ingress and Gateway shims. An Ingress annotated `cert-manager.io/cluster-issuer` (or `issuer`, the
//! legacy `certmanager.k8s.io/*`, or `kubernetes.io/tls-acme: "true"` with a default issuer)
//! gets one Certificate per TLS `secretName`, owned by the Ingress and kept in step with it.
//!
//! It never touches a Certificate it did not create (another Ingress's, or a hand-written one
//! of the same name): that is an Event on the Ingress, and no flapping between owners. Bad
//! annotations are an Event too, and the Certificates already there stay as they are.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::shim::gateway::gateway_certificates;
use futures::StreamExt;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::Context;
use crate::api::Certificate;
use crate::shim::annotations::{certificate_template, is_shim_managed};
use crate::shim::ingress::{TlsCertificate, tls_certificates};

const CONTROLLER: &str = "ingress-shim";
const FIELD_MANAGER: &str = "certsmith-ingress-shim";

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
}

/// Runs the Ingress shim until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    crate::controller::cached_controller(&ctx, "ingress-shim", ctx.watched::<Ingress>())
        .owns(ctx.watched::<Certificate>(), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed(CONTROLLER, &ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| super::log_outcome(CONTROLLER, r))
        .await;
}

/// Whether `certificate` is controlled by the object with `uid`.
fn controlled_by(certificate: &Certificate, uid: &str) -> bool {
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

/// The annotated object (an Ingress or a Gateway) the shim keeps Certificates for.
struct Owner<'a> {
    namespace: String,
    name: String,
    uid: String,
    owner_reference: OwnerReference,
    object_ref: ObjectReference,
    annotations: &'a BTreeMap<String, String>,
}

async fn reconcile(ingress: Arc<Ingress>, ctx: Arc<Context>) -> Result<Action, ShimError> {
    if ingress.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let (Some(uid), Some(owner_reference)) = (
        ingress.metadata.uid.clone(),
        ingress.controller_owner_ref(&()),
    ) else {
        return Ok(Action::await_change());
    };
    let owner = Owner {
        namespace: ingress.namespace().unwrap_or_default(),
        name: ingress.name_any(),
        uid,
        owner_reference,
        object_ref: ingress.object_ref(&()),
        annotations: ingress.annotations(),
    };
    let (wanted, warnings) = tls_certificates(&ingress);
    sync(&ctx, &owner, wanted, warnings).await?;
    ctx.backoff
        .reset(&key("Ingress", &owner.namespace, &owner.name));
    Ok(Action::await_change())
}

/// Brings the Certificates `owner` controls in line with `wanted` and its annotations.
async fn sync(
    ctx: &Context,
    owner: &Owner<'_>,
    wanted: Vec<TlsCertificate>,
    warnings: Vec<String>,
) -> Result<(), ShimError> {
    let namespace = &owner.namespace;
    let name = &owner.name;
    let certificates: Api<Certificate> = Api::namespaced(ctx.client.clone(), namespace);
    let owned: Vec<Certificate> = certificates
        .list(&ListParams::default())
        .await
        .map_err(|source| ShimError::Kube {
            what: format!("listing Certificates in {namespace}"),
            source,
        })?
        .items
        .into_iter()
        .filter(|c| controlled_by(c, &owner.uid))
        .collect();
    if !is_shim_managed(owner.annotations) {
        // The annotation went away: the Certificates it made go too (their Secrets stay).
        for certificate in &owned {
            delete(
                &certificates,
                certificate,
                owner,
                ctx,
                "the object no longer asks for certificates",
            )
            .await?;
        }
        return Ok(());
    }
    let template = match certificate_template(name, owner.annotations, &ctx.shim.default_issuer) {
        Ok(t) => t,
        Err(errors) => {
            publish(
                ctx,
                &owner.object_ref,
                EventType::Warning,
                "BadConfig",
                format!(
                    "Not creating or changing Certificates: {}",
                    errors.join("; ")
                ),
            )
            .await;
            return Ok(());
        }
    };
    for warning in warnings {
        publish(
            ctx,
            &owner.object_ref,
            EventType::Warning,
            "BadConfig",
            warning,
        )
        .await;
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
            && !controlled_by(existing, &owner.uid)
        {
            publish(
                ctx,
                &owner.object_ref,
                EventType::Warning,
                "ConflictingCertificate",
                format!(
                    "Certificate {} for Secret {} already exists and belongs to {}: not touching it; \
                     give this {} another Secret name",
                    tls.secret_name,
                    tls.secret_name,
                    controller_of(existing),
                    owner.owner_reference.kind
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
        let mut reference = owner.owner_reference.clone();
        reference.block_owner_deletion = Some(true);
        desired.metadata.owner_references = Some(vec![reference]);
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
            owner = name,
            certificate = tls.secret_name,
            "{verb} Certificate"
        );
        publish(
            ctx,
            &owner.object_ref,
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
            owner,
            ctx,
            "its TLS entry is gone",
        )
        .await?;
    }
    Ok(())
}

async fn delete(
    api: &Api<Certificate>,
    certificate: &Certificate,
    owner: &Owner<'_>,
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
        &owner.object_ref,
        EventType::Normal,
        "DeleteCertificate",
        format!("Deleted Certificate {name}: {why} (its Secret is kept)"),
    )
    .await;
    Ok(())
}

async fn publish(
    ctx: &Context,
    object: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "IngressShim".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, object).await {
        tracing::warn!(%err, "publishing an Event failed");
    }
}

fn key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

fn error_policy(ingress: Arc<Ingress>, err: &ShimError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(
        "Ingress",
        &ingress.namespace().unwrap_or_default(),
        &ingress.name_any(),
    ));
    tracing::warn!(ingress = ingress.name_any(), %err, retry_in = ?delay, "ingress shim reconcile failed");
    Action::requeue(delay)
}

// ------------------------------------------------------------------------------ Gateway shim

/// The Gateway API's Gateway, read as a dynamic object (no typed crate needed).
pub fn gateway_resource() -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: "Gateway".into(),
        plural: "gateways".into(),
    }
}

/// Runs the Gateway shim until `shutdown`, when the Gateway API CRDs are installed; says once
/// that it is off when they are not.
pub async fn run_gateway(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    match crds.get_opt("gateways.gateway.networking.k8s.io").await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!("the Gateway API CRDs are not installed: the Gateway shim is off");
            return;
        }
        Err(err) => {
            tracing::warn!(%err, "cannot tell whether the Gateway API is installed: the Gateway shim is off");
            return;
        }
    }
    let resource = gateway_resource();
    let api: Api<DynamicObject> = match &ctx.namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &resource),
        None => Api::all_with(ctx.client.clone(), &resource),
    };
    Controller::new_with(api, watcher::Config::default(), resource)
        .with_config(ctx.controller_config())
        .owns(ctx.watched::<Certificate>(), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("gateway-shim", &ctx, reconcile_gateway),
            error_policy_gateway,
            ctx,
        )
        .for_each(|r| super::log_outcome("gateway-shim", r))
        .await;
}

async fn reconcile_gateway(
    gateway: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Action, ShimError> {
    if gateway.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let resource = gateway_resource();
    let (Some(uid), Some(owner_reference)) = (
        gateway.metadata.uid.clone(),
        gateway.controller_owner_ref(&resource),
    ) else {
        return Ok(Action::await_change());
    };
    let namespace = gateway.namespace().unwrap_or_default();
    let owner = Owner {
        namespace: namespace.clone(),
        name: gateway.name_any(),
        uid,
        owner_reference,
        object_ref: gateway.object_ref(&resource),
        annotations: gateway.annotations(),
    };
    let (wanted, warnings) = gateway_certificates(&gateway.data, &namespace);
    sync(&ctx, &owner, wanted, warnings).await?;
    ctx.backoff
        .reset(&key("Gateway", &owner.namespace, &owner.name));
    Ok(Action::await_change())
}

fn error_policy_gateway(gateway: Arc<DynamicObject>, err: &ShimError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(
        "Gateway",
        &gateway.namespace().unwrap_or_default(),
        &gateway.name_any(),
    ));
    tracing::warn!(gateway = gateway.name_any(), %err, retry_in = ?delay, "gateway shim reconcile failed");
    Action::requeue(delay)
}
