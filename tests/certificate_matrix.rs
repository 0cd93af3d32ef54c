//! The Certificate matrix, end to end: many Certificates at once against the real controller
//! process on the test bed, each checked with `openssl` on its Secret as a user would:
//! every key algorithm, size and encoding; every identity type and subject field; CA usages and
//! name constraints; the issuers' CRL/OCSP/CA-issuer URLs; a ClusterIssuer; an issuer that
//! becomes ready after the Certificate was created.
//!
//! Each test applies all its Certificates at once in one fresh namespace and waits for all of
//! them, then checks every case and reports every failing case together, each by name.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use certsmith::api::{
    Certificate, CertificateRequest, ClusterIssuer, ConditionStatus, Issuer, find_condition,
};
use support::certs::{
    ScratchDir, apply_certificate, openssl, openssl_check_secret, ready_at, ready_summary,
    secret_data, tail,
};
use support::{
    ControllerProcess, TestBed, delete_namespace, eventually, fresh_namespace, install_crds,
};

/// A controller that watches every namespace acts on the other tests' namespaces too: the
/// ClusterIssuer test holds this lock for writing, every other test for reading.
static CLUSTER_WIDE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

struct Env {
    client: Client,
    ns: String,
    certs: Api<Certificate>,
    secrets: Api<Secret>,
    ctl: ControllerProcess,
    scratch: ScratchDir,
}

