//! ACME end to end on the test bed: the real controller against Pebble (validating http-01
//! through the bed's solver host and dns-01 through BIND), with Issuers and ClusterIssuers,
//! EAB, preferredChain, bad input, a crash mid-order and renewal.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use certsmith::api::{
    Certificate, CertificateRequest, Challenge, ConditionStatus, Order, find_condition,
};
use support::certs::{ScratchDir, openssl, secret_data, tail};
use support::values::b64;
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds};

/// A namespace with a namespaced controller pointed at the bed's DNS and http-01 port.
struct Env {
    bed: TestBed,
    client: Client,
    ns: String,
    ctl: ControllerProcess,
}

fn controller_args(bed: &TestBed) -> Vec<String> {
    vec![
        "--dns01-recursive-nameservers".into(),
        bed.var("RFC2136_NAMESERVER").into(),
        "--dns01-recursive-nameservers-only".into(),
        "--acme-http01-self-check-port".into(),
        bed.var("HTTP01_PORT").into(),
    ]
}

async fn setup(prefix: &str) -> Env {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, prefix).await;
    let mut args = controller_args(&bed);
    args.extend(["--namespace".to_owned(), ns.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ctl = ControllerProcess::start(&bed, &format!("{prefix}-{ns}"), &args);
    Env {
        bed,
        client,
        ns,
        ctl,
    }
}

/// `<prefix>-<random label>`: names that never collide across runs on a shared bed.
fn random_label(prefix: &str) -> String {
    format!("{prefix}-{}", support::values::random_label())
}

impl Env {
    fn file(&self, var: &str) -> Vec<u8> {
        let path = self.bed.var(var);
        std::fs::read(path).unwrap_or_else(|e| panic!("reading {var}={path}: {e}"))
    }

    /// The ACME issuer settings for the bed's Pebble (or the strict one).
    fn acme(&self, strict: bool, solvers: Value) -> Value {
        let url = if strict {
            self.bed.var("ACME_STRICT_DIRECTORY_URL")
        } else {
            self.bed.var("ACME_DIRECTORY_URL")
        };
        json!({
            "server": url,
            "email": "ops@example.test",
            "caBundle": b64(&self.file("ACME_SERVER_CA_FILE")),
            "privateKeySecretRef": { "name": "acme-account" },
            "solvers": solvers,
        })
    }

    fn rfc2136(&self, secret_name: &str) -> Value {
        json!({
            "nameserver": self.bed.var("RFC2136_NAMESERVER"),
            "tsigKeyName": self.bed.var("RFC2136_TSIG_KEY"),
            "tsigAlgorithm": "HMACSHA256",
            "tsigSecretSecretRef": { "name": secret_name, "key": "secret" },
        })
    }

    async fn secret(&self, name: &str, key: &str, value: &[u8]) {
        let doc = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name },
            "data": { key: b64(value) },
        });
        Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .patch(
                name,
                &PatchParams::apply("certsmith-tests").force(),
                &Patch::Apply(&doc),
            )
            .await
            .unwrap_or_else(|e| panic!("Secret {name}: {e}"));
    }

    async fn apply(&self, kind: &str, name: &str, spec: Value) {
        let (api_version, plural) = match kind {
            "Issuer" => ("cert-manager.io/v1", "issuers"),
            "Certificate" => ("cert-manager.io/v1", "certificates"),
            other => panic!("unexpected kind {other}"),
        };
        let doc = json!({ "apiVersion": api_version, "kind": kind, "metadata": { "name": name }, "spec": spec });
        let resource = kube::api::ApiResource {
            group: "cert-manager.io".into(),
            version: "v1".into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.ns, &resource);
        api.patch(
            name,
            &PatchParams::apply("certsmith-tests").force(),
            &Patch::Apply(&doc),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Waits (up to `timeout`) for `check`; on timeout prints the controller log tail.
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
                tail(&self.ctl.log_text(), 80)
            ),
        }
    }

    /// Waits until the Certificate is Ready at `revision` or later; returns its Secret.
    async fn ready(&self, name: &str, revision: i32) -> Secret {
        let certs: Api<Certificate> = self.api();
        self.wait(
            Duration::from_secs(90),
            &format!("Certificate {name} Ready"),
            || async {
                let c = certs.get(name).await.ok()?;
                let status = c.status.as_ref()?;
                let ready = find_condition(status.conditions.as_deref()?, "Ready")?;
                (ready.status == ConditionStatus::True && status.revision? >= revision)
                    .then_some(())
            },
        )
        .await;
        let cert = certs.get(name).await.unwrap();
        self.api::<Secret>()
            .get(&cert.spec.secret_name)
            .await
            .expect("the Secret")
    }

    /// Waits until Certificate `name` is not Ready with a message `check` accepts.
    async fn not_ready_with(&self, name: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let certs: &Api<Certificate> = &self.api();
        let check = &check;
        self.wait(
            Duration::from_secs(60),
            &format!("Certificate {name}: {what}"),
            || async move {
                let c = certs.get(name).await.ok()?;
                let status = c.status.as_ref()?;
                let issuing = find_condition(status.conditions.as_deref()?, "Issuing")?;
                let message = issuing.message.clone().unwrap_or_default();
                (issuing.status == ConditionStatus::False && check(&message)).then_some(message)
            },
        )
        .await
    }

    /// Waits until Issuer `name` has Ready `status` with a reason and message; returns them.
    async fn issuer_ready(
        &self,
        name: &str,
        status: ConditionStatus,
        what: &str,
    ) -> (String, String) {
        let api: Api<certsmith::api::Issuer> = self.api();
        self.wait(
            Duration::from_secs(30),
            &format!("Issuer {name} {what}"),
            || async {
                let i = api.get(name).await.ok()?;
                let ready =
                    find_condition(i.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
                (ready.status == status).then(|| {
                    (
                        ready.reason.unwrap_or_default(),
                        ready.message.unwrap_or_default(),
                    )
                })
            },
        )
        .await
    }

    /// The number of ACME requests the controller logged so far, optionally of one action.
    fn acme_requests(&self, action: Option<&str>) -> usize {
        self.ctl
            .log_text()
            .lines()
            .filter(|l| l.contains("ACME request"))
            .filter(|l| {
                action.is_none_or(|a| {
                    l.contains(&format!("action=\"{a}\"")) || l.contains(&format!("action={a}"))
                })
            })
            .count()
    }
}

