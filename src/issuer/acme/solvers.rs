//! Which of an ACME issuer's solvers solves a name: cert-manager's selector rules.
//!
//! Every part of a solver's `selector` must match (an empty part matches anything):
//! `matchLabels` against the Certificate's labels (copied onto its CertificateRequest and
//! Order), `dnsNames` exactly (a wildcard as `*.example.com`), `dnsZones` by suffix at a label
//! boundary. Among the matches the most specific wins: a `dnsNames` match, then the longest
//! matching zone (in labels), then the most `matchLabels`; on a tie, the first in the list. A
//! solver with no selector matches everything at the lowest rank. A solver is only a candidate
//! when the ACME server offers its challenge type for the name (no http-01 for wildcards).

use std::collections::BTreeMap;

use crate::api::{AcmeChallengeSolver, ChallengeType};

/// A solver chosen for one authorization.
#[derive(Clone, Debug, PartialEq)]
pub struct ChosenSolver<'a> {
    /// Position in `spec.acme.solvers`.
    pub index: usize,
    pub solver: &'a AcmeChallengeSolver,
    pub challenge_type: ChallengeType,
}

/// The challenge type a solver solves: dns-01 when `dns01` is set, else http-01 when `http01`
/// is set.
pub fn solver_type(solver: &AcmeChallengeSolver) -> Option<ChallengeType> {
    if solver.dns01.is_some() {
        Some(ChallengeType::Dns01)
    } else if solver.http01.is_some() {
        Some(ChallengeType::Http01)
    } else {
        None
    }
}

/// The solver for `domain` (the identifier, without `*.`), `wildcard` as the authorization says,
/// `labels` of the Order, among the challenge types `offered` by the ACME server.
pub fn choose_solver<'a>(
    solvers: &'a [AcmeChallengeSolver],
    domain: &str,
    wildcard: bool,
    labels: &BTreeMap<String, String>,
    offered: &[ChallengeType],
) -> Option<ChosenSolver<'a>> {
    let name = if wildcard {
        format!("*.{domain}")
    } else {
        domain.to_owned()
    };
    let mut best: Option<((usize, usize, usize), ChosenSolver<'a>)> = None;
    for (index, solver) in solvers.iter().enumerate() {
        let Some(challenge_type) = solver_type(solver).filter(|t| offered.contains(t)) else {
            continue;
        };
        let Some(rank) = rank(solver, &name, domain, labels) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| rank > *b) {
            best = Some((
                rank,
                ChosenSolver {
                    index,
                    solver,
                    challenge_type,
                },
            ));
        }
    }
    best.map(|(_, chosen)| chosen)
}

/// `(dnsNames matched, zone labels matched, matchLabels matched)`, or `None` when a part of the
/// selector does not match.
fn rank(
    solver: &AcmeChallengeSolver,
    name: &str,
    domain: &str,
    labels: &BTreeMap<String, String>,
) -> Option<(usize, usize, usize)> {
    let Some(selector) = &solver.selector else {
        return Some((0, 0, 0));
    };
    let wanted_labels = selector.match_labels.as_ref();
    let labels_matched = match wanted_labels {
        Some(wanted) if !wanted.is_empty() => {
            if !wanted.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                return None;
            }
            wanted.len()
        }
        _ => 0,
    };
    let names_matched = match selector.dns_names.as_deref() {
        Some(names) if !names.is_empty() => {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return None;
            }
            1
        }
        _ => 0,
    };
    let zone_labels = match selector.dns_zones.as_deref() {
        Some(zones) if !zones.is_empty() => zones
            .iter()
            .filter(|z| in_zone(domain, z))
            .map(|z| z.trim_end_matches('.').split('.').count())
            .max()?,
        _ => 0,
    };
    Some((names_matched, zone_labels, labels_matched))
}

