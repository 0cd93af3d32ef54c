//! An Ingress's TLS entries → the Certificates the shim keeps for it: one per distinct
//! `secretName`, named after the Secret, with the hosts of every entry naming that Secret.

use k8s_openapi::api::networking::v1::Ingress;

/// One Certificate an Ingress asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCertificate {
    /// The Secret, and the Certificate's name.
    pub secret_name: String,
    /// The hosts, in the order they first appear, without duplicates.
    pub dns_names: Vec<String>,
}

/// The Certificates `ingress` asks for, and a warning for each TLS entry that cannot be served
/// (no `secretName`, or no hosts).
pub fn tls_certificates(ingress: &Ingress) -> (Vec<TlsCertificate>, Vec<String>) {
    let mut out: Vec<TlsCertificate> = Vec::new();
    let mut warnings = Vec::new();
    let entries = ingress
        .spec
        .as_ref()
        .and_then(|s| s.tls.as_deref())
        .unwrap_or_default();
    for (i, tls) in entries.iter().enumerate() {
        let Some(secret) = tls.secret_name.as_deref().filter(|s| !s.is_empty()) else {
            warnings.push(format!(
                "spec.tls[{i}] has no secretName: no Certificate for it"
            ));
            continue;
        };
        let hosts: Vec<String> = tls
            .hosts
            .iter()
            .flatten()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            warnings.push(format!(
                "spec.tls[{i}] (secretName {secret}) has no hosts: no Certificate for it"
            ));
            continue;
        }
        let entry = match out.iter_mut().find(|c| c.secret_name == secret) {
            Some(entry) => entry,
            None => {
                out.push(TlsCertificate {
                    secret_name: secret.to_owned(),
                    dns_names: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        for host in hosts {
            if !entry.dns_names.contains(&host) {
                entry.dns_names.push(host);
            }
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingress(tls: serde_json::Value) -> Ingress {
        serde_json::from_value(json!({ "metadata": { "name": "web" }, "spec": { "tls": tls } }))
            .unwrap()
    }

    #[test]
    fn tls_entries_table() {
        let cases = [
            ("no tls", ingress(json!([])), vec![], 0),
            (
                "one entry",
                ingress(
                    json!([{ "hosts": ["a.example.com", "B.example.com"], "secretName": "web-tls" }]),
                ),
                vec![("web-tls", vec!["a.example.com", "b.example.com"])],
                0,
            ),
            (
                "two entries share a Secret: merged, deduplicated",
                ingress(json!([
                    { "hosts": ["a.example.com"], "secretName": "web-tls" },
                    { "hosts": ["b.example.com", "a.example.com"], "secretName": "web-tls" },
                    { "hosts": ["c.example.com"], "secretName": "other-tls" },
                ])),
                vec![
                    ("web-tls", vec!["a.example.com", "b.example.com"]),
                    ("other-tls", vec!["c.example.com"]),
                ],
                0,
            ),
            (
                "entries without secretName or hosts are reported",
                ingress(json!([{ "hosts": ["a.example.com"] }, { "secretName": "empty-tls" }])),
                vec![],
                2,
            ),
        ];
        for (case, ing, want, warnings) in cases {
            let (got, warned) = tls_certificates(&ing);
            let got: Vec<(&str, Vec<&str>)> = got
                .iter()
                .map(|c| {
                    (
                        c.secret_name.as_str(),
                        c.dns_names.iter().map(String::as_str).collect(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{case}");
            assert_eq!(warned.len(), warnings, "{case}: {warned:?}");
        }
    }
}
