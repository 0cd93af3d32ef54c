//! Certificates become Secrets, end to end, with the real controller process on the test bed:
//! SelfSigned root, CA-signed leaf, re-issuance triggers, key rotation policy, bad input.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use certsmith::api::{
    CaIssuer, Certificate, CertificateRequest, ConditionStatus, Issuer, IssuerSpec,
    SelfSignedIssuer, find_condition,
};
use certsmith::pki::inspect::parse_certificates_pem;
use certsmith::pki::keys::{parse_private_key_pem, public_keys_equal};
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds, run};

struct Env {
    ns: String,
    certs: Api<Certificate>,
    secrets: Api<Secret>,
    requests: Api<CertificateRequest>,
    ctl: ControllerProcess,
}

async fn setup(prefix: &str) -> Env {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, prefix).await;
    let ctl = ControllerProcess::start(&bed, &format!("{prefix}-{ns}"), &["--namespace", &ns]);
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), &ns);
    issuers
        .create(
            &PostParams::default(),
            &Issuer::new(
                "selfsigned",
                IssuerSpec {
                    self_signed: Some(SelfSignedIssuer::default()),
                    ..Default::default()
                },
            ),
        )
        .await
        .expect("selfsigned issuer");
    issuers
        .create(
            &PostParams::default(),
            &Issuer::new(
                "ca",
                IssuerSpec {
                    ca: Some(CaIssuer {
                        secret_name: "root-ca".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
        )
        .await
        .expect("CA issuer");
    Env {
        certs: Api::namespaced(client.clone(), &ns),
        secrets: Api::namespaced(client.clone(), &ns),
        requests: Api::namespaced(client.clone(), &ns),
        ns,
        ctl,
    }
}

impl Env {
    async fn apply(&self, name: &str, spec: serde_json::Value) {
        let doc = json!({ "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": { "name": name }, "spec": spec });
        self.certs
            .patch(
                name,
                &PatchParams::apply("certsmith-tests").force(),
                &Patch::Apply(&doc),
            )
            .await
            .unwrap_or_else(|e| panic!("applying Certificate {name}: {e}"));
    }

    /// Waits until the Certificate is Ready at `revision` (or later) and issuance has settled;
    /// returns it and its Secret.
    async fn ready(&self, name: &str, revision: i32) -> (Certificate, Secret) {
        let what = format!(
            "Certificate {}/{name} Ready at revision {revision}",
            self.ns
        );
        let fut = eventually(Duration::from_secs(45), &what, || async {
            let cert = self.certs.get(name).await.ok()?;
            let status = cert.status.as_ref()?;
            let ready = find_condition(status.conditions.as_deref()?, "Ready")?;
            let fresh = ready.observed_generation == cert.metadata.generation;
            (ready.status == ConditionStatus::True && fresh && status.revision? >= revision)
                .then_some(cert)
        });
        let cert = match tokio::time::timeout(Duration::from_secs(46), fut).await {
            Ok(cert) => cert,
            Err(_) => {
                let state = self.certs.get(name).await.ok().and_then(|c| c.status);
                panic!(
                    "timed out waiting for {what}\nstatus: {state:#?}\ncontroller log (tail):\n{}",
                    tail(&self.ctl.log_text(), 60)
                )
            }
        };
        let secret = self
            .secrets
            .get(&cert.spec.secret_name)
            .await
            .expect("the Certificate's Secret");
        (cert, secret)
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn data<'a>(secret: &'a Secret, key: &str) -> &'a [u8] {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
        .unwrap_or_default()
}

/// The Secret's key matches its leaf certificate; returns the leaf's SPKI.
fn assert_key_matches(secret: &Secret) -> Vec<u8> {
    let leaf = parse_certificates_pem(data(secret, "tls.crt"))
        .expect("tls.crt parses")
        .remove(0);
    let key = parse_private_key_pem(data(secret, "tls.key")).expect("tls.key parses");
    assert!(
        public_keys_equal(&key.info().public_key_der, &leaf.public_key_der),
        "tls.key does not match tls.crt"
    );
    leaf.public_key_der
}

#[tokio::test]
async fn self_signed_ca_then_leaf_and_reissue_triggers() {
    let env = setup("certs").await;

    // A self-signed root CA, written where the CA issuer reads it.
    env.apply(
        "root",
        json!({
            "isCA": true, "commonName": "certsmith test root", "secretName": "root-ca",
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    let (_, root_secret) = env.ready("root", 1).await;
    assert_key_matches(&root_secret);
    let root = parse_certificates_pem(data(&root_secret, "tls.crt"))
        .expect("root")
        .remove(0);
    assert!(root.is_ca);
    let ann = root_secret.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get("cert-manager.io/certificate-name")
            .map(String::as_str),
        Some("root")
    );
    assert_eq!(
        ann.get("cert-manager.io/issuer-name").map(String::as_str),
        Some("selfsigned")
    );
    assert_eq!(
        ann.get("cert-manager.io/issuer-kind").map(String::as_str),
        Some("Issuer")
    );
    assert_eq!(root_secret.type_.as_deref(), Some("kubernetes.io/tls"));

    // A leaf from the CA issuer, with several identity types.
    env.apply(
        "web",
        json!({
            "secretName": "web-tls", "dnsNames": ["web.example.test"], "ipAddresses": ["10.0.0.7"],
            "uris": ["spiffe://example.test/web"], "duration": "2h", "renewBefore": "30m",
            "privateKey": { "algorithm": "RSA", "size": 2048, "encoding": "PKCS8" },
            "secretTemplate": { "labels": { "team": "web" } },
            "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    let (web, web_secret) = env.ready("web", 1).await;
    let first_key = assert_key_matches(&web_secret);
    let leaf = parse_certificates_pem(data(&web_secret, "tls.crt"))
        .expect("leaf")
        .remove(0);
    assert_eq!(leaf.dns_names, ["web.example.test"]);
    assert_eq!(
        leaf.ip_addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.0.0.7"]
    );
    assert_eq!(leaf.uris, ["spiffe://example.test/web"]);
    assert_eq!(leaf.issuer, root.subject);
    assert_eq!(
        leaf.not_after.as_second() - leaf.not_before.as_second(),
        2 * 3600
    );
    assert!(
        std::str::from_utf8(data(&web_secret, "tls.key"))
            .expect("utf-8")
            .starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 asked"
    );
    assert_eq!(
        web_secret
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("web")
    );
    let status = web.status.clone().expect("status");
    assert_eq!(
        status.not_after.as_ref().map(|t| t.0.as_second()),
        Some(leaf.not_after.as_second())
    );
    assert_eq!(
        status.renewal_time.as_ref().map(|t| t.0.as_second()),
        Some(leaf.not_after.as_second() - 30 * 60),
        "renewal 30m (renewBefore) before expiry"
    );

    // The leaf verifies against ca.crt with OpenSSL.
    let dir = std::env::temp_dir().join(format!("certsmith-{}", env.ns));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("ca.pem"), data(&web_secret, "ca.crt")).expect("ca.pem");
    std::fs::write(dir.join("tls.pem"), data(&web_secret, "tls.crt")).expect("tls.pem");
    let (ok, out, err) = run(std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .arg(dir.join("tls.pem")));
    assert!(ok, "openssl verify: {out}{err}");

    // Idle: nothing is rewritten.
    let before = env
        .certs
        .get("web")
        .await
        .expect("read")
        .metadata
        .resource_version;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        env.certs
            .get("web")
            .await
            .expect("read")
            .metadata
            .resource_version,
        before,
        "an up-to-date Certificate was rewritten"
    );

    // Another writer's key in the Secret is kept across re-issuance.
    env.secrets
        .patch("web-tls", &PatchParams::apply("someone-else"), &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "web-tls" }, "data": { "extra": "aGVsbG8=" }
        })))
        .await
        .expect("another writer adds a key");

    // Spec change: a new DNS name re-issues (revision 2) with a new key (rotation Always).
    env.apply("web", json!({
        "secretName": "web-tls", "dnsNames": ["web.example.test", "www.example.test"], "ipAddresses": ["10.0.0.7"],
        "uris": ["spiffe://example.test/web"], "duration": "2h", "renewBefore": "30m",
        "privateKey": { "algorithm": "RSA", "size": 2048, "encoding": "PKCS8" },
        "secretTemplate": { "labels": { "team": "web" } },
        "issuerRef": { "name": "ca" }
    })).await;
    let (_, web_secret) = env.ready("web", 2).await;
    let second_key = assert_key_matches(&web_secret);
    assert_ne!(
        first_key, second_key,
        "rotationPolicy Always makes a new key"
    );
    let leaf = parse_certificates_pem(data(&web_secret, "tls.crt"))
        .expect("leaf")
        .remove(0);
    assert_eq!(leaf.dns_names, ["web.example.test", "www.example.test"]);
    assert_eq!(
        data(&web_secret, "extra"),
        b"hello",
        "keys other writers added are preserved"
    );

    // The Secret is deleted: re-issued.
    env.secrets
        .delete("web-tls", &DeleteParams::default())
        .await
        .expect("deleting the Secret");
    let (_, web_secret) = env.ready("web", 3).await;
    assert_key_matches(&web_secret);

    // One CertificateRequest per revision.
    let names: Vec<String> = env
        .requests
        .list(&Default::default())
        .await
        .expect("listing requests")
        .items
        .into_iter()
        .filter(|r| {
            r.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("cert-manager.io/certificate-name"))
                .map(String::as_str)
                == Some("web")
        })
        .filter_map(|r| r.metadata.name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["web-1", "web-2", "web-3"],
        "exactly one request per revision"
    );
    assert!(
        !env.ctl.log_text().contains("-----BEGIN"),
        "no key material in logs"
    );
}

#[tokio::test]
async fn rotation_policy_never_keeps_the_key_and_bad_input_is_reported() {
    let env = setup("certs-never").await;
    env.apply("keep", json!({
        "secretName": "keep-tls", "commonName": "keep.example.test", "dnsNames": ["keep.example.test"],
        "privateKey": { "algorithm": "Ed25519", "rotationPolicy": "Never" },
        "issuerRef": { "name": "selfsigned" }
    })).await;
    let (_, secret) = env.ready("keep", 1).await;
    let key = assert_key_matches(&secret);
    env.apply("keep", json!({
        "secretName": "keep-tls", "commonName": "keep.example.test", "dnsNames": ["keep.example.test", "kept.example.test"],
        "privateKey": { "algorithm": "Ed25519", "rotationPolicy": "Never" },
        "issuerRef": { "name": "selfsigned" }
    })).await;
    let (_, secret) = env.ready("keep", 2).await;
    assert_eq!(
        assert_key_matches(&secret),
        key,
        "rotationPolicy Never keeps the key"
    );

    // A Certificate naming an issuer that does not exist: not Ready, and it says why.
    env.apply("orphan", json!({
        "secretName": "orphan-tls", "dnsNames": ["orphan.example.test"], "issuerRef": { "name": "nowhere" }
    })).await;
    let what = "Certificate orphan not Ready with a message";
    let message = eventually(Duration::from_secs(30), what, || async {
        let cert = env.certs.get("orphan").await.ok()?;
        let ready = find_condition(cert.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
        (ready.status == ConditionStatus::False).then(|| ready.message.unwrap_or_default())
    })
    .await;
    assert!(!message.is_empty(), "the Ready condition explains");
    let request = eventually(
        Duration::from_secs(30),
        "the orphan's request waiting",
        || async {
            let r = env.requests.get("orphan-1").await.ok()?;
            let ready = find_condition(r.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
            ready.message.filter(|m| m.contains("nowhere"))
        },
    )
    .await;
    assert!(
        request.contains(&format!("{}/nowhere", env.ns)),
        "{request}"
    );
    assert!(
        env.secrets
            .get_opt("orphan-tls")
            .await
            .expect("read")
            .is_none(),
        "no Secret without a certificate"
    );
}
