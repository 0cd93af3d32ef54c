//! Next private keys. An issuance's next key is held in memory (`next_keys`): the request
//! manager makes it with the request (`next_key_or_new`), the issuing controller writes it
//! into the Secret (`existing_next_key`). No temporary Secret and no
//! `status.nextPrivateKeySecretName` are written: that saved four API writes per issuance.
//!
//! The key manager controller drops the keys of revisions already reached, and deletes the
//! temporary key Secrets (label `cert-manager.io/next-private-key: "true"`, controlled by the
//! Certificate) that an earlier certsmith or cert-manager left, keeping the one named in
//! status while an issuance is in progress (its key is taken, so the request made from it
//! still serves). Those Secrets are watched as metadata only, selected by label.
//! Key bytes never reach a log, an Event or an error.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::SharedCertificates;
use super::{CertificateError, MANAGER_KEYS, backoff_key, get_secret, next_revision};
use crate::api::{
    CONDITION_ISSUING, Certificate, ConditionStatus, LABEL_NEXT_PRIVATE_KEY,
    PrivateKeyRotationPolicy, TLS_PRIVATE_KEY_KEY, find_condition,
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

/// The temporary key Secrets to delete: all of them when the Certificate is not Issuing, else
/// all but the one `status.nextPrivateKeySecretName` names (its key may serve the issuance in
/// progress, see `existing_next_key`).
pub(super) fn temporary_to_delete(
    issuing: bool,
    owned: &[String],
    recorded: Option<&str>,
) -> Vec<String> {
    owned
        .iter()
        .filter(|n| !issuing || Some(n.as_str()) != recorded)
        .cloned()
        .collect()
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
        if let Some(secret) = secret.filter(|s| controlled_by(&s.metadata, certificate)) {
            let pem = secret
                .data
                .as_ref()
                .and_then(|d| d.get(TLS_PRIVATE_KEY_KEY))
                .map(|b| b.0.as_slice());
            match check_next_key(pem, spec) {
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
        let pem = current
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(TLS_PRIVATE_KEY_KEY))
            .map(|b| b.0.as_slice());
        if let Some(key) = reusable_current_key(policy, pem, spec) {
            let key = Arc::new(key);
            ctx.next_keys.insert(uid, revision, key.clone());
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// `existing_next_key`, or else a new key, held from then on.
pub(super) async fn next_key_or_new(
    ctx: &Context,
    certificate: &Certificate,
    spec: &KeySpec,
) -> Result<Arc<ParsedKey>, CertificateError> {
    if let Some(key) = existing_next_key(ctx, certificate, spec).await? {
        return Ok(key);
    }
    let key = Arc::new(generate(*spec).await?);
    let uid = certificate.metadata.uid.as_deref().unwrap_or_default();
    ctx.next_keys
        .insert(uid, next_revision(certificate), key.clone());
    // A log line, not an Event: the key is an internal step of the issuance whose Issuing and
    // Issued Events bracket it, and every Event is an API write.
    tracing::info!(
        namespace = certificate.namespace(),
        certificate = certificate.name_any(),
        revision = next_revision(certificate),
        "made the next private key (held in memory)"
    );
    Ok(key)
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

    // Temporary key Secrets, from the metadata cache: certsmith no longer makes them, but an
    // earlier version or cert-manager may have left some.
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
    let names: Vec<String> = owned.iter().map(|(n, _)| n.clone()).collect();
    let issuing = is_issuing(certificate);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    for name in temporary_to_delete(issuing, &names, recorded.as_deref()) {
        let uid = owned
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, u)| u.clone());
        delete_secret(&secrets, &namespace, &name, uid).await?;
    }
    if !issuing && recorded.is_some() {
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

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

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
    fn temporary_secrets_to_delete() {
        let owned = names(&["a", "b"]);
        let cases: &[(bool, Option<&str>, &[&str])] = &[
            // Not issuing: every one goes, the recorded one too.
            (false, Some("a"), &["a", "b"]),
            (false, None, &["a", "b"]),
            // Issuing: the recorded one may hold the key in use.
            (true, Some("b"), &["a"]),
            (true, Some("gone"), &["a", "b"]),
            (true, None, &["a", "b"]),
        ];
        for (issuing, recorded, want) in cases {
            assert_eq!(
                temporary_to_delete(*issuing, &owned, *recorded),
                names(want),
                "issuing {issuing}, recorded {recorded:?}"
            );
        }
        assert!(temporary_to_delete(false, &[], None).is_empty());
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
