//! Next private keys. An issuance's next key is held in memory (`next_keys`); the issuing
//! controller writes it into the Secret (`existing_next_key`).
//!
//! Where a lost key costs only a signature made here (certsmith's CA and SelfSigned issuers),
//! the request manager makes it with the request (`next_key_or_new`), and that is all: no
//! temporary Secret and no `status.nextPrivateKeySecretName`, four API writes fewer per
//! issuance, and a restart mid-issuance makes a new key and request. Where it would waste more
//! (an ACME order, which also counts against the server's rate limits, or an external
//! issuer's certificate), the key manager makes it and also keeps it as cert-manager keeps
//! every next key: a temporary Secret (generateName `<certificate>-`, label
//! `cert-manager.io/next-private-key: "true"`, controlled by the Certificate) named in
//! `status.nextPrivateKeySecretName`, whose write wakes the request manager. A restart then
//! takes it back, and the request and its Order still serve. (Two controllers, as before this
//! change, so that under a burst the request manager's reconcile stays one create.)
//!
//! The key manager also drops the held keys of revisions already reached and, once a
//! Certificate is not Issuing, deletes its temporary key Secrets (its own, or cert-manager's)
//! and clears the status field. Those Secrets are watched as metadata only, selected by label.
//! Key bytes never reach a log, an Event or an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::SharedCertificates;
use super::{CertificateError, MANAGER_KEYS, apply_status, backoff_key, get_secret, next_revision};
use crate::api::{
    ANN_CERTIFICATE_REVISION, CLUSTER_ISSUER_KIND, CONDITION_ISSUING, Certificate, ClusterIssuer,
    ConditionStatus, GROUP, ISSUER_KIND, Issuer, IssuerReference, IssuerSpec,
    LABEL_NEXT_PRIVATE_KEY, PrivateKeyRotationPolicy, TLS_PRIVATE_KEY_KEY, find_condition,
};
use crate::controller::Context;
use crate::pki::keys::{KeySpec, ParsedKey, key_matches_spec, parse_private_key_pem};

const CONTROLLER: &str = "certificates-keymanager";

/// Runs the key manager until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shared: Arc<SharedCertificates>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let selector = format!("{LABEL_NEXT_PRIVATE_KEY}=true");
    // Metadata only (`PartialObjectMeta`): no key material passes through the watch.
    let (temporary, writer) = reflector::store();
    let temporary_events = reflector(
        writer,
        watcher(
            ctx.watched::<PartialObjectMeta<Secret>>(),
            watcher::Config::default().labels(&selector),
        )
        .default_backoff()
        .modify(crate::controller::drop_managed_fields),
    )
    .touched_objects();
    shared
        .controller()
        .owns_stream(temporary_events)
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed(CONTROLLER, &ctx, move |certificate, ctx| {
                reconcile(certificate, ctx, temporary.clone())
            }),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome(CONTROLLER, r))
        .await;
}

/// Whether the Certificate's `Issuing` condition is `True`.
pub(super) fn is_issuing(certificate: &Certificate) -> bool {
    certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_ISSUING))
        .is_some_and(|c| c.status == ConditionStatus::True)
}

