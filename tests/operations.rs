//! What an operator relies on, on the real bed: `/metrics` with cert-manager's names and the
//! right values for an issued certificate, `/livez` and `/readyz`, and the API write limit.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use certsmith::api::Certificate;
use certsmith::pki::inspect::parse_certificates_pem;
use support::certs::{
    apply_certificate, create_selfsigned_issuer, ready_at, secret_data, wait_ready_at,
};
use support::{
    ControllerProcess, TestBed, delete_namespace, eventually, fresh_namespace, http_get,
    install_crds,
};

#[tokio::test]
async fn metrics_show_the_issued_certificate_and_probes_answer() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "metrics").await;
    let ctl = ControllerProcess::start(&bed, &format!("metrics-{ns}"), &["--namespace", &ns]);
    let metrics = ctl.listen_address("metrics").await;
    let probes = ctl.listen_address("health probe").await;
    assert_ne!(
        metrics, probes,
        "metrics and probes listen on their own ports"
    );

    let (status, body) = http_get(probes, "/livez");
    assert_eq!((status, body.trim()), (200, "ok"));

    create_selfsigned_issuer(&client, &ns, "selfsigned").await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    apply_certificate(
        &certs,
        "web",
        serde_json::json!({
            "secretName": "web-tls", "dnsNames": ["web.example.test"],
            "duration": "2160h", "renewBefore": "360h",
            "issuerRef": {"name": "selfsigned", "kind": "Issuer", "group": "cert-manager.io"},
        }),
    )
    .await;
    wait_ready_at(&certs, "web", 1).await;
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("web-tls")
        .await
        .expect("Secret");
    let leaf = parse_certificates_pem(secret_data(&secret, "tls.crt"))
        .expect("tls.crt")
        .remove(0);
    let not_after = leaf.not_after.as_second();

    // readiness: the only process, with leader election off, is the leader with caches synced
    let (status, body) = http_get(probes, "/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok: leader"), "{body}");

    let (status, text) = http_get(metrics, "/metrics");
    assert_eq!(status, 200);
    let labels = format!(
        r#"name="web",namespace="{ns}",issuer_name="selfsigned",issuer_kind="Issuer",issuer_group="cert-manager.io""#
    );
    let renewal = not_after - 360 * 3600;
    let expected = [
        format!("certmanager_certificate_expiration_timestamp_seconds{{{labels}}} {not_after}"),
        format!("certmanager_certificate_not_after_timestamp_seconds{{{labels}}} {not_after}"),
        format!("certmanager_certificate_renewal_timestamp_seconds{{{labels}}} {renewal}"),
        format!(
            r#"certmanager_certificate_ready_status{{name="web",namespace="{ns}",condition="True",issuer_name="selfsigned",issuer_kind="Issuer",issuer_group="cert-manager.io"}} 1"#
        ),
        "certsmith_leader_election_leader 1".to_owned(),
    ];
    for want in &expected {
        assert!(
            text.lines().any(|l| l == want),
            "/metrics lacks {want}\n{}",
            text.lines()
                .filter(|l| l.contains("web") || l.contains("leader"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // every controller that touched the Certificate was counted
    for controller in ["certificates-trigger", "certificates-readiness", "issuers"] {
        let prefix =
            format!(r#"certmanager_controller_sync_call_count{{controller="{controller}"}} "#);
        let count: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
            .unwrap_or_else(|| panic!("no sync count for {controller}"));
        assert!(count >= 1, "{controller}: {count}");
    }
    assert!(text.contains("# TYPE certsmith_reconcile_duration_seconds histogram"));
    drop(ctl);
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn the_write_limit_spaces_api_writes() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "writelimit").await;
    // 4 writes per second, one at a time. Three issuances make about 20 writes (six or seven
    // each, and the issuer's status): at least four seconds spaced, a fraction of one not.
    let ctl = ControllerProcess::start(
        &bed,
        &format!("writelimit-{ns}"),
        &["--namespace", &ns, "--kube-api-qps=4", "--kube-api-burst=1"],
    );
    create_selfsigned_issuer(&client, &ns, "selfsigned").await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let start = std::time::Instant::now();
    let names = ["slow-a", "slow-b", "slow-c"];
    for name in names {
        apply_certificate(
            &certs,
            name,
            serde_json::json!({
                "secretName": format!("{name}-tls"), "dnsNames": [format!("{name}.example.test")],
                "issuerRef": {"name": "selfsigned"},
            }),
        )
        .await;
    }
    for name in names {
        eventually(
            Duration::from_secs(60),
            &format!("Certificate {name} Ready"),
            || async { ready_at(&certs.get(name).await.ok()?, 1).then_some(()) },
        )
        .await;
    }
    let elapsed = start.elapsed();
    eprintln!("3 issuances at 4 writes/s: {:.1} s", elapsed.as_secs_f64());
    assert!(
        elapsed >= Duration::from_secs(3),
        "3 issuances took {elapsed:?}: the writes were not spaced\n{}",
        ctl.log_text()
    );
    drop(ctl);
    delete_namespace(&client, &ns).await;
}
