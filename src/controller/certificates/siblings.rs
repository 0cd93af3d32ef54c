//! Certificates that name the same Secret. `policy::conflicts` decides which one keeps it;
//! this module finds the claimants in a controller's Certificate store and adds the watch that
//! wakes the others when one of them changes (a holder deleted or renamed frees the Secret).

use kube::ResourceExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};

use super::SharedCertificates;
use crate::api::{
    ANN_CERTIFICATE_NAME, CONDITION_READY, Certificate, REASON_DUPLICATE_SECRET_NAME,
    find_condition,
};
use crate::policy::conflicts::{Claimant, SecretConflict, secret_conflict};
use crate::policy::facts::SecretFacts;

/// `Some` when another Certificate in `store` keeps the Secret `certificate` names.
/// `secret_annotation` is the Secret's `cert-manager.io/certificate-name`, when it exists.
pub(super) fn conflict_in_store(
    store: &Store<Certificate>,
    certificate: &Certificate,
    secret_annotation: Option<&str>,
) -> Option<SecretConflict> {
    let state = store.state();
    let namespace = certificate.namespace();
    let me = certificate.metadata.name.as_deref().unwrap_or_default();
    let mut claimants: Vec<Claimant> = state
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
    shared: &SharedCertificates,
) -> Controller<Certificate> {
    let store = controller.store();
    controller.watches_shared_stream(shared.touched(), move |changed| {
        let state = store.state();
        siblings(state.iter().map(AsRef::as_ref), &changed)
    })
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