/// The leaf and chain in tls.crt verify against `root` (Pebble's issuing root).
fn verify_chain(secret: &Secret, root: &[u8], case: &str) {
    let scratch = ScratchDir::new(&format!("acme-{case}"));
    let chain = scratch.file("tls.crt", secret_data(secret, "tls.crt"));
    let root = scratch.file("root.pem", root);
    let (chain, root) = (chain.to_str().unwrap(), root.to_str().unwrap());
    openssl(
        &["verify", "-CAfile", root, "-untrusted", chain, chain],
        b"",
    )
    .unwrap_or_else(|e| {
        panic!("{case}: the issued chain does not verify against Pebble's root: {e}")
    });
    let key_pub = openssl(&["pkey", "-pubout"], secret_data(secret, "tls.key")).expect("tls.key");
    let cert_pub = openssl(
        &["x509", "-noout", "-pubkey"],
        secret_data(secret, "tls.crt"),
    )
    .unwrap();
    assert_eq!(key_pub, cert_pub, "{case}: tls.key matches tls.crt");
}

fn sans(secret: &Secret) -> String {
    openssl(
        &["x509", "-noout", "-ext", "subjectAltName"],
        secret_data(secret, "tls.crt"),
    )
    .unwrap()
}

/// http-01 for one and for two names, dns-01 for a wildcard plus its apex, from one Issuer:
/// all Ready, chains verify against Pebble's root, and every solver object, Challenge and TXT
/// record is gone afterwards.
#[tokio::test]
async fn http01_and_dns01_issue_and_clean_up() {
    let env = setup("acme-e2e").await;
    env.secret(
        "tsig",
        "secret",
        env.bed.var("RFC2136_TSIG_SECRET").as_bytes(),
    )
    .await;
    let dns_zone = format!("{}.example.test", random_label("dns"));
    env.apply(
        "Issuer",
        "pebble",
        json!({ "acme": env.acme(false, json!([
        { "http01": { "ingress": { "ingressClassName": "bed" } } },
        { "selector": { "dnsZones": [dns_zone] }, "dns01": { "rfc2136": env.rfc2136("tsig") } },
    ])) }),
    )
    .await;
    let (reason, _) = env
        .issuer_ready("pebble", ConditionStatus::True, "Ready")
        .await;
    assert_eq!(reason, "ACMEAccountRegistered");
    let issuer: certsmith::api::Issuer = env.api().get("pebble").await.unwrap();
    let acme = issuer.status.unwrap().acme.expect("status.acme");
    assert!(
        acme.uri
            .as_deref()
            .is_some_and(|u| u.starts_with("https://127.0.0.1")),
        "{acme:?}"
    );
    assert_eq!(
        acme.last_registered_email.as_deref(),
        Some("ops@example.test")
    );
    assert!(acme.last_private_key_hash.is_some());
    assert!(
        env.api::<Secret>()
            .get_opt("acme-account")
            .await
            .unwrap()
            .is_some(),
        "account key generated"
    );

    let web = format!("{}.example.test", random_label("web"));
    let a = format!("{}.example.test", random_label("a"));
    let b = format!("{}.example.test", random_label("b"));
    let started = Instant::now();
    env.apply(
        "Certificate",
        "web",
        json!({ "secretName": "web-tls", "dnsNames": [web], "issuerRef": { "name": "pebble" } }),
    )
    .await;
    env.apply(
        "Certificate",
        "multi",
        json!({ "secretName": "multi-tls", "dnsNames": [a, b], "issuerRef": { "name": "pebble" } }),
    )
    .await;
    env.apply(
        "Certificate",
        "wild",
        json!({
            "secretName": "wild-tls", "dnsNames": [format!("*.{dns_zone}"), dns_zone.clone()],
            "issuerRef": { "name": "pebble" }
        }),
    )
    .await;
    let root = env.file("PEBBLE_ROOT_PEM");
    let secret = env.ready("web", 1).await;
    println!(
        "{{\"figure\":\"acme_http01_apply_to_ready_seconds\",\"value\":{:.2}}}",
        started.elapsed().as_secs_f64()
    );
    verify_chain(&secret, &root, "web");
    assert!(sans(&secret).contains(&format!("DNS:{web}")));
    let secret = env.ready("multi", 1).await;
    verify_chain(&secret, &root, "multi");
    let names = sans(&secret);
    assert!(
        names.contains(&format!("DNS:{a}")) && names.contains(&format!("DNS:{b}")),
        "{names}"
    );
    let secret = env.ready("wild", 1).await;
    println!(
        "{{\"figure\":\"acme_dns01_wildcard_apply_to_ready_seconds\",\"value\":{:.2}}}",
        started.elapsed().as_secs_f64()
    );
    verify_chain(&secret, &root, "wild");
    let names = sans(&secret);
    assert!(
        names.contains(&format!("DNS:*.{dns_zone}")) && names.contains(&format!("DNS:{dns_zone}")),
        "{names}"
    );

    // One valid Order per request, its Challenges gone, and nothing left of the solvers.
    let orders = env
        .api::<Order>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(orders.len(), 3, "one Order per CertificateRequest");
    for o in &orders {
        let status = o.status.as_ref().unwrap();
        assert_eq!(
            status.state,
            Some(certsmith::api::AcmeState::Valid),
            "Order {}",
            o.name_any()
        );
    }
    let challenges: Api<Challenge> = env.api();
    env.wait(
        Duration::from_secs(30),
        "every Challenge cleaned up and deleted",
        || async {
            challenges
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        },
    )
    .await;
    let solver = ListParams::default().labels("acme.cert-manager.io/http01-solver=true");
    assert!(
        env.api::<Pod>()
            .list(&solver)
            .await
            .unwrap()
            .items
            .is_empty(),
        "solver Pods removed"
    );
    assert!(
        env.api::<Service>()
            .list(&solver)
            .await
            .unwrap()
            .items
            .is_empty(),
        "solver Services removed"
    );
    assert!(
        env.api::<Ingress>()
            .list(&solver)
            .await
            .unwrap()
            .items
            .is_empty(),
        "solver Ingresses removed"
    );
    let txt = std::process::Command::new("dig")
        .args([
            "+short",
            "-p",
            env.bed
                .var("RFC2136_NAMESERVER")
                .rsplit(':')
                .next()
                .unwrap(),
            "@127.0.0.1",
            "TXT",
        ])
        .arg(format!("_acme-challenge.{dns_zone}"))
        .output();
    if let Ok(out) = txt {
        assert!(
            String::from_utf8_lossy(&out.stdout).trim().is_empty(),
            "the TXT records are removed"
        );
    }
    println!(
        "{{\"figure\":\"acme_requests_three_certificates\",\"value\":{}}}",
        env.acme_requests(None)
    );
}

