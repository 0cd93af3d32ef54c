//! `certsmith check api`, the pure half: are the CRDs of both groups installed and
//! Established, and does the controller hold its leader election Lease?

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;

/// The CRDs certsmith serves, as `<plural>.<group>`.
pub const REQUIRED_CRDS: [&str; 6] = [
    "certificates.cert-manager.io",
    "certificaterequests.cert-manager.io",
    "issuers.cert-manager.io",
    "clusterissuers.cert-manager.io",
    "orders.acme.cert-manager.io",
    "challenges.acme.cert-manager.io",
];

/// The controller's leader election Lease (see `certsmith controller --leader-election-namespace`).
pub const LEASE_NAME: &str = crate::controller::leader::LEASE_NAME;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrdCheck {
    pub name: String,
    pub present: bool,
    pub established: bool,
    /// Serves `v1`.
    pub serves_v1: bool,
}

impl CrdCheck {
    pub fn ok(&self) -> bool {
        self.present && self.established && self.serves_v1
    }
}

/// Judges one required CRD (`None` when it is not installed).
pub fn check_crd(name: &str, crd: Option<&CustomResourceDefinition>) -> CrdCheck {
    let Some(crd) = crd else {
        return CrdCheck {
            name: name.into(),
            present: false,
            established: false,
            serves_v1: false,
        };
    };
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
    let serves_v1 = crd.spec.versions.iter().any(|v| v.name == "v1" && v.served);
    CrdCheck {
        name: name.into(),
        present: true,
        established,
        serves_v1,
    }
}

/// What the Lease says about the controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum LeaseCheck {
    /// No Lease: no controller with leader election ever ran here.
    Missing,
    /// Released, or never held.
    NotHeld,
    /// Held, but not renewed within its duration: the holder is gone or stuck.
    Expired {
        holder: String,
        renewed: Option<Timestamp>,
        duration_seconds: i32,
    },
    Held {
        holder: String,
        renewed: Timestamp,
        duration_seconds: i32,
    },
}

impl LeaseCheck {
    pub fn ok(&self) -> bool {
        matches!(self, LeaseCheck::Held { .. })
    }
}

/// Judges the Lease at `now`. A holder counts while `renewTime + leaseDurationSeconds` is
/// ahead, as the other candidates of the election judge it.
pub fn check_lease(lease: Option<&Lease>, now: Timestamp) -> LeaseCheck {
    let Some(spec) = lease.map(|l| l.spec.clone().unwrap_or_default()) else {
        return LeaseCheck::Missing;
    };
    let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty()) else {
        return LeaseCheck::NotHeld;
    };
    let duration_seconds = spec.lease_duration_seconds.unwrap_or(0);
    let renewed = spec.renew_time.or(spec.acquire_time).map(|t| t.0);
    match renewed {
        Some(at) if at + SignedDuration::from_secs(duration_seconds.into()) > now => {
            LeaseCheck::Held {
                holder,
                renewed: at,
                duration_seconds,
            }
        }
        _ => LeaseCheck::Expired {
            holder,
            renewed,
            duration_seconds,
        },
    }
}

/// The whole answer of `check api`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCheck {
    pub ready: bool,
    /// Why not ready (empty when ready).
    pub problems: Vec<String>,
    pub crds: Vec<CrdCheck>,
    pub lease_namespace: String,
    pub lease: LeaseCheck,
}

/// Combines the checks, with a sentence per problem.
pub fn api_check(
    crds: Vec<CrdCheck>,
    lease_namespace: &str,
    lease: LeaseCheck,
    now: Timestamp,
) -> ApiCheck {
    let mut problems = Vec::new();
    for c in &crds {
        if !c.present {
            problems.push(format!(
                "CRD {} is not installed: apply crds/ (or the Helm chart with installCRDs=true)",
                c.name
            ));
        } else if !c.established {
            problems.push(format!("CRD {} is not Established yet", c.name));
        } else if !c.serves_v1 {
            problems.push(format!("CRD {} does not serve v1", c.name));
        }
    }
    let lease_ref = format!("Lease {lease_namespace}/{LEASE_NAME}");
    match &lease {
        LeaseCheck::Missing => problems.push(format!(
            "{lease_ref} does not exist: the controller is not running (or runs with \
             --leader-elect=false, or another --leader-election-namespace)"
        )),
        LeaseCheck::NotHeld => problems.push(format!(
            "{lease_ref} is not held by anyone: no controller is leading"
        )),
        LeaseCheck::Expired {
            holder, renewed, ..
        } => problems.push(format!(
            "{lease_ref} held by {holder} was last renewed {}: the controller is gone or stuck",
            renewed.map_or_else(|| "never".to_owned(), |t| super::time::relative(t, now))
        )),
        LeaseCheck::Held { .. } => {}
    }
    ApiCheck {
        ready: problems.is_empty(),
        problems,
        crds,
        lease_namespace: lease_namespace.into(),
        lease,
    }
}

