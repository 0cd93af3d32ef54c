//! Issuing: while a Certificate is `Issuing`, watches its next CertificateRequest
//! (`<name>-<revision + 1>`). Once it is Issued, server-side applies the Certificate's Secret
//! (certificate, next private key, CA, annotations, labels) and then the status: `revision`
//! bumped, `Issuing=False` (reason Issued), failure fields dropped. When it Failed or was
//! Denied, records the failure (`lastFailureTime`, `failedIssuanceAttempts + 1`,
//! `Issuing=False` reason Failed) for the trigger's backoff. Both status applies carry the
//! readiness that follows (`readiness::readiness_fields`: `Ready=True` and the new times after
//! an issuance), which saves the readiness controller's write.
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
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::{Map, Value, json};

use super::SharedCertificates;
use super::keys::{controlled_by, existing_next_key, is_issuing, publish};
use super::readiness::{
    ReadinessFields, publish_lost_readiness, readiness_fields, status_after_apply,
};
use super::requests::{RequestVerdict, is_stale, request_verdict};
use super::secret_sync::{secret_drift, wanted_secret};
use super::siblings::{conflict_in_store, watch_secret_siblings};
use super::trigger::{gather, gather_with_secret, watch_secrets};
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
use crate::api::{
    AdditionalOutputFormatType, COMBINED_PEM_KEY, DEFAULT_JKS_ALIAS, DER_KEY, JKS_KEYSTORE_KEY,
    JKS_TRUSTSTORE_KEY, PKCS12_KEYSTORE_KEY, PKCS12_TRUSTSTORE_KEY, PrivateKeyEncoding,
    SecretKeySelector,
};
use crate::controller::Context;
use crate::pki::CertificateInfo;
use crate::pki::inspect::parse_certificates_pem;
use crate::pki::keys::public_keys_equal;
use crate::pki::keys::{KeySpec, parse_private_key_pem};
use crate::pki::keystore::{self, KeystoreError};
use crate::policy::readiness::readiness;
use crate::policy::trigger::issuance_needed;
use zeroize::Zeroizing;

const CONTROLLER: &str = "certificates-issuing";
/// The Secret type written when the Secret is created.
const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
/// `Issuing=False` reasons: the issuance ended with a certificate, or failed.
pub const REASON_ISSUING_DONE: &str = REASON_ISSUED;
pub const REASON_ISSUING_FAILED: &str = REASON_FAILED;

/// Runs the issuing controller until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shared: Arc<SharedCertificates>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    // Woken by its Secret too: an edited Secret is brought back to the spec.
    let controller = watch_secret_siblings(shared.controller(), &shared);
    let certificates = shared.clone();
    watch_secrets(controller, &ctx, &shared)
        .owns_shared_stream(ctx.requests.touched())
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed(CONTROLLER, &ctx, move |certificate, ctx| {
                reconcile(certificate, ctx, certificates.clone())
            }),
            error_policy,
            ctx,
        )
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
    /// The same key as PKCS#8 DER, for the keystores.
    pub key_pkcs8_der: &'a [u8],
    /// The leaf of `certificate_pem`.
    pub leaf: &'a CertificateInfo,
    /// The passwords of the keystores the spec asks for.
    pub passwords: &'a KeystorePasswords,
    /// Creation time of JKS entries.
    pub now: Timestamp,
}

/// Keystore passwords, read from the spec or from the Secrets it names.
#[derive(Default)]
pub(super) struct KeystorePasswords {
    pub jks: Option<Zeroizing<String>>,
    pub pkcs12: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for KeystorePasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeystorePasswords(..)")
    }
}

/// Where a keystore's password comes from: inline, or a key of a Secret of the namespace.
fn password_source<'a>(
    password: Option<&'a String>,
    secret_ref: Option<&'a SecretKeySelector>,
) -> Option<Result<&'a str, &'a SecretKeySelector>> {
    match (password, secret_ref) {
        (Some(p), _) => Some(Ok(p.as_str())),
        (None, Some(r)) => Some(Err(r)),
        (None, None) => None,
    }
}