/// Bad input: an unreachable server, a missing account key with generation disabled, a wrong
/// TSIG secret and a name no solver covers. Each is a condition that says what to fix; a failed
/// challenge backs off instead of looping.
#[tokio::test]
async fn bad_input_is_reported() {
    let env = setup("acme-bad").await;
    env.apply(
        "Issuer",
        "nowhere",
        json!({ "acme": {
        "server": "https://127.0.0.1:1/dir", "privateKeySecretRef": { "name": "nowhere-key" },
        "solvers": [{ "http01": { "ingress": {} } }]
    } }),
    )
    .await;
    env.apply(
        "Issuer",
        "nokey",
        json!({ "acme": {
        "server": env.bed.var("ACME_DIRECTORY_URL"), "privateKeySecretRef": { "name": "absent" },
        "disableAccountKeyGeneration": true, "solvers": [{ "http01": { "ingress": {} } }]
    } }),
    )
    .await;
    let (reason, message) = env
        .issuer_ready("nowhere", ConditionStatus::False, "unreachable")
        .await;
    assert_eq!(reason, "ErrRegisterACMEAccount");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    let (reason, message) = env
        .issuer_ready("nokey", ConditionStatus::False, "missing key")
        .await;
    assert_eq!(reason, "ErrGetKeyPair");
    assert!(
        message.contains("absent") && message.contains("disableAccountKeyGeneration"),
        "{message}"
    );

    env.secret(
        "tsig",
        "secret",
        b"d3JvbmcgdHNpZyBzZWNyZXQgd3Jvbmcgd3Jvbmc=",
    )
    .await;
    let zone = format!("{}.example.test", random_label("bad"));
    env.apply(
        "Issuer",
        "badtsig",
        json!({ "acme": env.acme(false, json!([
        { "selector": { "dnsZones": [zone] }, "dns01": { "rfc2136": env.rfc2136("tsig") } },
    ])) }),
    )
    .await;
    env.issuer_ready("badtsig", ConditionStatus::True, "Ready")
        .await;
    env.apply("Certificate", "badtsig", json!({ "secretName": "badtsig-tls", "dnsNames": [format!("x.{zone}")], "issuerRef": { "name": "badtsig" } })).await;
    env.apply("Certificate", "uncovered", json!({ "secretName": "uncovered-tls", "dnsNames": ["elsewhere.example.test"], "issuerRef": { "name": "badtsig" } })).await;
    env.apply(
        "Issuer",
        "cloudflare",
        json!({ "acme": env.acme(false, json!([
        { "dns01": { "cloudflare": { "apiTokenSecretRef": { "name": "cf", "key": "token" } } } },
    ])) }),
    )
    .await;
    env.apply("Certificate", "cloudflare", json!({ "secretName": "cloudflare-tls", "dnsNames": [format!("cf.{zone}")], "issuerRef": { "name": "cloudflare" } })).await;

    let message = env
        .not_ready_with("badtsig", "the TSIG failure", |m| {
            m.contains("BADSIG") || m.contains("signature")
        })
        .await;
    assert!(message.contains("tsigSecretSecretRef"), "{message}");
    assert!(
        !message.contains(&b64(b"wrong tsig secret wrong wrong")),
        "no secret in messages"
    );
    let message = env
        .not_ready_with("uncovered", "no solver", |m| m.contains("no solver"))
        .await;
    assert!(message.contains("elsewhere.example.test"), "{message}");

    // Backed off, not looping: no new ACME order for 10 s after the failures.
    let orders_before = env.acme_requests(Some("new_order"));
    let all_before = env.acme_requests(None);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        env.acme_requests(Some("new_order")),
        orders_before,
        "no new orders while backed off"
    );
    assert!(
        env.acme_requests(None) - all_before <= 2,
        "no ACME traffic while backed off"
    );
    let cert: Certificate = env.api().get("badtsig").await.unwrap();
    let status = cert.status.unwrap();
    assert_eq!(status.failed_issuance_attempts, Some(1));
    assert!(status.last_failure_time.is_some());
    assert!(
        env.api::<Secret>()
            .get_opt("badtsig-tls")
            .await
            .unwrap()
            .is_none()
    );
    let challenges = env
        .api::<Challenge>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert!(
        challenges.is_empty(),
        "failed Orders remove their Challenges (and their records)"
    );
}