/// Whether `meta` names `certificate` (by UID) as its controlling owner.
pub(super) fn controlled_by(meta: &ObjectMeta, certificate: &Certificate) -> bool {
    let Some(uid) = certificate.metadata.uid.as_deref() else {
        return false;
    };
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// Publishes an Event about `certificate`; a failure to publish is only logged.
pub(super) async fn publish(
    ctx: &Context,
    certificate: &Certificate,
    type_: EventType,
    reason: &str,
    note: String,
    action: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(err) = ctx
        .recorder
        .publish(&event, &certificate.object_ref(&()))
        .await
    {
        tracing::warn!(%err, "publishing an Event failed");
    }
}

/// Whether a temporary Secret's `tls.key` can be the next key: it reads and it is what the
/// spec asks for. `Err` says why not, without key material.
pub(super) fn check_next_key(pem: Option<&[u8]>, spec: &KeySpec) -> Result<ParsedKey, String> {
    let pem = pem.filter(|p| !p.is_empty()).ok_or("it holds no tls.key")?;
    let key = parse_private_key_pem(pem).map_err(|e| e.to_string())?;
    if !key_matches_spec(key.info(), spec) {
        return Err("its key does not match spec.privateKey".into());
    }
    Ok(key)
}

/// With rotationPolicy Never, the current Secret's key when it is valid and matches the spec
/// (the next key is then that key); `None` otherwise.
pub(super) fn reusable_current_key(
    policy: PrivateKeyRotationPolicy,
    current_tls_key: Option<&[u8]>,
    spec: &KeySpec,
) -> Option<ParsedKey> {
    if policy != PrivateKeyRotationPolicy::Never {
        return None;
    }
    let key = parse_private_key_pem(current_tls_key.filter(|p| !p.is_empty())?).ok()?;
    key_matches_spec(key.info(), spec).then_some(key)
}

/// Whether a next key for `issuer_ref` must survive a restart (be kept in a temporary Secret
/// too): unless the issuer is certsmith's own CA or SelfSigned issuer, where a lost key costs
/// one more signature made here. `issuer` is the referenced Issuer or ClusterIssuer's spec,
/// `None` when it could not be read (then it must). Pure.
pub(super) fn key_must_survive_restart(
    issuer_ref: &IssuerReference,
    issuer: Option<&IssuerSpec>,
) -> bool {
    if issuer_ref.group_or_default() != GROUP {
        return true; // an external issuer: its certificates may be billed or rate limited
    }
    !issuer.is_some_and(|i| i.acme.is_none() && (i.ca.is_some() || i.self_signed.is_some()))
}

/// Whether a temporary key Secret may hold the next key of revision `revision`: it says it was
/// made for that revision, or (made by cert-manager) says nothing. A Secret of an earlier
/// issuance, not yet deleted, must not hand its key to the next one.
pub(super) fn temporary_for_revision(
    annotations: &BTreeMap<String, String>,
    revision: i32,
) -> bool {
    annotations
        .get(ANN_CERTIFICATE_REVISION)
        .is_none_or(|r| r.parse() == Ok(revision))
}

/// The next key of the issuance `certificate` is in, when there is one to take: held in
/// memory (`next_keys`); else the key of a temporary Secret named in
/// `status.nextPrivateKeySecretName` (left by an earlier certsmith or by cert-manager); else,
/// with rotationPolicy Never, the current Secret's key. It must match `spec.privateKey`. What
/// is taken from a Secret is held from then on.
pub(super) async fn existing_next_key(
    ctx: &Context,
    certificate: &Certificate,
    spec: &KeySpec,
) -> Result<Option<Arc<ParsedKey>>, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let uid = certificate.metadata.uid.as_deref().unwrap_or_default();
    let revision = next_revision(certificate);
    if let Some(key) = ctx.next_keys.get(uid, revision)
        && key_matches_spec(key.info(), spec)
    {
        return Ok(Some(key));
    }
    let recorded = certificate
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.as_deref());
    if let Some(name) = recorded {
        let secret = get_secret(ctx, &namespace, name).await?;
        if let Some(secret) = secret.filter(|s| {
            controlled_by(&s.metadata, certificate)
                && s.metadata.deletion_timestamp.is_none()
                && temporary_for_revision(s.annotations(), revision)
        }) {
            match check_next_key(private_key_pem(&secret), spec) {
                Ok(key) => {
                    let key = Arc::new(key);
                    ctx.next_keys.insert(uid, revision, key.clone());
                    return Ok(Some(key));
                }
                Err(why) => {
                    tracing::debug!(namespace, secret = name, why, "temporary key not usable");
                }
            }
        }
    }
    let policy = certificate
        .spec
        .private_key
        .as_ref()
        .and_then(|p| p.rotation_policy)
        .unwrap_or_default();
    if policy == PrivateKeyRotationPolicy::Never {
        let current = get_secret(ctx, &namespace, &certificate.spec.secret_name).await?;
        let pem = current.as_ref().and_then(private_key_pem);
        if let Some(key) = reusable_current_key(policy, pem, spec) {
            let key = Arc::new(key);
            ctx.next_keys.insert(uid, revision, key.clone());
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// The `tls.key` bytes of a Secret, if it has any.
fn private_key_pem(secret: &Secret) -> Option<&[u8]> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(TLS_PRIVATE_KEY_KEY))
        .map(|b| b.0.as_slice())
}

