//! Certificates that name the same Secret. `policy::conflicts` decides which one keeps it;
//! this module finds the claimants in the shared Certificate cache (through its index) and
//! adds the watch that wakes the others when one of them changes (a holder deleted or renamed
//! frees the Secret).

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;

use super::SharedCertificates;
use crate::api::{
    ANN_CERTIFICATE_NAME, CONDITION_READY, Certificate, REASON_DUPLICATE_SECRET_NAME,
    find_condition,
};
use crate::policy::conflicts::{Claimant, SecretConflict, secret_conflict};
use crate::policy::facts::SecretFacts;

/// `Some` when another cached Certificate keeps the Secret `certificate` names.
/// `secret_annotation` is the Secret's `cert-manager.io/certificate-name`, when it exists.
pub(super) fn conflict_in_store(
    certificates: &SharedCertificates,
    certificate: &Certificate,
    secret_annotation: Option<&str>,
) -> Option<SecretConflict> {
    let namespace = certificate.namespace();
    let me = certificate.metadata.name.as_deref().unwrap_or_default();
    let named = naming_secret(
        certificates,
        namespace.as_deref().unwrap_or_default(),
        &certificate.spec.secret_name,
    );
    let mut claimants: Vec<Claimant> = named
        .iter()
        .filter(|c| {
            c.namespace() == namespace
                && c.spec.secret_name == certificate.spec.secret_name
                && c.metadata.deletion_timestamp.is_none()
        })
        .map(|c| claimant(c))
        .collect();
    // The store can lag behind the object being reconciled.
    if !claimants.iter().any(|c| c.name == me) {
        claimants.push(claimant(certificate));
    }
    secret_conflict(
        me,
        &certificate.spec.secret_name,
        &claimants,
        secret_annotation,
    )
}

/// The Secret annotation naming its Certificate, from gathered facts.
pub(super) fn annotated_certificate(secret: &SecretFacts) -> Option<&str> {
    match secret {
        SecretFacts::Present(data) => data
            .annotations
            .get(ANN_CERTIFICATE_NAME)
            .map(String::as_str),
        SecretFacts::Missing => None,
    }
}

fn claimant(c: &Certificate) -> Claimant<'_> {
    Claimant {
        name: c.metadata.name.as_deref().unwrap_or_default(),
        created: c.metadata.creation_timestamp.as_ref().map(|t| t.0),
    }
}

/// Adds to `controller` a watch that, when a Certificate changes, wakes the others in its
/// namespace naming the same Secret, and those reporting `DuplicateSecretName` (the changed
/// Certificate's old `secretName` is not known: it may have been theirs).
pub(super) fn watch_secret_siblings(
    controller: Controller<Certificate>,
    shared: &Arc<SharedCertificates>,
) -> Controller<Certificate> {
    let index = shared.clone();
    controller.watches_shared_stream(shared.touched(), move |changed| {
        // Only the candidates from the index: the same Secret name, or reporting a duplicate.
        let namespace = changed.namespace().unwrap_or_default();
        let mut candidates = naming_secret(&index, &namespace, &changed.spec.secret_name);
        candidates.extend(index.find(&duplicate_key(&namespace)));
        let mut found = siblings(candidates.iter().map(AsRef::as_ref), &changed);
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found.dedup();
        found
    })
}

/// The cached Certificates whose `secretName` is `namespace/secret`, from the index.
pub(super) fn naming_secret(
    certificates: &SharedCertificates,
    namespace: &str,
    secret: &str,
) -> Vec<Arc<Certificate>> {
    certificates.find(&secret_key(namespace, secret))
}

/// The index key of the Certificates naming Secret `namespace/name`.
fn secret_key(namespace: &str, name: &str) -> String {
    format!("secret/{namespace}/{name}")
}

/// The index key of the Certificates of `namespace` that report a duplicate Secret name.
fn duplicate_key(namespace: &str) -> String {
    format!("duplicate/{namespace}")
}

/// The keys the shared Certificate cache indexes a Certificate under.
pub(super) fn index_keys(certificate: &Certificate) -> Vec<String> {
    let namespace = certificate.namespace().unwrap_or_default();
    let mut keys = vec![secret_key(&namespace, &certificate.spec.secret_name)];
    if reports_duplicate(certificate) {
        keys.push(duplicate_key(&namespace));
    }
    keys
}

fn siblings<'a>(
    certificates: impl IntoIterator<Item = &'a Certificate>,
    changed: &Certificate,
) -> Vec<ObjectRef<Certificate>> {
    let namespace = changed.namespace();
    certificates
        .into_iter()
        .filter(|c| c.namespace() == namespace && c.name_any() != changed.name_any())
        .filter(|c| c.spec.secret_name == changed.spec.secret_name || reports_duplicate(c))
        .map(ObjectRef::from_obj)
        .collect()
}

fn reports_duplicate(certificate: &Certificate) -> bool {
    certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_READY))
        .is_some_and(|c| c.reason.as_deref() == Some(REASON_DUPLICATE_SECRET_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateSpec, CertificateStatus, Condition, ConditionStatus};

    fn cert(namespace: &str, name: &str, secret: &str, duplicate: bool) -> Certificate {
        let mut c = Certificate::new(
            name,
            CertificateSpec {
                secret_name: secret.into(),
                ..Default::default()
            },
        );
        c.metadata.namespace = Some(namespace.into());
        if duplicate {
            c.status = Some(CertificateStatus {
                conditions: Some(vec![Condition {
                    type_: CONDITION_READY.into(),
                    status: ConditionStatus::False,
                    reason: Some(REASON_DUPLICATE_SECRET_NAME.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            });
        }
        c
    }

    #[test]
    fn siblings_are_same_secret_or_reporting_a_duplicate_in_the_namespace() {
        let all = [
            cert("a", "web", "tls", false),
            cert("a", "api", "tls", false),
            cert("a", "old", "other", true),
            cert("a", "lone", "mine", false),
            cert("b", "web2", "tls", false),
        ];
        let got: Vec<String> = siblings(all.iter(), &all[0])
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(got, ["api", "old"]);
    }
}
