//! Types shared by both API groups: references to issuers and Secrets, and conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A reference to the issuer that should sign a certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerReference {
    /// Name of the issuer being referred to.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Kind of the issuer being referred to: `Issuer` (the default, in the same namespace) or
    /// `ClusterIssuer`. Issuers of other API groups may use other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub kind: Option<String>,
    /// Group of the issuer being referred to. Defaults to `cert-manager.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub group: Option<String>,
}

impl IssuerReference {
    /// The kind, with cert-manager's default (`Issuer`) applied.
    pub fn kind_or_default(&self) -> &str {
        match self.kind.as_deref() {
            None | Some("") => crate::api::ISSUER_KIND,
            Some(k) => k,
        }
    }

    /// The group, with cert-manager's default (`cert-manager.io`) applied.
    pub fn group_or_default(&self) -> &str {
        match self.group.as_deref() {
            None | Some("") => crate::api::GROUP,
            Some(g) => g,
        }
    }
}

/// A reference to a key of a Secret in the namespace of the referring object (for a
/// ClusterIssuer: in the cluster resource namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key of the entry in the Secret's `data` field. Some fields give a default key when
    /// this is empty; others require it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub key: Option<String>,
}

/// A reference to an object by name, in the namespace of the referring object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the referent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Status of a condition: `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// One observation of an object's state, as kubectl and `certsmith status` show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition, e.g. `Ready`, `Issuing`, `Approved`.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,
    /// Status of the condition: `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// When the condition last changed from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A short, machine-readable, PascalCase reason for the condition's last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable explanation of the condition's last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` of the object this condition was computed from: when it is
    /// older than the object's generation, the condition is out of date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// How a condition should change, given the one currently in status (same type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionChange {
    /// Same status, reason, message and generation: write nothing.
    Unchanged,
    /// Write `condition`; `transition` is true when its status changed (worth an Event).
    /// `lastTransitionTime` is carried over unless the status changed.
    Write {
        condition: Condition,
        transition: bool,
    },
}

/// Compares a freshly decided condition with the current one.
pub fn condition_change(old: Option<&Condition>, mut new: Condition, now: Time) -> ConditionChange {
    match old {
        Some(old)
            if old.status == new.status
                && old.reason == new.reason
                && old.message == new.message
                && old.observed_generation == new.observed_generation =>
        {
            ConditionChange::Unchanged
        }
        Some(old) if old.status == new.status => {
            new.last_transition_time = old.last_transition_time.clone().or(Some(now));
            ConditionChange::Write {
                condition: new,
                transition: false,
            }
        }
        _ => {
            new.last_transition_time = Some(now);
            ConditionChange::Write {
                condition: new,
                transition: true,
            }
        }
    }
}

/// Finds a condition by type in a list of conditions.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Schema of a `[]byte` field (`k8s_openapi::ByteString`): a base64 string, as in cert-manager.
pub(crate) fn bytes_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "byte" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_reference_defaults() {
        let table = [
            (None, None, "Issuer", "cert-manager.io"),
            (Some(""), Some(""), "Issuer", "cert-manager.io"),
            (
                Some("ClusterIssuer"),
                None,
                "ClusterIssuer",
                "cert-manager.io",
            ),
            (
                Some("AWSPCAClusterIssuer"),
                Some("awspca.cert-manager.io"),
                "AWSPCAClusterIssuer",
                "awspca.cert-manager.io",
            ),
        ];
        for (kind, group, want_kind, want_group) in table {
            let r = IssuerReference {
                name: "x".into(),
                kind: kind.map(Into::into),
                group: group.map(Into::into),
            };
            assert_eq!(
                (r.kind_or_default(), r.group_or_default()),
                (want_kind, want_group),
                "{kind:?} {group:?}"
            );
        }
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let t = |s: i64| Time(jiff::Timestamp::from_second(s).expect("timestamp"));
        let ready = |status, reason: &str| Condition {
            type_: "Ready".into(),
            status,
            reason: Some(reason.into()),
            ..Default::default()
        };
        let written = |change| match change {
            ConditionChange::Write {
                condition,
                transition,
            } => (condition, transition),
            ConditionChange::Unchanged => panic!("expected a write"),
        };
        let (first, transition) = written(condition_change(
            None,
            ready(ConditionStatus::False, "Pending"),
            t(10),
        ));
        assert!(transition);
        assert_eq!(first.last_transition_time, Some(t(10)));
        assert_eq!(
            condition_change(
                Some(&first),
                ready(ConditionStatus::False, "Pending"),
                t(15)
            ),
            ConditionChange::Unchanged
        );
        let (second, transition) = written(condition_change(
            Some(&first),
            ready(ConditionStatus::False, "StillPending"),
            t(20),
        ));
        assert!(!transition, "same status is no transition");
        assert_eq!(
            second.last_transition_time,
            Some(t(10)),
            "same status keeps the time"
        );
        assert_eq!(second.reason.as_deref(), Some("StillPending"));
        let (third, transition) = written(condition_change(
            Some(&second),
            ready(ConditionStatus::True, "Ready"),
            t(30),
        ));
        assert!(transition);
        assert_eq!(third.last_transition_time, Some(t(30)));
    }

    #[test]
    fn find_condition_by_type() {
        let conditions = vec![
            Condition {
                type_: "Issuing".into(),
                status: ConditionStatus::True,
                ..Default::default()
            },
            Condition {
                type_: "Ready".into(),
                status: ConditionStatus::False,
                ..Default::default()
            },
        ];
        assert_eq!(
            find_condition(&conditions, "Ready").map(|c| c.status),
            Some(ConditionStatus::False)
        );
        assert!(find_condition(&conditions, "Approved").is_none());
    }
}
