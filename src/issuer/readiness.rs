//! The Ready condition of an Issuer or ClusterIssuer, decided from facts the controller
//! gathered. Pure.

use jiff::Timestamp;

use crate::api::{Condition, ConditionStatus, IssuerSpec};
use crate::pki::sign::CaProblem;

/// Reasons of the issuer Ready condition (cert-manager's spellings where it has them).
pub const REASON_IS_READY: &str = "IsReady";
pub const REASON_KEY_PAIR_VERIFIED: &str = "KeyPairVerified";
pub const REASON_SECRET_NOT_FOUND: &str = "SecretNotFound";
pub const REASON_GET_KEY_PAIR: &str = "ErrGetKeyPair";
pub const REASON_INVALID_KEY_PAIR: &str = "ErrInvalidKeyPair";
pub const REASON_NOT_A_CA: &str = "NotACA";
/// The CA certificate is outside its validity period (expired, or not yet valid).
pub const REASON_CA_EXPIRED: &str = "CANotValidNow";
pub const REASON_UNSUPPORTED: &str = "UnsupportedIssuer";

/// What the controller found in a CA issuer's Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaSecretFacts {
    /// No Secret of that name in the namespace the issuer reads from.
    Missing { namespace: String, name: String },
    /// The Secret holds no usable CA key pair; `problem` says why.
    Problem { name: String, problem: CaProblem },
    /// A valid CA key pair, until `not_after`.
    Valid { not_after: Timestamp },
}

/// The Ready reason for a CA problem: which one it is, in one word.
fn problem_reason(problem: &CaProblem) -> &'static str {
    match problem {
        CaProblem::MissingCertificate
        | CaProblem::MissingPrivateKey
        | CaProblem::InvalidCertificate(_)
        | CaProblem::InvalidPrivateKey(_) => REASON_GET_KEY_PAIR,
        CaProblem::KeyMismatch { .. } | CaProblem::BrokenChain(_) => REASON_INVALID_KEY_PAIR,
        CaProblem::NotCa { .. } => REASON_NOT_A_CA,
        CaProblem::Expired { .. } | CaProblem::NotYetValid { .. } => REASON_CA_EXPIRED,
    }
}

/// The issuer's Ready condition, and when to look again (a CA's expiry changes Ready).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerReadiness {
    pub condition: Condition,
    pub recheck_at: Option<Timestamp>,
}

