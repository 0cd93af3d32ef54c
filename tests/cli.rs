//! The user's commands against real objects on the test bed: the built `certsmith` binary with
//! the bed's kubeconfig, a controller process per test, fresh namespaces. Assertions are on
//! what a user reads: the first line, key facts, exit codes, and no line over 100 columns.

mod support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use certsmith::api::{Certificate, CertificateRequest, ConditionStatus, find_condition};
use support::certs::{ready_at, secret_data, tail};
use support::values::{b64, random_label};
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds, run};

/// Runs `certsmith ARGS --kubeconfig <bed>`; returns (success, stdout, stderr).
fn certsmith(bed: &TestBed, args: &[&str]) -> (bool, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .args(args)
        .arg("--kubeconfig")
        .arg(bed.kubeconfig())
        .env_remove("KUBECONFIG"))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The text with every run of whitespace made one space: wrapped lines read as one.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first paragraph of the output (the headline, however it wrapped), as one line.
fn headline(text: &str) -> String {
    squash(
        &text
            .lines()
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn assert_narrow(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "line wider than 100 columns: {line:?}\n{text}"
        );
    }
}

struct Env {
    bed: TestBed,
    client: Client,
    ns: String,
    ctl: ControllerProcess,
}

async fn setup(prefix: &str, extra: &[&str]) -> Env {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, prefix).await;
    let mut args = vec!["--namespace", ns.as_str()];
    args.extend(extra);
    let ctl = ControllerProcess::start(&bed, &format!("{prefix}-{ns}"), &args);
    Env {
        bed,
        client,
        ns,
        ctl,
    }
}

impl Env {
    async fn apply(&self, kind: &str, name: &str, spec: Value, labels: Value) {
        let (group, plural) = match kind {
            "Issuer" => ("cert-manager.io", "issuers"),
            "Certificate" => ("cert-manager.io", "certificates"),
            other => panic!("unexpected kind {other}"),
        };
        let resource = kube::api::ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let doc = json!({ "apiVersion": format!("{group}/v1"), "kind": kind,
            "metadata": { "name": name, "labels": labels }, "spec": spec });
        Api::<kube::api::DynamicObject>::namespaced_with(self.client.clone(), &self.ns, &resource)
            .patch(
                name,
                &PatchParams::apply("certsmith-tests").force(),
                &Patch::Apply(&doc),
            )
            .await
            .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }

    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let mut all = args.to_vec();
        all.extend(["-n", self.ns.as_str()]);
        certsmith(&self.bed, &all)
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

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

    async fn ready(&self, name: &str, revision: i32) -> Certificate {
        let certs: Api<Certificate> = self.api();
        self.wait(
            Duration::from_secs(60),
            &format!("Certificate {name} Ready at revision {revision}"),
            || async {
                let c = certs.get(name).await.ok()?;
                ready_at(&c, revision).then_some(c)
            },
        )
        .await
    }