/// A fresh namespace and a controller for it; `controller_args` default to watching only that
/// namespace.
async fn setup(prefix: &str, controller_args: Option<Vec<String>>) -> Env {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, prefix).await;
    let args = controller_args.unwrap_or_else(|| vec!["--namespace".into(), ns.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ctl = ControllerProcess::start(&bed, &format!("{prefix}-{ns}"), &args);
    Env {
        certs: Api::namespaced(client.clone(), &ns),
        secrets: Api::namespaced(client.clone(), &ns),
        scratch: ScratchDir::new(&ns),
        client,
        ns,
        ctl,
    }
}

impl Env {
    /// Stops the controller and deletes the namespace with what is in it (kept when a test
    /// fails, for a look).
    async fn done(self) {
        let Env {
            client, ns, ctl, ..
        } = self;
        drop(ctl);
        delete_namespace(&client, &ns).await;
    }

    /// Server-side applies an Issuer of this namespace with `spec` (JSON as in a manifest).
    async fn issuer(&self, name: &str, spec: serde_json::Value) {
        let doc = json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
            "metadata": { "name": name }, "spec": spec
        });
        Api::<Issuer>::namespaced(self.client.clone(), &self.ns)
            .patch(
                name,
                &PatchParams::apply("certsmith-tests").force(),
                &Patch::Apply(&doc),
            )
            .await
            .unwrap_or_else(|e| panic!("applying Issuer {name}: {e}"));
    }

    async fn apply(&self, name: &str, spec: serde_json::Value) {
        apply_certificate(&self.certs, name, spec).await;
    }

    /// A `selfsigned` Issuer, a self-signed ECDSA root in Secret `root-ca`, and the `ca` Issuer
    /// that signs with it.
    async fn root_ca(&self) {
        self.issuer("selfsigned", json!({ "selfSigned": {} })).await;
        self.issuer("ca", json!({ "ca": { "secretName": "root-ca" } }))
            .await;
        self.apply(
            "root",
            json!({
                "isCA": true, "commonName": "certsmith matrix root", "secretName": "root-ca",
                "privateKey": { "algorithm": "ECDSA", "size": 256 },
                "issuerRef": { "name": "selfsigned" }
            }),
        )
        .await;
        self.all_ready(&["root"], Instant::now(), Duration::from_secs(60))
            .await;
    }

    /// Waits until every Certificate in `names` is Ready at revision 1 (or later) with its
    /// issuance settled; returns each one's Secret and how long after `since` it was seen
    /// Ready. On timeout, panics naming every Certificate still not Ready and why.
    async fn all_ready(
        &self,
        names: &[&str],
        since: Instant,
        timeout: Duration,
    ) -> BTreeMap<String, (Secret, Duration)> {
        let deadline = Instant::now() + timeout;
        let mut done: BTreeMap<String, (Secret, Duration)> = BTreeMap::new();
        loop {
            let listed = self.certs.list(&Default::default()).await;
            for cert in listed.map(|l| l.items).unwrap_or_default() {
                let name = cert.name_any();
                if !names.contains(&name.as_str())
                    || done.contains_key(&name)
                    || !ready_at(&cert, 1)
                {
                    continue;
                }
                let elapsed = since.elapsed();
                if let Ok(Some(secret)) = self.secrets.get_opt(&cert.spec.secret_name).await {
                    done.insert(name, (secret, elapsed));
                }
            }
            if done.len() == names.len() {
                return done;
            }
            if Instant::now() > deadline {
                let mut missing = Vec::new();
                for name in names.iter().filter(|n| !done.contains_key(**n)) {
                    let state = match self.certs.get(name).await {
                        Ok(cert) => ready_summary(&cert),
                        Err(e) => format!("unreadable: {e}"),
                    };
                    missing.push(format!("  {name}: {state}"));
                }
                panic!(
                    "after {timeout:?}, {} of {} Certificates in {} are not Ready:\n{}\ncontroller log (tail):\n{}",
                    missing.len(),
                    names.len(),
                    self.ns,
                    missing.join("\n"),
                    tail(&self.ctl.log_text(), 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Asserts that Certificate `name` stays not Ready (Ready False, with a message) and has no
    /// Secret; returns its Ready message.
    async fn not_ready_without_secret(&self, name: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let cert = self.certs.get(name).await.expect("reading the Certificate");
            let ready = cert
                .status
                .as_ref()
                .and_then(|s| find_condition(s.conditions.as_deref()?, "Ready").cloned());
            if let Some(ready) = ready.filter(|c| c.status == ConditionStatus::False) {
                let secret = self.secrets.get_opt(&cert.spec.secret_name).await;
                assert!(
                    matches!(secret, Ok(None)),
                    "[{name}] a Secret was written although the Certificate is not Ready"
                );
                return ready.message.unwrap_or_default();
            }
            assert!(
                Instant::now() < deadline,
                "[{name}] no Ready=False condition after {timeout:?}: {}\ncontroller log (tail):\n{}",
                ready_summary(&cert),
                tail(&self.ctl.log_text(), 40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Every failing case of a test, reported together, each by name.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, case: &str, result: Result<(), String>) {
        if let Err(e) = result {
            self.0.push(format!("[{case}] {e}"));
        }
    }

    fn eq(&mut self, case: &str, what: &str, got: &str, want: &str) {
        if got != want {
            self.0.push(format!(
                "[{case}] {what}:\n  got:  {got:?}\n  want: {want:?}"
            ));
        }
    }

    fn finish(self, ctl: &ControllerProcess) {
        assert!(
            self.0.is_empty(),
            "{} failing check(s):\n{}\ncontroller log (tail):\n{}",
            self.0.len(),
            self.0.join("\n"),
            tail(&ctl.log_text(), 30)
        );
    }
}

/// `openssl x509 -noout -ext <name>` of the leaf: its lines trimmed, blank lines dropped; empty
/// when the extension is absent.
fn extension(crt: &[u8], name: &str) -> Result<String, String> {
    let text = openssl(&["x509", "-noout", "-ext", name], crt)?;
    Ok(normalise(&text))
}

fn normalise(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "No extensions in certificate")
        .collect::<Vec<_>>()
        .join("\n")
}

/// The leaf's subject as `openssl x509 -subject -nameopt RFC2253` prints it.
fn subject(crt: &[u8]) -> Result<String, String> {
    let out = openssl(&["x509", "-noout", "-subject", "-nameopt", "RFC2253"], crt)?;
    Ok(out.trim().trim_start_matches("subject=").to_owned())
}

fn secret_of<'a>(ready: &'a BTreeMap<String, (Secret, Duration)>, name: &str) -> &'a Secret {
    &ready[name].0
}

// ---------------------------------------------------------------------------------------------
// 1. Keys

const PKCS1_RSA: &str = "RSA PRIVATE KEY";
const SEC1_EC: &str = "EC PRIVATE KEY";
const PKCS8: &str = "PRIVATE KEY";

/// (case, issuer, spec.privateKey algorithm, size, encoding, the PEM label of tls.key).
/// `None` leaves the field out: RSA, 2048 for RSA and 256 for ECDSA, PKCS1.
type KeyCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<u32>,
    Option<&'static str>,
    &'static str,
);

#[rustfmt::skip]
const KEY_CASES: &[KeyCase] = &[
    ("rsa-defaults", "ca", None, None, None, PKCS1_RSA),
    ("rsa-2048-pkcs1", "ca", Some("RSA"), Some(2048), Some("PKCS1"), PKCS1_RSA),
    ("rsa-2048-pkcs8", "ca", Some("RSA"), Some(2048), Some("PKCS8"), PKCS8),
    ("rsa-3072-pkcs1", "ca", Some("RSA"), Some(3072), Some("PKCS1"), PKCS1_RSA),
    ("rsa-3072-pkcs8", "ca", Some("RSA"), Some(3072), Some("PKCS8"), PKCS8),
    ("rsa-4096-pkcs1", "ca", Some("RSA"), Some(4096), None, PKCS1_RSA),
    ("rsa-4096-pkcs8", "ca", Some("RSA"), Some(4096), Some("PKCS8"), PKCS8),
    // The slow one (seconds of key generation); the encodings are covered above.
    ("rsa-8192-pkcs1", "ca", Some("RSA"), Some(8192), Some("PKCS1"), PKCS1_RSA),
    ("ecdsa-default-size", "ca", Some("ECDSA"), None, None, SEC1_EC),
    ("ecdsa-256-pkcs1", "ca", Some("ECDSA"), Some(256), Some("PKCS1"), SEC1_EC),
    ("ecdsa-256-pkcs8", "ca", Some("ECDSA"), Some(256), Some("PKCS8"), PKCS8),
    ("ecdsa-384-pkcs1", "ca", Some("ECDSA"), Some(384), Some("PKCS1"), SEC1_EC),
    ("ecdsa-384-pkcs8", "ca", Some("ECDSA"), Some(384), Some("PKCS8"), PKCS8),
    ("ecdsa-521-pkcs1", "ca", Some("ECDSA"), Some(521), Some("PKCS1"), SEC1_EC),
    ("ecdsa-521-pkcs8", "ca", Some("ECDSA"), Some(521), Some("PKCS8"), PKCS8),
    ("ed25519-default", "ca", Some("Ed25519"), None, None, PKCS8),
    // PKCS#1 has no Ed25519 form: PKCS#8 whatever is asked.
    ("ed25519-pkcs1", "ca", Some("Ed25519"), None, Some("PKCS1"), PKCS8),
    ("ed25519-pkcs8", "ca", Some("Ed25519"), None, Some("PKCS8"), PKCS8),
    // Self-signed: each certificate is signed with its own key, of each kind.
    ("self-rsa-3072", "selfsigned", Some("RSA"), Some(3072), Some("PKCS8"), PKCS8),
    ("self-ecdsa-384", "selfsigned", Some("ECDSA"), Some(384), None, SEC1_EC),
    ("self-ecdsa-521", "selfsigned", Some("ECDSA"), Some(521), Some("PKCS8"), PKCS8),
    ("self-ed25519", "selfsigned", Some("Ed25519"), None, None, PKCS8),
];

/// The lines `openssl x509 -text` prints about the certificate's public key.
fn public_key_lines(algorithm: Option<&str>, size: Option<u32>) -> Vec<String> {
    match algorithm.unwrap_or("RSA") {
        "RSA" => vec![
            "Public Key Algorithm: rsaEncryption".into(),
            format!("Public-Key: ({} bit)", size.unwrap_or(2048)),
        ],
        "ECDSA" => {
            let bits = size.unwrap_or(256);
            vec![
                "Public Key Algorithm: id-ecPublicKey".into(),
                format!("Public-Key: ({bits} bit)"),
                format!("NIST CURVE: P-{bits}"),
            ]
        }
        "Ed25519" => vec!["Public Key Algorithm: ED25519".into()],
        other => unreachable!("no such algorithm {other}"),
    }
}

#[tokio::test]
async fn every_key_algorithm_size_and_encoding() {
    let _shared = CLUSTER_WIDE.read().await;
    let env = setup("matrix-keys", None).await;
    env.root_ca().await;
    let start = Instant::now();
    for &(name, issuer, algorithm, size, encoding, _) in KEY_CASES {
        let mut spec = json!({
            "secretName": format!("{name}-tls"), "dnsNames": [format!("{name}.example.test")],
            "issuerRef": { "name": issuer }
        });
        let fields = [
            ("algorithm", algorithm.map(|a| json!(a))),
            ("size", size.map(|s| json!(s))),
            ("encoding", encoding.map(|e| json!(e))),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                spec["privateKey"][field] = value;
            }
        }
        env.apply(name, spec).await;
    }
    let names: Vec<&str> = KEY_CASES.iter().map(|c| c.0).collect();
    // RSA 8192 took 14-47 s to Ready here, beside the other 21 keys, on 2 cores at load 8-11
    // (openssl genpkey alone: ~28 s); the margin is for a slower or busier machine.
    let ready = env.all_ready(&names, start, Duration::from_secs(300)).await;

    let mut failures = Failures::default();
    for &(name, _, algorithm, size, _, label) in KEY_CASES {
        let secret = secret_of(&ready, name);
        let key = String::from_utf8_lossy(secret_data(secret, "tls.key"));
        // Only a PEM header may reach the message, never a line of key material.
        let first = key.lines().next().unwrap_or_default();
        let header = if first.starts_with("-----") {
            first
        } else {
            "(not a PEM header)"
        };
        failures.eq(
            name,
            "first line of tls.key",
            header,
            &format!("-----BEGIN {label}-----"),
        );
        failures.check(name, openssl_check_secret(secret, &env.scratch, name));
        let crt = secret_data(secret, "tls.crt");
        match openssl(&["x509", "-noout", "-text"], crt) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                for want in public_key_lines(algorithm, size) {
                    if !lines.contains(&want.as_str()) {
                        failures
                            .0
                            .push(format!("[{name}] openssl x509 -text has no line {want:?}"));
                    }
                }
            }
            Err(e) => failures.0.push(format!("[{name}] {e}")),
        }
    }
    let mut timings: Vec<_> = ready.iter().map(|(n, (_, t))| (*t, n.clone())).collect();
    timings.sort();
    for (t, name) in &timings {
        println!("{name}: Ready {:.1} s after apply", t.as_secs_f64());
    }
    failures.finish(&env.ctl);
    assert!(
        !env.ctl.log_text().contains("PRIVATE KEY-----"),
        "no key material in logs"
    );
    env.done().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Identities, subjects, usages, name constraints