/// Whether `domain` is `zone` or below it (at a label boundary), case-insensitively.
pub fn in_zone(domain: &str, zone: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    !zone.is_empty()
        && (domain == zone
            || domain
                .strip_suffix(&zone)
                .is_some_and(|rest| rest.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        AcmeChallengeSolverDns01, AcmeChallengeSolverHttp01, CertificateDnsNameSelector,
    };

    fn solver(
        kind: &str,
        names: &[&str],
        zones: &[&str],
        labels: &[(&str, &str)],
    ) -> AcmeChallengeSolver {
        let selector = (!names.is_empty() || !zones.is_empty() || !labels.is_empty()).then(|| {
            CertificateDnsNameSelector {
                dns_names: (!names.is_empty())
                    .then(|| names.iter().map(|s| s.to_string()).collect()),
                dns_zones: (!zones.is_empty())
                    .then(|| zones.iter().map(|s| s.to_string()).collect()),
                match_labels: (!labels.is_empty()).then(|| {
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
            }
        });
        AcmeChallengeSolver {
            selector,
            http01: (kind == "http").then(AcmeChallengeSolverHttp01::default),
            dns01: (kind == "dns").then(AcmeChallengeSolverDns01::default),
        }
    }

    #[test]
    fn in_zone_table() {
        for (domain, zone, want) in [
            ("example.com", "example.com", true),
            ("www.example.com", "example.com", true),
            ("WWW.Example.com.", "example.COM", true),
            ("badexample.com", "example.com", false),
            ("example.com", "www.example.com", false),
            ("example.com", "", false),
        ] {
            assert_eq!(in_zone(domain, zone), want, "{domain} in {zone}");
        }
    }

    #[test]
    fn choose_solver_table() {
        let both = [ChallengeType::Http01, ChallengeType::Dns01];
        let dns_only = [ChallengeType::Dns01];
        let labels: BTreeMap<String, String> = [
            ("team".to_owned(), "web".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]
        .into();
        /// Case, solvers, domain, wildcard, offered types, the chosen solver's index.
        type Case<'a> = (
            &'a str,
            Vec<AcmeChallengeSolver>,
            &'a str,
            bool,
            &'a [ChallengeType],
            Option<usize>,
        );
        let cases: Vec<Case> = vec![
            ("no solvers", vec![], "a.example.com", false, &both, None),
            (
                "the default solver",
                vec![solver("http", &[], &[], &[])],
                "a.example.com",
                false,
                &both,
                Some(0),
            ),
            (
                "a wildcard is never http-01",
                vec![solver("http", &[], &[], &[])],
                "example.com",
                true,
                &dns_only,
                None,
            ),
            (
                "a wildcard goes to dns-01",
                vec![solver("http", &[], &[], &[]), solver("dns", &[], &[], &[])],
                "example.com",
                true,
                &dns_only,
                Some(1),
            ),
            (
                "dnsNames beats a zone and the default",
                vec![
                    solver("http", &[], &[], &[]),
                    solver("dns", &[], &["example.com"], &[]),
                    solver("http", &["a.example.com"], &[], &[]),
                ],
                "a.example.com",
                false,
                &both,
                Some(2),
            ),
            (
                "a wildcard dnsNames entry is written with *.",
                vec![
                    solver("dns", &[], &[], &[]),
                    solver("dns", &["*.example.com"], &[], &[]),
                ],
                "example.com",
                true,
                &dns_only,
                Some(1),
            ),
            (
                "the longest zone wins",
                vec![
                    solver("dns", &[], &["example.com"], &[]),
                    solver("dns", &[], &["sys.example.com"], &[]),
                ],
                "www.sys.example.com",
                false,
                &both,
                Some(1),
            ),
            (
                "a zone that does not cover the name is no match",
                vec![solver("dns", &[], &["other.com"], &[])],
                "www.example.com",
                false,
                &both,
                None,
            ),
            (
                "labels must all match",
                vec![solver("http", &[], &[], &[("team", "api")])],
                "a.example.com",
                false,
                &both,
                None,
            ),
            (
                "more matching labels break a zone tie",
                vec![
                    solver("dns", &[], &["example.com"], &[("team", "web")]),
                    solver(
                        "dns",
                        &[],
                        &["example.com"],
                        &[("team", "web"), ("env", "prod")],
                    ),
                ],
                "a.example.com",
                false,
                &both,
                Some(1),
            ),
            (
                "a full tie: the first",
                vec![
                    solver("dns", &[], &["example.com"], &[]),
                    solver("http", &[], &["example.com"], &[]),
                ],
                "a.example.com",
                false,
                &both,
                Some(0),
            ),
            (
                "a matching label selector beats the default",
                vec![
                    solver("http", &[], &[], &[]),
                    solver("dns", &[], &[], &[("env", "prod")]),
                ],
                "a.example.com",
                false,
                &both,
                Some(1),
            ),
            (
                "a solver whose type is not offered is skipped",
                vec![
                    solver("http", &["a.example.com"], &[], &[]),
                    solver("dns", &[], &[], &[]),
                ],
                "a.example.com",
                false,
                &dns_only,
                Some(1),
            ),
        ];
        for (case, solvers, domain, wildcard, offered, want) in cases {
            let got = choose_solver(&solvers, domain, wildcard, &labels, offered).map(|c| c.index);
            assert_eq!(got, want, "{case}");
        }
    }
}