    /// Polls `status certificate NAME` until its headline (the first paragraph, wrapped lines
    /// joined) satisfies `check`; returns the whole output.
    async fn status_until(&self, name: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let check = &check;
        let mut last = String::new();
        let out = tokio::time::timeout(Duration::from_secs(90), async {
            loop {
                let (ok, out, err) = self.cli(&["status", "certificate", name]);
                assert!(ok, "status failed: {err}");
                if check(&headline(&out)) {
                    return out;
                }
                last = out;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        out.unwrap_or_else(|_| {
            // The bed is shared: a controller watching every namespace (another test run's)
            // acts on this namespace too, and no assertion here can hold then.
            let foreign = if self.ctl.log_text().contains("approved CertificateRequest") {
                ""
            } else {
                "\n(if the request shows `Approved (cert-manager.io: ...)` although this \
                 test's controller runs without its approver, a controller outside this test \
                 that watches all namespaces is acting on it)"
            };
            panic!(
                "status of {name} never showed {what}; last:\n{last}\ncontroller log:\n{}{foreign}",
                tail(&self.ctl.log_text(), 40)
            )
        })
    }

    async fn cleanup(self) {
        support::delete_namespace(&self.client, &self.ns).await;
    }
}

fn no_labels() -> Value {
    json!({})
}

/// A CA-issued certificate: status says Ready with expiry and renewal, inspect decodes its
/// Secret, renew (by name and by label) issues new revisions; a Certificate naming a missing
/// Issuer is explained on the first line.
#[tokio::test]
async fn status_inspect_and_renew_on_a_ca_chain() {
    let env = setup("cli-ca", &[]).await;
    env.apply(
        "Issuer",
        "selfsigned",
        json!({ "selfSigned": {} }),
        no_labels(),
    )
    .await;
    env.apply(
        "Certificate",
        "root",
        json!({ "isCA": true, "commonName": "cli test root", "secretName": "root-ca",
                "privateKey": { "algorithm": "ECDSA", "size": 256 },
                "issuerRef": { "name": "selfsigned" } }),
        no_labels(),
    )
    .await;
    env.apply(
        "Issuer",
        "ca",
        json!({ "ca": { "secretName": "root-ca" } }),
        no_labels(),
    )
    .await;
    env.apply(
        "Certificate",
        "web",
        json!({ "secretName": "web-tls", "dnsNames": ["web.example.test"],
                "issuerRef": { "name": "ca" } }),
        json!({ "app": "web" }),
    )
    .await;
    env.ready("web", 1).await;

    // Healthy: the first line says so, with expiry and renewal.
    let (ok, out, err) = env.cli(&["status", "certificate", "web"]);
    assert!(ok, "{err}");
    let head = first_line(&out);
    assert!(head.starts_with("Ready: valid until "), "{out}");
    assert!(head.contains("renews in "), "{out}");
    assert!(out.contains("Secret web-tls: OK"), "{out}");
    assert!(
        out.contains("Key          matches the certificate"),
        "{out}"
    );
    assert!(out.contains("SANs         DNS:web.example.test"), "{out}");
    assert!(out.contains(&format!("Issuer {}/ca (CA)", env.ns)), "{out}");
    assert!(out.contains("CertificateRequest web-1"), "{out}");
    assert!(out.contains("Approval     Approved"), "{out}");
    assert_narrow(&out);
    let (ok, json_out, err) = env.cli(&["status", "cert", "web", "-o", "json"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&json_out).expect("status -o json");
    assert_eq!(report["summary"]["state"], "Ready");
    assert_eq!(report["secret"]["analysis"]["keyMatches"], true);
    assert_eq!(report["request"]["approval"], "Approved");
    let (ok, yaml_out, _) = env.cli(&["status", "certificate", "web", "-o", "yaml"]);
    assert!(ok && yaml_out.contains("state: Ready"), "{yaml_out}");

    // inspect secret: the certificate in human terms, the key compared, never printed.
    let (ok, out, err) = env.cli(&["inspect", "secret", "web-tls"]);
    assert!(ok, "{err}");
    assert!(first_line(&out).starts_with("OK: valid until "), "{out}");
    for want in [
        "tls.key      RSA 2048 (PKCS1), matches the certificate",
        "Chain        1 certificate(s) in tls.crt, in order",
        "SANs         DNS:web.example.test",
        "Issuer       CN=cli test root",
        "SHA-256      ",
        "SHA-1        ",
        "ca.crt [0]",
    ] {
        assert!(out.contains(want), "inspect lacks {want:?}:\n{out}");
    }
    let secret: Secret = env.api().get("web-tls").await.unwrap();
    let key = String::from_utf8(secret_data(&secret, "tls.key").to_vec()).unwrap();
    let body = key.lines().nth(1).expect("a PEM body line");
    assert!(!out.contains(body) && !out.contains("PRIVATE KEY"), "{out}");
    assert_narrow(&out);
    let (ok, out, _) = env.cli(&["inspect", "secret", "web-tls", "-o", "json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["keyMatches"], true);
    assert_eq!(v["type"], "kubernetes.io/tls");
    assert_eq!(v["certificates"][0]["dnsNames"][0], "web.example.test");
    assert!(!out.contains(body));
    let (ok, _, err) = env.cli(&["inspect", "secret", "nothing-here"]);
    assert!(!ok && err.contains("not found"), "{err}");

    // renew by name: a new revision with a new certificate.
    let before = secret_data(&secret, "tls.crt").to_vec();
    let (ok, out, err) = env.cli(&["renew", "web"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Manually triggered issuance of Certificate"),
        "{out}"
    );
    env.ready("web", 2).await;
    let after: Secret = env.api().get("web-tls").await.unwrap();
    assert_ne!(
        secret_data(&after, "tls.crt"),
        before.as_slice(),
        "a new certificate"
    );
    // by label: only the labelled Certificate.
    let (ok, out, err) = env.cli(&["renew", "-l", "app=web"]);
    assert!(ok, "{err}");
    assert!(out.contains("/web") && !out.contains("/root"), "{out}");
    env.ready("web", 3).await;
    let root: Certificate = env.api().get("root").await.unwrap();
    assert_eq!(root.status.unwrap().revision, Some(1), "root not renewed");
    let (ok, _, err) = env.cli(&["renew", "absent"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = env.cli(&["renew"]);
    assert!(!ok && err.contains("--all"), "{err}");

    // Broken: the issuer does not exist. The first line names it and what to do.
    env.apply(
        "Certificate",
        "orphan",
        json!({ "secretName": "orphan-tls", "dnsNames": ["orphan.example.test"],
                "issuerRef": { "name": "missing" } }),
        no_labels(),
    )
    .await;
    let out = env
        .status_until("orphan", "the missing issuer", |l| {
            l.contains("does not exist")
        })
        .await;
    let head = first_line(&out);
    assert!(
        head.starts_with(&format!(
            "Not ready: Issuer {}/missing does not exist",
            env.ns
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Create Issuer {}/missing", env.ns)),
        "{out}"
    );
    assert!(out.contains("Secret orphan-tls: does not exist"), "{out}");
    assert_narrow(&out);
    let (ok, _, err) = env.cli(&["status", "certificate", "nope"]);
    assert!(!ok && err.contains("not found"), "{err}");
    env.cleanup().await;
}

/// With the built-in approver off, requests wait; `approve` lets one be signed, `deny` stops
/// another (and `status` says so); a decided request cannot be decided again.
#[tokio::test]
async fn approve_and_deny_by_hand() {
    let env = setup(
        "cli-approve",
        &["--controllers=*,-certificaterequests-approver"],
    )
    .await;
    env.apply(
        "Issuer",
        "selfsigned",
        json!({ "selfSigned": {} }),
        no_labels(),
    )
    .await;
    for name in ["yes", "no"] {
        env.apply(
            "Certificate",
            name,
            json!({ "secretName": format!("{name}-tls"), "commonName": name,
                    "issuerRef": { "name": "selfsigned" } }),
            no_labels(),
        )
        .await;
    }
    let requests: Api<CertificateRequest> = env.api();
    for name in ["yes-1", "no-1"] {
        env.wait(
            Duration::from_secs(30),
            &format!("request {name}"),
            || async { requests.get_opt(name).await.ok().flatten() },
        )
        .await;
    }
    let out = env
        .status_until("yes", "waiting for approval", |l| {
            l.contains("waiting for approval")
        })
        .await;
    assert!(
        squash(&out).contains(&format!("certsmith approve yes-1 -n {}", env.ns)),
        "{out}"
    );
    // Still pending a while later: nothing approves it behind our back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = requests.get("yes-1").await.unwrap();
    let conds = r.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(find_condition(&conds, "Approved").is_none(), "{conds:?}");

    let (ok, out, err) = env.cli(&["approve", "yes-1"]);
    assert!(ok, "{err}");
    assert!(out.contains("approved"), "{out}");
    env.ready("yes", 1).await;
    let r = requests.get("yes-1").await.unwrap();
    let conds = r.status.and_then(|s| s.conditions).unwrap_or_default();
    let approved = find_condition(&conds, "Approved").expect("Approved");
    assert_eq!(approved.reason.as_deref(), Some("KubectlCertManager"));
    assert_eq!(
        approved.message.as_deref(),
        Some("manually approved by certsmith")
    );
    let (ok, _, err) = env.cli(&["approve", "yes-1"]);
    assert!(!ok && err.contains("already approved"), "{err}");
    let (ok, _, err) = env.cli(&["deny", "yes-1"]);
    assert!(!ok && err.contains("already approved"), "{err}");

    let (ok, _, err) = env.cli(&[
        "deny",
        "no-1",
        "--reason",
        "PolicyDenied",
        "--message",
        "names outside the allowed zone",
    ]);
    assert!(ok, "{err}");
    let out = env
        .status_until("no", "the denial", |l| l.contains("denied"))
        .await;
    assert!(
        first_line(&out).contains(
            "CertificateRequest no-1 was denied (PolicyDenied: names outside the allowed zone)"
        ),
        "{out}"
    );
    assert_narrow(&out);
    let r = requests.get("no-1").await.unwrap();
    let conds = r.status.and_then(|s| s.conditions).unwrap_or_default();
    assert_eq!(
        find_condition(&conds, "Denied").map(|c| c.status),
        Some(ConditionStatus::True)
    );
    let (ok, _, err) = env.cli(&["approve", "no-1"]);
    assert!(!ok && err.contains("already denied"), "{err}");
    env.cleanup().await;
}

/// approve/deny on requests for an external issuer (group `issuers.example.com`), which no
/// certsmith controller touches: the conditions written, the defaults and flags, and the
/// refusal to decide twice.
#[tokio::test]
async fn approve_and_deny_external_requests() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "cli-decide").await;
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), &ns);
    for name in ["ext-a", "ext-b"] {
        let doc = json!({ "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
            "metadata": { "name": name },
            "spec": { "request": b64(b"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"),
                      "issuerRef": { "name": "vault", "kind": "VaultIssuer", "group": "issuers.example.com" } } });
        requests
            .patch(
                name,
                &PatchParams::apply("certsmith-tests").force(),
                &Patch::Apply(&doc),
            )
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-n", ns.as_str()]);
        certsmith(&bed, &all)
    };
    let decision = |name: &'static str, type_: &'static str| {
        let requests = requests.clone();
        async move {
            let r = requests.get(name).await.unwrap();
            let conds = r.status.and_then(|s| s.conditions).unwrap_or_default();
            find_condition(&conds, type_).cloned()
        }
    };
    let (ok, out, err) = cli(&["approve", "ext-a"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        format!(
            "CertificateRequest {ns}/ext-a approved (KubectlCertManager: manually approved by certsmith)"
        )
    );
    let c = decision("ext-a", "Approved").await.expect("Approved");
    assert_eq!(c.status, ConditionStatus::True);
    assert_eq!(c.reason.as_deref(), Some("KubectlCertManager"));
    assert!(c.last_transition_time.is_some());
    assert!(decision("ext-a", "Denied").await.is_none());
    let (ok, _, err) = cli(&["deny", "ext-a"]);
    assert!(!ok && err.contains("already approved"), "{err}");

    let (ok, _, err) = cli(&[
        "deny",
        "ext-b",
        "--reason",
        "PolicyDenied",
        "--message",
        "not in the allowed zone",
    ]);
    assert!(ok, "{err}");
    let c = decision("ext-b", "Denied").await.expect("Denied");
    assert_eq!(
        (c.reason.as_deref(), c.message.as_deref()),
        (Some("PolicyDenied"), Some("not in the allowed zone"))
    );
    assert!(decision("ext-b", "Approved").await.is_none());
    let (ok, _, err) = cli(&["approve", "ext-b"]);
    assert!(!ok && err.contains("already denied"), "{err}");
    let (ok, _, err) = cli(&["approve", "ext-c"]);
    assert!(!ok && err.contains("not found"), "{err}");
    support::delete_namespace(&client, &ns).await;
}

/// ACME against Pebble with challenges that cannot pass: an http-01 self-check pointed at a
/// dead port (the Challenge keeps failing), and a dns-01 solver with a wrong TSIG secret (the
/// DNS update is refused). The first line names the failing challenge and why.
#[tokio::test]
async fn status_names_the_failing_challenge() {
    let bed = TestBed::get();
    let dead_port = bed.var("HTTP01_DEAD_PORT").to_owned();
    let nameserver = bed.var("RFC2136_NAMESERVER").to_owned();
    let env = setup(
        "cli-acme",
        &[
            "--dns01-recursive-nameservers",
            &nameserver,
            "--dns01-recursive-nameservers-only",
            "--acme-http01-self-check-port",
            &dead_port,
        ],
    )
    .await;
    let ca = std::fs::read(env.bed.var("ACME_SERVER_CA_FILE")).unwrap();
    let acme = |solver: Value| {
        json!({ "acme": {
            "server": env.bed.var("ACME_DIRECTORY_URL"), "email": "ops@example.test",
            "caBundle": b64(&ca), "privateKeySecretRef": { "name": "acme-account" },
            "solvers": [solver],
        } })
    };
    env.apply(
        "Issuer",
        "http",
        acme(json!({ "http01": { "ingress": {} } })),
        no_labels(),
    )
    .await;
    let doc = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "tsig" },
        "data": { "secret": b64(b"d3JvbmcgdHNpZyBzZWNyZXQgd3Jvbmcgd3Jvbmc=") } });
    env.api::<Secret>()
        .patch(
            "tsig",
            &PatchParams::apply("certsmith-tests").force(),
            &Patch::Apply(&doc),
        )
        .await
        .unwrap();
    env.apply(
        "Issuer",
        "dns",
        acme(json!({ "dns01": { "rfc2136": {
            "nameserver": nameserver, "tsigKeyName": env.bed.var("RFC2136_TSIG_KEY"),
            "tsigAlgorithm": "HMACSHA256",
            "tsigSecretSecretRef": { "name": "tsig", "key": "secret" } } } })),
        no_labels(),
    )
    .await;
    let http_name = format!("{}.example.test", random_label());
    let dns_name = format!("{}.example.test", random_label());
    env.apply(
        "Certificate",
        "http",
        json!({ "secretName": "http-tls", "dnsNames": [http_name], "issuerRef": { "name": "http" } }),
        no_labels(),
    )
    .await;
    env.apply(
        "Certificate",
        "dns",
        json!({ "secretName": "dns-tls", "dnsNames": [dns_name], "issuerRef": { "name": "dns" } }),
        no_labels(),
    )
    .await;

    let out = env
        .status_until("http", "the failing http-01 self-check", |l| {
            l.contains("challenge for")
        })
        .await;
    let head = first_line(&out);
    assert!(
        head.starts_with(&format!(
            "Not ready: ACME HTTP-01 challenge for {http_name} is not passing: self-check:"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(":{dead_port}")),
        "the URL checked: {out}"
    );
    assert!(out.contains("Order http-1-"), "{out}");
    assert!(
        squash(&out).contains(&format!("HTTP-01 {http_name} state pending, presented yes")),
        "{out}"
    );
    assert!(out.contains("Last result: self-check:"), "{out}");
    assert_narrow(&out);

    // dns-01: the update is refused; while the Challenge exists its state says so, and after
    // the Order failed the Certificate's failure does. Either way the first line names it.
    let out = env
        .status_until("dns", "the refused DNS update", |l| {
            l.contains("BADSIG") || l.contains("TSIG") || l.contains("tsig")
        })
        .await;
    let head = first_line(&out);
    assert!(head.starts_with("Not ready: "), "{out}");
    assert!(head.contains("challenge"), "{out}");
    assert!(headline(&out).contains("(BADSIG)"), "{out}");
    assert!(headline(&out).contains("certsmith renew dns"), "{out}");
    assert!(
        !out.contains("d3JvbmcgdHNpZyBzZWNyZXQ"),
        "no secret in the output"
    );
    assert_narrow(&out);
    env.cleanup().await;
}

/// `check api`: the CRDs are there; the controller's Lease decides. Missing, stale and fresh
/// Leases (written by the test), and `--wait` seeing one appear.
#[tokio::test]
async fn check_api_reads_crds_and_the_lease() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "cli-check").await;
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "api", "--leader-election-namespace", ns.as_str()];
        args.extend(extra);
        certsmith(&bed, &args)
    };
    let (ok, out, _) = check(&[]);
    assert!(!ok, "no Lease: not ready\n{out}");
    assert!(
        first_line(&out).starts_with(&format!(
            "NOT READY: Lease {ns}/certsmith-controller does not exist"
        )),
        "{out}"
    );
    assert!(out.contains("certificates.cert-manager.io") && out.contains("Established"));
    assert_narrow(&out);

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let write = |renewed: jiff::Timestamp| write_lease(leases.clone(), renewed);
    write(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600)).await;
    let (ok, out, _) = check(&[]);
    assert!(!ok, "{out}");
    assert!(
        first_line(&out).contains("held by test-holder was last renewed 1h"),
        "{out}"
    );

    write(jiff::Timestamp::now()).await;
    let (ok, out, err) = check(&["-o", "json"]);
    assert!(ok, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["lease"]["state"], "held");
    assert_eq!(v["crds"].as_array().unwrap().len(), 6);

    // --wait: stale now, renewed 3 s later by "the controller".
    write(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60)).await;
    let writer = {
        let leases = leases.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            write_lease(leases, jiff::Timestamp::now()).await;
        })
    };
    let started = std::time::Instant::now();
    let (ok, out, _) = tokio::task::spawn_blocking({
        let bed_kubeconfig = bed.kubeconfig().to_owned();
        let ns = ns.clone();
        move || {
            run(Command::new(env!("CARGO_BIN_EXE_certsmith"))
                .args([
                    "check",
                    "api",
                    "--wait",
                    "30s",
                    "--leader-election-namespace",
                    &ns,
                ])
                .arg("--kubeconfig")
                .arg(bed_kubeconfig))
        }
    })
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(ok, "{out}");
    assert!(first_line(&out).starts_with("OK: "), "{out}");
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    support::delete_namespace(&client, &ns).await;
}

