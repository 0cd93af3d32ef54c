//! Issuing: while a Certificate is `Issuing`, watches its next CertificateRequest
//! (`<name>-<revision + 1>`). Once it is Issued, server-side applies the Certificate's Secret
//! (certificate, next private key, CA, annotations, labels) and then the status: `revision`
//! bumped, `Issuing=False` (reason Issued), failure fields dropped. When it Failed or was
//! Denied, records the failure (`lastFailureTime`, `failedIssuanceAttempts + 1`,
//! `Issuing=False` reason Failed) for the trigger's backoff.
//!
//! The Secret is written before the status, so a crash in between only repeats the
//! (idempotent) Secret apply. Only the fields written here are owned by this controller;
//! keys other writers added to the Secret stay.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use serde_json::{Value, json};

use super::keys::{controlled_by, is_issuing, publish};
use super::requests::{RequestVerdict, is_stale, next_key, request_verdict};
use super::{
    CertificateError, MANAGER_ISSUING, apply_status, backoff_key, get_request, get_secret,
    next_revision, request_name,
};
use crate::api::{
    ANN_ALT_NAMES, ANN_CERTIFICATE_NAME, ANN_COMMON_NAME, ANN_EMAIL_SANS, ANN_IP_SANS,
    ANN_ISSUER_GROUP, ANN_ISSUER_KIND, ANN_ISSUER_NAME, ANN_URI_SANS, CA_CERT_KEY,
    CONDITION_DENIED, CONDITION_INVALID_REQUEST, CONDITION_ISSUING, CONDITION_READY, Certificate,
    CertificateRequest, Condition, ConditionChange, ConditionStatus, LABEL_FAO, REASON_DENIED,
    REASON_FAILED, REASON_ISSUED, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY, condition_change,
    find_condition,
};
use crate::controller::Context;
use crate::pki::CertificateInfo;
use crate::pki::inspect::parse_certificates_pem;
use crate::pki::keys::public_keys_equal;

const CONTROLLER: &str = "certificates-issuing";
/// The Secret type written when the Secret is created.
const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
/// `Issuing=False` reasons: the issuance ended with a certificate, or failed.
pub const REASON_ISSUING_DONE: &str = REASON_ISSUED;
pub const REASON_ISSUING_FAILED: &str = REASON_FAILED;

/// Runs the issuing controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    Controller::new(ctx.watched::<Certificate>(), watcher::Config::default())
        .owns(
            ctx.watched::<CertificateRequest>(),
            watcher::Config::default(),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| crate::controller::log_outcome(CONTROLLER, r))
        .await;
}

/// Where the next CertificateRequest stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RequestOutcome {
    Pending,
    Issued {
        certificate: Vec<u8>,
        ca: Option<Vec<u8>>,
    },
    Failed {
        message: String,
    },
}

/// Reads a CertificateRequest's conditions: Ready=True reason Issued (with a certificate) is
/// done; Ready=False reason Failed or Denied, Denied=True or InvalidRequest=True failed.
pub(super) fn request_outcome(request: &CertificateRequest) -> RequestOutcome {
    let status = request.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let message = |c: &Condition| {
        c.message
            .clone()
            .unwrap_or_else(|| "no message given".into())
    };
    for type_ in [CONDITION_DENIED, CONDITION_INVALID_REQUEST] {
        if let Some(c) =
            find_condition(conditions, type_).filter(|c| c.status == ConditionStatus::True)
        {
            return RequestOutcome::Failed {
                message: message(c),
            };
        }
    }
    let Some(ready) = find_condition(conditions, CONDITION_READY) else {
        return RequestOutcome::Pending;
    };
    let reason = ready.reason.as_deref();
    match ready.status {
        ConditionStatus::True if reason == Some(REASON_ISSUED) => {
            match status
                .and_then(|s| s.certificate.as_ref())
                .filter(|c| !c.0.is_empty())
            {
                Some(cert) => RequestOutcome::Issued {
                    certificate: cert.0.clone(),
                    ca: status
                        .and_then(|s| s.ca.as_ref())
                        .filter(|c| !c.0.is_empty())
                        .map(|c| c.0.clone()),
                },
                None => RequestOutcome::Pending,
            }
        }
        ConditionStatus::False
            if reason == Some(REASON_FAILED) || reason == Some(REASON_DENIED) =>
        {
            RequestOutcome::Failed {
                message: message(ready),
            }
        }
        _ => RequestOutcome::Pending,
    }
}

