//! The built-in approver's policy: approve CertificateRequests addressed to certsmith's own
//! issuers (group cert-manager.io), so they can be signed. Requests for other issuer groups are
//! left to their own approvers; a request already Approved or Denied is never touched. The
//! signer (`controller::requests`) applies it, writing the approval with its first decision.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    CONDITION_APPROVED, CONDITION_DENIED, CertificateRequest, Condition, ConditionStatus, GROUP,
    REASON_APPROVED_BY_CERT_MANAGER, find_condition,
};

/// Whether the built-in approver should approve this request now. Pure.
pub fn should_approve(request: &CertificateRequest) -> bool {
    let conditions = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let decided = find_condition(conditions, CONDITION_APPROVED).is_some()
        || find_condition(conditions, CONDITION_DENIED).is_some();
    !decided && request.spec.issuer_ref.group_or_default() == GROUP
}

/// The Approved condition a signer's status write carries for a request it signs: the
/// request's own when it is approved (re-asserted with the same values, so that no apply of the
/// signer ever drops it), else, with `approve` (the built-in approver is on) and when
/// `should_approve` says so, a new one. `None` when neither holds.
///
/// The built-in approver has no controller of its own: approving in a separate write cost one
/// API write and one watch round trip per issuance, before the signer could start.
pub fn approval(request: &CertificateRequest, approve: bool, now: Timestamp) -> Option<Condition> {
    let conditions = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if let Some(approved) =
        find_condition(conditions, CONDITION_APPROVED).filter(|c| c.status == ConditionStatus::True)
    {
        return Some(approved.clone());
    }
    (approve && should_approve(request)).then(|| Condition {
        type_: CONDITION_APPROVED.into(),
        status: ConditionStatus::True,
        reason: Some(REASON_APPROVED_BY_CERT_MANAGER.into()),
        message: Some("Certificate request has been approved by certsmith".into()),
        last_transition_time: Some(Time(now)),
        observed_generation: request.metadata.generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateRequestSpec, CertificateRequestStatus, IssuerReference};

    fn request(group: Option<&str>, conditions: &[(&str, ConditionStatus)]) -> CertificateRequest {
        let mut cr = CertificateRequest::new(
            "app-1",
            CertificateRequestSpec {
                issuer_ref: IssuerReference {
                    name: "ca".into(),
                    kind: None,
                    group: group.map(Into::into),
                },
                ..Default::default()
            },
        );
        cr.status = Some(CertificateRequestStatus {
            conditions: Some(
                conditions
                    .iter()
                    .map(|(t, s)| Condition {
                        type_: (*t).into(),
                        status: *s,
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        cr
    }

    #[test]
    fn approves_only_undecided_requests_for_our_issuers() {
        let table = [
            (None, vec![], true),
            (Some("cert-manager.io"), vec![], true),
            (Some(""), vec![("Ready", ConditionStatus::False)], true),
            (Some("awspca.cert-manager.io"), vec![], false),
            (None, vec![("Approved", ConditionStatus::True)], false),
            (None, vec![("Denied", ConditionStatus::True)], false),
        ];
        for (group, conditions, want) in table {
            assert_eq!(
                should_approve(&request(group, &conditions)),
                want,
                "{group:?} {conditions:?}"
            );
        }
    }

    /// Issuer group, conditions, approver on -> the reason of the Approved condition, if any.
    type Case<'a> = (
        Option<&'a str>,
        Vec<(&'a str, ConditionStatus)>,
        bool,
        Option<&'a str>,
    );

    #[test]
    fn approval_carried_or_given() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let table: [Case; 6] = [
            (None, vec![], true, Some(REASON_APPROVED_BY_CERT_MANAGER)),
            (None, vec![], false, None),
            (Some("awspca.cert-manager.io"), vec![], true, None),
            (None, vec![("Denied", ConditionStatus::True)], true, None),
            // Approved by someone else: carried as it is, approver on or off.
            (
                None,
                vec![("Approved", ConditionStatus::True)],
                false,
                Some(""),
            ),
            (
                None,
                vec![("Approved", ConditionStatus::True)],
                true,
                Some(""),
            ),
        ];
        for (group, conditions, approve, want) in table {
            let request = request(group, &conditions);
            let got = approval(&request, approve, now);
            assert_eq!(
                got.as_ref()
                    .map(|c| c.reason.as_deref().unwrap_or_default()),
                want,
                "{group:?} {conditions:?} approve={approve}"
            );
            if let Some(c) = got {
                assert_eq!(
                    (c.type_.as_str(), c.status),
                    ("Approved", ConditionStatus::True)
                );
            }
        }
    }
}
