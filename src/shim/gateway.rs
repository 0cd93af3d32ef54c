//! A Gateway's TLS listeners → the Certificates the shim keeps for it: one per Secret named in
//! a listener's `tls.certificateRefs`, named after the Secret, with the hostnames of every
//! listener referring to it. Passthrough listeners, references to other kinds or namespaces,
//! and listeners without a hostname are skipped with a warning (cert-manager does the same).

use serde_json::Value;

use super::ingress::TlsCertificate;

/// The Certificates a Gateway (as JSON: `gateway.networking.k8s.io/v1`) in `namespace` asks
/// for, and a warning per listener that cannot be served.
pub fn gateway_certificates(
    gateway: &Value,
    namespace: &str,
) -> (Vec<TlsCertificate>, Vec<String>) {
    let mut out: Vec<TlsCertificate> = Vec::new();
    let mut warnings = Vec::new();
    let listeners = gateway["spec"]["listeners"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, listener) in listeners.iter().enumerate() {
        let tls = &listener["tls"];
        if tls.is_null() {
            continue;
        }
        let name = listener["name"].as_str().unwrap_or("");
        if tls["mode"].as_str().is_some_and(|m| m == "Passthrough") {
            continue;
        }
        let refs = tls["certificateRefs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs.is_empty() {
            continue;
        }
        let Some(hostname) = listener["hostname"]
            .as_str()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
        else {
            warnings.push(format!(
                "spec.listeners[{i}] ({name}) has TLS but no hostname: no Certificate for it"
            ));
            continue;
        };
        for r in refs {
            let group = r["group"].as_str().unwrap_or("");
            let kind = r["kind"].as_str().unwrap_or("Secret");
            let ref_ns = r["namespace"].as_str().unwrap_or(namespace);
            let Some(secret) = r["name"].as_str().filter(|s| !s.is_empty()) else {
                continue;
            };
            if !group.is_empty() || kind != "Secret" || ref_ns != namespace {
                warnings.push(format!(
                    "spec.listeners[{i}] ({name}) refers to {kind} {ref_ns}/{secret}: only Secrets in the Gateway's namespace get Certificates"
                ));
                continue;
            }
            match out.iter_mut().find(|c| c.secret_name == secret) {
                Some(entry) => {
                    if !entry.dns_names.contains(&hostname) {
                        entry.dns_names.push(hostname.clone());
                    }
                }
                None => out.push(TlsCertificate {
                    secret_name: secret.to_owned(),
                    dns_names: vec![hostname.clone()],
                }),
            }
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listeners_table() {
        let gw = |listeners: Value| json!({ "spec": { "gatewayClassName": "x", "listeners": listeners } });
        let https = |name: &str, host: Option<&str>, refs: Value| {
            let mut l = json!({ "name": name, "port": 443, "protocol": "HTTPS", "tls": { "mode": "Terminate", "certificateRefs": refs } });
            if let Some(h) = host {
                l["hostname"] = json!(h);
            }
            l
        };
        let cases = [
            (
                "plain http listener",
                gw(
                    json!([{ "name": "http", "port": 80, "protocol": "HTTP", "hostname": "a.example.com" }]),
                ),
                vec![],
                0,
            ),
            (
                "one TLS listener",
                gw(json!([https(
                    "a",
                    Some("A.example.com"),
                    json!([{ "name": "a-tls" }])
                )])),
                vec![("a-tls", vec!["a.example.com"])],
                0,
            ),
            (
                "two listeners share a Secret",
                gw(json!([
                    https(
                        "a",
                        Some("a.example.com"),
                        json!([{ "name": "shared", "kind": "Secret", "group": "" }])
                    ),
                    https("b", Some("b.example.com"), json!([{ "name": "shared" }])),
                ])),
                vec![("shared", vec!["a.example.com", "b.example.com"])],
                0,
            ),
            (
                "no hostname, another namespace, another kind: warned",
                gw(json!([
                    https("nohost", None, json!([{ "name": "x" }])),
                    https(
                        "other-ns",
                        Some("c.example.com"),
                        json!([{ "name": "y", "namespace": "elsewhere" }])
                    ),
                    https(
                        "other-kind",
                        Some("d.example.com"),
                        json!([{ "name": "z", "kind": "ConfigMap" }])
                    ),
                ])),
                vec![],
                3,
            ),
            (
                "passthrough is not terminated here",
                gw(
                    json!([{ "name": "p", "hostname": "p.example.com", "port": 443, "protocol": "TLS", "tls": { "mode": "Passthrough" } }]),
                ),
                vec![],
                0,
            ),
        ];
        for (case, gateway, want, warnings) in cases {
            let (got, warned) = gateway_certificates(&gateway, "apps");
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
