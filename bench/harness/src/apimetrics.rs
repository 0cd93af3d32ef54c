//! kube-apiserver's own request counters (`apiserver_request_total` in its `/metrics`): the
//! writes made, by resource and verb, and the optimistic-lock conflicts (HTTP 409), so the
//! bench counts what reached the apiserver rather than what a client believes it sent (pure but
//! for [`scrape`]).

use std::collections::BTreeMap;

use kube::Client;

/// The verbs kube-apiserver records for writes (APPLY is a server-side apply PATCH).
pub const WRITE_VERBS: &[&str] = &[
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];

/// `resource[/subresource] VERB`, e.g. `certificates/status APPLY`.
pub type WriteKey = String;

/// Counters at one moment (or the difference between two).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Writes by `resource[/subresource] VERB`, every response code.
    pub writes: BTreeMap<WriteKey, u64>,
    /// Reads (GET, LIST; not WATCH) by `resource[/subresource] VERB`: for the profile only.
    pub reads: BTreeMap<WriteKey, u64>,
    /// Requests answered 409 Conflict, by `resource[/subresource] VERB`: optimistic-lock
    /// failures (stale resourceVersion) and creates of existing names.
    pub conflicts: BTreeMap<WriteKey, u64>,
}

impl Snapshot {
    pub fn total_writes(&self) -> u64 {
        self.writes.values().sum()
    }

    pub fn total_conflicts(&self) -> u64 {
        self.conflicts.values().sum()
    }

    /// `self - before`, per key (counters only grow while the apiserver runs).
    pub fn since(&self, before: &Snapshot) -> Snapshot {
        let sub = |a: &BTreeMap<WriteKey, u64>, b: &BTreeMap<WriteKey, u64>| {
            a.iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(*b.get(k).unwrap_or(&0))))
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        Snapshot {
            writes: sub(&self.writes, &before.writes),
            reads: sub(&self.reads, &before.reads),
            conflicts: sub(&self.conflicts, &before.conflicts),
        }
    }
}

/// Reads the counters from the apiserver.
pub async fn scrape(client: &Client) -> Result<Snapshot, kube::Error> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("a static request");
    Ok(parse(&client.request_text(req).await?))
}

/// Parses the Prometheus text of kube-apiserver's `/metrics`.
pub fn parse(text: &str) -> Snapshot {
    let mut snap = Snapshot::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let labels = parse_labels(labels);
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        let verb = get("verb");
        let mut key = get("resource").to_owned();
        if !get("subresource").is_empty() {
            key = format!("{key}/{}", get("subresource"));
        }
        let key = format!("{key} {verb}");
        let value = value as u64;
        if WRITE_VERBS.contains(&verb) {
            *snap.writes.entry(key.clone()).or_default() += value;
        } else if verb == "GET" || verb == "LIST" {
            *snap.reads.entry(key.clone()).or_default() += value;
        }
        if get("code") == "409" {
            *snap.conflicts.entry(key).or_default() += value;
        }
    }
    snap
}

/// `a="x",b="y"` (values may hold escaped quotes) into a map.
fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim_start_matches(',').trim().to_owned();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(match n {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = eq + 2 + i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(name, value);
        rest = &rest[end.min(rest.len())..];
    }
    out
}

/// Writes the controller did not make: kube-apiserver's own (renewing its identity Lease every
/// 10 s; its `default/kubernetes` endpoints reconciler, which on the bed POSTs endpoints every
/// 10 s and is answered 422) and the bed's kubelet stand-in (solver-host) writing solver Pod
/// statuses. The controllers under test run without leader election (no Lease) and never
/// write endpoints.
pub fn is_background(key: &str) -> bool {
    let resource = key.split(' ').next().unwrap_or("");
    matches!(
        resource,
        "leases" | "endpoints" | "endpointslices" | "pods/status"
    )
}

/// A write delta split by who made it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributed {
    /// What the controller wrote, by key.
    pub controller: BTreeMap<WriteKey, u64>,
    pub background: u64,
    pub harness: u64,
}

impl Attributed {
    pub fn controller_total(&self) -> u64 {
        self.controller.values().sum()
    }
}