/// The text of `check api`: one verdict line, then the details.
pub fn render(check: &ApiCheck, now: Timestamp) -> String {
    let mut out = String::new();
    if check.ready {
        out.push_str("OK: the certsmith API is installed and the controller is answering\n");
    } else {
        out.push_str(&format!("NOT READY: {}\n", check.problems[0]));
    }
    for c in &check.crds {
        let state = if c.ok() {
            "Established"
        } else if c.present {
            "not Established"
        } else {
            "missing"
        };
        out.push_str(&format!("  CRD {:<40} {state}\n", c.name));
    }
    let lease = match &check.lease {
        LeaseCheck::Missing => "missing".to_owned(),
        LeaseCheck::NotHeld => "not held".to_owned(),
        LeaseCheck::Expired { holder, .. } => format!("expired (holder {holder})"),
        LeaseCheck::Held {
            holder, renewed, ..
        } => format!(
            "held by {holder}, renewed {}",
            super::time::relative(*renewed, now)
        ),
    };
    out.push_str(&format!(
        "  Lease {}/{LEASE_NAME}: {lease}\n",
        check.lease_namespace
    ));
    for p in check.problems.iter().skip(1) {
        out.push_str(&format!("  problem: {p}\n"));
    }
    super::render::wrap_text(&out, super::render::WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn lease(holder: Option<&str>, renewed: Option<&str>, duration: i32) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: holder.map(Into::into),
                renew_time: renewed.map(|r| MicroTime(ts(r))),
                lease_duration_seconds: Some(duration),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn lease_table() {
        let now = ts("2026-01-01T00:01:00Z");
        let table = [
            (None, "missing"),
            (Some(lease(None, None, 60)), "not held"),
            (
                Some(lease(Some(""), Some("2026-01-01T00:00:30Z"), 60)),
                "not held",
            ),
            (
                Some(lease(Some("pod-a"), Some("2026-01-01T00:00:30Z"), 60)),
                "held",
            ),
            (
                Some(lease(Some("pod-a"), Some("2026-01-01T00:00:00Z"), 60)),
                "expired",
            ),
            (
                Some(lease(Some("pod-a"), Some("2025-12-31T23:00:00Z"), 60)),
                "expired",
            ),
            (Some(lease(Some("pod-a"), None, 60)), "expired"),
        ];
        for (i, (l, want)) in table.into_iter().enumerate() {
            let got = match check_lease(l.as_ref(), now) {
                LeaseCheck::Missing => "missing",
                LeaseCheck::NotHeld => "not held",
                LeaseCheck::Expired { .. } => "expired",
                LeaseCheck::Held { .. } => "held",
            };
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn verdict_names_the_first_problem() {
        let now = ts("2026-01-01T00:01:00Z");
        let all = |present: bool, established: bool| -> Vec<CrdCheck> {
            REQUIRED_CRDS
                .iter()
                .map(|n| CrdCheck {
                    name: (*n).into(),
                    present,
                    established,
                    serves_v1: present,
                })
                .collect()
        };
        let held = check_lease(
            Some(&lease(Some("pod-a"), Some("2026-01-01T00:00:50Z"), 60)),
            now,
        );
        let ok = api_check(all(true, true), "kube-system", held.clone(), now);
        assert!(ok.ready && ok.problems.is_empty());
        assert!(render(&ok, now).starts_with("OK: "));
        let missing = api_check(all(false, false), "kube-system", held.clone(), now);
        assert!(!missing.ready);
        assert!(missing.problems[0].contains("certificates.cert-manager.io is not installed"));
        let pending = api_check(all(true, false), "kube-system", held, now);
        assert!(pending.problems[0].contains("not Established"));
        let no_lease = api_check(all(true, true), "ops", LeaseCheck::Missing, now);
        let text = render(&no_lease, now);
        assert!(
            text.lines()
                .next()
                .unwrap()
                .starts_with("NOT READY: Lease ops/certsmith-controller does not exist"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }
}
