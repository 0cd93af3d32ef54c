//! Key manager: while a Certificate is `Issuing`, keeps the next private key in one temporary
//! Secret (generateName `<certificate>-`, label `cert-manager.io/next-private-key: "true"`,
//! controlled by the Certificate, key `tls.key`) and records its name in
//! `status.nextPrivateKeySecretName`. When the Certificate is not Issuing, deletes those
//! Secrets and drops the status field.
//!
//! Temporary Secrets are watched and cached as metadata only, selected by label: no other
//! Secret is watched, and no key material passes through the watch. Which temporary Secrets a
//! Certificate has is read from that cache (a LIST per reconcile read every Secret of the
//! namespace on the server). Key bytes never reach a log, an Event or an error.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::SharedCertificates;
use super::{CertificateError, MANAGER_KEYS, apply_status, backoff_key, get_secret};
use crate::api::{
    CONDITION_ISSUING, Certificate, ConditionStatus, LABEL_NEXT_PRIVATE_KEY,
    PrivateKeyRotationPolicy, TLS_PRIVATE_KEY_KEY, find_condition,
};
use crate::controller::Context;
use crate::pki::keys::{
    KeySpec, ParsedKey, key_matches_spec, parse_private_key_pem, public_keys_equal,
};

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

/// The temporary Secret to keep, among those the Certificate controls (oldest first): the
/// one named in status if it is among them, else the oldest.
pub(super) fn choose_candidate<'a>(owned: &'a [String], recorded: Option<&str>) -> Option<&'a str> {
    owned
        .iter()
        .find(|n| Some(n.as_str()) == recorded)
        .or_else(|| owned.first())
        .map(String::as_str)
}

/// Whether a temporary Secret's `tls.key` can be the next key: it reads, it is what the spec
/// asks for, and (rotationPolicy Never with a usable current key) it is that same key.
/// `Err` says why not, without key material.
pub(super) fn check_next_key(
    pem: Option<&[u8]>,
    spec: &KeySpec,
    required_public_key: Option<&[u8]>,
) -> Result<(), String> {
    let pem = pem.filter(|p| !p.is_empty()).ok_or("it holds no tls.key")?;
    let key = parse_private_key_pem(pem).map_err(|e| e.to_string())?;
    check_parsed_key(&key, spec, required_public_key)
}

/// `check_next_key` for a key already read.
pub(super) fn check_parsed_key(
    key: &ParsedKey,
    spec: &KeySpec,
    required_public_key: Option<&[u8]>,
) -> Result<(), String> {
    if !key_matches_spec(key.info(), spec) {
        return Err("its key does not match spec.privateKey".into());
    }
    if let Some(required) = required_public_key
        && !public_keys_equal(&key.info().public_key_der, required)
    {
        return Err(
            "rotationPolicy is Never and its key is not the key of the current Secret".into(),
        );
    }
    Ok(())
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

/// What to do with the temporary Secrets of a Certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KeyPlan {
    /// Temporary Secrets to delete.
    pub delete: Vec<String>,
    /// The one to keep as the next key, if any.
    pub keep: Option<String>,
    /// Create a new one (no usable one is kept).
    pub create: bool,
}

/// Decides from the Certificate's temporary Secrets (`owned`) and, when one was checked,
/// the candidate's name and whether its key is usable.
pub(super) fn plan(issuing: bool, owned: &[String], candidate: Option<(&str, bool)>) -> KeyPlan {
    if !issuing {
        return KeyPlan {
            delete: owned.to_vec(),
            keep: None,
            create: false,
        };
    }
    let keep = candidate
        .filter(|(_, usable)| *usable)
        .map(|(n, _)| n.to_owned());
    KeyPlan {
        delete: owned
            .iter()
            .filter(|n| Some(n.as_str()) != keep.as_deref())
            .cloned()
            .collect(),
        create: keep.is_none(),
        keep,
    }
}

