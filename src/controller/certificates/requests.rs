//! Request manager: while a Certificate is `Issuing`, takes or makes its next private key (held
//! in memory, see `keys`) and makes sure the CertificateRequest `<name>-<revision + 1>`
//! exists, carries that key and matches the spec (as `policy::trigger` compares a request with
//! the spec). One that does not is deleted and created again: after a restart, the request of
//! a CA or SelfSigned issuance in progress carries a key no longer held, and is replaced. The fixed name makes
//! creation idempotent: a concurrent second create gets AlreadyExists and the request is taken
//! as existing.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::SharedCertificates;
use super::issuing::{RequestOutcome, request_outcome};
use super::keys::{controlled_by, is_issuing, next_key_or_new, publish};
use super::{
    CertificateError, MANAGER_REQUESTS, backoff_key, get_request, next_revision, request_name,
};
use crate::api::HTTP01_OVERRIDE_PREFIX;
use crate::api::{
    ANN_CERTIFICATE_NAME, ANN_CERTIFICATE_REVISION, CONDITION_ISSUING, Certificate,
    CertificateRequest, CertificateRequestSpec, REASON_INVALID_PRIVATE_KEY, find_condition,
};
use crate::controller::Context;
use crate::pki::csr::build_csr;
use crate::pki::keys::{KeySpec, public_keys_equal};
use crate::policy::gather::{literal_subject_der, request_facts};
use crate::policy::trigger::request_mismatches;

const CONTROLLER: &str = "certificates-requestmanager";
/// How soon to look again after a create hit a request still being deleted.
const RECREATE_RETRY: Duration = Duration::from_secs(2);

/// Runs the request manager until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shared: Arc<SharedCertificates>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    shared
        .controller()
        .owns_shared_stream(ctx.requests.touched())
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed(CONTROLLER, &ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome(CONTROLLER, r))
        .await;
}

/// Whether the next CertificateRequest can serve the issuance in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RequestVerdict {
    Matches,
    /// Why not, for a log line or an Event.
    Replace(String),
}

/// Compares the next CertificateRequest with the Certificate: controlled by it, made for
/// this issuance (not before `Issuing` last became True, so a request of an earlier, failed
/// attempt is replaced), carrying the next key (when `key_public_der` is given), and matching
/// the spec as `policy::trigger::request_mismatches` says.
pub(super) fn request_verdict(
    certificate: &Certificate,
    request: &CertificateRequest,
    key_public_der: Option<&[u8]>,
) -> RequestVerdict {
    if !controlled_by(&request.metadata, certificate) {
        return RequestVerdict::Replace("it is not controlled by this Certificate".into());
    }
    if is_stale(certificate, request) {
        return RequestVerdict::Replace(
            "it failed in an earlier issuance attempt (created before Issuing was set)".into(),
        );
    }
    let facts = request_facts(request);
    let csr = match &facts.csr {
        Ok(csr) => csr,
        Err(e) => return RequestVerdict::Replace(format!("its CSR cannot be read: {e}")),
    };
    if let Some(key) = key_public_der
        && !public_keys_equal(&csr.public_key_der, key)
    {
        return RequestVerdict::Replace("its CSR does not carry the next private key".into());
    }
    let literal = literal_subject_der(&certificate.spec);
    match request_mismatches(&facts, &certificate.spec, literal.as_deref()) {
        Some(m) if !m.is_empty() => {
            tracing::debug!(mismatches = ?m, "CertificateRequest differs from spec");
            RequestVerdict::Replace(format!(
                "it no longer matches the Certificate spec ({} field(s) differ)",
                m.len()
            ))
        }
        _ => RequestVerdict::Matches,
    }
}

/// A failed request created before the Certificate's `Issuing` condition last became True
/// belongs to an earlier, failed attempt: the retry needs a new one. (Only failed requests:
/// a pending or issued one still serves, and a clock skew between the controller, which
/// stamps the condition, and the API server, which stamps creation, cannot make a fresh
/// request look old and churn.)
pub(super) fn is_stale(certificate: &Certificate, request: &CertificateRequest) -> bool {
    if !matches!(request_outcome(request), RequestOutcome::Failed { .. }) {
        return false;
    }
    let issuing_since = certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_ISSUING))
        .and_then(|c| c.last_transition_time.as_ref());
    match (issuing_since, request.metadata.creation_timestamp.as_ref()) {
        (Some(since), Some(created)) => created.0 < since.0,
        _ => false,
    }
}