/// The strict Pebble requires External Account Binding and rejects 40% of nonces: without EAB
/// the Issuer says so; with it a certificate is issued (dns-01, one name) through the bad
/// nonces, and the chain preferred by name (Pebble's alternate root) is the one stored.
#[tokio::test]
async fn eab_bad_nonces_and_preferred_chain() {
    let env = setup("acme-strict").await;
    env.secret(
        "tsig",
        "secret",
        env.bed.var("RFC2136_TSIG_SECRET").as_bytes(),
    )
    .await;
    env.apply(
        "Issuer",
        "strict-noeab",
        json!({ "acme": env.acme(true, json!([{ "http01": { "ingress": {} } }])) }),
    )
    .await;
    let (_, message) = env
        .issuer_ready("strict-noeab", ConditionStatus::False, "EAB required")
        .await;
    assert!(
        message.to_ascii_lowercase().contains("external account"),
        "{message}"
    );

    env.secret(
        "eab",
        "secret",
        env.bed.var("ACME_STRICT_EAB_HMAC_KEY").as_bytes(),
    )
    .await;
    let alternate = env.file("PEBBLE_STRICT_ALTERNATE_ROOT_PEM");
    let subject = openssl(
        &["x509", "-noout", "-subject", "-nameopt", "multiline"],
        &alternate,
    )
    .unwrap();
    let cn = subject
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("commonName")
                .map(|v| v.trim_start_matches([' ', '=']).trim().to_owned())
        })
        .expect("the alternate root's CN");
    let mut acme = env.acme(
        true,
        json!([{ "dns01": { "rfc2136": env.rfc2136("tsig") } }]),
    );
    acme["privateKeySecretRef"] = json!({ "name": "strict-account" });
    acme["externalAccountBinding"] = json!({ "keyID": env.bed.var("ACME_STRICT_EAB_KEY_ID"), "keySecretRef": { "name": "eab", "key": "secret" } });
    acme["preferredChain"] = json!(cn);
    env.apply("Issuer", "strict", json!({ "acme": acme })).await;
    env.issuer_ready("strict", ConditionStatus::True, "Ready with EAB")
        .await;
    let name = format!("{}.example.test", random_label("strict"));
    env.apply("Certificate", "strict", json!({ "secretName": "strict-tls", "dnsNames": [name], "issuerRef": { "name": "strict" } })).await;
    let started = Instant::now();
    let secret = env.ready("strict", 1).await;
    println!(
        "{{\"figure\":\"acme_dns01_single_name_strict_apply_to_ready_seconds\",\"value\":{:.2}}}",
        started.elapsed().as_secs_f64()
    );
    verify_chain(&secret, &alternate, "preferred chain");
    let bad_nonces = env
        .ctl
        .log_text()
        .lines()
        .filter(|l| l.contains("ACME request") && l.contains("400"))
        .count();
    println!("{{\"figure\":\"acme_strict_bad_nonce_responses\",\"value\":{bad_nonces}}}");
}

