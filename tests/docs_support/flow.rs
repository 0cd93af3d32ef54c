//! The substitutions that turn a walk-through page (`<!-- docs-test: flow -->`) into something
//! the shared test bed can run, stated once here and in docs/README.md:
//!
//! - Let's Encrypt's staging URL becomes the bed's Pebble, and an ACME issuer pointing at it
//!   gets the bed's `caBundle` (Pebble's HTTPS listener is signed by the bed's own CA);
//! - host names `NAME.example.com` become `NAME-<random>.example.test` (the bed's DNS zone, whose
//!   wildcard record points at the bed's http-01 solver host);
//! - the namespace `demo` becomes a fresh namespace, `certsmith` (where the chart goes and
//!   where ClusterIssuer Secrets live) another one, and the Helm release `certsmith` a unique
//!   release: concurrent tests share the bed;
//! - cluster-scoped names the page creates (ClusterIssuers) get a random suffix;
//! - `kubectl delete` gets `--wait=false`: the bed has no namespace controller, so a deleted
//!   namespace never finishes terminating;
//! - `helm install` of charts/certsmith also gets `--set installCRDs=false --set
//!   crds.enabled=false`: the bed's CRDs are shared by concurrent tests and never owned by one
//!   release.

use serde_json::Value;

pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// The names one flow run uses instead of the page's.
pub struct Flow {
    /// Random label used in suffixes and host names.
    pub rand: String,
    /// Replaces the namespace `demo`.
    pub namespace: String,
    /// Replaces the namespace `certsmith` (chart namespace and cluster resource namespace).
    pub resources: String,
    /// Replaces the Helm release `certsmith`.
    pub release: String,
    /// The bed's ACME directory.
    pub acme_url: String,
    /// Cluster-scoped names the page defines, replaced by `<name>-<rand>`.
    pub cluster_names: Vec<String>,
}

impl Flow {
    /// Text substitutions, for both manifests and command lines.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.replace(LETSENCRYPT_STAGING, &self.acme_url);
        for name in &self.cluster_names {
            out = replace_token(&out, name, &format!("{name}-{}", self.rand));
        }
        replace_hosts(&out, &self.rand)
    }

    /// A namespace of the page, as the run spells it.
    pub fn namespace_of(&self, ns: &str) -> String {
        match ns {
            "demo" => self.namespace.clone(),
            "certsmith" => self.resources.clone(),
            other => other.to_owned(),
        }
    }

    /// A command line of the page, as the run spells it: text substitutions, then namespaces
    /// (`-n X`, `--namespace X`, `--namespace=X`, `create|delete namespace X`) and the Helm
    /// release and its CRD settings.
    pub fn command(&self, words: &[String]) -> Vec<String> {
        let mut out: Vec<String> = words.iter().map(|w| self.text(w)).collect();
        for i in 0..out.len() {
            let prev = if i > 0 { out[i - 1].as_str() } else { "" };
            let ns_value = matches!(prev, "-n" | "--namespace")
                || (matches!(prev, "namespace" | "ns")
                    && i >= 2
                    && matches!(out[i - 2].as_str(), "create" | "delete"));
            if ns_value {
                out[i] = self.namespace_of(&out[i]);
            } else if let Some(v) = out[i].strip_prefix("--namespace=") {
                out[i] = format!("--namespace={}", self.namespace_of(v));
            }
        }
        if out[0] == "kubectl" && out.get(1).is_some_and(|v| v == "delete") {
            out.push("--wait=false".into());
        }
        if out[0] == "helm"
            && matches!(
                out.get(1).map(String::as_str),
                Some("install" | "uninstall" | "upgrade" | "status")
            )
        {
            if out.get(2).map(String::as_str) == Some("certsmith") {
                out[2] = self.release.clone();
            }
            if matches!(out[1].as_str(), "install" | "upgrade") {
                out.extend(
                    ["--set", "installCRDs=false", "--set", "crds.enabled=false"].map(String::from),
                );
            }
        }
        out
    }

    /// A manifest of the page, as the run applies it: namespaced objects moved to their
    /// run namespace, and ACME issuers on the bed's Pebble given the bed's CA bundle.
    pub fn manifest(&self, mut doc: Value, ca_bundle_b64: &str) -> Value {
        if is_namespaced(&doc) {
            let ns = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or("demo")
                .to_owned();
            doc["metadata"]["namespace"] = Value::String(self.namespace_of(&ns));
        }
        if doc["spec"]["acme"]["server"].as_str() == Some(self.acme_url.as_str()) {
            doc["spec"]["acme"]["caBundle"] = Value::String(ca_bundle_b64.to_owned());
        }
        doc
    }
}