/// The CertificateRequest of `revision`, asking for `csr_pem`. It names no
/// `cert-manager.io/private-key-secret-name`: the key is held in memory, where the SelfSigned
/// signer finds it by the request's Certificate and revision.
pub(super) fn new_request(
    certificate: &Certificate,
    revision: i32,
    csr_pem: &str,
) -> CertificateRequest {
    let spec = &certificate.spec;
    CertificateRequest {
        metadata: ObjectMeta {
            name: Some(request_name(certificate, revision)),
            namespace: certificate.namespace(),
            labels: certificate.metadata.labels.clone(),
            annotations: Some(
                [
                    (ANN_CERTIFICATE_NAME, certificate.name_any()),
                    (ANN_CERTIFICATE_REVISION, revision.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                // The shim's http-01 overrides travel to the Order with the request.
                .chain(
                    certificate
                        .annotations()
                        .iter()
                        .filter(|(k, _)| k.starts_with(HTTP01_OVERRIDE_PREFIX))
                        .map(|(k, v)| (k.clone(), v.clone())),
                )
                .collect(),
            ),
            owner_references: certificate.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: CertificateRequestSpec {
            request: ByteString(csr_pem.as_bytes().to_vec()),
            issuer_ref: spec.issuer_ref.clone(),
            duration: spec.duration.clone(),
            is_ca: spec.is_ca,
            usages: spec.usages.clone(),
            ..Default::default()
        },
        status: None,
    }
}

async fn reconcile(
    certificate: Arc<Certificate>,
    ctx: Arc<Context>,
) -> Result<Action, CertificateError> {
    let action = reconcile_inner(&certificate, &ctx).await?;
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(action)
}

async fn reconcile_inner(
    certificate: &Certificate,
    ctx: &Context,
) -> Result<Action, CertificateError> {
    if !is_issuing(certificate) {
        return Ok(Action::await_change());
    }
    let key_spec = match KeySpec::from_private_key(certificate.spec.private_key.as_ref()) {
        Ok(spec) => spec,
        Err(err) => {
            publish(
                ctx,
                certificate,
                EventType::Warning,
                REASON_INVALID_PRIVATE_KEY,
                err.to_string(),
                "GenerateKey",
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let Some(key) = next_key_or_new(ctx, certificate, &key_spec).await? else {
        return Ok(Action::await_change()); // the key manager's status write wakes us
    };
    let namespace = certificate.namespace().unwrap_or_default();
    let revision = next_revision(certificate);
    let name = request_name(certificate, revision);
    let api: Api<CertificateRequest> = Api::namespaced(ctx.client.clone(), &namespace);

    if let Some(existing) = get_request(ctx, &namespace, &name).await? {
        if existing.metadata.deletion_timestamp.is_some() {
            return Ok(Action::requeue(RECREATE_RETRY));
        }
        match request_verdict(certificate, &existing, Some(&key.info().public_key_der)) {
            RequestVerdict::Matches => return Ok(Action::await_change()),
            RequestVerdict::Replace(why) => {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: existing.metadata.uid.clone(),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                let deleted = api.delete(&name, &params).await;
                match deleted {
                    Ok(_) => {
                        // The cache still holds it for a moment: do not read it back.
                        if let Some(uid) = &existing.metadata.uid {
                            ctx.writes.record_deletion(uid);
                        }
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                    Err(source) => {
                        return Err(CertificateError::Delete {
                            what: format!("CertificateRequest {namespace}/{name}"),
                            source,
                        });
                    }
                }
                tracing::info!(namespace, request = name, why, "deleted CertificateRequest");
                publish(
                    ctx,
                    certificate,
                    EventType::Normal,
                    "Requested",
                    format!("Deleted CertificateRequest {name:?}: {why}"),
                    "RequestCertificate",
                )
                .await;
            }
        }
    }

    let csr = match build_csr(&certificate.spec, &key) {
        Ok(csr) => csr,
        Err(err) => {
            publish(
                ctx,
                certificate,
                EventType::Warning,
                "BadConfig",
                format!("Could not build a certificate signing request from spec: {err}"),
                "RequestCertificate",
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    drop(key);
    let request = new_request(certificate, revision, &csr);
    let params = PostParams {
        dry_run: false,
        field_manager: Some(MANAGER_REQUESTS.into()),
    };
    match api.create(&params, &request).await {
        Ok(created) => {
            ctx.writes.record(&created);
            ctx.writes
                .record_name::<CertificateRequest>(&namespace, &name);
            // No Event: the request is an object of its own (`certsmith status` shows it) and
            // every Event is an API write; failures to create one still get a Warning.
            tracing::info!(namespace, request = name, "created CertificateRequest");
            Ok(Action::await_change())
        }
        // Another reconcile made it, or the replaced one is still going away: look again.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Action::requeue(RECREATE_RETRY)),
        Err(source) => Err(CertificateError::Write {
            what: format!("CertificateRequest {namespace}/{name}"),
            source,
        }),
    }
}

fn error_policy(
    certificate: Arc<Certificate>,
    err: &CertificateError,
    ctx: Arc<Context>,
) -> Action {
    super::retry_after_error(CONTROLLER, &certificate, err, &ctx)
}

#[cfg(test)]
pub(super) mod tests {
    use jiff::Timestamp;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::{ConditionStatus, IssuerReference, KeyUsage, PrivateKeyAlgorithm};
    use crate::controller::certificates::keys::tests::certificate;
    use crate::pki::csr::tests::key;
    use crate::pki::keys::ParsedKey;

    fn t(s: &str) -> Time {
        Time(s.parse::<Timestamp>().unwrap())
    }

    pub(crate) fn issuing_certificate() -> Certificate {
        let mut c = certificate(Some(ConditionStatus::True));
        c.spec.issuer_ref = IssuerReference {
            name: "ca".into(),
            kind: Some("ClusterIssuer".into()),
            group: None,
        };
        c.spec.duration = Some("24h".into());
        c.spec.usages = Some(vec![KeyUsage::ServerAuth]);
        let status = c.status.as_mut().unwrap();
        status.revision = Some(2);
        status.conditions.as_mut().unwrap()[0].last_transition_time =
            Some(t("2026-01-01T00:00:00Z"));
        c
    }

    pub(crate) fn request_for(c: &Certificate, key: &ParsedKey) -> CertificateRequest {
        let csr = build_csr(&c.spec, key).unwrap();
        let mut r = new_request(c, next_revision(c), &csr);
        r.metadata.creation_timestamp = Some(t("2026-01-01T00:00:05Z"));
        r
    }

    #[test]
    fn new_request_shape() {
        let c = issuing_certificate();
        let k = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let r = request_for(&c, &k);
        assert_eq!(r.metadata.name.as_deref(), Some("app-3"));
        assert_eq!(r.metadata.namespace.as_deref(), Some("ns"));
        let ann = r.metadata.annotations.as_ref().unwrap();
        assert_eq!(ann[ANN_CERTIFICATE_NAME], "app");
        assert_eq!(ann[ANN_CERTIFICATE_REVISION], "3");
        assert!(
            !ann.contains_key(crate::api::ANN_PRIVATE_KEY_SECRET_NAME),
            "the key is held in memory, not in a Secret"
        );
        assert!(controlled_by(&r.metadata, &c));
        assert_eq!(r.spec.issuer_ref, c.spec.issuer_ref);
        assert_eq!(r.spec.duration.as_deref(), Some("24h"));
        assert_eq!(r.spec.usages, Some(vec![KeyUsage::ServerAuth]));
        assert!(String::from_utf8_lossy(&r.spec.request.0).contains("CERTIFICATE REQUEST"));
    }

    #[test]
    fn verdict_matches_then_detects_changes() {
        let c = issuing_certificate();
        let k = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let r = request_for(&c, &k);
        let pk = k.info().public_key_der.clone();
        assert_eq!(request_verdict(&c, &r, Some(&pk)), RequestVerdict::Matches);
        assert_eq!(request_verdict(&c, &r, None), RequestVerdict::Matches);

        let other = key(PrivateKeyAlgorithm::Ecdsa, 256);
        assert!(matches!(
            request_verdict(&c, &r, Some(&other.info().public_key_der)),
            RequestVerdict::Replace(_)
        ));

        let mut changed = c.clone();
        changed.spec.dns_names = Some(vec!["other.example.com".into()]);
        assert!(matches!(
            request_verdict(&changed, &r, Some(&pk)),
            RequestVerdict::Replace(_)
        ));

        let mut changed = c.clone();
        changed.spec.issuer_ref.name = "other".into();
        assert!(matches!(
            request_verdict(&changed, &r, Some(&pk)),
            RequestVerdict::Replace(_)
        ));

        let mut foreign = r.clone();
        foreign.metadata.owner_references = None;
        assert!(matches!(
            request_verdict(&c, &foreign, Some(&pk)),
            RequestVerdict::Replace(_)
        ));

        let mut garbage = r.clone();
        garbage.spec.request = ByteString(b"not a CSR".to_vec());
        assert!(matches!(
            request_verdict(&c, &garbage, None),
            RequestVerdict::Replace(_)
        ));
    }

    #[test]
    fn requests_of_earlier_attempts_are_stale() {
        let c = issuing_certificate();
        let k = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let mut r = request_for(&c, &k);
        r.status = Some(crate::api::CertificateRequestStatus {
            conditions: Some(vec![crate::api::Condition {
                type_: crate::api::CONDITION_READY.into(),
                status: ConditionStatus::False,
                reason: Some(crate::api::REASON_FAILED.into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert!(!is_stale(&c, &r));
        r.metadata.creation_timestamp = Some(t("2025-12-31T23:00:00Z"));
        assert!(is_stale(&c, &r));
        let mut pending = r.clone();
        pending.status = None;
        assert!(!is_stale(&c, &pending), "only failed requests are stale");
        assert!(matches!(
            request_verdict(&c, &r, None),
            RequestVerdict::Replace(_)
        ));
        // The same second as the transition is not stale.
        r.metadata.creation_timestamp = Some(t("2026-01-01T00:00:00Z"));
        assert!(!is_stale(&c, &r));
    }
}