/// The request manager's next key: `existing_next_key`, or else, when the key need not survive
/// a restart, a new key held in memory only. `None` when the key manager must make it (kept in
/// a temporary Secret too; its status write wakes the request manager).
pub(super) async fn next_key_or_new(
    ctx: &Context,
    certificate: &Certificate,
    spec: &KeySpec,
) -> Result<Option<Arc<ParsedKey>>, CertificateError> {
    if let Some(key) = existing_next_key(ctx, certificate, spec).await? {
        return Ok(Some(key));
    }
    if must_survive_restart(ctx, certificate).await {
        return Ok(None);
    }
    let key = Arc::new(generate(*spec).await?);
    hold(ctx, certificate, &key, None);
    Ok(Some(key))
}

/// Holds `key` as `certificate`'s next key, and says so in the log (not in an Event: the key
/// is an internal step of the issuance whose Issuing and Issued Events bracket it, and every
/// Event is an API write).
fn hold(ctx: &Context, certificate: &Certificate, key: &Arc<ParsedKey>, secret: Option<&str>) {
    let uid = certificate.metadata.uid.as_deref().unwrap_or_default();
    ctx.next_keys
        .insert(uid, next_revision(certificate), key.clone());
    tracing::info!(
        namespace = certificate.namespace(),
        certificate = certificate.name_any(),
        revision = next_revision(certificate),
        temporary_secret = secret,
        "made the next private key"
    );
}

/// `key_must_survive_restart` for the issuer `certificate` names.
async fn must_survive_restart(ctx: &Context, certificate: &Certificate) -> bool {
    let issuer = issuer_spec(ctx, certificate).await;
    key_must_survive_restart(&certificate.spec.issuer_ref, issuer.as_ref())
}

/// The spec of the Issuer or ClusterIssuer `certificate` names, if it is certsmith's: from the
/// issuer controllers' caches, else (not started yet, or too new for them) read from the API.
async fn issuer_spec(ctx: &Context, certificate: &Certificate) -> Option<IssuerSpec> {
    let issuer_ref = &certificate.spec.issuer_ref;
    if issuer_ref.group_or_default() != GROUP {
        return None;
    }
    let namespace = certificate.namespace().unwrap_or_default();
    let cached = match issuer_ref.kind_or_default() {
        ISSUER_KIND => ctx.issuers.issuers.get().and_then(|s| {
            s.get(&ObjectRef::new(&issuer_ref.name).within(&namespace))
                .map(|i| i.spec.clone())
        }),
        CLUSTER_ISSUER_KIND => ctx.issuers.cluster_issuers.get().and_then(|s| {
            s.get(&ObjectRef::new(&issuer_ref.name))
                .map(|i| i.spec.clone())
        }),
        _ => None,
    };
    if cached.is_some() {
        return cached;
    }
    let found = match issuer_ref.kind_or_default() {
        ISSUER_KIND => Api::<Issuer>::namespaced(ctx.client.clone(), &namespace)
            .get_opt(&issuer_ref.name)
            .await
            .map(|i| i.map(|i| i.spec)),
        CLUSTER_ISSUER_KIND => Api::<ClusterIssuer>::all(ctx.client.clone())
            .get_opt(&issuer_ref.name)
            .await
            .map(|i| i.map(|i| i.spec)),
        _ => return None,
    };
    found.unwrap_or_else(|err| {
        tracing::debug!(%err, "reading the issuer failed; keeping the next key in a Secret");
        None
    })
}

