//! Certificates become Secrets, end to end, with the real controller process on the test bed:
//! SelfSigned root, CA-signed leaf, re-issuance triggers, key rotation policy, bad input.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use certsmith::api::{
    CaIssuer, Certificate, CertificateRequest, ConditionStatus, Issuer, IssuerSpec,
    SelfSignedIssuer, find_condition,
};
use certsmith::pki::inspect::parse_certificates_pem;
use certsmith::pki::keys::{parse_private_key_pem, public_keys_equal};
use support::certs::{apply_certificate, ready_at, secret_data as data, tail};
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
        apply_certificate(&self.certs, name, spec).await;
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
            ready_at(&cert, revision).then_some(cert)
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
    let temporary_key_secrets = watch_temporary_key_secrets(&env.secrets, &env.ns).await;

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
    assert_eq!(
        temporary_key_secrets.load(Ordering::SeqCst),
        0,
        "SelfSigned and CA issuances keep the next key in memory, never in a temporary Secret"
    );
}

/// Counts the temporary next-key Secrets (label `cert-manager.io/next-private-key=true`) that
/// appear in namespace `ns` from now on. A watch, not a poll: such a Secret may live for only
/// milliseconds. Returns once the watch has listed.
async fn watch_temporary_key_secrets(secrets: &Api<Secret>, ns: &str) -> Arc<AtomicUsize> {
    use futures::StreamExt;
    use kube::runtime::watcher::{self, Event};
    let seen = Arc::new(AtomicUsize::new(0));
    let (listed_tx, listed_rx) = tokio::sync::oneshot::channel();
    let config = watcher::Config::default().labels("cert-manager.io/next-private-key=true");
    // Metadata only (an Api of PartialObjectMeta asks for metadata): no key material passes
    // through the test either.
    let metadata: Api<kube::core::PartialObjectMeta<Secret>> =
        Api::namespaced(secrets.clone().into_client(), ns);
    let mut events = watcher::watcher(metadata, config).boxed();
    let counter = seen.clone();
    tokio::spawn(async move {
        let mut listed_tx = Some(listed_tx);
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::InitApply(_) | Event::Apply(_)) => {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Event::InitDone) => {
                    if let Some(tx) = listed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                _ => {}
            }
        }
    });
    listed_rx
        .await
        .expect("the temporary key Secret watch listed");
    seen
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
    // The Certificate's own Ready message names the missing issuer (no need to find the request).
    let (reason, message) = env
        .not_ready_with("orphan", "names the missing issuer", |m| {
            m.contains("nowhere")
        })
        .await;
    assert_eq!(reason, "DoesNotExist");
    assert!(
        message.contains(&format!(
            "CertificateRequest \"orphan-1\" is pending: Referenced Issuer {}/nowhere does not exist",
            env.ns
        )),
        "{message}"
    );
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

