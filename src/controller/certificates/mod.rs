//! The Certificate pipeline: small controllers that talk only through the Certificate's
//! status, as cert-manager's do (docs/design/0002-certificate-pipeline.md):
//!
//! - `trigger`: decides (policy::trigger) whether to issue and sets `Issuing=True` with why;
//! - `requests`: makes the next private key (held in memory, `next_keys`) and the
//!   CertificateRequest `<name>-<revision+1>` from it;
//! - `keys`: which key an issuance uses; drops the keys of reached revisions and deletes
//!   temporary key Secrets cert-manager left;
//! - `issuing`: once that request is Issued, writes the Secret, bumps `revision`, ends Issuing;
//!   Not issuing, it keeps the Secret's template metadata and extra outputs in line with the
//!   spec (`secret_sync`);
//! - `readiness`: sets Ready, notBefore/notAfter/renewalTime and requeues at renewal;
//! - `revisions`: prunes old CertificateRequests beyond `revisionHistoryLimit`.
//!
//! They share one watch and one cache of Certificates (`shared`), and each reconciles at most
//! `--concurrent-workers` Certificates at once.
//!
//! This file holds what they share: reads, the status write, names and errors.

pub mod issuing;
pub mod keys;
pub mod next_keys;
pub mod readiness;
pub mod requests;
pub mod revisions;
mod secret_sync;
mod siblings;
pub mod trigger;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

use super::Context;
use crate::api::{Certificate, CertificateRequest};

/// The Certificate cache the six controllers share (`crate::controller::shared`).
pub type SharedCertificates = crate::controller::shared::SharedCache<Certificate>;

/// Field managers, one per controller, so server-side apply keeps their writes apart.
pub const MANAGER_TRIGGER: &str = "certsmith-trigger";
pub const MANAGER_KEYS: &str = "certsmith-keymanager";
pub const MANAGER_REQUESTS: &str = "certsmith-requestmanager";
pub const MANAGER_ISSUING: &str = "certsmith-issuing";
pub const MANAGER_READINESS: &str = "certsmith-readiness";

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("reading {what} failed: {source}")]
    Read { what: String, source: kube::Error },
    #[error("writing {what} failed: {source}")]
    Write { what: String, source: kube::Error },
    #[error("deleting {what} failed: {source}")]
    Delete { what: String, source: kube::Error },
    /// A failure of key generation or encoding: never carries key material.
    #[error("{0}")]
    Key(String),
}

/// The name of the CertificateRequest of a revision: `<certificate>-<revision>`.
pub fn request_name(certificate: &Certificate, revision: i32) -> String {
    format!("{}-{revision}", certificate.name_any())
}

/// The revision the next issuance produces: `status.revision + 1` (1 for a new Certificate).
pub fn next_revision(certificate: &Certificate) -> i32 {
    certificate
        .status
        .as_ref()
        .and_then(|s| s.revision)
        .unwrap_or(0)
        + 1
}

/// One Secret of the Certificate's namespace: a GET, unless the shared Secret watch knows it
/// does not exist or it was read moments ago at the version the watch still shows
/// (`secret_memo`; the controller never lists or caches Secret data).
pub async fn get_secret(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<Secret>, CertificateError> {
    if ctx.secrets.known_absent(&ctx.writes, namespace, name) {
        return Ok(None);
    }
    ctx.secrets
        .get(&ctx.client, namespace, name)
        .await
        .map_err(|source| CertificateError::Read {
            what: format!("Secret {namespace}/{name}"),
            source,
        })
}

/// One CertificateRequest from the shared cache, including "it does not exist"; a GET only
/// when the cache cannot tell (not listed yet, or behind this process's own write).
pub async fn get_request(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<CertificateRequest>, CertificateError> {
    if let Some(known) = ctx.requests.lookup(&ctx.writes, namespace, name) {
        return Ok(known.map(|cached| CertificateRequest::clone(&cached)));
    }
    Api::<CertificateRequest>::namespaced(ctx.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| CertificateError::Read {
            what: format!("CertificateRequest {namespace}/{name}"),
            source,
        })
}

/// Server-side applies `status` (a JSON object of Certificate status fields) as `manager`.
/// Only the fields given are owned by that manager; conditions merge by type. Returns the
/// Certificate as written.
pub async fn apply_status(
    ctx: &Context,
    certificate: &Certificate,
    manager: &str,
    status: Value,
) -> Result<Certificate, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let name = certificate.name_any();
    let patch = serde_json::json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "status": status,
    });
    Api::<Certificate>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&patch),
        )
        .await
        .inspect(|written| ctx.writes.record(written))
        .map_err(|source| CertificateError::Write {
            what: format!("the status of Certificate {namespace}/{name}"),
            source,
        })
}

/// The per-object backoff key of a Certificate in one controller.
pub fn backoff_key(controller: &str, certificate: &Certificate) -> String {
    format!(
        "Certificate/{}/{}/{controller}",
        certificate.namespace().unwrap_or_default(),
        certificate.name_any()
    )
}

/// What every Certificate controller does after a failed reconcile: log it and retry that
/// Certificate after its own backoff delay.
pub fn retry_after_error(
    controller: &str,
    certificate: &Certificate,
    err: &CertificateError,
    ctx: &Context,
) -> kube::runtime::controller::Action {
    let delay = ctx.backoff.next(&backoff_key(controller, certificate));
    tracing::warn!(controller, name = certificate.name_any(), %err, retry_in = ?delay, "reconcile failed");
    kube::runtime::controller::Action::requeue(delay)
}

/// Runs every Certificate controller until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Clone + Send + Sync + 'static,
) {
    // One join for every Certificate controller: a second, sequential join would start only
    // after this one ends (at shutdown). Add the other controllers' run calls here.
    // They share one Certificate cache, and start once it is listed (see `shared`).
    let shared = SharedCertificates::indexed(
        "certificates",
        ctx.controller_config(),
        siblings::index_keys,
    );
    let controllers = async {
        // The request cache too: a Certificate reconciled before it is listed fetches its
        // CertificateRequest (470 GETs in a start on 10,000 Certificates).
        if !shared.listed().await || !ctx.requests.listed().await {
            return; // shut down before the first list
        }
        futures::join!(
            trigger::run(ctx.clone(), shared.clone(), shutdown.clone()),
            readiness::run(ctx.clone(), shared.clone(), shutdown.clone()),
            revisions::run(ctx.clone(), shared.clone(), shutdown.clone()),
            keys::run(ctx.clone(), shared.clone(), shutdown.clone()),
            requests::run(ctx.clone(), shared.clone(), shutdown.clone()),
            issuing::run(ctx.clone(), shared.clone(), shutdown.clone()),
        );
    };
    let watch = shared
        .clone()
        .drive(&ctx.health, ctx.watched(), shutdown.clone());
    futures::join!(watch, controllers);
}