/// The annotations cert-manager puts on a Certificate's Secret: the Certificate, its issuer
/// (kind and group defaulted) and the names of the certificate actually issued.
pub(super) fn secret_annotations(
    certificate: &Certificate,
    leaf: &CertificateInfo,
) -> BTreeMap<String, String> {
    let issuer = &certificate.spec.issuer_ref;
    let join = |v: Vec<String>| v.join(",");
    [
        (ANN_CERTIFICATE_NAME, certificate.name_any()),
        (ANN_ISSUER_NAME, issuer.name.clone()),
        (ANN_ISSUER_KIND, issuer.kind_or_default().to_owned()),
        (ANN_ISSUER_GROUP, issuer.group_or_default().to_owned()),
        (
            ANN_COMMON_NAME,
            leaf.common_name.clone().unwrap_or_default(),
        ),
        (ANN_ALT_NAMES, join(leaf.dns_names.clone())),
        (
            ANN_IP_SANS,
            join(leaf.ip_addresses.iter().map(|ip| ip.to_string()).collect()),
        ),
        (ANN_URI_SANS, join(leaf.uris.clone())),
        (ANN_EMAIL_SANS, join(leaf.email_addresses.clone())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What goes into the Secret.
pub(super) struct IssuedMaterial<'a> {
    /// `tls.crt`: the request's `status.certificate`.
    pub certificate_pem: &'a [u8],
    /// `ca.crt`, when the issuer gave one.
    pub ca_pem: Option<&'a [u8]>,
    /// `tls.key`, already in the spec's encoding.
    pub key_pem: &'a [u8],
    /// The leaf of `certificate_pem`.
    pub leaf: &'a CertificateInfo,
}

/// The server-side apply body of the Certificate's Secret. `type` is set when the Secret does
/// not exist yet, and re-asserted when it already is `kubernetes.io/tls` (so that this
/// manager, owning it since creation, never drops it: type is immutable); a pre-existing
/// Secret of another type keeps it.
pub(super) fn secret_apply(
    certificate: &Certificate,
    material: &IssuedMaterial,
    existing: Option<&Secret>,
) -> Value {
    let template = certificate.spec.secret_template.as_ref();
    let mut labels: BTreeMap<String, String> =
        template.and_then(|t| t.labels.clone()).unwrap_or_default();
    labels.insert(LABEL_FAO.to_owned(), "true".to_owned());
    let mut annotations: BTreeMap<String, String> = template
        .and_then(|t| t.annotations.clone())
        .unwrap_or_default();
    annotations.extend(secret_annotations(certificate, material.leaf));
    let bytes = |b: &[u8]| serde_json::to_value(ByteString(b.to_vec())).unwrap_or_default();
    let mut data = serde_json::Map::new();
    data.insert(TLS_CERT_KEY.into(), bytes(material.certificate_pem));
    data.insert(TLS_PRIVATE_KEY_KEY.into(), bytes(material.key_pem));
    if let Some(ca) = material.ca_pem {
        data.insert(CA_CERT_KEY.into(), bytes(ca));
    }
    let mut patch = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": certificate.spec.secret_name,
            "namespace": certificate.namespace(),
            "labels": labels,
            "annotations": annotations,
        },
        "data": data,
    });
    let write_type = match existing {
        None => true,
        Some(s) => s.type_.as_deref() == Some(TLS_SECRET_TYPE),
    };
    if write_type {
        patch["type"] = json!(TLS_SECRET_TYPE);
    }
    patch
}