/// A password from a fetched Secret (`None` when the Secret does not exist): the message
/// names the Secret and key when it cannot be had.
pub(super) fn password_from_secret(
    namespace: &str,
    selector: &SecretKeySelector,
    secret: Option<&Secret>,
) -> Result<Zeroizing<String>, String> {
    let name = &selector.name;
    let Some(key) = selector.key.as_deref().filter(|k| !k.is_empty()) else {
        return Err(format!(
            "the keystore passwordSecretRef of Secret {namespace}/{name} names no key"
        ));
    };
    let Some(secret) = secret else {
        return Err(format!(
            "the keystore password Secret {namespace}/{name} (key {key:?}) does not exist"
        ));
    };
    let Some(value) = secret.data.as_ref().and_then(|d| d.get(key)) else {
        return Err(format!(
            "the keystore password Secret {namespace}/{name} has no key {key:?}"
        ));
    };
    String::from_utf8(value.0.clone())
        .map(Zeroizing::new)
        .map_err(|_| {
            format!("the keystore password in Secret {namespace}/{name} key {key:?} is not UTF-8")
        })
}

/// Reads the passwords of the keystores with `create: true`. `Ok(Err(message))` when a
/// password Secret or key is missing (the issuance fails with that message).
async fn keystore_passwords(
    ctx: &Context,
    certificate: &Certificate,
) -> Result<Result<KeystorePasswords, String>, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let keystores = certificate.spec.keystores.as_ref();
    let jks = keystores.and_then(|k| k.jks.as_ref()).filter(|j| j.create);
    let pkcs12 = keystores
        .and_then(|k| k.pkcs12.as_ref())
        .filter(|p| p.create);
    let mut passwords = KeystorePasswords::default();
    let sources = [
        jks.and_then(|j| password_source(j.password.as_ref(), j.password_secret_ref.as_ref())),
        pkcs12.and_then(|p| password_source(p.password.as_ref(), p.password_secret_ref.as_ref())),
    ];
    for (i, source) in sources.into_iter().enumerate() {
        let password = match source {
            None => continue,
            Some(Ok(inline)) => Zeroizing::new(inline.to_owned()),
            Some(Err(selector)) => {
                let secret = get_secret(ctx, &namespace, &selector.name).await?;
                match password_from_secret(&namespace, selector, secret.as_ref()) {
                    Ok(p) => p,
                    Err(message) => return Ok(Err(message)),
                }
            }
        };
        if i == 0 {
            passwords.jks = Some(password);
        } else {
            passwords.pkcs12 = Some(password);
        }
    }
    Ok(Ok(passwords))
}

