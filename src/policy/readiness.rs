//! "Is this Certificate Ready?" — cert-manager's readiness controller
//! (`pkg/controller/certificates/readiness/readiness_controller.go`) with
//! `NewReadinessPolicyChain`: the trigger checks in the same order, ending with "has it expired?"
//! instead of "is it due for renewal?" (a certificate in its renewal window is still Ready).
//! The first failing check gives `Ready=False` with its reason and message; none gives
//! `Ready=True`, reason `Ready`, message "Certificate is up to date and has not expired".
//!
//! `notBefore`, `notAfter` and `renewalTime` come from the certificate in the Secret whenever it
//! can be read, Ready or not, and are cleared otherwise.

use jiff::{SignedDuration, Timestamp};

use crate::api::{
    CONDITION_READY, Condition, ConditionStatus, REASON_DUPLICATE_SECRET_NAME,
    REASON_INVALID_PRIVATE_KEY, REASON_READY,
};
use crate::pki::keys::KeySpec;
use crate::policy::facts::{SecretFacts, TriggerInput};
use crate::policy::trigger::{FinalCheck, evaluate, is_issuing, spec_renewal_time};

/// Message of `Ready=True`, cert-manager's words.
pub const READY_MESSAGE: &str = "Certificate is up to date and has not expired";

/// The Ready condition and the validity fields of a Certificate's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub status: ConditionStatus,
    /// `Ready`, or the reason of the first failing check.
    pub reason: &'static str,
    pub message: String,
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub renewal_time: Option<Timestamp>,
}

/// Computes readiness from the same facts the trigger uses.
///
/// Beyond cert-manager: a Certificate that names a Secret another Certificate keeps reports
/// `DuplicateSecretName` (and no times: the certificate in the Secret is not its own); while an
/// issuance is stuck, the message says on what — an unusable `spec.privateKey` (reason
/// `InvalidPrivateKey`) or the signer's waiting message on the CertificateRequest (a missing
/// issuer, an issuer of a kind nobody serves, an issuer not Ready) — so `kubectl get
/// certificate -o wide` answers "why not Ready?" without a look at the request.
pub fn readiness(input: &TriggerInput, now: Timestamp) -> Readiness {
    if let Some(conflict) = &input.secret_conflict {
        return Readiness {
            status: ConditionStatus::False,
            reason: REASON_DUPLICATE_SECRET_NAME,
            message: conflict.message(),
            not_before: None,
            not_after: None,
            renewal_time: None,
        };
    }
    let cert = match &input.secret {
        SecretFacts::Present(data) => data.certificate.valid(),
        SecretFacts::Missing => None,
    };
    let (status, reason, message) = match evaluate(input, now, FinalCheck::Expiry) {
        None => (
            ConditionStatus::True,
            REASON_READY,
            READY_MESSAGE.to_owned(),
        ),
        Some(v) => match issuance_blocker(input) {
            Some(Blocker::PrivateKey(why)) => (
                ConditionStatus::False,
                REASON_INVALID_PRIVATE_KEY,
                format!("{}; no key can be generated: {why}", v.message),
            ),
            Some(Blocker::Request { name, message }) => (
                ConditionStatus::False,
                v.reason,
                format!(
                    "{}; CertificateRequest {name:?} is pending: {message}",
                    v.message
                ),
            ),
            None => (ConditionStatus::False, v.reason, v.message),
        },
    };
    Readiness {
        status,
        reason,
        message,
        not_before: cert.map(|c| c.not_before),
        not_after: cert.map(|c| c.not_after),
        renewal_time: cert.map(|c| spec_renewal_time(c, input.spec)),
    }
}

/// What an issuance in progress is stuck on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Blocker {
    /// `spec.privateKey` asks for a key that cannot be generated.
    PrivateKey(String),
    /// The next CertificateRequest waits: its signer's message.
    Request { name: String, message: String },
}