/// Decides Ready for an issuer spec. `ca` must be `Some` for CA issuers.
pub fn issuer_readiness(
    spec: &IssuerSpec,
    ca: Option<&CaSecretFacts>,
    generation: Option<i64>,
    now: Timestamp,
) -> IssuerReadiness {
    let (status, reason, message, recheck_at) = if spec.self_signed.is_some() {
        (ConditionStatus::True, REASON_IS_READY, String::new(), None)
    } else if spec.ca.is_some() {
        match ca {
            Some(CaSecretFacts::Valid { not_after }) if *not_after <= now => (
                ConditionStatus::False,
                REASON_CA_EXPIRED,
                format!(
                    "The CA certificate expired at {not_after}: renew it or point spec.ca.secretName at a valid CA"
                ),
                None,
            ),
            Some(CaSecretFacts::Valid { not_after }) => (
                ConditionStatus::True,
                REASON_KEY_PAIR_VERIFIED,
                "Signing CA verified".to_owned(),
                Some(*not_after),
            ),
            Some(CaSecretFacts::Missing { namespace, name }) => (
                ConditionStatus::False,
                REASON_SECRET_NOT_FOUND,
                format!("Secret {namespace}/{name} named by spec.ca.secretName does not exist"),
                None,
            ),
            Some(CaSecretFacts::Problem { name, problem }) => (
                ConditionStatus::False,
                problem_reason(problem),
                format!("Secret {name} (spec.ca.secretName) cannot sign: {problem}"),
                None,
            ),
            None => (
                ConditionStatus::Unknown,
                REASON_SECRET_NOT_FOUND,
                "The CA Secret has not been read yet".to_owned(),
                None,
            ),
        }
    } else {
        (
            ConditionStatus::False,
            REASON_UNSUPPORTED,
            "This issuer type is not supported by certsmith yet (SelfSigned and CA are)".to_owned(),
            None,
        )
    };
    IssuerReadiness {
        condition: Condition {
            type_: crate::api::CONDITION_READY.to_owned(),
            status,
            reason: Some(reason.to_owned()),
            message: Some(message),
            observed_generation: generation,
            last_transition_time: None,
        },
        recheck_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AcmeIssuer, CaIssuer, SelfSignedIssuer};

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("timestamp")
    }

    struct Case {
        spec: IssuerSpec,
        facts: Option<CaSecretFacts>,
        status: ConditionStatus,
        reason: &'static str,
        words: &'static str,
        recheck: Option<Timestamp>,
    }

    #[test]
    fn readiness_table() {
        let selfsigned = IssuerSpec {
            self_signed: Some(SelfSignedIssuer::default()),
            ..Default::default()
        };
        let ca = IssuerSpec {
            ca: Some(CaIssuer {
                secret_name: "root".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let acme = IssuerSpec {
            acme: Some(AcmeIssuer::default()),
            ..Default::default()
        };
        let problem = |problem| {
            Some(CaSecretFacts::Problem {
                name: "root".into(),
                problem,
            })
        };
        let subject = || "CN=root".to_owned();
        let case = |spec: &IssuerSpec, facts, status, reason, words, recheck| Case {
            spec: spec.clone(),
            facts,
            status,
            reason,
            words,
            recheck,
        };
        use ConditionStatus::{False, True, Unknown};
        let table = [
            case(&selfsigned, None, True, REASON_IS_READY, "", None),
            case(
                &ca,
                Some(CaSecretFacts::Valid {
                    not_after: ts(5_000),
                }),
                True,
                REASON_KEY_PAIR_VERIFIED,
                "verified",
                Some(ts(5_000)),
            ),
            case(
                &ca,
                Some(CaSecretFacts::Valid { not_after: ts(999) }),
                False,
                REASON_CA_EXPIRED,
                "expired",
                None,
            ),
            case(
                &ca,
                Some(CaSecretFacts::Missing {
                    namespace: "ns".into(),
                    name: "root".into(),
                }),
                False,
                REASON_SECRET_NOT_FOUND,
                "ns/root",
                None,
            ),
            case(
                &ca,
                problem(CaProblem::MissingPrivateKey),
                False,
                REASON_GET_KEY_PAIR,
                "no CA private key",
                None,
            ),
            case(
                &ca,
                problem(CaProblem::KeyMismatch { subject: subject() }),
                False,
                REASON_INVALID_KEY_PAIR,
                "does not belong",
                None,
            ),
            case(
                &ca,
                problem(CaProblem::NotCa { subject: subject() }),
                False,
                REASON_NOT_A_CA,
                "is not a CA",
                None,
            ),
            case(
                &ca,
                problem(CaProblem::Expired {
                    subject: subject(),
                    not_after: ts(5),
                }),
                False,
                REASON_CA_EXPIRED,
                "expired",
                None,
            ),
            case(
                &ca,
                None,
                Unknown,
                REASON_SECRET_NOT_FOUND,
                "not been read",
                None,
            ),
            case(
                &acme,
                None,
                False,
                REASON_UNSUPPORTED,
                "not supported",
                None,
            ),
        ];
        for c in table {
            let r = issuer_readiness(&c.spec, c.facts.as_ref(), Some(3), ts(1_000));
            let label = format!("{:?}", c.facts);
            assert_eq!(r.condition.status, c.status, "{label}");
            assert_eq!(r.condition.reason.as_deref(), Some(c.reason), "{label}");
            let message = r.condition.message.unwrap_or_default();
            assert!(message.contains(c.words), "{label}: {message}");
            assert!(
                message.is_empty()
                    || c.facts.is_none()
                    || message.contains("root")
                    || message.contains("CA"),
                "{label}"
            );
            assert_eq!(r.condition.observed_generation, Some(3));
            assert_eq!(r.recheck_at, c.recheck, "{label}");
        }
    }
}