/// The extra Secret keys the spec asks for: additional output formats and keystores
/// (`create: true` only; the truststores only when a CA is known). Keys not asked for are
/// left out, so server-side apply removes them when the spec drops them.
pub(super) fn extra_secret_data(
    certificate: &Certificate,
    material: &IssuedMaterial,
) -> Result<BTreeMap<&'static str, Zeroizing<Vec<u8>>>, KeystoreError> {
    let mut out = BTreeMap::new();
    for format in certificate
        .spec
        .additional_output_formats
        .as_deref()
        .unwrap_or_default()
    {
        match format.type_ {
            AdditionalOutputFormatType::Der => {
                out.insert(DER_KEY, keystore::der_private_key(material.key_pem)?);
            }
            AdditionalOutputFormatType::CombinedPEM => {
                out.insert(
                    COMBINED_PEM_KEY,
                    keystore::combined_pem(material.key_pem, material.certificate_pem),
                );
            }
        }
    }
    let keystores = certificate.spec.keystores.as_ref();
    let ca = material.ca_pem.filter(|c| !c.is_empty());
    if let (Some(jks), Some(password)) = (
        keystores.and_then(|k| k.jks.as_ref()).filter(|j| j.create),
        material.passwords.jks.as_deref(),
    ) {
        let alias = jks.alias.as_deref().unwrap_or(DEFAULT_JKS_ALIAS);
        let store = keystore::jks_keystore(
            material.key_pkcs8_der,
            material.certificate_pem,
            ca,
            alias,
            password,
            material.now,
        )?;
        out.insert(JKS_KEYSTORE_KEY, Zeroizing::new(store));
        if let Some(ca) = ca {
            let store = keystore::jks_truststore(ca, password, material.now)?;
            out.insert(JKS_TRUSTSTORE_KEY, Zeroizing::new(store));
        }
    }
    if let (Some(p12), Some(password)) = (
        keystores
            .and_then(|k| k.pkcs12.as_ref())
            .filter(|p| p.create),
        material.passwords.pkcs12.as_deref(),
    ) {
        let profile = p12.profile.unwrap_or_default();
        let store = keystore::pkcs12(
            material.key_pkcs8_der,
            material.certificate_pem,
            ca,
            password,
            profile,
        )?;
        out.insert(PKCS12_KEYSTORE_KEY, Zeroizing::new(store));
        if let Some(ca) = ca {
            let store = keystore::pkcs12_truststore(ca, password, profile)?;
            out.insert(PKCS12_TRUSTSTORE_KEY, Zeroizing::new(store));
        }
    }
    Ok(out)
}