/// `check api` against a real controller electing itself leader in a fresh namespace: ready
/// once it holds the Lease, not ready once it died without releasing it and the Lease expired.
#[tokio::test]
async fn check_api_follows_a_real_controller() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "cli-leader").await;
    let mut ctl = ControllerProcess::start(
        &bed,
        &format!("cli-leader-{ns}"),
        &[
            "--namespace",
            &ns,
            "--leader-elect=true",
            "--leader-election-namespace",
            &ns,
            "--leader-election-lease-duration",
            "4s",
            "--leader-election-renew-deadline",
            "3s",
            "--leader-election-retry-period",
            "1s",
        ],
    );
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "api", "--leader-election-namespace", ns.as_str()];
        args.extend(extra);
        certsmith(&bed, &args)
    };
    let (ok, out, err) = check(&["--wait", "60s"]);
    assert!(
        ok,
        "{out}{err}\ncontroller log:\n{}",
        tail(&ctl.log_text(), 30)
    );
    assert!(first_line(&out).starts_with("OK: "), "{out}");
    assert!(
        out.contains(&format!("Lease {ns}/certsmith-controller: held by ")),
        "{out}"
    );
    ctl.kill9();
    let out = eventually(Duration::from_secs(30), "the Lease to expire", || async {
        let (ok, out, _) = check(&[]);
        (!ok).then_some(out)
    })
    .await;
    assert!(first_line(&out).contains("was last renewed"), "{out}");
    assert!(first_line(&out).contains("gone or stuck") || out.contains("gone or stuck"));
    support::delete_namespace(&client, &ns).await;
}

/// Writes the controller's Lease as held by `test-holder`, renewed at `renewed`.
async fn write_lease(leases: Api<Lease>, renewed: jiff::Timestamp) {
    let renew_time = serde_json::to_value(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(renewed),
    )
    .unwrap();
    let doc = json!({ "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": { "name": "certsmith-controller" },
        "spec": { "holderIdentity": "test-holder", "leaseDurationSeconds": 15,
                  "renewTime": renew_time } });
    leases
        .patch(
            "certsmith-controller",
            &PatchParams::apply("certsmith-tests").force(),
            &Patch::Apply(&doc),
        )
        .await
        .expect("writing the Lease");
}

#[test]
fn completion_scripts_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, out, err) =
            run(Command::new(env!("CARGO_BIN_EXE_certsmith")).args(["completion", shell]));
        assert!(ok, "{shell}: {err}");
        for word in ["status", "renew", "inspect", "check", "approve", "deny"] {
            assert!(out.contains(word), "{shell} script lacks {word}");
        }
    }
    let (ok, _, _) =
        run(Command::new(env!("CARGO_BIN_EXE_certsmith")).args(["completion", "tcsh"]));
    assert!(!ok, "unknown shells are refused");
}