/// A challenge the ACME server cannot validate (the strict Pebble checks http-01 on a port
/// nothing listens on, though the self-check passes): the Challenge and Order end invalid with
/// the server's reason, the Certificate says it, and nothing more is asked of the server while
/// the Certificate backs off.
#[tokio::test]
async fn failing_challenge_ends_invalid_and_backs_off() {
    let env = setup("acme-invalid").await;
    env.secret(
        "eab",
        "secret",
        env.bed.var("ACME_STRICT_EAB_HMAC_KEY").as_bytes(),
    )
    .await;
    let mut acme = env.acme(true, json!([{ "http01": { "ingress": {} } }]));
    acme["externalAccountBinding"] = json!({ "keyID": env.bed.var("ACME_STRICT_EAB_KEY_ID"), "keySecretRef": { "name": "eab", "key": "secret" } });
    env.apply("Issuer", "unreachable-solver", json!({ "acme": acme }))
        .await;
    env.issuer_ready("unreachable-solver", ConditionStatus::True, "Ready")
        .await;
    let name = format!("{}.example.test", random_label("invalid"));
    env.apply("Certificate", "invalid", json!({ "secretName": "invalid-tls", "dnsNames": [name], "issuerRef": { "name": "unreachable-solver" } })).await;
    let message = env
        .not_ready_with("invalid", "the failed validation", |m| {
            m.contains("is invalid")
        })
        .await;
    assert!(
        message.contains(&name) || message.to_ascii_lowercase().contains("connect"),
        "{message}"
    );
    let orders = env
        .api::<Order>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0].status.as_ref().unwrap().state,
        Some(certsmith::api::AcmeState::Invalid)
    );
    let before = env.acme_requests(None);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        env.acme_requests(None),
        before,
        "no ACME request while backed off"
    );
    let cert: Certificate = env.api().get("invalid").await.unwrap();
    assert_eq!(cert.status.unwrap().failed_issuance_attempts, Some(1));
    let solver = ListParams::default().labels("acme.cert-manager.io/http01-solver=true");
    env.wait(
        Duration::from_secs(20),
        "the solver objects removed",
        || async {
            env.api::<Pod>()
                .list(&solver)
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        },
    )
    .await;
    println!("invalid challenge reported as: {message}");
}