/// Bad input on the Certificate side: each is a Ready=False condition saying what to fix, and
/// nothing that exists is deleted or overwritten.
#[tokio::test]
async fn bad_input_is_reported_and_nothing_is_lost() {
    let env = setup("certs-bad").await;

    // An issuer kind nobody serves (group cert-manager.io, so it is ours to judge).
    env.apply(
        "odd-kind",
        json!({
            "secretName": "odd-tls", "dnsNames": ["odd.example.test"],
            "issuerRef": { "name": "ca", "kind": "SpecialIssuer" }
        }),
    )
    .await;
    // A key size the schema allows but certsmith cannot generate.
    env.apply(
        "odd-key",
        json!({
            "secretName": "odd-key-tls", "dnsNames": ["oddkey.example.test"],
            "privateKey": { "algorithm": "RSA", "size": 2500 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    // Two Certificates naming one Secret: the first keeps it.
    env.apply("first", json!({
        "secretName": "shared-tls", "dnsNames": ["first.example.test"], "issuerRef": { "name": "selfsigned" }
    })).await;
    let (_, before) = env.ready("first", 1).await;
    env.apply("second", json!({
        "secretName": "shared-tls", "dnsNames": ["second.example.test"], "issuerRef": { "name": "selfsigned" }
    })).await;

    let (_, message) = env
        .not_ready_with("odd-kind", "names the unserved kind", |m| {
            m.contains("SpecialIssuer")
        })
        .await;
    assert!(
        message.contains("is not served by this controller"),
        "{message}"
    );

    let (reason, message) = env
        .not_ready_with("odd-key", "explains the key size", |m| m.contains("2500"))
        .await;
    assert_eq!(reason, "InvalidPrivateKey");
    assert!(message.contains("2048, 3072, 4096 or 8192"), "{message}");
    assert!(env.has_event("odd-key", "InvalidPrivateKey").await);

    let (reason, message) = env
        .not_ready_with("second", "reports the shared Secret", |m| {
            m.contains("shared-tls")
        })
        .await;
    assert_eq!(reason, "DuplicateSecretName");
    assert!(message.contains("Certificate \"first\""), "{message}");
    // Give a would-be overwrite time to happen, then check the holder is untouched.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (first, after) = env.ready("first", 1).await;
    assert_eq!(
        first.status.and_then(|s| s.revision),
        Some(1),
        "first was not re-issued"
    );
    assert_eq!(
        data(&after, "tls.crt"),
        data(&before, "tls.crt"),
        "the Secret is untouched"
    );
    assert!(
        env.request_names("second").await.is_empty(),
        "nothing was requested for the duplicate"
    );
    for name in ["odd-tls", "odd-key-tls"] {
        assert!(
            env.secrets.get_opt(name).await.expect("read").is_none(),
            "no Secret {name}"
        );
    }

    // Fix each: the duplicate gets its own Secret name, the key a size, the kind a real one.
    env.apply("second", json!({
        "secretName": "second-tls", "dnsNames": ["second.example.test"], "issuerRef": { "name": "selfsigned" }
    })).await;
    env.apply(
        "odd-key",
        json!({
            "secretName": "odd-key-tls", "dnsNames": ["oddkey.example.test"],
            "privateKey": { "algorithm": "RSA", "size": 3072 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    env.ready("second", 1).await;
    env.ready("odd-key", 1).await;
    let (_, still) = env.ready("first", 1).await;
    assert_eq!(data(&still, "tls.crt"), data(&before, "tls.crt"));
}

/// The trigger and issuing controllers write Ready and the times together with their own
/// fields, so three field managers own them. A certificate that goes away (its Secret deleted
/// while no issuer can sign the next one) must still lose `notBefore`, `notAfter` and
/// `renewalTime`, and a new certificate brings them back.
#[tokio::test]
async fn validity_times_leave_with_the_certificate() {
    let env = setup("certs-times").await;
    let spec = |issuer: &str| {
        json!({
            "secretName": "site-tls", "dnsNames": ["site.example.test"],
            "issuerRef": { "name": issuer }
        })
    };
    env.apply("site", spec("selfsigned")).await;
    let (first, _) = env.ready("site", 1).await;
    let status = first.status.expect("status");
    assert!(status.not_before.is_some() && status.not_after.is_some());
    assert!(status.renewal_time.is_some());

    // An issuer that does not exist: the re-issuance waits, and the Secret is deleted.
    env.apply("site", spec("missing")).await;
    env.not_ready_with("site", "the issuer changed", |_| true)
        .await;
    env.secrets
        .delete("site-tls", &DeleteParams::default())
        .await
        .expect("deleting the Secret");
    let status = env
        .wait(
            Duration::from_secs(30),
            "Ready=False DoesNotExist without times",
            || async {
                let status = env.certs.get("site").await.ok()?.status?;
                let ready = find_condition(status.conditions.as_deref()?, "Ready")?;
                (ready.reason.as_deref() == Some("DoesNotExist")
                    && status.not_before.is_none()
                    && status.not_after.is_none()
                    && status.renewal_time.is_none())
                .then_some(status)
            },
        )
        .await;
    assert_eq!(status.revision, Some(1), "nothing was issued meanwhile");

    // Back to a working issuer: issued again, with the new certificate's times.
    env.apply("site", spec("selfsigned")).await;
    let (second, secret) = env.ready("site", 2).await;
    let leaf = parse_certificates_pem(data(&secret, "tls.crt"))
        .expect("leaf")
        .remove(0);
    let status = second.status.expect("status");
    assert_eq!(
        status.not_after.map(|t| t.0.as_second()),
        Some(leaf.not_after.as_second())
    );
    assert!(status.not_before.is_some() && status.renewal_time.is_some());
}

/// When the holder of a shared Secret goes away, the other Certificate takes it over.
#[tokio::test]
async fn duplicate_secret_name_is_released_when_the_holder_goes() {
    let env = setup("certs-dup").await;
    env.apply("holder", json!({
        "secretName": "one-tls", "dnsNames": ["holder.example.test"], "issuerRef": { "name": "selfsigned" }
    })).await;
    env.ready("holder", 1).await;
    env.apply("waiter", json!({
        "secretName": "one-tls", "dnsNames": ["waiter.example.test"], "issuerRef": { "name": "selfsigned" }
    })).await;
    env.not_ready_with("waiter", "DuplicateSecretName", |m| m.contains("holder"))
        .await;
    env.certs
        .delete("holder", &DeleteParams::default())
        .await
        .expect("delete holder");
    let (_, secret) = env.ready("waiter", 1).await;
    assert_eq!(
        secret
            .annotations()
            .get("cert-manager.io/certificate-name")
            .map(String::as_str),
        Some("waiter")
    );
    let leaf = leaf_of(&secret);
    assert_eq!(leaf.dns_names, ["waiter.example.test"]);
}

// ---------------------------------------------------------------------------------------------
// Renewal, re-issuance triggers, revision history, issuer trouble, crash recovery, backoff.

impl Env {
    /// `eventually`, bounded by `timeout`, printing the controller log tail when it times out.
    async fn wait<T, F, Fut>(&self, timeout: Duration, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let fut = eventually(timeout + Duration::from_secs(5), what, check);
        match tokio::time::timeout(timeout, fut).await {
            Ok(v) => v,
            Err(_) => panic!(
                "timed out after {timeout:?} waiting for {what}\ncontroller log (tail):\n{}",
                tail(&self.ctl.log_text(), 60)
            ),
        }
    }

    /// Waits until Certificate `name` is Ready=False with a message `check` accepts; returns
    /// the reason and the message.
    async fn not_ready_with(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> (String, String) {
        let check = &check;
        self.wait(
            Duration::from_secs(30),
            &format!("Certificate {name} not Ready: {what}"),
            || async move {
                let cert = self.certs.get(name).await.ok()?;
                let ready =
                    find_condition(cert.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
                let message = ready.message.unwrap_or_default();
                (ready.status == ConditionStatus::False && check(&message))
                    .then(|| (ready.reason.unwrap_or_default(), message))
            },
        )
        .await
    }

    /// The names of the CertificateRequests of Certificate `name`, sorted by revision.
    async fn request_names(&self, name: &str) -> Vec<String> {
        let mut found: Vec<(i64, String)> = self
            .requests
            .list(&Default::default())
            .await
            .expect("listing requests")
            .items
            .into_iter()
            .filter(|r| {
                r.metadata.deletion_timestamp.is_none()
                    && r.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("cert-manager.io/certificate-name"))
                        .map(String::as_str)
                        == Some(name)
            })
            .filter_map(|r| {
                let name = r.metadata.name?;
                let revision = name.rsplit('-').next()?.parse().unwrap_or(i64::MAX);
                Some((revision, name))
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, n)| n).collect()
    }

    /// Whether an Event about Certificate `name` has `reason`.
    async fn has_event(&self, name: &str, reason: &str) -> bool {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.certs.clone().into_client(), &self.ns);
        events
            .list(&Default::default())
            .await
            .map(|l| {
                l.items.iter().any(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                        && e.regarding.as_ref().and_then(|r| r.kind.as_deref())
                            == Some("Certificate")
                })
            })
            .unwrap_or(false)
    }

    /// How many times the trigger recorded an Event (action Issue) about Certificate `name`
    /// with `reason` (repeats of an Event are counted in its series).
    async fn event_count(&self, name: &str, reason: &str) -> i32 {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.certs.clone().into_client(), &self.ns);
        events
            .list(&Default::default())
            .await
            .expect("listing Events")
            .items
            .iter()
            .filter(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.action.as_deref() == Some("Issue")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Certificate")
            })
            .map(|e| e.series.as_ref().map_or(1, |s| s.count))
            .sum()
    }

    /// Merge-patches the data of Secret `name`.
    async fn patch_secret_data(&self, name: &str, data: serde_json::Value) {
        self.secrets
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "data": data })),
            )
            .await
            .unwrap_or_else(|e| panic!("patching Secret {name}: {e}"));
    }
}

fn b64(bytes: &[u8]) -> serde_json::Value {
    serde_json::to_value(k8s_openapi::ByteString(bytes.to_vec())).expect("base64")
}

fn leaf_of(secret: &Secret) -> certsmith::pki::CertificateInfo {
    parse_certificates_pem(data(secret, "tls.crt"))
        .expect("tls.crt parses")
        .remove(0)
}

/// Renewal without any change: duration 1h with renewBefore 59m50s (valid: at least 5m and
/// shorter than duration) renews 10 s after notBefore, the fastest schedule the schema allows
/// that does not re-issue every second. (renewBeforePercentage 99 would wait 36 s.)
#[tokio::test]
async fn renewal_happens_at_renewal_time() {
    let env = setup("certs-renew").await;
    env.apply(
        "renew",
        json!({
            "secretName": "renew-tls", "dnsNames": ["renew.example.test"],
            "duration": "1h", "renewBefore": "59m50s",
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    let (cert, secret) = env.ready("renew", 1).await;
    let first = leaf_of(&secret);
    let status = cert.status.expect("status");
    let renewal = status.renewal_time.expect("renewalTime").0.as_second();
    assert_eq!(
        renewal,
        first.not_before.as_second() + 10,
        "renewalTime = notAfter - renewBefore = notBefore + 10s"
    );
    let (cert, secret) = env.ready("renew", 2).await;
    let second = leaf_of(&secret);
    assert!(
        second.not_before > first.not_before,
        "the renewed certificate is newer: {} then {}",
        first.not_before,
        second.not_before
    );
    assert!(second.not_before.as_second() >= renewal);
    assert_key_matches(&secret);
    assert!(cert.status.expect("status").revision.expect("revision") >= 2);
    assert!(
        env.has_event("renew", "Renewing").await,
        "an Event says the renewal triggered the issuance"
    );
}

/// Each re-issuance trigger on its own: another key pair in the Secret (SecretMismatch), a
/// foreign tls.key (InvalidKeyPair), another issuer (IncorrectIssuer).
#[tokio::test]
async fn reissuance_triggers_each_reissue() {
    let env = setup("certs-trig").await;
    let issuers: Api<Issuer> = Api::namespaced(env.certs.clone().into_client(), &env.ns);
    issuers
        .create(
            &PostParams::default(),
            &Issuer::new(
                "selfsigned-2",
                IssuerSpec {
                    self_signed: Some(SelfSignedIssuer::default()),
                    ..Default::default()
                },
            ),
        )
        .await
        .expect("second selfsigned issuer");
    let spec = |issuer: &str| {
        json!({
            "secretName": "trig-tls", "dnsNames": ["trig.example.test"],
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": issuer }
        })
    };
    env.apply("trig", spec("selfsigned")).await;
    env.apply(
        "other",
        json!({
            "secretName": "other-tls", "dnsNames": ["other.example.test"],
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    let (_, secret1) = env.ready("trig", 1).await;
    let (_, other) = env.ready("other", 1).await;
    let key1 = assert_key_matches(&secret1);
    for name in ["trig", "other"] {
        assert_eq!(
            env.event_count(name, "DoesNotExist").await,
            0,
            "the first issuance of a new Certificate ({name}) records no start Event"
        );
        assert_eq!(
            env.event_count(name, "Issuing").await,
            1,
            "one issued Event for the first issuance of {name}"
        );
    }

    // 1. Another certificate (with its own key) in the Secret: it no longer matches the
    // current CertificateRequest.
    env.patch_secret_data(
        "trig-tls",
        json!({ "tls.crt": b64(data(&other, "tls.crt")), "tls.key": b64(data(&other, "tls.key")) }),
    )
    .await;
    let (_, secret2) = env.ready("trig", 2).await;
    let key2 = assert_key_matches(&secret2);
    assert_ne!(key2, key1);
    assert_eq!(leaf_of(&secret2).dns_names, ["trig.example.test"]);
    env.wait(
        Duration::from_secs(10),
        "an Event naming SecretMismatch",
        || async { env.has_event("trig", "SecretMismatch").await.then_some(()) },
    )
    .await;

    // 2. A different private key only: the key pair is broken.
    env.patch_secret_data(
        "trig-tls",
        json!({ "tls.key": b64(data(&other, "tls.key")) }),
    )
    .await;
    let (_, secret3) = env.ready("trig", 3).await;
    assert_key_matches(&secret3);
    env.wait(
        Duration::from_secs(10),
        "an Event naming InvalidKeyPair",
        || async { env.has_event("trig", "InvalidKeyPair").await.then_some(()) },
    )
    .await;

    // 3. Another issuer.
    env.apply("trig", spec("selfsigned-2")).await;
    let (_, secret4) = env.ready("trig", 4).await;
    assert_key_matches(&secret4);
    assert_eq!(
        secret4
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .get("cert-manager.io/issuer-name")
            .map(String::as_str),
        Some("selfsigned-2")
    );
    env.wait(
        Duration::from_secs(10),
        "an Event naming IncorrectIssuer",
        || async { env.has_event("trig", "IncorrectIssuer").await.then_some(()) },
    )
    .await;
    assert_eq!(
        env.request_names("trig").await,
        ["trig-1", "trig-2", "trig-3", "trig-4"]
    );
}

/// revisionHistoryLimit 1: after three issuances only the newest request is left.
#[tokio::test]
async fn revision_history_limit_keeps_the_newest_request() {
    let env = setup("certs-hist").await;
    let spec = |names: &[&str]| {
        json!({
            "secretName": "hist-tls", "dnsNames": names, "revisionHistoryLimit": 1,
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        })
    };
    env.apply("hist", spec(&["a.example.test"])).await;
    env.ready("hist", 1).await;
    env.apply("hist", spec(&["a.example.test", "b.example.test"]))
        .await;
    env.ready("hist", 2).await;
    env.apply("hist", spec(&["c.example.test"])).await;
    let (_, secret) = env.ready("hist", 3).await;
    assert_eq!(leaf_of(&secret).dns_names, ["c.example.test"]);
    env.wait(Duration::from_secs(15), "only hist-3 left", || async {
        let names = env.request_names("hist").await;
        (names == ["hist-3"]).then_some(())
    })
    .await;
}

/// A CA issuer whose Secret holds a certificate that is not a CA: the request waits for the
/// issuer, nothing is deleted, and fixing the Secret issues the certificate.
#[tokio::test]
async fn ca_issuer_with_a_bad_ca_secret_waits_then_recovers() {
    let env = setup("certs-badca").await;
    // A non-CA certificate where the CA issuer looks.
    env.apply(
        "root",
        json!({
            "isCA": false, "commonName": "not a CA", "secretName": "root-ca",
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    env.ready("root", 1).await;
    env.apply(
        "leaf",
        json!({
            "secretName": "leaf-tls", "dnsNames": ["leaf.example.test"],
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "ca" }
        }),
    )
    .await;
    let message = env
        .wait(
            Duration::from_secs(20),
            "leaf-1 waiting for the issuer",
            || async {
                let r = env.requests.get("leaf-1").await.ok()?;
                let ready =
                    find_condition(r.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
                (ready.status == ConditionStatus::False)
                    .then(|| ready.message.unwrap_or_default())
                    .filter(|m| m.contains("not ready"))
            },
        )
        .await;
    assert!(
        message.contains(&format!("Issuer {}/ca", env.ns)),
        "{message}"
    );
    // Stays waiting: not Ready, no Secret, the request and the CA Secret still there, no
    // failure recorded.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cert = env.certs.get("leaf").await.expect("leaf");
    let status = cert.status.clone().unwrap_or_default();
    let ready = find_condition(status.conditions.as_deref().unwrap_or_default(), "Ready")
        .expect("a Ready condition");
    assert_eq!(ready.status, ConditionStatus::False);
    assert!(status.last_failure_time.is_none(), "{status:#?}");
    assert!(
        env.secrets
            .get_opt("leaf-tls")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        env.secrets
            .get_opt("root-ca")
            .await
            .expect("read")
            .is_some()
    );
    assert_eq!(env.request_names("leaf").await, ["leaf-1"]);

    // Fix: make the root a CA.
    env.apply(
        "root",
        json!({
            "isCA": true, "commonName": "now a CA", "secretName": "root-ca",
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    env.ready("root", 2).await;
    let (_, secret) = env.ready("leaf", 1).await;
    assert_key_matches(&secret);
    assert_eq!(env.request_names("leaf").await, ["leaf-1"]);
}

/// SIGKILL the controller while ten Certificates are being issued, restart it, and check
/// that the outcome is as if nothing happened. The next keys were held in memory only, so a
/// request made before the kill is replaced (under the same name) and signed again.
#[tokio::test]
async fn controller_crash_mid_issuance_recovers_cleanly() {
    let mut env = setup("certs-crash").await;
    let names: Vec<String> = (0..10).map(|i| format!("crash-{i}")).collect();
    for name in &names {
        env.apply(
            name,
            json!({
                "secretName": format!("{name}-tls"), "dnsNames": [format!("{name}.example.test")],
                "privateKey": { "algorithm": "ECDSA", "size": 256 },
                "issuerRef": { "name": "selfsigned" }
            }),
        )
        .await;
    }
    // Mid-way: once a few Secrets are written (others still being keyed or requested).
    let tls_secrets = || async {
        let items = env
            .secrets
            .list_metadata(&Default::default())
            .await
            .ok()?
            .items;
        let count = |pred: &dyn Fn(&str) -> bool| {
            items
                .iter()
                .filter(|s| pred(s.metadata.name.as_deref().unwrap_or_default()))
                .count()
        };
        Some(count(&|n| n.starts_with("crash-") && n.ends_with("-tls")))
    };
    env.wait(Duration::from_secs(20), "issuance under way", || async {
        tls_secrets().await.filter(|written| *written >= 2)
    })
    .await;
    env.ctl.kill9();
    let written = tls_secrets().await.unwrap_or_default();
    let requests = env
        .requests
        .list(&Default::default())
        .await
        .map(|l| l.items.len());
    println!("killed with {written}/10 Secrets written, {requests:?} requests");
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.ctl.restart();

    for name in &names {
        let (cert, secret) = env.ready(name, 1).await;
        assert_key_matches(&secret);
        let revision = cert.status.and_then(|s| s.revision).expect("revision");
        let want: Vec<String> = (1..=revision).map(|r| format!("{name}-{r}")).collect();
        assert_eq!(
            env.request_names(name).await,
            want,
            "one request per revision of {name}"
        );
        assert_eq!(revision, 1, "{name} was issued once");
    }
}

/// A request that fails: the Certificate names an issuer of another API group (which
/// certsmith's approver leaves alone), and the test, as that group's approver would, denies its
/// request. Denial is terminal, so the failure is deterministic; the Certificate records it and
/// is not retried at once.
#[tokio::test]
async fn failed_issuance_is_recorded_and_backed_off() {
    let env = setup("certs-fail").await;
    env.apply(
        "doomed",
        json!({
            "secretName": "doomed-tls", "dnsNames": ["doomed.example.test"],
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "external", "kind": "ExternalIssuer", "group": "issuers.example.test" }
        }),
    )
    .await;
    env.wait(Duration::from_secs(20), "doomed-1 created", || async {
        env.requests.get_opt("doomed-1").await.ok()?
    })
    .await;
    env.requests
        .patch_status(
            "doomed-1",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "conditions": [{
                "type": "Denied", "status": "True", "reason": "TestDenied",
                "message": "denied by the test", "lastTransitionTime": "2026-01-01T00:00:00Z"
            }] } })),
        )
        .await
        .expect("denying doomed-1");
    let status = env
        .wait(Duration::from_secs(20), "a recorded failure", || async {
            let status = env.certs.get("doomed").await.ok()?.status?;
            status.last_failure_time.is_some().then_some(status)
        })
        .await;
    assert_eq!(status.failed_issuance_attempts, Some(1), "{status:#?}");
    let issuing = find_condition(status.conditions.as_deref().unwrap_or_default(), "Issuing")
        .expect("an Issuing condition");
    assert_eq!(issuing.status, ConditionStatus::False);
    assert_eq!(issuing.reason.as_deref(), Some("Failed"));
    assert!(
        issuing
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("denied by the test"),
        "{issuing:?}"
    );
    let request = env.requests.get("doomed-1").await.expect("doomed-1");
    let uid = request.metadata.uid.clone();

    // Not retried at once: the same single request, one failed attempt, for 10 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let status = env.certs.get("doomed").await.expect("read").status;
        let attempts = status.as_ref().and_then(|s| s.failed_issuance_attempts);
        let issuing = status
            .as_ref()
            .and_then(|s| find_condition(s.conditions.as_deref()?, "Issuing").cloned());
        assert_eq!(attempts, Some(1), "retried: {status:#?}");
        assert_ne!(
            issuing.map(|c| c.status),
            Some(ConditionStatus::True),
            "issuance retried within the backoff\ncontroller log (tail):\n{}",
            tail(&env.ctl.log_text(), 40)
        );
        assert_eq!(env.request_names("doomed").await, ["doomed-1"]);
        let now = env.requests.get("doomed-1").await.expect("doomed-1");
        assert_eq!(now.metadata.uid, uid, "the request was replaced");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        env.secrets
            .get_opt("doomed-tls")
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn keystores_and_output_formats() {
    use rustls_pki_types::pem::PemObject as _;
    use std::process::Command;
    let env = setup("keystores").await;
    env.apply(
        "root",
        json!({
            "isCA": true, "commonName": "certsmith keystore root", "secretName": "root-ca",
            "privateKey": { "algorithm": "ECDSA", "size": 256 },
            "issuerRef": { "name": "selfsigned" }
        }),
    )
    .await;
    env.ready("root", 1).await;

    // The JKS password comes from a Secret; first it is missing: the issuance fails, naming it.
    let spec = json!({
        "secretName": "app-tls", "dnsNames": ["app.example.test"],
        "privateKey": { "algorithm": "RSA", "size": 2048 },
        "additionalOutputFormats": [{ "type": "DER" }, { "type": "CombinedPEM" }],
        "keystores": {
            "jks": { "create": true, "alias": "app",
                     "passwordSecretRef": { "name": "jks-pw", "key": "password" } },
            "pkcs12": { "create": true, "password": "p12-inline", "profile": "Modern2023" }
        },
        "issuerRef": { "name": "ca" }
    });
    env.apply("app", spec.clone()).await;
    let message = eventually(
        Duration::from_secs(45),
        "the missing password Secret reported",
        || async {
            let cert = env.certs.get("app").await.ok()?;
            let status = cert.status?;
            let issuing = find_condition(status.conditions.as_deref()?, "Issuing")?;
            (issuing.status == ConditionStatus::False).then(|| issuing.message.clone())?
        },
    )
    .await;
    assert!(
        message.contains("jks-pw") && message.contains("password"),
        "{message}"
    );

    // With the Secret in place and the spec changed (which skips the failure backoff), the
    // next issuance writes everything.
    let pw = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("jks-pw".into()),
            ..Default::default()
        },
        string_data: Some([("password".to_owned(), "jks-from-secret".to_owned())].into()),
        ..Default::default()
    };
    env.secrets
        .create(&PostParams::default(), &pw)
        .await
        .expect("password Secret");
    let mut spec = spec;
    spec["dnsNames"] = json!(["app.example.test", "app2.example.test"]);
    env.apply("app", spec).await;
    let secret = eventually(
        Duration::from_secs(120),
        "the keystores written",
        || async {
            let s = env.secrets.get_opt("app-tls").await.ok()??;
            (!data(&s, "keystore.jks").is_empty()).then_some(s)
        },
    )
    .await;
    assert_key_matches(&secret);

    let key_pem = data(&secret, "tls.key");
    let crt_pem = data(&secret, "tls.crt");
    let expected_der = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem).expect("tls.key");
    assert_eq!(data(&secret, "key.der"), expected_der.secret_der());
    let mut combined = key_pem.to_vec();
    combined.push(b'\n');
    combined.extend_from_slice(crt_pem);
    assert_eq!(data(&secret, "tls-combined.pem"), combined.as_slice());

    let dir = std::env::temp_dir().join(format!("certsmith-it-keystores-{}", env.ns));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, data(&secret, name)).expect("write");
        path
    };
    for name in ["keystore.p12", "truststore.p12"] {
        let path = file(name);
        let (ok, out, err) = run(Command::new("openssl")
            .args([
                "pkcs12",
                "-info",
                "-noout",
                "-passin",
                "pass:p12-inline",
                "-in",
            ])
            .arg(&path));
        assert!(ok, "openssl {name}: {out}{err}");
        assert!(format!("{out}{err}").contains("AES-256-CBC"), "{out}{err}");
    }
    for (name, entries) in [("keystore.jks", 2), ("truststore.jks", 1)] {
        let path = file(name);
        let (ok, out, err) = run(Command::new("keytool")
            .args(["-list", "-v", "-storetype", "JKS", "-keystore"])
            .arg(&path)
            .args(["-storepass", "jks-from-secret"]));
        assert!(ok, "keytool {name}: {out}{err}");
        let plural = if entries == 1 { "entry" } else { "entries" };
        assert!(
            out.contains(&format!("Your keystore contains {entries} {plural}")),
            "{out}"
        );
        assert!(out.contains("Alias name: ca"), "{out}");
        if name == "keystore.jks" {
            assert!(out.contains("Alias name: app"), "{out}");
            assert!(out.contains("Entry type: PrivateKeyEntry"), "{out}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Changing the Secret's template or extra outputs rewrites the Secret at once, from the same
/// certificate and key: no new revision. Dropping them removes what they added; keys other
/// writers added stay.
#[tokio::test]
async fn output_changes_apply_without_reissuing() {
    let env = setup("certs-outputs").await;
    let spec = |extra: serde_json::Value| {
        let mut spec = json!({
            "secretName": "out-tls", "dnsNames": ["out.example.test"],
            "issuerRef": { "name": "selfsigned" }
        });
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    };
    env.apply("out", spec(json!({}))).await;
    let (_, before) = env.ready("out", 1).await;
    env.patch_secret_data("out-tls", json!({ "theirs": b64(b"kept") }))
        .await;

    env.apply(
        "out",
        spec(json!({
            "secretTemplate": { "labels": { "team": "web" }, "annotations": { "owner": "ops" } },
            "additionalOutputFormats": [{ "type": "DER" }, { "type": "CombinedPEM" }],
            "keystores": { "pkcs12": { "create": true, "password": "p", "profile": "Modern2023" } }
        })),
    )
    .await;
    let secret = env
        .wait(
            Duration::from_secs(30),
            "the new outputs in the Secret",
            || async {
                let s = env.secrets.get("out-tls").await.ok()?;
                let data = s.data.as_ref()?;
                (["key.der", "tls-combined.pem", "keystore.p12"]
                    .iter()
                    .all(|k| data.contains_key(*k))
                    && s.labels().get("team").map(String::as_str) == Some("web"))
                .then_some(s)
            },
        )
        .await;
    assert_eq!(
        secret.annotations().get("owner").map(String::as_str),
        Some("ops")
    );
    assert_eq!(
        data(&secret, "tls.crt"),
        data(&before, "tls.crt"),
        "same certificate"
    );
    assert_eq!(
        data(&secret, "tls.key"),
        data(&before, "tls.key"),
        "same key"
    );
    assert_eq!(data(&secret, "theirs"), b"kept");
    let combined = String::from_utf8(data(&secret, "tls-combined.pem").to_vec()).unwrap();
    assert!(combined.contains("PRIVATE KEY") && combined.contains("CERTIFICATE"));
    let (cert, _) = env.ready("out", 1).await;
    assert_eq!(
        cert.status.and_then(|s| s.revision),
        Some(1),
        "not re-issued"
    );
    assert!(env.has_event("out", "SecretUpdated").await);

    env.apply("out", spec(json!({}))).await;
    let secret = env
        .wait(
            Duration::from_secs(30),
            "the outputs gone again",
            || async {
                let s = env.secrets.get("out-tls").await.ok()?;
                let data = s.data.as_ref()?;
                (!["key.der", "tls-combined.pem", "keystore.p12"]
                    .iter()
                    .any(|k| data.contains_key(*k))
                    && !s.labels().contains_key("team"))
                .then_some(s)
            },
        )
        .await;
    assert!(!secret.annotations().contains_key("owner"));
    assert_eq!(
        data(&secret, "theirs"),
        b"kept",
        "another writer's key stays"
    );
    assert_eq!(data(&secret, "tls.crt"), data(&before, "tls.crt"));
    let (cert, _) = env.ready("out", 1).await;
    assert_eq!(
        cert.status.and_then(|s| s.revision),
        Some(1),
        "still not re-issued"
    );
}

/// rotationPolicy Never, re-issued over and over right after each issuance: each issuance
/// takes the current key again, the SelfSigned signer finds it for each new request, and no
/// request is left waiting for a key.
#[tokio::test]
async fn rotation_policy_never_survives_back_to_back_reissues() {
    let env = setup("certs-never-loop").await;
    let spec = |n: i32| {
        json!({
            "secretName": "loop-tls", "dnsNames": [format!("loop-{n}.example.test")],
            "privateKey": { "algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never" },
            "issuerRef": { "name": "selfsigned" }
        })
    };
    env.apply("loop", spec(1)).await;
    let (_, secret) = env.ready("loop", 1).await;
    let key = assert_key_matches(&secret);
    // Each change lands as soon as the previous revision is recorded, racing the key
    // manager's dropping of that issuance's held key.
    for revision in 2..=8 {
        env.wait(
            Duration::from_secs(30),
            &format!("loop at revision {}", revision - 1),
            || async {
                let cert = env.certs.get("loop").await.ok()?;
                (cert.status?.revision? >= revision - 1).then_some(())
            },
        )
        .await;
        env.apply("loop", spec(revision)).await;
    }
    let (_, secret) = env.ready("loop", 8).await;
    assert_eq!(assert_key_matches(&secret), key, "the key is kept");
    assert_eq!(leaf_of(&secret).dns_names, ["loop-8.example.test"]);
    assert_eq!(
        env.request_names("loop").await,
        (1..=8).map(|r| format!("loop-{r}")).collect::<Vec<_>>()
    );
}