/// The `Issuing=False` condition ending the issuance, `lastTransitionTime` carried over or
/// set to `now` by `condition_change`.
fn issuing_false(
    certificate: &Certificate,
    reason: &str,
    message: String,
    now: Timestamp,
) -> Condition {
    let old = certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_ISSUING));
    let new = Condition {
        type_: CONDITION_ISSUING.into(),
        status: ConditionStatus::False,
        last_transition_time: None,
        reason: Some(reason.into()),
        message: Some(message),
        observed_generation: certificate.metadata.generation,
    };
    match condition_change(old, new.clone(), Time(now)) {
        ConditionChange::Write { condition, .. } => condition,
        ConditionChange::Unchanged => old.cloned().unwrap_or(new),
    }
}

/// The status applied after a successful issuance: revision bumped, Issuing=False; the
/// failure fields are left out, which removes them (this manager owns them).
pub(super) fn issued_status(certificate: &Certificate, now: Timestamp) -> Value {
    json!({
        "revision": next_revision(certificate),
        "conditions": [issuing_false(
            certificate,
            REASON_ISSUING_DONE,
            "The certificate has been successfully issued".into(),
            now,
        )],
    })
}

/// The status applied after a failed issuance: the current revision kept (it would be removed
/// if left out), `lastFailureTime`, one more failed attempt, Issuing=False with the request's
/// message.
pub(super) fn failed_status(certificate: &Certificate, message: &str, now: Timestamp) -> Value {
    let status = certificate.status.as_ref();
    let mut patch = json!({
        "lastFailureTime": Time(now),
        "failedIssuanceAttempts": status.and_then(|s| s.failed_issuance_attempts).unwrap_or(0) + 1,
        "conditions": [issuing_false(certificate, REASON_ISSUING_FAILED, failure_message(message), now)],
    });
    if let Some(revision) = status.and_then(|s| s.revision) {
        patch["revision"] = json!(revision);
    }
    patch
}