/// SIGKILL in the middle of ACME issuance: after a restart every Certificate is issued, each
/// CertificateRequest has exactly one Order, and no Order whose ACME order URL was recorded is
/// placed again. (For ACME the next private key is kept in a temporary Secret as well as in
/// memory, so the restart takes it back and the request and its Order still serve; the
/// Secrets are gone once the issuances end.) (ACME has no idempotency key: an order the server created in the milliseconds
/// before the kill, whose URL was not yet written, is placed once more and the first one
/// expires unused on the server. The test counts those instead of hoping the kill misses them.)
#[tokio::test]
async fn crash_mid_order_places_no_duplicate_orders() {
    let mut env = setup("acme-crash").await;
    env.apply(
        "Issuer",
        "pebble",
        json!({ "acme": env.acme(false, json!([{ "http01": { "ingress": {} } }])) }),
    )
    .await;
    env.issuer_ready("pebble", ConditionStatus::True, "Ready")
        .await;
    for i in 0..4 {
        let name = format!("{}.example.test", random_label(&format!("crash{i}")));
        env.apply("Certificate", &format!("crash-{i}"), json!({ "secretName": format!("crash-{i}-tls"), "dnsNames": [name], "issuerRef": { "name": "pebble" } })).await;
    }
    let orders: Api<Order> = env.api();
    env.wait(
        Duration::from_secs(30),
        "an Order placed with the ACME server",
        || async {
            orders
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .iter()
                .any(|o| o.status.as_ref().and_then(|s| s.url.as_ref()).is_some())
                .then_some(())
        },
    )
    .await;
    env.ctl.kill9();
    let placed_before = env.acme_requests(Some("new_order"));
    // With the controller dead, what the API holds now is what the restart starts from.
    let recorded = orders
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|o| o.status.as_ref().and_then(|s| s.url.as_ref()).is_some())
        .count();
    env.ctl.restart();
    for i in 0..4 {
        env.ready(&format!("crash-{i}"), 1).await;
    }
    let orders = orders.list(&ListParams::default()).await.unwrap().items;
    let requests = env
        .api::<CertificateRequest>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(requests.len(), 4, "one request per Certificate");
    assert_eq!(orders.len(), 4, "one Order per request");
    let placed = env.acme_requests(Some("new_order"));
    let placed_after = placed - placed_before;
    assert!(
        placed_after <= 4 - recorded,
        "{placed_after} ACME orders placed after the restart, though {recorded} of 4 Orders \
         had their URL recorded ({placed_before} placed before the crash)"
    );
    println!(
        "placed before the crash: {placed_before}, recorded: {recorded}, after: {placed_after}"
    );
    let temporary = ListParams::default().labels("cert-manager.io/next-private-key=true");
    env.wait(
        Duration::from_secs(15),
        "the temporary key Secrets deleted and no longer named in status",
        || async {
            let left = env.api::<Secret>().list_metadata(&temporary).await.ok()?;
            let named = env
                .api::<Certificate>()
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .iter()
                .filter(|c| {
                    c.status
                        .as_ref()
                        .is_some_and(|s| s.next_private_key_secret_name.is_some())
                })
                .count();
            (left.items.is_empty() && named == 0).then_some(())
        },
    )
    .await;
}