/// Whether a manifest's kind lives in a namespace (the kinds the docs use).
pub fn is_namespaced(doc: &Value) -> bool {
    !matches!(
        doc["kind"].as_str().unwrap_or(""),
        "ClusterIssuer"
            | "Namespace"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "IngressClass"
            | "CustomResourceDefinition"
            | "GatewayClass"
            | "APIService"
    )
}

/// Replaces `from` where it stands as a whole name (not inside a longer name of letters,
/// digits, `-` or `.`).
pub fn replace_token(text: &str, from: &str, to: &str) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find(from) {
        let before = rest[..pos].chars().next_back();
        let after = rest[pos + from.len()..].chars().next();
        // A trailing '.' ends a sentence, not a name.
        let after_is_name = after.is_some_and(|c| is_name(c) && c != '.');
        out.push_str(&rest[..pos]);
        if before.is_some_and(is_name) || after_is_name {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[pos + from.len()..];
    }
    out.push_str(rest);
    out
}

/// `NAME.example.com` -> `NAME-<rand>.example.test`; e-mail domains (`x@example.com`) stay.
fn replace_hosts(text: &str, rand: &str) -> String {
    const DOMAIN: &str = ".example.com";
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find(DOMAIN) {
        let head = &rest[..pos];
        let label_start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '*'))
            .map_or(0, |i| i + 1);
        let is_email = head[..label_start].ends_with('@');
        out.push_str(head);
        if is_email || label_start == pos {
            out.push_str(DOMAIN);
        } else {
            out.push_str(&format!("-{rand}.example.test"));
        }
        rest = &rest[pos + DOMAIN.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flow() -> Flow {
        Flow {
            rand: "r1".into(),
            namespace: "ns1".into(),
            resources: "res1".into(),
            release: "rel1".into(),
            acme_url: "https://127.0.0.1:1/dir".into(),
            cluster_names: vec!["letsencrypt-staging".into()],
        }
    }

    #[test]
    fn text() {
        let f = flow();
        let cases = [
            (
                "server: https://acme-staging-v02.api.letsencrypt.org/directory",
                "server: https://127.0.0.1:1/dir",
            ),
            (
                "name: letsencrypt-staging\n",
                "name: letsencrypt-staging-r1\n",
            ),
            (
                "cert-manager.io/cluster-issuer=letsencrypt-staging",
                "cert-manager.io/cluster-issuer=letsencrypt-staging-r1",
            ),
            (
                "clusterissuer/letsencrypt-staging.",
                "clusterissuer/letsencrypt-staging-r1.",
            ),
            (
                "letsencrypt-staging-account-key",
                "letsencrypt-staging-account-key",
            ),
            ("hosts: [web.example.com]", "hosts: [web-r1.example.test]"),
            ("email: admin@example.com", "email: admin@example.com"),
        ];
        for (from, want) in cases {
            assert_eq!(f.text(from), want, "{from}");
        }
    }

    #[test]
    fn commands() {
        let f = flow();
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let cases = [
            (
                "kubectl get certificate -n demo",
                "kubectl get certificate -n ns1",
            ),
            (
                "kubectl create namespace demo",
                "kubectl create namespace ns1",
            ),
            (
                "kubectl delete namespace demo",
                "kubectl delete namespace ns1 --wait=false",
            ),
            (
                "kubectl get pods --namespace=certsmith",
                "kubectl get pods --namespace=res1",
            ),
            ("kubectl get cert -n other", "kubectl get cert -n other"),
            (
                "helm install certsmith charts/certsmith -n certsmith --create-namespace --set installCRDs=true",
                "helm install rel1 charts/certsmith -n res1 --create-namespace --set installCRDs=true --set installCRDs=false --set crds.enabled=false",
            ),
            (
                "helm uninstall certsmith -n certsmith",
                "helm uninstall rel1 -n res1",
            ),
        ];
        for (from, want) in cases {
            assert_eq!(f.command(&w(from)).join(" "), want, "{from}");
        }
    }

    #[test]
    fn manifests() {
        let f = flow();
        let issuer = json!({"kind": "ClusterIssuer", "metadata": {"name": "x"},
            "spec": {"acme": {"server": "https://127.0.0.1:1/dir"}}});
        let got = f.manifest(issuer, "Q0E=");
        assert_eq!(got["spec"]["acme"]["caBundle"], "Q0E=");
        assert!(got["metadata"].get("namespace").is_none());
        let ingress = json!({"kind": "Ingress", "metadata": {"name": "web"}});
        assert_eq!(f.manifest(ingress, "")["metadata"]["namespace"], "ns1");
        let secret = json!({"kind": "Secret", "metadata": {"name": "s", "namespace": "certsmith"}});
        assert_eq!(f.manifest(secret, "")["metadata"]["namespace"], "res1");
    }
}