/// The temporary Secret holding `key_pem` as the next key of `certificate`.
pub(super) fn temp_secret(certificate: &Certificate, key_pem: &[u8]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", certificate.name_any())),
            namespace: certificate.namespace(),
            labels: Some([(LABEL_NEXT_PRIVATE_KEY.to_owned(), "true".to_owned())].into()),
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
    let namespace = certificate.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let recorded = certificate
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.clone());

    // Gather: the temporary Secrets this Certificate controls, from the metadata cache. The
    // one named in status may be too new for the cache (this process just made it): a GET
    // finds it then, so a second one is not made.
    let mut metas: Vec<Arc<PartialObjectMeta<Secret>>> = temporary
        .state()
        .into_iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .collect();
    if let Some(name) = recorded.as_deref()
        && !metas
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some(name))
        && let Some(secret) = get_secret(ctx, &namespace, name).await?
    {
        metas.push(Arc::new(PartialObjectMeta {
            metadata: secret.metadata,
            ..Default::default()
        }));
    }
    let mut owned: Vec<(Option<jiff::Timestamp>, String, Option<String>)> = metas
        .iter()
        .filter(|s| {
            s.metadata.deletion_timestamp.is_none() && controlled_by(&s.metadata, certificate)
        })
        .map(|s| {
            (
                s.metadata.creation_timestamp.as_ref().map(|t| t.0),
                s.name_any(),
                s.metadata.uid.clone(),
            )
        })
        .collect();
    owned.sort();
    let names: Vec<String> = owned.iter().map(|(_, n, _)| n.clone()).collect();
    let uid_of = |name: &str| {
        owned
            .iter()
            .find(|(_, n, _)| n == name)
            .and_then(|(_, _, u)| u.clone())
    };

    if !is_issuing(certificate) {
        let plan = plan(false, &names, None);
        for name in &plan.delete {
            delete_secret(ctx, &secrets, &namespace, name, uid_of(name)).await?;
        }
        // Named in status but already gone from the cache: its key is no longer wanted.
        if let Some(name) = recorded.as_deref() {
            ctx.next_keys.remove(&namespace, name);
        }
        if recorded.is_some() {
            apply_status(ctx, certificate, MANAGER_KEYS, json!({})).await?;
        }
        return Ok(Action::await_change());
    }

    let key_spec = match KeySpec::from_private_key(certificate.spec.private_key.as_ref()) {
        Ok(spec) => spec,
        Err(err) => {
            publish(
                ctx,
                certificate,
                EventType::Warning,
                "InvalidPrivateKey",
                err.to_string(),
                "GenerateKey",
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let policy = certificate
        .spec
        .private_key
        .as_ref()
        .and_then(|p| p.rotation_policy)
        .unwrap_or_default();
    // rotationPolicy Never: the next key is the current Secret's key, when it is usable.
    let current_key = if policy == PrivateKeyRotationPolicy::Never {
        let current = get_secret(ctx, &namespace, &certificate.spec.secret_name).await?;
        let pem = current
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(TLS_PRIVATE_KEY_KEY))
            .map(|b| b.0.as_slice());
        reusable_current_key(policy, pem, &key_spec)
    } else {
        None
    };
    let required_public_key = current_key
        .as_ref()
        .map(|k| k.info().public_key_der.clone());

    let candidate = match choose_candidate(&names, recorded.as_deref()) {
        Some(name) => {
            let verdict = match ctx.next_keys.get(&namespace, name) {
                Some(key) => check_parsed_key(&key, &key_spec, required_public_key.as_deref()),
                None => {
                    let secret = get_secret(ctx, &namespace, name).await?;
                    let pem = secret
                        .as_ref()
                        .and_then(|s| s.data.as_ref())
                        .and_then(|d| d.get(TLS_PRIVATE_KEY_KEY))
                        .map(|b| b.0.as_slice());
                    check_next_key(pem, &key_spec, required_public_key.as_deref())
                }
            };
            if let Err(why) = &verdict {
                ctx.next_keys.remove(&namespace, name);
                tracing::info!(
                    namespace,
                    secret = name,
                    why,
                    "replacing the temporary private key Secret"
                );
            }
            Some((name, verdict.is_ok()))
        }
        None => None,
    };
    let plan = plan(true, &names, candidate);
    for name in &plan.delete {
        delete_secret(ctx, &secrets, &namespace, name, uid_of(name)).await?;
    }
    let next_name = match plan.keep {
        Some(name) => name,
        None => {
            let (key, reused) = match current_key {
                Some(key) => (key, true),
                None => (generate(key_spec).await?, false),
            };
            let pem = key
                .to_pem(key_spec.encoding)
                .map_err(|e| CertificateError::Key(e.to_string()))?;
            let created = secrets
                .create(
                    &PostParams {
                        dry_run: false,
                        field_manager: Some(MANAGER_KEYS.into()),
                    },
                    &temp_secret(certificate, pem.as_bytes()),
                )
                .await
                .map_err(|source| CertificateError::Write {
                    what: format!("a temporary private key Secret in {namespace}"),
                    source,
                })?;
            let name = created.name_any();
            ctx.writes.record_name::<Secret>(&namespace, &name);
            ctx.next_keys.insert(&namespace, &name, Arc::new(key));
            // A log line, not an Event: the key is an internal step of the issuance whose
            // Issuing and Issued Events bracket it, and every Event is an API write.
            tracing::info!(
                namespace,
                certificate = certificate.name_any(),
                secret = name,
                reused,
                "next private key stored in a temporary Secret"
            );
            name
        }
    };
    if recorded.as_deref() != Some(next_name.as_str()) {
        apply_status(
            ctx,
            certificate,
            MANAGER_KEYS,
            json!({ "nextPrivateKeySecretName": next_name }),
        )
        .await?;
    }
    Ok(Action::await_change())
}

/// Generates a key off the async runtime (RSA 4096/8192 take seconds).
async fn generate(spec: KeySpec) -> Result<ParsedKey, CertificateError> {
    tokio::task::spawn_blocking(move || ParsedKey::generate(&spec))
        .await
        .map_err(|_| CertificateError::Key("the private key generation task failed".into()))?
        .map_err(|e| CertificateError::Key(e.to_string()))
}

/// Deletes a temporary Secret and forgets the key it held.
async fn delete_secret(
    ctx: &Context,
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
    ctx.next_keys.remove(namespace, name);
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
    fn candidate_prefers_the_recorded_one() {
        let owned = names(&["a", "b"]);
        assert_eq!(choose_candidate(&owned, Some("b")), Some("b"));
        assert_eq!(choose_candidate(&owned, Some("gone")), Some("a"));
        assert_eq!(choose_candidate(&owned, None), Some("a"));
        assert_eq!(choose_candidate(&[], Some("b")), None);
    }

    #[test]
    fn plan_cleans_up_when_not_issuing() {
        let owned = names(&["a", "b"]);
        assert_eq!(
            plan(false, &owned, Some(("a", true))),
            KeyPlan {
                delete: owned.clone(),
                keep: None,
                create: false
            }
        );
    }

    #[test]
    fn plan_keeps_one_usable_key_and_deletes_the_rest() {
        let owned = names(&["a", "b"]);
        assert_eq!(
            plan(true, &owned, Some(("b", true))),
            KeyPlan {
                delete: names(&["a"]),
                keep: Some("b".into()),
                create: false
            }
        );
        assert_eq!(
            plan(true, &owned, Some(("a", false))),
            KeyPlan {
                delete: owned.clone(),
                keep: None,
                create: true
            }
        );
        assert_eq!(
            plan(true, &[], None),
            KeyPlan {
                delete: vec![],
                keep: None,
                create: true
            }
        );
    }

    #[test]
    fn next_key_must_match_the_spec() {
        let ec = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let pem = ec.to_pem(PrivateKeyEncoding::Pkcs1).unwrap();
        assert_eq!(check_next_key(Some(pem.as_bytes()), &ec256(), None), Ok(()));
        let rsa = KeySpec::default();
        assert!(check_next_key(Some(pem.as_bytes()), &rsa, None).is_err());
        assert!(check_next_key(None, &ec256(), None).is_err());
        assert!(check_next_key(Some(b""), &ec256(), None).is_err());
        let err = check_next_key(Some(b"garbage"), &ec256(), None).unwrap_err();
        assert!(!err.contains("PRIVATE KEY-----"), "{err}");
        // rotationPolicy Never: it must be the current key.
        let other = key(PrivateKeyAlgorithm::Ecdsa, 256);
        assert!(
            check_next_key(
                Some(pem.as_bytes()),
                &ec256(),
                Some(&other.info().public_key_der)
            )
            .is_err()
        );
        assert_eq!(
            check_next_key(
                Some(pem.as_bytes()),
                &ec256(),
                Some(&ec.info().public_key_der)
            ),
            Ok(())
        );
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

    #[test]
    fn temp_secret_shape() {
        let cert = certificate(Some(ConditionStatus::True));
        let s = temp_secret(&cert, b"PEM");
        assert_eq!(s.metadata.generate_name.as_deref(), Some("app-"));
        assert_eq!(s.metadata.name, None);
        assert_eq!(s.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_NEXT_PRIVATE_KEY))
                .map(String::as_str),
            Some("true")
        );
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Certificate", "uid-1", Some(true))
        );
        assert!(controlled_by(&s.metadata, &cert));
        assert_eq!(s.data.as_ref().unwrap()[TLS_PRIVATE_KEY_KEY].0, b"PEM");
        let mut other = cert.clone();
        other.metadata.uid = Some("uid-2".into());
        assert!(!controlled_by(&s.metadata, &other));
    }
}