/// Issuing, for an issuer whose keys must survive a restart: makes the next key, keeps it in a
/// temporary Secret named in status, and holds it. Nothing when there is a next key already, or
/// when the request manager makes it (held in memory only).
async fn make_kept_key(ctx: &Context, certificate: &Certificate) -> Result<(), CertificateError> {
    // A spec that names no valid key: the request manager publishes why.
    let Ok(spec) = KeySpec::from_private_key(certificate.spec.private_key.as_ref()) else {
        return Ok(());
    };
    if existing_next_key(ctx, certificate, &spec).await?.is_some()
        || !must_survive_restart(ctx, certificate).await
    {
        return Ok(());
    }
    let key = Arc::new(generate(spec).await?);
    let name = store_in_temporary_secret(ctx, certificate, &key, &spec).await?;
    hold(ctx, certificate, &key, Some(&name));
    Ok(())
}

/// Keeps `key` in a new temporary Secret as well, and names it in
/// `status.nextPrivateKeySecretName`, so that a restart takes it back. Returns its name.
async fn store_in_temporary_secret(
    ctx: &Context,
    certificate: &Certificate,
    key: &ParsedKey,
    spec: &KeySpec,
) -> Result<String, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let pem = key
        .to_pem(spec.encoding)
        .map_err(|e| CertificateError::Key(e.to_string()))?;
    let secret = temp_secret(certificate, next_revision(certificate), pem.as_bytes());
    drop(pem);
    let created = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
        .create(
            &PostParams {
                dry_run: false,
                field_manager: Some(MANAGER_KEYS.into()),
            },
            &secret,
        )
        .await
        .map_err(|source| CertificateError::Write {
            what: format!("a temporary private key Secret in {namespace}"),
            source,
        })?;
    let name = created.name_any();
    ctx.writes.record_name::<Secret>(&namespace, &name);
    apply_status(
        ctx,
        certificate,
        MANAGER_KEYS,
        json!({ "nextPrivateKeySecretName": name }),
    )
    .await?;
    Ok(name)
}

/// The temporary Secret holding `key_pem` as the next key of `certificate`'s `revision`.
pub(super) fn temp_secret(certificate: &Certificate, revision: i32, key_pem: &[u8]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", certificate.name_any())),
            namespace: certificate.namespace(),
            labels: Some([(LABEL_NEXT_PRIVATE_KEY.to_owned(), "true".to_owned())].into()),
            annotations: Some([(ANN_CERTIFICATE_REVISION.to_owned(), revision.to_string())].into()),
            owner_references: certificate.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        data: Some([(TLS_PRIVATE_KEY_KEY.to_owned(), ByteString(key_pem.to_vec()))].into()),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// The cache of temporary key Secrets' metadata.
type TemporarySecrets = Store<PartialObjectMeta<Secret>>;

async fn reconcile(
    certificate: Arc<Certificate>,
    ctx: Arc<Context>,
    temporary: TemporarySecrets,
) -> Result<Action, CertificateError> {
    let action = reconcile_inner(&certificate, &ctx, &temporary).await?;
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(action)
}

async fn reconcile_inner(
    certificate: &Certificate,
    ctx: &Context,
    temporary: &TemporarySecrets,
) -> Result<Action, CertificateError> {
    // The keys of revisions already reached are in the Secret, or were never used.
    let revision = certificate
        .status
        .as_ref()
        .and_then(|s| s.revision)
        .unwrap_or(0);
    if let Some(uid) = certificate.metadata.uid.as_deref() {
        ctx.next_keys.forget_up_to(uid, revision);
    }

    if is_issuing(certificate) {
        make_kept_key(ctx, certificate).await?;
        return Ok(Action::await_change());
    }

    // Temporary key Secrets, from the metadata cache: deleted once the Certificate is not
    // Issuing (while it is, the one just made may not be named in the cached status yet).
    let namespace = certificate.namespace().unwrap_or_default();
    let recorded = certificate
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.clone());
    let mut owned: Vec<(String, Option<String>)> = temporary
        .state()
        .into_iter()
        .filter(|s| {
            s.metadata.namespace.as_deref() == Some(namespace.as_str())
                && s.metadata.deletion_timestamp.is_none()
                && controlled_by(&s.metadata, certificate)
        })
        .map(|s| (s.name_any(), s.metadata.uid.clone()))
        .collect();
    owned.sort();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    for (name, uid) in owned {
        delete_secret(&secrets, &namespace, &name, uid).await?;
    }
    if recorded.is_some() {
        clear_recorded_secret(ctx, certificate).await?;
    }
    Ok(Action::await_change())
}