/// Splits `delta` into the controller's writes, the background's and the harness's own
/// (`harness`: what the bench itself wrote in the window, by key, e.g. `certificates POST`).
pub fn attribute(delta: &Snapshot, harness: &BTreeMap<WriteKey, u64>) -> Attributed {
    let mut out = Attributed::default();
    for (key, &n) in &delta.writes {
        if is_background(key) {
            out.background += n;
            continue;
        }
        let ours = harness.get(key).copied().unwrap_or(0).min(n);
        out.harness += ours;
        if n > ours {
            out.controller.insert(key.clone(), n - ours);
        }
    }
    out
}

/// The breakdown of the controller's writes per certificate, largest first, one per line.
pub fn breakdown(att: &Attributed, per: f64) -> String {
    let mut rows: Vec<(&WriteKey, &u64)> = att.controller.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    rows.iter()
        .map(|(k, n)| {
            format!(
                "    {:<44} {:>8} ({:.2} per certificate)",
                k,
                n,
                **n as f64 / per
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="cert-manager.io",resource="certificates",scope="resource",subresource="",verb="POST",version="v1"} 100
apiserver_request_total{code="200",component="apiserver",dry_run="",group="cert-manager.io",resource="certificates",scope="resource",subresource="status",verb="APPLY",version="v1"} 250
apiserver_request_total{code="409",component="apiserver",dry_run="",group="cert-manager.io",resource="certificates",scope="resource",subresource="status",verb="APPLY",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 900
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 2
apiserver_request_total{code="422",component="apiserver",dry_run="",group="",resource="endpoints",scope="resource",subresource="",verb="POST",version="v1"} 4
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="collection",subresource="",verb="DELETECOLLECTION",version="v1"} 1
apiserver_request_duration_seconds_bucket{verb="POST",le="0.1"} 5
"#;

    #[test]
    fn parses_writes_and_conflicts() {
        let s = parse(SAMPLE);
        let want: BTreeMap<WriteKey, u64> = [
            ("certificates POST", 100),
            ("certificates/status APPLY", 253),
            ("endpoints POST", 4),
            ("events POST", 7),
            ("leases PUT", 12),
            ("pods/status PATCH", 2),
            ("secrets DELETECOLLECTION", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(s.writes, want);
        assert_eq!(s.total_conflicts(), 3);
        assert_eq!(s.reads, BTreeMap::from([("secrets GET".to_owned(), 900)]));
        assert_eq!(s.total_writes(), 379);
    }

    #[test]
    fn labels_with_escapes() {
        let got = parse_labels(r#"a="x",b="say \"hi\", ok",c="""#);
        assert_eq!(got["a"], "x");
        assert_eq!(got["b"], "say \"hi\", ok");
        assert_eq!(got["c"], "");
    }

    #[test]
    fn attribution_takes_off_the_harness_and_the_background() {
        let before = parse(SAMPLE);
        let mut after = before.clone();
        *after.writes.get_mut("certificates POST").unwrap() += 10;
        *after.writes.get_mut("certificates/status APPLY").unwrap() += 30;
        *after.writes.get_mut("leases PUT").unwrap() += 6;
        *after.writes.get_mut("pods/status PATCH").unwrap() += 1;
        *after.writes.get_mut("endpoints POST").unwrap() += 1;
        after.writes.insert("certificaterequests POST".into(), 10);
        let delta = after.since(&before);
        assert_eq!(delta.total_writes(), 58);
        let harness = BTreeMap::from([("certificates POST".to_owned(), 10)]);
        let att = attribute(&delta, &harness);
        assert_eq!(att.harness, 10);
        assert_eq!(att.background, 8);
        assert_eq!(att.controller_total(), 40);
        assert_eq!(att.controller["certificates/status APPLY"], 30);
        assert!(!att.controller.contains_key("certificates POST"));
        assert!(!is_background("pods POST") && !is_background("secrets APPLY"));
        let text = breakdown(&att, 10.0);
        assert!(
            text.lines()
                .next()
                .unwrap()
                .contains("certificates/status APPLY")
        );
        assert!(text.contains("3.00 per certificate"));
    }
}
