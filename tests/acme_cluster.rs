//! A ClusterIssuer serving ACME to any namespace: its account key and TSIG Secret live in the
//! cluster resource namespace. Its own test binary: the controller watches every namespace, so
//! it must not run beside the namespaced tests of tests/acme.rs.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use certsmith::api::{Certificate, ClusterIssuer, ConditionStatus, Order, find_condition};
use support::certs::{openssl, secret_data, tail};
use support::values::b64;
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds};

#[tokio::test]
async fn cluster_issuer_issues_over_http01_and_dns01() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "acme-cluster").await;
    let resources = format!("{ns}-resources");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": resources } })).unwrap(),
        )
        .await
        .expect("the cluster resource namespace");
    let ctl = ControllerProcess::start(
        &bed,
        &format!("acme-cluster-{ns}"),
        &[
            "--cluster-resource-namespace",
            &resources,
            "--dns01-recursive-nameservers",
            bed.var("RFC2136_NAMESERVER"),
            "--dns01-recursive-nameservers-only",
            "--acme-http01-self-check-port",
            bed.var("HTTP01_PORT"),
        ],
    );
    let tsig = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "tsig" },
        "data": { "secret": b64(bed.var("RFC2136_TSIG_SECRET").as_bytes()) } });
    Api::<Secret>::namespaced(client.clone(), &resources)
        .patch(
            "tsig",
            &PatchParams::apply("certsmith-tests"),
            &Patch::Apply(&tsig),
        )
        .await
        .expect("TSIG Secret");
    let ca = std::fs::read(bed.var("ACME_SERVER_CA_FILE")).unwrap();
    let issuer_name = format!("pebble-{ns}");
    let issuer = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": { "name": issuer_name },
        "spec": { "acme": {
            "server": bed.var("ACME_DIRECTORY_URL"), "caBundle": b64(&ca),
            "privateKeySecretRef": { "name": "cluster-account" },
            "solvers": [
                { "http01": { "ingress": {} } },
                { "selector": { "dnsNames": [format!("dns-{ns}.example.test")] }, "dns01": { "rfc2136": {
                    "nameserver": bed.var("RFC2136_NAMESERVER"), "tsigKeyName": bed.var("RFC2136_TSIG_KEY"),
                    "tsigAlgorithm": "HMACSHA256", "tsigSecretSecretRef": { "name": "tsig", "key": "secret" } } } },
            ],
        } }
    });
    let issuers: Api<ClusterIssuer> = Api::all(client.clone());
    issuers
        .patch(
            &issuer_name,
            &PatchParams::apply("certsmith-tests"),
            &Patch::Apply(&issuer),
        )
        .await
        .expect("ClusterIssuer");
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    for (name, dns) in [
        ("http", format!("http-{ns}.example.test")),
        ("dns", format!("dns-{ns}.example.test")),
    ] {
        let doc = json!({ "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": { "name": name },
            "spec": { "secretName": format!("{name}-tls"), "dnsNames": [dns],
                      "issuerRef": { "name": issuer_name, "kind": "ClusterIssuer" } } });
        certs
            .patch(
                name,
                &PatchParams::apply("certsmith-tests"),
                &Patch::Apply(&doc),
            )
            .await
            .expect("Certificate");
    }
    let ready = |name: &'static str| {
        let certs = certs.clone();
        async move {
            let c = certs.get(name).await.ok()?;
            let r = find_condition(c.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
            (r.status == ConditionStatus::True).then_some(())
        }
    };
    let wait = tokio::time::timeout(Duration::from_secs(120), async {
        eventually(
            Duration::from_secs(125),
            "both Certificates Ready",
            || async {
                ready("http").await?;
                ready("dns").await
            },
        )
        .await
    })
    .await;
    if wait.is_err() {
        panic!("timed out; controller log:\n{}", tail(&ctl.log_text(), 80));
    }
    // The account key was generated in the cluster resource namespace, not the Certificate's.
    let key = Api::<Secret>::namespaced(client.clone(), &resources)
        .get_opt("cluster-account")
        .await
        .unwrap();
    assert!(
        key.is_some(),
        "the ClusterIssuer's account key lives in the cluster resource namespace"
    );
    let issuer = issuers.get(&issuer_name).await.unwrap();
    assert!(
        issuer
            .status
            .and_then(|s| s.acme)
            .and_then(|a| a.uri)
            .is_some()
    );
    let root = std::fs::read(bed.var("PEBBLE_ROOT_PEM")).unwrap();
    let dir = std::env::temp_dir().join(format!("certsmith-it-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("root.pem"), &root).unwrap();
    for name in ["http", "dns"] {
        let secret = Api::<Secret>::namespaced(client.clone(), &ns)
            .get(&format!("{name}-tls"))
            .await
            .unwrap();
        let chain = dir.join(format!("{name}.crt"));
        std::fs::write(&chain, secret_data(&secret, "tls.crt")).unwrap();
        let (chain, root) = (chain.to_str().unwrap(), dir.join("root.pem"));
        openssl(
            &[
                "verify",
                "-CAfile",
                root.to_str().unwrap(),
                "-untrusted",
                chain,
                chain,
            ],
            b"",
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let orders = Api::<Order>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(
        orders.len(),
        2,
        "one Order per Certificate, in the Certificate's namespace"
    );
    let _ = issuers.delete(&issuer_name, &Default::default()).await;
}