fn issuance_blocker(input: &TriggerInput) -> Option<Blocker> {
    if !is_issuing(input) {
        return None;
    }
    if let Err(err) = KeySpec::from_private_key(input.spec.private_key.as_ref()) {
        return Some(Blocker::PrivateKey(err.to_string()));
    }
    let next = input.next_request.as_ref()?;
    Some(Blocker::Request {
        name: next.name.clone(),
        message: next.pending_message.clone()?,
    })
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.status == ConditionStatus::True
    }

    /// The `Ready` condition to write, without `lastTransitionTime`: merge it into the status
    /// with `crate::api::upsert_condition`, which moves that time only on a status change.
    pub fn condition(&self, observed_generation: Option<i64>) -> Condition {
        Condition {
            type_: CONDITION_READY.to_owned(),
            status: self.status,
            last_transition_time: None,
            reason: Some(self.reason.to_owned()),
            message: Some(self.message.clone()),
            observed_generation,
        }
    }

    /// When readiness changes by itself, without any object changing: a Ready certificate stops
    /// being Ready just after `notAfter`. `None` when nothing is scheduled.
    pub fn recheck_at(&self, now: Timestamp) -> Option<Timestamp> {
        let expiry = self
            .not_after?
            .checked_add(SignedDuration::from_secs(1))
            .ok()?;
        (self.is_ready() && expiry > now).then_some(expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        ANN_ISSUER_NAME, REASON_DOES_NOT_EXIST, REASON_EXPIRED, REASON_INCORRECT_ISSUER,
        REASON_INVALID_CERTIFICATE, REASON_INVALID_KEY_PAIR, REASON_MISSING_DATA,
        REASON_REQUEST_CHANGED,
    };
    use crate::api::{CONDITION_ISSUING, CertificateStatus};
    use crate::policy::facts::{Parsed, RequestFacts};
    use crate::policy::fixtures::*;

    fn issuing() -> CertificateStatus {
        CertificateStatus {
            conditions: Some(vec![Condition {
                type_: CONDITION_ISSUING.into(),
                status: ConditionStatus::True,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    struct Case {
        name: &'static str,
        spoil: fn(&mut Facts),
        now: &'static str,
        status: ConditionStatus,
        reason: &'static str,
        message: &'static str,
        /// notBefore, notAfter, renewalTime.
        times: Option<(&'static str, &'static str, &'static str)>,
    }

    const TIMES: Option<(&str, &str, &str)> = Some((
        "2026-01-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
        "2026-03-02T00:00:00Z",
    ));

    #[test]
    fn readiness_table() {
        let table = [
            Case {
                name: "up to date",
                spoil: |_| {},
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::True,
                reason: REASON_READY,
                message: READY_MESSAGE,
                times: TIMES,
            },
            Case {
                name: "due for renewal but not expired: still Ready",
                spoil: |_| {},
                now: "2026-03-20T00:00:00Z",
                status: ConditionStatus::True,
                reason: REASON_READY,
                message: READY_MESSAGE,
                times: TIMES,
            },
            Case {
                name: "at notAfter: still Ready",
                spoil: |_| {},
                now: "2026-04-01T00:00:00Z",
                status: ConditionStatus::True,
                reason: REASON_READY,
                message: READY_MESSAGE,
                times: TIMES,
            },
            Case {
                name: "expired",
                spoil: |_| {},
                now: "2026-04-01T00:00:01Z",
                status: ConditionStatus::False,
                reason: REASON_EXPIRED,
                message: "Certificate expired on 2026-04-01T00:00:00Z",
                times: TIMES,
            },
            Case {
                name: "renewBefore is reflected in renewalTime",
                spoil: |f| f.spec.renew_before = Some("240h".into()),
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::True,
                reason: REASON_READY,
                message: READY_MESSAGE,
                times: Some((
                    "2026-01-01T00:00:00Z",
                    "2026-04-01T00:00:00Z",
                    "2026-03-22T00:00:00Z",
                )),
            },
            Case {
                name: "no Secret: times cleared",
                spoil: |f| f.secret = crate::policy::facts::SecretFacts::Missing,
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_DOES_NOT_EXIST,
                message: "Issuing certificate as Secret does not exist",
                times: None,
            },
            Case {
                name: "no tls.crt: times cleared",
                spoil: |f| f.secret_mut().certificate = Parsed::Absent,
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_MISSING_DATA,
                message: "Issuing certificate as Secret does not contain a certificate (tls.crt)",
                times: None,
            },
            Case {
                name: "unreadable tls.crt: times cleared",
                spoil: |f| f.secret_mut().certificate = Parsed::Invalid("bad".into()),
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_INVALID_CERTIFICATE,
                message: "Issuing certificate as Secret contains an invalid certificate (tls.crt): bad",
                times: None,
            },
            Case {
                name: "no tls.key: times from the certificate",
                spoil: |f| f.secret_mut().private_key = Parsed::Absent,
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_MISSING_DATA,
                message: "Issuing certificate as Secret does not contain a private key (tls.key)",
                times: TIMES,
            },
            Case {
                name: "key does not match: times from the certificate",
                spoil: |f| f.key_mut().public_key_der = KEY_B.to_vec(),
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_INVALID_KEY_PAIR,
                message: "Issuing certificate as Secret contains a private key (tls.key) that does not match the certificate (tls.crt)",
                times: TIMES,
            },
            Case {
                name: "wrong issuer",
                spoil: |f| {
                    f.secret_mut()
                        .annotations
                        .insert(ANN_ISSUER_NAME.into(), "old".into());
                },
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_INCORRECT_ISSUER,
                message: "Issuing certificate as Secret was previously issued by \"ClusterIssuer.cert-manager.io/old\", but spec.issuerRef is \"ClusterIssuer.cert-manager.io/ca\"",
                times: TIMES,
            },
            Case {
                name: "spec changed and expired: RequestChanged first",
                spoil: |f| f.spec.is_ca = Some(true),
                now: "2026-05-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_REQUEST_CHANGED,
                message: "Issuing certificate as the current CertificateRequest no longer matches spec: spec.isCA (the request has false, spec has true)",
                times: TIMES,
            },
            Case {
                name: "another Certificate keeps the Secret: DuplicateSecretName, no times",
                spoil: |f| {
                    f.secret_conflict = Some(crate::policy::conflicts::SecretConflict {
                        secret_name: "tls".into(),
                        holder: "web".into(),
                        others: vec!["web".into()],
                    })
                },
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_DUPLICATE_SECRET_NAME,
                message: "spec.secretName \"tls\" is also used by Certificate \"web\", which keeps the Secret: give this Certificate its own secretName. Nothing is issued for it meanwhile",
                times: None,
            },
            Case {
                name: "issuing, the request waits for its issuer: the signer's message",
                spoil: |f| {
                    f.secret = crate::policy::facts::SecretFacts::Missing;
                    f.status = Some(issuing());
                    f.next_request = Some(RequestFacts {
                        name: "app-2".into(),
                        pending_message: Some("Referenced Issuer ns/ca does not exist".into()),
                        ..request()
                    });
                },
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_DOES_NOT_EXIST,
                message: "Issuing certificate as Secret does not exist; CertificateRequest \"app-2\" is pending: Referenced Issuer ns/ca does not exist",
                times: None,
            },
            Case {
                name: "not issuing: a pending request is not mentioned",
                spoil: |f| {
                    f.secret = crate::policy::facts::SecretFacts::Missing;
                    f.next_request = Some(RequestFacts {
                        pending_message: Some("waiting".into()),
                        ..request()
                    });
                },
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_DOES_NOT_EXIST,
                message: "Issuing certificate as Secret does not exist",
                times: None,
            },
            Case {
                name: "issuing with a key that cannot be generated: InvalidPrivateKey",
                spoil: |f| {
                    f.secret = crate::policy::facts::SecretFacts::Missing;
                    f.status = Some(issuing());
                    f.spec.private_key = Some(crate::api::CertificatePrivateKey {
                        algorithm: Some(crate::api::PrivateKeyAlgorithm::Rsa),
                        size: Some(2500),
                        ..Default::default()
                    });
                },
                now: "2026-02-01T00:00:00Z",
                status: ConditionStatus::False,
                reason: REASON_INVALID_PRIVATE_KEY,
                message: "Issuing certificate as Secret does not exist; no key can be generated: spec.privateKey.size 2500 is not supported for RSA keys: certsmith generates RSA keys of 2048, 3072, 4096 or 8192 bits; use one of these",
                times: None,
            },
        ];
        for c in table {
            let mut facts = Facts::default();
            (c.spoil)(&mut facts);
            let got = readiness(&facts.input(), ts(c.now));
            let want = Readiness {
                status: c.status,
                reason: c.reason,
                message: c.message.to_owned(),
                not_before: c.times.map(|t| ts(t.0)),
                not_after: c.times.map(|t| ts(t.1)),
                renewal_time: c.times.map(|t| ts(t.2)),
            };
            assert_eq!(got, want, "{}", c.name);
        }
    }

    #[test]
    fn ready_condition() {
        let ready = readiness(&Facts::default().input(), now());
        assert_eq!(
            ready.condition(Some(3)),
            Condition {
                type_: CONDITION_READY.into(),
                status: ConditionStatus::True,
                last_transition_time: None,
                reason: Some(REASON_READY.into()),
                message: Some(READY_MESSAGE.into()),
                observed_generation: Some(3),
            }
        );
        let missing = Facts {
            secret: crate::policy::facts::SecretFacts::Missing,
            ..Default::default()
        };
        let not_ready = readiness(&missing.input(), now()).condition(None);
        assert_eq!(not_ready.status, ConditionStatus::False);
        assert_eq!(not_ready.reason.as_deref(), Some(REASON_DOES_NOT_EXIST));
    }

    #[test]
    fn recheck_just_after_expiry_while_ready() {
        let facts = Facts::default();
        let ready = readiness(&facts.input(), now());
        assert!(ready.is_ready());
        assert_eq!(ready.recheck_at(now()), Some(ts("2026-04-01T00:00:01Z")));
        let expired = readiness(&facts.input(), ts("2026-04-02T00:00:00Z"));
        assert!(!expired.is_ready());
        assert_eq!(expired.recheck_at(ts("2026-04-02T00:00:00Z")), None);
        let missing = Facts {
            secret: crate::policy::facts::SecretFacts::Missing,
            ..Default::default()
        };
        assert_eq!(readiness(&missing.input(), now()).recheck_at(now()), None);
    }
}