/// The server-side apply body of the Certificate's Secret. `type` is set when the Secret does
/// not exist yet, and re-asserted when it already is `kubernetes.io/tls` (so that this
/// manager, owning it since creation, never drops it: type is immutable); a pre-existing
/// Secret of another type keeps it.
pub(super) fn secret_apply(
    certificate: &Certificate,
    material: &IssuedMaterial,
    existing: Option<&Secret>,
) -> Result<Value, KeystoreError> {
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
    for (key, value) in extra_secret_data(certificate, material)? {
        data.insert(key.into(), bytes(&value));
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
    Ok(patch)
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
pub(super) fn issued_status(certificate: &Certificate, now: Timestamp) -> Map<String, Value> {
    let mut status = Map::new();
    status.insert("revision".into(), json!(next_revision(certificate)));
    let ended = issuing_false(
        certificate,
        REASON_ISSUING_DONE,
        "The certificate has been successfully issued".into(),
        now,
    );
    status.insert("conditions".into(), json!([ended]));
    status
}

/// The status applied after a failed issuance: the current revision kept (it would be removed
/// if left out), `lastFailureTime`, one more failed attempt, Issuing=False with the request's
/// message.
pub(super) fn failed_status(
    certificate: &Certificate,
    message: &str,
    now: Timestamp,
) -> Map<String, Value> {
    let status = certificate.status.as_ref();
    let attempts = status.and_then(|s| s.failed_issuance_attempts).unwrap_or(0) + 1;
    let ended = issuing_false(
        certificate,
        REASON_ISSUING_FAILED,
        failure_message(message),
        now,
    );
    let mut patch = Map::new();
    patch.insert("lastFailureTime".into(), json!(Time(now)));
    patch.insert("failedIssuanceAttempts".into(), json!(attempts));
    patch.insert("conditions".into(), json!([ended]));
    if let Some(revision) = status.and_then(|s| s.revision) {
        patch.insert("revision".into(), json!(revision));
    }
    patch
}

fn failure_message(message: &str) -> String {
    format!("The certificate request has failed to complete and will be retried: {message}")
}

async fn reconcile(
    certificate: Arc<Certificate>,
    ctx: Arc<Context>,
    certificates: Arc<SharedCertificates>,
) -> Result<Action, CertificateError> {
    let action = reconcile_inner(&certificate, &ctx, &certificates).await?;
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(action)
}

async fn reconcile_inner(
    certificate: &Certificate,
    ctx: &Context,
    certificates: &SharedCertificates,
) -> Result<Action, CertificateError> {
    if !is_issuing(certificate) {
        sync_secret(certificate, ctx, certificates).await?;
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
    // The next key as held (or left in a temporary Secret, or the current key with
    // rotationPolicy Never); none after a restart, and the request manager replaces the request.
    let key = match KeySpec::from_private_key(certificate.spec.private_key.as_ref()) {
        Ok(spec) => existing_next_key(ctx, certificate, &spec).await?,
        Err(_) => None,
    };
    let key_public = key.as_ref().map(|k| k.info().public_key_der.clone());
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
            fail(ctx, certificate, certificates, &name, &message, now).await?;
            Ok(Action::await_change())
        }
        RequestOutcome::Issued {
            certificate: cert_pem,
            ca,
        } => {
            let Some(key) = key else {
                return Ok(Action::await_change()); // the request manager replaces the request
            };
            let leaf = match parse_certificates_pem(&cert_pem) {
                Ok(chain) => chain.into_iter().next(),
                Err(err) => {
                    let message = format!("the issued certificate cannot be read: {err}");
                    fail(ctx, certificate, certificates, &name, &message, now).await?;
                    return Ok(Action::await_change());
                }
            };
            let Some(leaf) = leaf else {
                let message = "the request holds no certificate";
                fail(ctx, certificate, certificates, &name, message, now).await?;
                return Ok(Action::await_change());
            };
            if !public_keys_equal(&leaf.public_key_der, &key.info().public_key_der) {
                let message = "the issued certificate does not carry the requested private key";
                fail(ctx, certificate, certificates, &name, message, now).await?;
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
            let key_pkcs8 = key
                .to_der(PrivateKeyEncoding::Pkcs8)
                .map_err(|e| CertificateError::Key(e.to_string()))?;
            drop(key);
            let passwords = match keystore_passwords(ctx, certificate).await? {
                Ok(p) => p,
                Err(message) => {
                    fail(ctx, certificate, certificates, &name, &message, now).await?;
                    return Ok(Action::await_change());
                }
            };
            // The cached Certificate may be a step behind (this controller wakes on Secret and
            // request events too): if the issuance already ended, writing again would only
            // repeat two writes. One read is cheaper than those.
            if already_ended(ctx, certificate).await? {
                return Ok(Action::await_change());
            }
            let secret_name = &certificate.spec.secret_name;
            let existing = get_secret(ctx, &namespace, secret_name).await?;
            // Another Certificate keeps this Secret (it may have appeared since the trigger
            // started this issuance): never overwrite its certificate. A change to it wakes us.
            let annotated = existing
                .as_ref()
                .and_then(|s| s.annotations().get(ANN_CERTIFICATE_NAME).cloned());
            if let Some(conflict) =
                conflict_in_store(certificates, certificate, annotated.as_deref())
            {
                tracing::info!(
                    namespace,
                    certificate = certificate.name_any(),
                    holder = conflict.holder,
                    "not writing the Secret: another Certificate keeps it"
                );
                return Ok(Action::await_change());
            }
            let patch = secret_apply(
                certificate,
                &IssuedMaterial {
                    certificate_pem: &cert_pem,
                    ca_pem: ca.as_deref(),
                    key_pem: key_pem.as_bytes(),
                    key_pkcs8_der: &key_pkcs8,
                    leaf: &leaf,
                    passwords: &passwords,
                    now,
                },
                existing.as_ref(),
            );
            drop(existing);
            drop(key_pem);
            drop(key_pkcs8);
            drop(passwords);
            let patch = match patch {
                Ok(p) => p,
                Err(err) => {
                    let message = format!("writing the keystores failed: {err}");
                    fail(ctx, certificate, certificates, &name, &message, now).await?;
                    return Ok(Action::await_change());
                }
            };
            let written = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
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
            ctx.writes.record_name::<Secret>(&namespace, secret_name);
            ctx.secrets.remember(&written);
            drop(patch);
            let (status, _) = with_readiness(
                ctx,
                certificate,
                certificates,
                issued_status(certificate, now),
                Some(&written),
                now,
            )
            .await?;
            drop(written);
            apply_status(ctx, certificate, MANAGER_ISSUING, status).await?;
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

/// Whether the issuance `certificate` (as cached) is in has ended already on the API server:
/// no longer Issuing, or at another revision.
async fn already_ended(ctx: &Context, certificate: &Certificate) -> Result<bool, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let name = certificate.name_any();
    let fresh = Api::<Certificate>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(&name)
        .await
        .map_err(|source| CertificateError::Read {
            what: format!("Certificate {namespace}/{name}"),
            source,
        })?;
    Ok(match fresh {
        None => true,
        Some(fresh) if fresh.metadata.resource_version == certificate.metadata.resource_version => {
            false
        }
        Some(fresh) => !is_issuing(&fresh) || next_revision(&fresh) != next_revision(certificate),
    })
}

/// Not issuing: re-applies the Secret from the certificate and key it holds when its
/// template metadata or extra outputs no longer match the spec (see `secret_sync`). Only a
/// Secret this Certificate holds, with a matching key pair, that the trigger policy finds up to
/// date: anything else is the trigger's to re-issue.
async fn sync_secret(
    certificate: &Certificate,
    ctx: &Context,
    certificates: &SharedCertificates,
) -> Result<(), CertificateError> {
    if certificate.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let namespace = certificate.namespace().unwrap_or_default();
    let secret_name = &certificate.spec.secret_name;
    let Some(secret) = get_secret(ctx, &namespace, secret_name).await? else {
        return Ok(());
    };
    if secret.annotations().get(ANN_CERTIFICATE_NAME) != Some(&certificate.name_any()) {
        return Ok(());
    }
    let data = secret.data.clone().unwrap_or_default();
    let (Some(cert_pem), Some(key_pem)) = (data.get(TLS_CERT_KEY), data.get(TLS_PRIVATE_KEY_KEY))
    else {
        return Ok(());
    };
    let Some(leaf) = parse_certificates_pem(&cert_pem.0)
        .ok()
        .and_then(|c| c.into_iter().next())
    else {
        return Ok(());
    };
    let ca = data
        .get(CA_CERT_KEY)
        .map(|c| c.0.clone())
        .filter(|c| !c.is_empty());
    let wanted = wanted_secret(
        certificate,
        secret_annotations(certificate, &leaf),
        ca.is_some(),
    );
    let Some(drift) = secret_drift(&secret, &wanted) else {
        return Ok(());
    };
    // The same decision the trigger makes: a Secret due for re-issuance is not touched here.
    let facts = gather(ctx, certificate, certificates).await?;
    if facts.secret_conflict.is_some()
        || issuance_needed(&facts.input(certificate), Timestamp::now()).is_some()
    {
        return Ok(());
    }
    let Ok(key) = parse_private_key_pem(&key_pem.0) else {
        return Ok(());
    };
    if !public_keys_equal(&leaf.public_key_der, &key.info().public_key_der) {
        return Ok(());
    }
    let key_pkcs8 = key
        .to_der(PrivateKeyEncoding::Pkcs8)
        .map_err(|e| CertificateError::Key(e.to_string()))?;
    drop(key);
    let passwords = match keystore_passwords(ctx, certificate).await? {
        Ok(p) => p,
        Err(message) => {
            publish(
                ctx,
                certificate,
                EventType::Warning,
                "SecretNotUpdated",
                format!("The Secret's keystores cannot be written: {message}"),
                "UpdateSecret",
            )
            .await;
            return Ok(());
        }
    };
    let patch = secret_apply(
        certificate,
        &IssuedMaterial {
            certificate_pem: &cert_pem.0,
            ca_pem: ca.as_deref(),
            key_pem: &key_pem.0,
            key_pkcs8_der: &key_pkcs8,
            leaf: &leaf,
            passwords: &passwords,
            now: Timestamp::now(),
        },
        Some(&secret),
    );
    drop(key_pkcs8);
    drop(passwords);
    drop(data);
    let patch = match patch {
        Ok(p) => p,
        Err(err) => {
            publish(
                ctx,
                certificate,
                EventType::Warning,
                "SecretNotUpdated",
                format!("The Secret's keystores cannot be written: {err}"),
                "UpdateSecret",
            )
            .await;
            return Ok(());
        }
    };
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
    ctx.writes.record_name::<Secret>(&namespace, secret_name);
    tracing::info!(
        namespace,
        certificate = certificate.name_any(),
        why = drift,
        "Secret updated to the spec without re-issuing"
    );
    publish(
        ctx,
        certificate,
        EventType::Normal,
        "SecretUpdated",
        format!("The Secret was updated to the spec without a new certificate: {drift}"),
        "UpdateSecret",
    )
    .await;
    Ok(())
}

/// The top-level status fields this controller owns besides its conditions.
const OWNED_STATUS_FIELDS: &[&str] = &["revision", "lastFailureTime", "failedIssuanceAttempts"];

/// `patch` (one of this controller's status applies) completed with the readiness that
/// follows it, computed as the readiness controller would: from `secret` when given (the
/// Secret just written), read otherwise. After an issuance the readiness controller then has
/// nothing left to write.
async fn with_readiness(
    ctx: &Context,
    certificate: &Certificate,
    certificates: &SharedCertificates,
    mut patch: Map<String, Value>,
    secret: Option<&Secret>,
    now: Timestamp,
) -> Result<(Value, ReadinessFields), CertificateError> {
    let mut after = certificate.clone();
    after.status = Some(status_after_apply(
        certificate.status.as_ref(),
        &patch,
        OWNED_STATUS_FIELDS,
    ));
    let facts = match secret {
        Some(secret) => gather_with_secret(ctx, &after, certificates, secret).await?,
        None => gather(ctx, &after, certificates).await?,
    };
    let ready = readiness_fields(
        certificate.status.as_ref(),
        &readiness(&facts.into_input(&after), now),
        certificate.metadata.generation,
        now,
    );
    ready.merge_into(&mut patch);
    Ok((Value::Object(patch), ready))
}

async fn fail(
    ctx: &Context,
    certificate: &Certificate,
    certificates: &SharedCertificates,
    request: &str,
    message: &str,
    now: Timestamp,
) -> Result<(), CertificateError> {
    let (status, ready) = with_readiness(
        ctx,
        certificate,
        certificates,
        failed_status(certificate, message, now),
        None,
        now,
    )
    .await?;
    apply_status(ctx, certificate, MANAGER_ISSUING, status).await?;
    if ready.loses_readiness() {
        publish_lost_readiness(certificate, &ready, ctx).await;
    }
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
    super::retry_after_error(CONTROLLER, &certificate, err, &ctx)
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
        key: crate::pki::keys::ParsedKey,
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
            key: k,
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
        let passwords = KeystorePasswords::default();
        let material = IssuedMaterial {
            certificate_pem: i.cert_pem.as_bytes(),
            ca_pem: Some(b"CA"),
            key_pem: b"KEY",
            key_pkcs8_der: b"",
            leaf: &i.leaf,
            passwords: &passwords,
            now: now(),
        };
        let p = secret_apply(&i.certificate, &material, None).unwrap();
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
        let p = secret_apply(&i.certificate, &no_ca, Some(&existing("Opaque"))).unwrap();
        assert!(
            p.get("type").is_none(),
            "a pre-existing Secret keeps its type"
        );
        assert!(p["data"].get(CA_CERT_KEY).is_none());
        let p = secret_apply(&i.certificate, &no_ca, Some(&existing(TLS_SECRET_TYPE))).unwrap();
        assert_eq!(p["type"], TLS_SECRET_TYPE, "re-asserted, never dropped");
    }

    #[test]
    fn extra_keys_only_when_configured() {
        use crate::api::{
            CertificateAdditionalOutputFormat, CertificateKeystores, JksKeystore, Pkcs12Keystore,
        };
        let mut i = issued();
        let key_pem = i.key.to_pem(PrivateKeyEncoding::Pkcs1).unwrap();
        let pkcs8 = i.key.to_der(PrivateKeyEncoding::Pkcs8).unwrap();
        let passwords = KeystorePasswords {
            jks: Some(Zeroizing::new("jks-pw".into())),
            pkcs12: Some(Zeroizing::new("p12-pw".into())),
        };
        let material = IssuedMaterial {
            certificate_pem: i.cert_pem.as_bytes(),
            ca_pem: Some(i.cert_pem.as_bytes()),
            key_pem: key_pem.as_bytes(),
            key_pkcs8_der: &pkcs8,
            leaf: &i.leaf,
            passwords: &passwords,
            now: now(),
        };
        let keys = |c: &Certificate, m: &IssuedMaterial| -> Vec<&'static str> {
            extra_secret_data(c, m).unwrap().into_keys().collect()
        };
        assert!(keys(&i.certificate, &material).is_empty());
        i.certificate.spec.additional_output_formats = Some(vec![
            CertificateAdditionalOutputFormat {
                type_: AdditionalOutputFormatType::Der,
            },
            CertificateAdditionalOutputFormat {
                type_: AdditionalOutputFormatType::CombinedPEM,
            },
        ]);
        i.certificate.spec.keystores = Some(CertificateKeystores {
            jks: Some(JksKeystore {
                create: false,
                password: Some("jks-pw".into()),
                ..Default::default()
            }),
            pkcs12: Some(Pkcs12Keystore {
                create: true,
                password: Some("p12-pw".into()),
                ..Default::default()
            }),
        });
        assert_eq!(
            keys(&i.certificate, &material),
            [
                DER_KEY,
                PKCS12_KEYSTORE_KEY,
                PKCS12_TRUSTSTORE_KEY,
                COMBINED_PEM_KEY
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        let data = extra_secret_data(&i.certificate, &material).unwrap();
        assert_eq!(
            data[DER_KEY].as_slice(),
            i.key.to_der(PrivateKeyEncoding::Pkcs1).unwrap().as_slice()
        );
        i.certificate
            .spec
            .keystores
            .as_mut()
            .unwrap()
            .jks
            .as_mut()
            .unwrap()
            .create = true;
        let no_ca = IssuedMaterial {
            ca_pem: None,
            ..material
        };
        let k = keys(&i.certificate, &no_ca);
        assert!(k.contains(&JKS_KEYSTORE_KEY) && k.contains(&PKCS12_KEYSTORE_KEY));
        assert!(!k.contains(&JKS_TRUSTSTORE_KEY) && !k.contains(&PKCS12_TRUSTSTORE_KEY));
        let p = secret_apply(&i.certificate, &no_ca, None).unwrap();
        assert_eq!(p["data"].as_object().unwrap().len(), 2 + 4);
    }

    #[test]
    fn password_secret_errors_name_secret_and_key() {
        let selector = SecretKeySelector {
            name: "pw".into(),
            key: Some("password".into()),
        };
        let err = password_from_secret("ns", &selector, None).unwrap_err();
        assert!(err.contains("ns/pw") && err.contains("password"), "{err}");
        let mut secret = Secret::default();
        let err = password_from_secret("ns", &selector, Some(&secret)).unwrap_err();
        assert!(
            err.contains("ns/pw") && err.contains("has no key \"password\""),
            "{err}"
        );
        secret.data = Some([("password".to_owned(), ByteString(b"hunter2".to_vec()))].into());
        let pw = password_from_secret("ns", &selector, Some(&secret)).unwrap();
        assert_eq!(pw.as_str(), "hunter2");
        let no_key = SecretKeySelector {
            key: None,
            ..selector
        };
        let err = password_from_secret("ns", &no_key, Some(&secret)).unwrap_err();
        assert!(err.contains("ns/pw") && err.contains("no key"), "{err}");
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