#[tokio::test]
async fn every_identity_subject_usage_and_name_constraint() {
    let _shared = CLUSTER_WIDE.read().await;
    let env = setup("matrix-ids", None).await;
    env.root_ca().await;
    let start = Instant::now();
    env.apply(
        "identities",
        json!({
            "secretName": "identities-tls",
            "commonName": "app.example.test",
            "subject": {
                "organizations": ["Example", "Example Holding"], "countries": ["NL"],
                "organizationalUnits": ["Ops"], "localities": ["Amsterdam"],
                "provinces": ["Noord-Holland"], "streetAddresses": ["Dam 1"],
                "postalCodes": ["1012 JS"], "serialNumber": "42"
            },
            "dnsNames": ["app.example.test", "*.app.example.test"],
            "ipAddresses": ["192.0.2.10", "2001:db8::10"],
            "uris": ["spiffe://cluster.local/ns/app/sa/web"],
            "emailAddresses": ["ops@example.test"],
            "otherNames": [{ "oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "user@EXAMPLE.TEST" }],
            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
            "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    env.apply(
        "literal-simple",
        json!({
            "secretName": "literal-simple-tls", "literalSubject": "CN=app,O=Example,C=NL",
            "dnsNames": ["app.example.test"], "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    env.apply(
        "literal-multi",
        json!({
            "secretName": "literal-multi-tls",
            "literalSubject": r"CN=svc+UID=svc-01,OU=Platform\, Infra,O=Example\, Inc.,DC=example,DC=test",
            "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    env.apply(
        "default-usages",
        json!({
            "secretName": "default-usages-tls", "dnsNames": ["plain.example.test"],
            "privateKey": { "algorithm": "ECDSA" }, "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    env.apply(
        "constrained-ca",
        json!({
            "secretName": "constrained-ca-tls", "isCA": true,
            "commonName": "certsmith constrained intermediate",
            "usages": ["cert sign", "crl sign", "server auth", "client auth"],
            "nameConstraints": {
                "critical": true,
                "permitted": {
                    "dnsDomains": ["example.test"], "ipRanges": ["10.0.0.0/8", "2001:db8::/32"],
                    "emailAddresses": ["example.test"], "uriDomains": [".example.test"]
                },
                "excluded": {
                    "dnsDomains": ["bad.example.test"], "ipRanges": ["10.99.0.0/16"],
                    "emailAddresses": ["bad@example.test"], "uriDomains": ["bad.example.test"]
                }
            },
            "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    let names = [
        "identities",
        "literal-simple",
        "literal-multi",
        "default-usages",
        "constrained-ca",
    ];
    let ready = env.all_ready(&names, start, Duration::from_secs(60)).await;

    let mut failures = Failures::default();
    for name in names {
        failures.check(
            name,
            openssl_check_secret(secret_of(&ready, name), &env.scratch, name),
        );
    }
    // (case, what openssl shows, expected). Subjects as cert-manager writes them: the
    // `subject` fields in Go's pkix.Name order (C, ST, L, STREET, POSTALCODE, O, OU, CN,
    // SERIALNUMBER; RFC 2253 prints it reversed, and the values of a multi-valued RDN too);
    // a literal subject exactly as written.
    let subjects = [
        (
            "identities",
            "serialNumber=42,CN=app.example.test,OU=Ops,O=Example Holding+O=Example,\
             postalCode=1012 JS,street=Dam 1,L=Amsterdam,ST=Noord-Holland,C=NL",
        ),
        ("literal-simple", "CN=app,O=Example,C=NL"),
        (
            "literal-multi",
            r"UID=svc-01+CN=svc,OU=Platform\, Infra,O=Example\, Inc.,DC=example,DC=test",
        ),
    ];
    for (name, want) in subjects {
        let crt = secret_data(secret_of(&ready, name), "tls.crt");
        match subject(crt) {
            Ok(got) => failures.eq(name, "subject (RFC 2253)", &got, want),
            Err(e) => failures.check(name, Err(e)),
        }
    }
    let extensions = [
        (
            "identities",
            "subjectAltName",
            "X509v3 Subject Alternative Name:\n\
             DNS:app.example.test, DNS:*.app.example.test, email:ops@example.test, \
             IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10, \
             URI:spiffe://cluster.local/ns/app/sa/web, othername: UPN::user@EXAMPLE.TEST",
        ),
        (
            "identities",
            "keyUsage",
            "X509v3 Key Usage: critical\nDigital Signature, Key Encipherment",
        ),
        (
            "identities",
            "extendedKeyUsage",
            "X509v3 Extended Key Usage:\n\
             TLS Web Server Authentication, TLS Web Client Authentication",
        ),
        (
            "literal-simple",
            "subjectAltName",
            "X509v3 Subject Alternative Name:\nDNS:app.example.test",
        ),
        // A literal subject with a CN and no other name: no subjectAltName at all.
        ("literal-multi", "subjectAltName", ""),
        (
            "default-usages",
            "keyUsage",
            "X509v3 Key Usage: critical\nDigital Signature, Key Encipherment",
        ),
        ("default-usages", "extendedKeyUsage", ""),
        (
            "constrained-ca",
            "basicConstraints",
            "X509v3 Basic Constraints: critical\nCA:TRUE",
        ),
        (
            "constrained-ca",
            "keyUsage",
            "X509v3 Key Usage: critical\nCertificate Sign, CRL Sign",
        ),
        (
            "constrained-ca",
            "extendedKeyUsage",
            "X509v3 Extended Key Usage:\n\
             TLS Web Server Authentication, TLS Web Client Authentication",
        ),
        (
            "constrained-ca",
            "nameConstraints",
            "X509v3 Name Constraints: critical\n\
             Permitted:\n\
             DNS:example.test\n\
             IP:10.0.0.0/255.0.0.0\n\
             IP:2001:DB8:0:0:0:0:0:0/FFFF:FFFF:0:0:0:0:0:0\n\
             email:example.test\n\
             URI:.example.test\n\
             Excluded:\n\
             DNS:bad.example.test\n\
             IP:10.99.0.0/255.255.0.0\n\
             email:bad@example.test\n\
             URI:bad.example.test",
        ),
    ];
    for (name, ext, want) in extensions {
        let crt = secret_data(secret_of(&ready, name), "tls.crt");
        match extension(crt, ext) {
            Ok(got) => failures.eq(name, &format!("openssl -ext {ext}"), &got, want),
            Err(e) => failures.check(name, Err(e)),
        }
    }
    // Leaves say they are not CAs, as cert-manager's do.
    for name in [
        "identities",
        "literal-simple",
        "literal-multi",
        "default-usages",
    ] {
        let crt = secret_data(secret_of(&ready, name), "tls.crt");
        match extension(crt, "basicConstraints") {
            Ok(got) => failures.eq(
                name,
                "openssl -ext basicConstraints",
                &got,
                "X509v3 Basic Constraints: critical\nCA:FALSE",
            ),
            Err(e) => failures.check(name, Err(e)),
        }
    }
    failures.finish(&env.ctl);
    env.done().await;
}

// ---------------------------------------------------------------------------------------------
// 3. The issuers' URLs

#[tokio::test]
async fn issuer_urls_reach_the_certificate() {
    let _shared = CLUSTER_WIDE.read().await;
    let env = setup("matrix-urls", None).await;
    env.root_ca().await;
    env.issuer(
        "ca-urls",
        json!({ "ca": {
            "secretName": "root-ca",
            "crlDistributionPoints": ["http://crl.example.test/root.crl", "ldap://ldap.example.test/cn=root"],
            "ocspServers": ["http://ocsp.example.test"],
            "issuingCertificateURLs": ["http://pki.example.test/root.crt"]
        } }),
    )
    .await;
    env.issuer(
        "selfsigned-crl",
        json!({ "selfSigned": { "crlDistributionPoints": ["http://crl.example.test/self.crl"] } }),
    )
    .await;
    let start = Instant::now();
    for (name, issuer) in [
        ("from-ca", "ca-urls"),
        ("from-selfsigned", "selfsigned-crl"),
        ("plain", "ca"),
    ] {
        env.apply(
            name,
            json!({
                "secretName": format!("{name}-tls"), "dnsNames": [format!("{name}.example.test")],
                "privateKey": { "algorithm": "ECDSA" }, "issuerRef": { "name": issuer }
            }),
        )
        .await;
    }
    let names = ["from-ca", "from-selfsigned", "plain"];
    let ready = env.all_ready(&names, start, Duration::from_secs(60)).await;

    let mut failures = Failures::default();
    for name in names {
        failures.check(
            name,
            openssl_check_secret(secret_of(&ready, name), &env.scratch, name),
        );
    }
    let expected = [
        (
            "from-ca",
            "crlDistributionPoints",
            "X509v3 CRL Distribution Points:\n\
             Full Name:\nURI:http://crl.example.test/root.crl\n\
             Full Name:\nURI:ldap://ldap.example.test/cn=root",
        ),
        (
            "from-ca",
            "authorityInfoAccess",
            "Authority Information Access:\n\
             OCSP - URI:http://ocsp.example.test\n\
             CA Issuers - URI:http://pki.example.test/root.crt",
        ),
        (
            "from-selfsigned",
            "crlDistributionPoints",
            "X509v3 CRL Distribution Points:\nFull Name:\nURI:http://crl.example.test/self.crl",
        ),
        ("from-selfsigned", "authorityInfoAccess", ""),
        ("plain", "crlDistributionPoints", ""),
        ("plain", "authorityInfoAccess", ""),
    ];
    for (name, ext, want) in expected {
        let crt = secret_data(secret_of(&ready, name), "tls.crt");
        match extension(crt, ext) {
            Ok(got) => failures.eq(name, &format!("openssl -ext {ext}"), &got, want),
            Err(e) => failures.check(name, Err(e)),
        }
    }
    // And in the full text output, where a user would read them.
    let text = openssl(
        &["x509", "-noout", "-text"],
        secret_data(secret_of(&ready, "from-ca"), "tls.crt"),
    )
    .unwrap_or_default();
    for url in [
        "URI:http://crl.example.test/root.crl",
        "OCSP - URI:http://ocsp.example.test",
        "CA Issuers - URI:http://pki.example.test/root.crt",
    ] {
        if !text.contains(url) {
            failures
                .0
                .push(format!("[from-ca] openssl x509 -text lacks {url:?}"));
        }
    }
    failures.finish(&env.ctl);
    env.done().await;
}

// ---------------------------------------------------------------------------------------------
// 4. ClusterIssuer

/// Server-side applies a ClusterIssuer with `spec`.
async fn apply_cluster_issuer(client: &Client, name: &str, spec: serde_json::Value) {
    let doc = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": { "name": name }, "spec": spec
    });
    Api::<ClusterIssuer>::all(client.clone())
        .patch(
            name,
            &PatchParams::apply("certsmith-tests").force(),
            &Patch::Apply(&doc),
        )
        .await
        .unwrap_or_else(|e| panic!("applying ClusterIssuer {name}: {e}"));
}

/// cert-manager's bootstrap, as its docs show it: a SelfSigned ClusterIssuer issues a CA
/// Certificate into the cluster resource namespace, and a CA ClusterIssuer signs with it for
/// a Certificate in another namespace. A Certificate naming a ClusterIssuer that does not exist
/// stays not Ready, without a Secret.
#[tokio::test]
async fn cluster_issuer_signs_for_any_namespace() {
    // A controller of every namespace: nothing else of this file may run beside it.
    let _exclusive = CLUSTER_WIDE.write().await;
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let resources = fresh_namespace(&client, "matrix-cluster-resources").await;
    let env = setup(
        "matrix-cluster",
        Some(vec![
            "--cluster-resource-namespace".into(),
            resources.clone(),
        ]),
    )
    .await;
    let selfsigned = format!("selfsigned-{resources}");
    let ca = format!("ca-{resources}");
    let missing = format!("missing-{resources}");
    apply_cluster_issuer(&client, &selfsigned, json!({ "selfSigned": {} })).await;
    apply_cluster_issuer(
        &client,
        &ca,
        json!({ "ca": { "secretName": "cluster-root-ca" } }),
    )
    .await;

    let start = Instant::now();
    let root_certs: Api<Certificate> = Api::namespaced(client.clone(), &resources);
    apply_certificate(
        &root_certs,
        "cluster-root",
        json!({
            "isCA": true, "commonName": "certsmith cluster root", "secretName": "cluster-root-ca",
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": selfsigned, "kind": "ClusterIssuer" }
        }),
    )
    .await;
    env.apply(
        "via-cluster-issuer",
        json!({
            "secretName": "via-cluster-issuer-tls", "dnsNames": ["cluster.example.test"],
            "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": ca, "kind": "ClusterIssuer", "group": "cert-manager.io" }
        }),
    )
    .await;
    env.apply(
        "missing-cluster-issuer",
        json!({
            "secretName": "missing-cluster-issuer-tls", "dnsNames": ["missing.example.test"],
            "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": missing, "kind": "ClusterIssuer" }
        }),
    )
    .await;

    // Every Certificate in the cluster is this controller's, the bed's leftovers too (the bed
    // has no namespace controller, so earlier runs' namespaces keep their objects): 86-120 s
    // on a bed holding ~1,400 Certificates. The budget grows with their number.
    let in_cluster = Api::<Certificate>::all(client.clone())
        .list_metadata(&Default::default())
        .await
        .map(|l| l.items.len())
        .unwrap_or_default();
    let budget = Duration::from_secs(60) + Duration::from_millis(150) * in_cluster as u32;
    let ready = env.all_ready(&["via-cluster-issuer"], start, budget).await;
    let secret = secret_of(&ready, "via-cluster-issuer");
    println!(
        "via-cluster-issuer Ready {:.1} s after apply ({in_cluster} Certificates in the cluster)",
        ready["via-cluster-issuer"].1.as_secs_f64()
    );
    let mut failures = Failures::default();
    failures.check(
        "via-cluster-issuer",
        openssl_check_secret(secret, &env.scratch, "via-cluster-issuer"),
    );
    let root_secret = Api::<Secret>::namespaced(client.clone(), &resources)
        .get("cluster-root-ca")
        .await
        .expect("the CA Secret in the cluster resource namespace");
    failures.eq(
        "via-cluster-issuer",
        "ca.crt (the CA in the cluster resource namespace)",
        &String::from_utf8_lossy(secret_data(secret, "ca.crt")),
        &String::from_utf8_lossy(secret_data(&root_secret, "tls.crt")),
    );
    let annotations = secret.annotations();
    for (key, want) in [
        ("cert-manager.io/issuer-name", ca.as_str()),
        ("cert-manager.io/issuer-kind", "ClusterIssuer"),
        ("cert-manager.io/issuer-group", "cert-manager.io"),
    ] {
        failures.eq(
            "via-cluster-issuer",
            &format!("Secret annotation {key}"),
            annotations.get(key).map(String::as_str).unwrap_or_default(),
            want,
        );
    }

    let message = env
        .not_ready_without_secret("missing-cluster-issuer", Duration::from_secs(30))
        .await;
    // Still so a while later: no Secret appears, and no more than its one request.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = env
        .not_ready_without_secret("missing-cluster-issuer", Duration::from_secs(1))
        .await;
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), &env.ns);
    let request_message = eventually(
        Duration::from_secs(30),
        "[missing-cluster-issuer] its request naming the missing ClusterIssuer",
        || async {
            let r = requests.get_opt("missing-cluster-issuer-1").await.ok()??;
            let ready = find_condition(r.status.as_ref()?.conditions.as_deref()?, "Ready")?;
            ready.message.clone().filter(|m| m.contains(&missing))
        },
    )
    .await;
    let names: Vec<String> = requests
        .list_metadata(&Default::default())
        .await
        .expect("listing requests")
        .items
        .into_iter()
        .filter_map(|r| r.metadata.name)
        .filter(|n| n.starts_with("missing-cluster-issuer"))
        .collect();
    if names != ["missing-cluster-issuer-1"] {
        failures.0.push(format!(
            "[missing-cluster-issuer] one request expected while it waits, found {names:?}"
        ));
    }
    println!(
        "missing-cluster-issuer: Ready=False: {message} / later: {again} / request: {request_message}"
    );

    for name in [&selfsigned, &ca] {
        let _ = Api::<ClusterIssuer>::all(client.clone())
            .delete(name, &Default::default())
            .await;
    }
    failures.finish(&env.ctl);
    env.done().await;
    delete_namespace(&client, &resources).await;
}

// ---------------------------------------------------------------------------------------------
// 5. An issuer that becomes ready later

/// (tests/certificates.rs covers a CA Secret that exists but holds no CA; this is the Secret
/// that does not exist yet.)
#[tokio::test]
async fn certificate_waits_for_its_issuer_then_is_issued() {
    let _shared = CLUSTER_WIDE.read().await;
    let env = setup("matrix-late", None).await;
    env.root_ca().await;
    env.issuer("late", json!({ "ca": { "secretName": "late-ca" } }))
        .await;
    env.apply(
        "late-leaf",
        json!({
            "secretName": "late-leaf-tls", "dnsNames": ["late.example.test"],
            "privateKey": { "algorithm": "ECDSA" }, "issuerRef": { "name": "late" }
        }),
    )
    .await;
    let message = env
        .not_ready_without_secret("late-leaf", Duration::from_secs(30))
        .await;
    // Give it time to (wrongly) fail or give up; then check it is still waiting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.not_ready_without_secret("late-leaf", Duration::from_secs(1))
        .await;
    let cert = env.certs.get("late-leaf").await.expect("late-leaf");
    assert!(
        cert.status
            .as_ref()
            .is_none_or(|s| s.last_failure_time.is_none()),
        "[late-leaf] waiting for an issuer is not a failure: {:#?}",
        cert.status
    );
    println!("late-leaf while its issuer is not ready: {message}");

    // The CA Secret appears (a copy of the root's key pair), nothing else is touched.
    let root = env.secrets.get("root-ca").await.expect("root-ca");
    let late_ca = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("late-ca".into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(
            ["tls.crt", "tls.key"]
                .into_iter()
                .map(|k| {
                    (
                        k.to_owned(),
                        k8s_openapi::ByteString(secret_data(&root, k).to_vec()),
                    )
                })
                .collect(),
        ),
        ..Default::default()
    };
    let created = Instant::now();
    env.secrets
        .create(&PostParams::default(), &late_ca)
        .await
        .expect("creating the CA Secret");
    let ready = env
        .all_ready(&["late-leaf"], created, Duration::from_secs(60))
        .await;
    println!(
        "late-leaf Ready {:.1} s after its CA Secret was created",
        ready["late-leaf"].1.as_secs_f64()
    );
    let mut failures = Failures::default();
    failures.check(
        "late-leaf",
        openssl_check_secret(secret_of(&ready, "late-leaf"), &env.scratch, "late-leaf"),
    );
    failures.finish(&env.ctl);
    env.done().await;
}