fn failure_message(message: &str) -> String {
    format!("The certificate request has failed to complete and will be retried: {message}")
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
    let namespace = certificate.namespace().unwrap_or_default();
    let name = request_name(certificate, next_revision(certificate));
    let Some(request) = get_request(ctx, &namespace, &name).await? else {
        return Ok(Action::await_change());
    };
    if !controlled_by(&request.metadata, certificate) || is_stale(certificate, &request) {
        return Ok(Action::await_change()); // the request manager replaces it
    }
    let outcome = request_outcome(&request);
    if outcome == RequestOutcome::Pending {
        return Ok(Action::await_change());
    }
    let key = next_key(ctx, certificate).await?;
    let key_public = key.as_ref().map(|(_, k)| k.info().public_key_der.clone());
    if let RequestVerdict::Replace(why) =
        request_verdict(certificate, &request, key_public.as_deref())
    {
        tracing::debug!(
            namespace,
            request = name,
            why,
            "waiting for the request manager"
        );
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    match outcome {
        RequestOutcome::Pending => Ok(Action::await_change()),
        RequestOutcome::Failed { message } => {
            fail(ctx, certificate, &name, &message, now).await?;
            Ok(Action::await_change())
        }
        RequestOutcome::Issued {
            certificate: cert_pem,
            ca,
        } => {
            let Some((_, key)) = key else {
                return Ok(Action::await_change()); // the key manager restores it
            };
            let leaf = match parse_certificates_pem(&cert_pem) {
                Ok(chain) => chain.into_iter().next(),
                Err(err) => {
                    let message = format!("the issued certificate cannot be read: {err}");
                    fail(ctx, certificate, &name, &message, now).await?;
                    return Ok(Action::await_change());
                }
            };
            let Some(leaf) = leaf else {
                let message = "the request holds no certificate";
                fail(ctx, certificate, &name, message, now).await?;
                return Ok(Action::await_change());
            };
            if !public_keys_equal(&leaf.public_key_der, &key.info().public_key_der) {
                let message = "the issued certificate does not carry the requested private key";
                fail(ctx, certificate, &name, message, now).await?;
                return Ok(Action::await_change());
            }
            let encoding = certificate
                .spec
                .private_key
                .as_ref()
                .and_then(|p| p.encoding)
                .unwrap_or_default();
            let key_pem = key
                .to_pem(encoding)
                .map_err(|e| CertificateError::Key(e.to_string()))?;
            drop(key);
            let secret_name = &certificate.spec.secret_name;
            let existing = get_secret(ctx, &namespace, secret_name).await?;
            let patch = secret_apply(
                certificate,
                &IssuedMaterial {
                    certificate_pem: &cert_pem,
                    ca_pem: ca.as_deref(),
                    key_pem: key_pem.as_bytes(),
                    leaf: &leaf,
                },
                existing.as_ref(),
            );
            drop(existing);
            drop(key_pem);
            Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
                .patch(
                    secret_name,
                    &PatchParams::apply(MANAGER_ISSUING).force(),
                    &Patch::Apply(&patch),
                )
                .await
                .map_err(|source| CertificateError::Write {
                    what: format!("Secret {namespace}/{secret_name}"),
                    source,
                })?;
            drop(patch);
            apply_status(
                ctx,
                certificate,
                MANAGER_ISSUING,
                issued_status(certificate, now),
            )
            .await?;
            tracing::info!(
                namespace,
                certificate = certificate.name_any(),
                request = name,
                "certificate issued"
            );
            publish(
                ctx,
                certificate,
                EventType::Normal,
                "Issuing",
                "The certificate has been successfully issued".into(),
                "Issue",
            )
            .await;
            Ok(Action::await_change())
        }
    }
}

async fn fail(
    ctx: &Context,
    certificate: &Certificate,
    request: &str,
    message: &str,
    now: Timestamp,
) -> Result<(), CertificateError> {
    apply_status(
        ctx,
        certificate,
        MANAGER_ISSUING,
        failed_status(certificate, message, now),
    )
    .await?;
    tracing::info!(
        namespace = certificate.namespace().unwrap_or_default(),
        certificate = certificate.name_any(),
        request,
        message,
        "issuance failed"
    );
    publish(
        ctx,
        certificate,
        EventType::Warning,
        "Failed",
        format!("The certificate request {request:?} failed: {message}"),
        "Issue",
    )
    .await;
    Ok(())
}

fn error_policy(
    certificate: Arc<Certificate>,
    err: &CertificateError,
    ctx: Arc<Context>,
) -> Action {
    let delay = ctx.backoff.next(&backoff_key(CONTROLLER, &certificate));
    tracing::warn!(name = certificate.name_any(), %err, retry_in = ?delay, "issuing reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::api::{CertificateRequestStatus, CertificateSecretTemplate, PrivateKeyAlgorithm};
    use crate::controller::certificates::requests::tests::{issuing_certificate, request_for};
    use crate::pki::csr::tests::key;
    use crate::pki::duration::parse_duration;
    use crate::pki::sign::{Signer, SigningRequest, sign};

    fn now() -> Timestamp {
        "2026-01-01T00:01:00Z".parse().unwrap()
    }

    fn ready(status: ConditionStatus, reason: &str) -> Condition {
        Condition {
            type_: CONDITION_READY.into(),
            status,
            reason: Some(reason.into()),
            message: Some(format!("msg {reason}")),
            ..Default::default()
        }
    }

    fn with_status(conditions: Vec<Condition>, cert: Option<&[u8]>) -> CertificateRequest {
        let c = issuing_certificate();
        let mut r = request_for(&c, &key(PrivateKeyAlgorithm::Ecdsa, 256));
        r.status = Some(CertificateRequestStatus {
            conditions: Some(conditions),
            certificate: cert.map(|b| ByteString(b.to_vec())),
            ca: None,
            failure_time: None,
        });
        r
    }

    #[test]
    fn outcomes() {
        assert_eq!(
            request_outcome(&with_status(vec![], None)),
            RequestOutcome::Pending
        );
        assert_eq!(
            request_outcome(&with_status(
                vec![ready(ConditionStatus::False, "Pending")],
                None
            )),
            RequestOutcome::Pending
        );
        assert_eq!(
            request_outcome(&with_status(
                vec![ready(ConditionStatus::True, REASON_ISSUED)],
                Some(b"CERT")
            )),
            RequestOutcome::Issued {
                certificate: b"CERT".to_vec(),
                ca: None
            }
        );
        assert_eq!(
            request_outcome(&with_status(
                vec![ready(ConditionStatus::True, REASON_ISSUED)],
                None
            )),
            RequestOutcome::Pending
        );
        for reason in [REASON_FAILED, REASON_DENIED] {
            assert_eq!(
                request_outcome(&with_status(
                    vec![ready(ConditionStatus::False, reason)],
                    None
                )),
                RequestOutcome::Failed {
                    message: format!("msg {reason}")
                }
            );
        }
        let denied = Condition {
            type_: CONDITION_DENIED.into(),
            status: ConditionStatus::True,
            message: Some("no".into()),
            ..Default::default()
        };
        assert_eq!(
            request_outcome(&with_status(vec![denied], None)),
            RequestOutcome::Failed {
                message: "no".into()
            }
        );
    }

    struct Issued {
        certificate: Certificate,
        cert_pem: String,
        leaf: CertificateInfo,
    }

    fn issued() -> Issued {
        let mut certificate = issuing_certificate();
        certificate.spec.common_name = Some("app.example.com".into());
        certificate.spec.ip_addresses = Some(vec!["10.0.0.1".into(), "::1".into()]);
        certificate.spec.uris = Some(vec!["spiffe://cluster.local/ns/a/sa/b".into()]);
        certificate.spec.dns_names = Some(vec!["app.example.com".into(), "www.example.com".into()]);
        let k = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let request = request_for(&certificate, &k);
        let signed = sign(
            &request.spec.request.0,
            &SigningRequest {
                duration: parse_duration("24h").unwrap(),
                usages: certificate.spec.usages.clone().unwrap_or_default(),
                ..Default::default()
            },
            &Signer::SelfSigned { key: &k },
            now(),
        )
        .unwrap();
        let leaf = parse_certificates_pem(signed.certificate_pem.as_bytes())
            .unwrap()
            .remove(0);
        Issued {
            certificate,
            cert_pem: signed.certificate_pem,
            leaf,
        }
    }

    #[test]
    fn annotations_come_from_the_issued_certificate() {
        let i = issued();
        let a = secret_annotations(&i.certificate, &i.leaf);
        assert_eq!(a[ANN_CERTIFICATE_NAME], "app");
        assert_eq!(a[ANN_ISSUER_NAME], "ca");
        assert_eq!(a[ANN_ISSUER_KIND], "ClusterIssuer");
        assert_eq!(a[ANN_ISSUER_GROUP], "cert-manager.io");
        assert_eq!(a[ANN_COMMON_NAME], "app.example.com");
        assert_eq!(a[ANN_ALT_NAMES], "app.example.com,www.example.com");
        assert_eq!(a[ANN_IP_SANS], "10.0.0.1,::1");
        assert_eq!(a[ANN_URI_SANS], "spiffe://cluster.local/ns/a/sa/b");
        assert_eq!(a[ANN_EMAIL_SANS], "");
    }

    #[test]
    fn secret_apply_body() {
        let mut i = issued();
        i.certificate.spec.secret_template = Some(CertificateSecretTemplate {
            annotations: Some([("team".to_owned(), "a".to_owned())].into()),
            labels: Some([("app".to_owned(), "web".to_owned())].into()),
        });
        let material = IssuedMaterial {
            certificate_pem: i.cert_pem.as_bytes(),
            ca_pem: Some(b"CA"),
            key_pem: b"KEY",
            leaf: &i.leaf,
        };
        let p = secret_apply(&i.certificate, &material, None);
        assert_eq!(p["apiVersion"], "v1");
        assert_eq!(p["kind"], "Secret");
        assert_eq!(p["metadata"]["name"], "app-tls");
        assert_eq!(p["metadata"]["namespace"], "ns");
        assert_eq!(p["type"], TLS_SECRET_TYPE);
        assert_eq!(p["metadata"]["labels"][LABEL_FAO], "true");
        assert_eq!(p["metadata"]["labels"]["app"], "web");
        assert_eq!(p["metadata"]["annotations"]["team"], "a");
        assert_eq!(p["metadata"]["annotations"][ANN_CERTIFICATE_NAME], "app");
        let data =
            |k: &str| -> ByteString { serde_json::from_value(p["data"][k].clone()).unwrap() };
        assert_eq!(data(TLS_CERT_KEY).0, i.cert_pem.as_bytes());
        assert_eq!(data(TLS_PRIVATE_KEY_KEY).0, b"KEY");
        assert_eq!(data(CA_CERT_KEY).0, b"CA");
        assert_eq!(
            p["data"].as_object().unwrap().len(),
            3,
            "only the keys this controller owns"
        );

        let no_ca = IssuedMaterial {
            ca_pem: None,
            ..material
        };
        let existing = |t: &str| Secret {
            metadata: ObjectMeta::default(),
            type_: Some(t.into()),
            ..Default::default()
        };
        let p = secret_apply(&i.certificate, &no_ca, Some(&existing("Opaque")));
        assert!(
            p.get("type").is_none(),
            "a pre-existing Secret keeps its type"
        );
        assert!(p["data"].get(CA_CERT_KEY).is_none());
        let p = secret_apply(&i.certificate, &no_ca, Some(&existing(TLS_SECRET_TYPE)));
        assert_eq!(p["type"], TLS_SECRET_TYPE, "re-asserted, never dropped");
    }

    #[test]
    fn issued_status_bumps_revision_and_ends_issuing() {
        let mut c = issuing_certificate();
        c.metadata.generation = Some(4);
        let s = issued_status(&c, now());
        assert_eq!(s["revision"], 3);
        let cond = &s["conditions"][0];
        assert_eq!(cond["type"], CONDITION_ISSUING);
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["reason"], REASON_ISSUING_DONE);
        assert_eq!(cond["observedGeneration"], 4);
        assert_eq!(cond["lastTransitionTime"], json!(Time(now())));
        assert!(s.get("lastFailureTime").is_none());
        assert!(s.get("failedIssuanceAttempts").is_none());
    }

    #[test]
    fn failed_status_counts_and_keeps_revision() {
        let mut c = issuing_certificate();
        c.status.as_mut().unwrap().failed_issuance_attempts = Some(2);
        let s = failed_status(&c, "boom", now());
        assert_eq!(s["revision"], 2);
        assert_eq!(s["failedIssuanceAttempts"], 3);
        assert_eq!(s["lastFailureTime"], json!(Time(now())));
        let cond = &s["conditions"][0];
        assert_eq!(
            (cond["status"].as_str(), cond["reason"].as_str()),
            (Some("False"), Some(REASON_ISSUING_FAILED))
        );
        assert!(cond["message"].as_str().unwrap().contains("boom"));

        let mut first = issuing_certificate();
        first.status.as_mut().unwrap().revision = None;
        let s = failed_status(&first, "boom", now());
        assert!(s.get("revision").is_none());
        assert_eq!(s["failedIssuanceAttempts"], 1);
    }
}