/// Renewal through ACME: Pebble honours notAfter (enableDurationFeature), so a 1h certificate
/// renewed 59m50s before it ends is re-issued about 10 s later, with a new Order.
#[tokio::test]
async fn renewal_through_acme() {
    let env = setup("acme-renew").await;
    let mut acme = env.acme(false, json!([{ "http01": { "ingress": {} } }]));
    acme["enableDurationFeature"] = json!(true);
    env.apply("Issuer", "pebble", json!({ "acme": acme })).await;
    env.issuer_ready("pebble", ConditionStatus::True, "Ready")
        .await;
    let name = format!("{}.example.test", random_label("renew"));
    env.apply("Certificate", "renew", json!({
        "secretName": "renew-tls", "dnsNames": [name], "duration": "1h", "renewBefore": "59m50s",
        "issuerRef": { "name": "pebble" }
    })).await;
    let first = env.ready("renew", 1).await;
    let end = openssl(
        &["x509", "-noout", "-enddate"],
        secret_data(&first, "tls.crt"),
    )
    .unwrap();
    let second = env.ready("renew", 2).await;
    assert_ne!(
        secret_data(&first, "tls.crt"),
        secret_data(&second, "tls.crt"),
        "renewed"
    );
    verify_chain(&second, &env.file("PEBBLE_ROOT_PEM"), "renewed");
    let orders = env
        .api::<Order>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert!(orders.len() >= 2, "a new Order for the renewal");
    println!("first certificate {end}");
}
