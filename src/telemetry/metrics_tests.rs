use std::time::Duration;

use super::*;
use crate::acme::Action;

fn certificate(yaml: &str) -> Arc<Certificate> {
    Arc::new(serde_saphyr::from_str(yaml).expect("test Certificate"))
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn certificate_gauges_carry_cert_managers_names_labels_and_values() {
    let issued = certificate(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: shop}
spec:
  secretName: web-tls
  dnsNames: [web.example.test]
  issuerRef: {name: ca, kind: ClusterIssuer, group: cert-manager.io}
status:
  notBefore: "2026-11-01T00:00:00Z"
  notAfter: "2027-01-30T00:00:00Z"
  renewalTime: "2026-12-31T00:00:00Z"
  conditions:
    - {type: Ready, status: "True", reason: Ready, message: ok}
"#,
    );
    let pending = certificate(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api, namespace: shop}
spec:
  secretName: api-tls
  dnsNames: [api.example.test]
  issuerRef: {name: "my \"quoted\" issuer"}
"#,
    );
    let mut out = String::new();
    encode_certificates(&[issued, pending], &mut out);
    let samples = lines(&out);
    let web = r#"{name="web",namespace="shop",issuer_name="ca",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}"#;
    let not_after = 1_801_267_200; // 2027-01-30T00:00:00Z
    let cases = [
        format!("certmanager_certificate_expiration_timestamp_seconds{web} {not_after}"),
        format!("certmanager_certificate_not_after_timestamp_seconds{web} {not_after}"),
        format!("certmanager_certificate_not_before_timestamp_seconds{web} 1793491200"),
        format!("certmanager_certificate_renewal_timestamp_seconds{web} 1798675200"),
        r#"certmanager_certificate_ready_status{name="web",namespace="shop",condition="True",issuer_name="ca",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"} 1"#.to_owned(),
        r#"certmanager_certificate_ready_status{name="web",namespace="shop",condition="False",issuer_name="ca",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"} 0"#.to_owned(),
        // no status yet: Ready is Unknown, and label values are escaped
        r#"certmanager_certificate_ready_status{name="api",namespace="shop",condition="Unknown",issuer_name="my \"quoted\" issuer",issuer_kind="",issuer_group=""} 1"#.to_owned(),
    ];
    for want in &cases {
        assert!(
            samples.contains(&want.as_str()),
            "missing {want}\nin:\n{out}"
        );
    }
    // a Certificate without a notAfter has no expiry series (not a zero that would alert)
    assert!(
        !samples
            .iter()
            .any(|l| l
                .starts_with("certmanager_certificate_expiration_timestamp_seconds{name=\"api\"")),
        "{out}"
    );
    assert!(out.contains("# TYPE certmanager_certificate_expiration_timestamp_seconds gauge"));
}

#[test]
fn acme_requests_are_counted_without_a_total_suffix() {
    let labels = RequestLabels {
        scheme: "https".into(),
        host: "acme.example:443".into(),
        action: Action::NewOrder,
        method: "POST".into(),
        status: "201".into(),
    };
    let tally = RequestTally {
        count: 3,
        duration_seconds: 0.75,
    };
    let mut out = String::new();
    encode_acme(&[(labels, tally)], &mut out);
    let l =
        r#"{scheme="https",host="acme.example:443",action="new_order",method="POST",status="201"}"#;
    let samples = lines(&out);
    for want in [
        format!("certmanager_http_acme_client_request_count{l} 3"),
        format!("certmanager_http_acme_client_request_duration_seconds_sum{l} 0.75"),
        format!("certmanager_http_acme_client_request_duration_seconds_count{l} 3"),
    ] {
        assert!(
            samples.contains(&want.as_str()),
            "missing {want}\nin:\n{out}"
        );
    }
    assert!(out.contains("# TYPE certmanager_http_acme_client_request_count counter"));
}

#[test]
fn reconciles_are_counted_and_timed_per_controller() {
    let metrics = Metrics::new();
    metrics.record_sync("issuers", Duration::from_millis(20), false);
    metrics.record_sync("issuers", Duration::from_millis(200), true);
    metrics.record_sync("orders", Duration::from_secs(60), false);
    let out = metrics.render();
    let samples = lines(&out);
    let cases = [
        r#"certmanager_controller_sync_call_count{controller="issuers"} 2"#,
        r#"certmanager_controller_sync_error_count{controller="issuers"} 1"#,
        r#"certmanager_controller_sync_error_count{controller="orders"} 0"#,
        r#"certsmith_reconcile_duration_seconds_bucket{controller="issuers",le="0.01"} 0"#,
        r#"certsmith_reconcile_duration_seconds_bucket{controller="issuers",le="0.025"} 1"#,
        r#"certsmith_reconcile_duration_seconds_bucket{controller="issuers",le="0.25"} 2"#,
        r#"certsmith_reconcile_duration_seconds_bucket{controller="orders",le="30"} 0"#,
        r#"certsmith_reconcile_duration_seconds_bucket{controller="orders",le="+Inf"} 1"#,
        r#"certsmith_reconcile_duration_seconds_count{controller="orders"} 1"#,
        "certsmith_leader_election_leader 0",
    ];
    for want in cases {
        assert!(samples.contains(&want), "missing {want}\nin:\n{out}");
    }
    metrics.set_leader(true);
    assert!(lines(&metrics.render()).contains(&"certsmith_leader_election_leader 1"));
}

#[test]
fn numbers_and_labels_are_written_as_prometheus_reads_them() {
    let cases = [
        (1.0, "1"),
        (0.5, "0.5"),
        (1_801_267_200.0, "1801267200"),
        (0.0, "0"),
    ];
    for (value, want) in cases {
        assert_eq!(number(value), want);
    }
    let cases = [
        ("plain", "plain"),
        ("a\"b", "a\\\"b"),
        ("a\\b", "a\\\\b"),
        ("a\nb", "a\\nb"),
    ];
    for (value, want) in cases {
        assert_eq!(escape_label(value), want);
    }
}