/// Removes `status.nextPrivateKeySecretName`. A merge patch, not an apply: the field is
/// cert-manager's (or an earlier certsmith's key manager's), and an apply that leaves it out
/// removes it only from fields this manager owns.
async fn clear_recorded_secret(
    ctx: &Context,
    certificate: &Certificate,
) -> Result<(), CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let name = certificate.name_any();
    let patch = json!({ "status": { "nextPrivateKeySecretName": null } });
    let params = PatchParams {
        field_manager: Some(MANAGER_KEYS.into()),
        ..Default::default()
    };
    Api::<Certificate>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(&name, &params, &Patch::Merge(&patch))
        .await
        .map(|written| ctx.writes.record(&written))
        .map_err(|source| CertificateError::Write {
            what: format!("the status of Certificate {namespace}/{name}"),
            source,
        })
}

/// Generates a key off the async runtime (RSA 4096/8192 take seconds).
async fn generate(spec: KeySpec) -> Result<ParsedKey, CertificateError> {
    tokio::task::spawn_blocking(move || ParsedKey::generate(&spec))
        .await
        .map_err(|_| CertificateError::Key("the private key generation task failed".into()))?
        .map_err(|e| CertificateError::Key(e.to_string()))
}

/// Deletes a temporary key Secret.
async fn delete_secret(
    secrets: &Api<Secret>,
    namespace: &str,
    name: &str,
    uid: Option<String>,
) -> Result<(), CertificateError> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid,
            resource_version: None,
        }),
        ..Default::default()
    };
    match secrets.delete(name, &params).await {
        Ok(_) => {
            tracing::info!(
                namespace,
                secret = name,
                "deleted temporary private key Secret"
            );
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(source) => Err(CertificateError::Delete {
            what: format!("Secret {namespace}/{name}"),
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
    use super::*;
    use crate::api::{
        CertificatePrivateKey, CertificateSpec, CertificateStatus, Condition, PrivateKeyAlgorithm,
        PrivateKeyEncoding,
    };
    use crate::pki::csr::tests::key;

    pub(crate) fn certificate(issuing: Option<ConditionStatus>) -> Certificate {
        let mut c = Certificate::new(
            "app",
            CertificateSpec {
                secret_name: "app-tls".into(),
                dns_names: Some(vec!["app.example.com".into()]),
                ..Default::default()
            },
        );
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some("uid-1".into());
        c.status = issuing.map(|status| CertificateStatus {
            conditions: Some(vec![Condition {
                type_: CONDITION_ISSUING.into(),
                status,
                ..Default::default()
            }]),
            ..Default::default()
        });
        c
    }

    fn ec256() -> KeySpec {
        KeySpec::from_private_key(Some(&CertificatePrivateKey {
            algorithm: Some(PrivateKeyAlgorithm::Ecdsa),
            ..Default::default()
        }))
        .unwrap()
    }

    #[test]
    fn issuing_is_only_true() {
        assert!(is_issuing(&certificate(Some(ConditionStatus::True))));
        assert!(!is_issuing(&certificate(Some(ConditionStatus::False))));
        assert!(!is_issuing(&certificate(None)));
    }

    #[test]
    fn keys_survive_restarts_unless_signed_here() {
        use crate::api::{AcmeIssuer, CaIssuer, SelfSignedIssuer};
        let ours = |kind: &str| IssuerReference {
            name: "x".into(),
            kind: Some(kind.into()),
            group: None,
        };
        let ca = IssuerSpec {
            ca: Some(CaIssuer {
                secret_name: "ca".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let self_signed = IssuerSpec {
            self_signed: Some(SelfSignedIssuer::default()),
            ..Default::default()
        };
        let acme = IssuerSpec {
            acme: Some(AcmeIssuer::default()),
            ..Default::default()
        };
        let external = IssuerReference {
            name: "x".into(),
            kind: Some("AWSPCAClusterIssuer".into()),
            group: Some("awspca.cert-manager.io".into()),
        };
        let cases: &[(&IssuerReference, Option<&IssuerSpec>, bool)] = &[
            (&ours("Issuer"), Some(&ca), false),
            (&ours("ClusterIssuer"), Some(&self_signed), false),
            (&ours("Issuer"), Some(&acme), true),
            (&ours("Issuer"), None, true),
            (&external, Some(&ca), true),
            (&external, None, true),
        ];
        for (issuer_ref, issuer, want) in cases {
            assert_eq!(
                key_must_survive_restart(issuer_ref, *issuer),
                *want,
                "{issuer_ref:?} {issuer:?}"
            );
        }
    }

    #[test]
    fn temporary_secret_shape_and_revision() {
        let cert = certificate(Some(ConditionStatus::True));
        let s = temp_secret(&cert, 3, b"PEM");
        assert_eq!(s.metadata.generate_name.as_deref(), Some("app-"));
        assert_eq!(s.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            s.metadata.labels.as_ref().unwrap()[LABEL_NEXT_PRIVATE_KEY],
            "true"
        );
        assert!(controlled_by(&s.metadata, &cert));
        let mut other = cert.clone();
        other.metadata.uid = Some("uid-2".into());
        assert!(!controlled_by(&s.metadata, &other));
        assert_eq!(s.data.as_ref().unwrap()[TLS_PRIVATE_KEY_KEY].0, b"PEM");
        let annotations = s.metadata.annotations.clone().unwrap();
        assert!(temporary_for_revision(&annotations, 3));
        assert!(
            !temporary_for_revision(&annotations, 4),
            "an earlier issuance's Secret"
        );
        assert!(
            temporary_for_revision(&BTreeMap::new(), 4),
            "cert-manager's Secrets name no revision"
        );
    }

    #[test]
    fn next_key_must_match_the_spec() {
        let ec = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let pem = ec.to_pem(PrivateKeyEncoding::Pkcs1).unwrap();
        let read = check_next_key(Some(pem.as_bytes()), &ec256()).expect("usable");
        assert_eq!(read.info().public_key_der, ec.info().public_key_der);
        let rsa = KeySpec::default();
        assert!(check_next_key(Some(pem.as_bytes()), &rsa).is_err());
        assert!(check_next_key(None, &ec256()).is_err());
        assert!(check_next_key(Some(b""), &ec256()).is_err());
        let Err(err) = check_next_key(Some(b"garbage"), &ec256()) else {
            panic!("garbage is refused");
        };
        assert!(!err.contains("PRIVATE KEY-----"), "{err}");
    }

    #[test]
    fn never_reuses_only_a_valid_matching_current_key() {
        let ec = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let pem = ec.to_pem(PrivateKeyEncoding::Pkcs8).unwrap();
        let reused = reusable_current_key(
            PrivateKeyRotationPolicy::Never,
            Some(pem.as_bytes()),
            &ec256(),
        )
        .expect("reused");
        assert_eq!(reused.info().public_key_der, ec.info().public_key_der);
        assert!(
            reusable_current_key(
                PrivateKeyRotationPolicy::Always,
                Some(pem.as_bytes()),
                &ec256()
            )
            .is_none()
        );
        assert!(
            reusable_current_key(
                PrivateKeyRotationPolicy::Never,
                Some(pem.as_bytes()),
                &KeySpec::default()
            )
            .is_none()
        );
        assert!(
            reusable_current_key(PrivateKeyRotationPolicy::Never, Some(b"junk"), &ec256())
                .is_none()
        );
        assert!(reusable_current_key(PrivateKeyRotationPolicy::Never, None, &ec256()).is_none());
    }
}
