//! CertificateRequests signed by the SelfSigned and CA issuers, with the real controller
//! process on the test bed: approval, signing, waiting for an issuer, terminal failures.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};

use certsmith::api::{
    CaIssuer, CertificateRequest, CertificateRequestSpec, CertificateSpec, ConditionStatus, Issuer,
    IssuerReference, IssuerSpec, SelfSignedIssuer, find_condition,
};
use certsmith::pki::csr::build_csr;
use certsmith::pki::inspect::parse_certificates_pem;
use certsmith::pki::keys::{KeySpec, ParsedKey};
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds, run};

fn secret(name: &str, data: &[(&str, &[u8])]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn request(
    name: &str,
    issuer: &str,
    csr: String,
    is_ca: bool,
    key_secret: Option<&str>,
) -> CertificateRequest {
    let mut cr = CertificateRequest::new(
        name,
        CertificateRequestSpec {
            request: ByteString(csr.into_bytes()),
            issuer_ref: IssuerReference {
                name: issuer.into(),
                ..Default::default()
            },
            is_ca: Some(is_ca),
            ..Default::default()
        },
    );
    if let Some(s) = key_secret {
        cr.metadata.annotations = Some(BTreeMap::from([(
            "cert-manager.io/private-key-secret-name".to_owned(),
            s.to_owned(),
        )]));
    }
    cr
}

fn csr(key: &ParsedKey, cn: &str, is_ca: bool) -> String {
    let spec = CertificateSpec {
        common_name: Some(cn.into()),
        dns_names: (!is_ca).then(|| vec![cn.to_owned()]),
        is_ca: Some(is_ca),
        ..Default::default()
    };
    build_csr(&spec, key).expect("building a CSR")
}

/// Waits for the request's Ready condition to have `reason`; returns the request.
async fn until_ready_reason(
    api: &Api<CertificateRequest>,
    name: &str,
    reason: &str,
    ctl: &ControllerProcess,
) -> CertificateRequest {
    let what = format!("CertificateRequest {name} Ready reason {reason}");
    let fut = eventually(Duration::from_secs(30), &what, || async {
        let cr = api.get(name).await.ok()?;
        let c = find_condition(cr.status.as_ref()?.conditions.as_deref()?, "Ready")?;
        (c.reason.as_deref() == Some(reason)).then_some(cr)
    });
    match tokio::time::timeout(Duration::from_secs(31), fut).await {
        Ok(cr) => cr,
        Err(_) => panic!(
            "timed out waiting for {what}\ncontroller log:\n{}",
            ctl.log_text()
        ),
    }
}

#[tokio::test]
async fn self_signed_root_then_ca_signed_leaf() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "requests").await;
    let ctl = ControllerProcess::start(&bed, &format!("requests-{ns}"), &["--namespace", &ns]);
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();

    // A self-signed root: the request's key lives in the Secret its annotation names.
    let root_key = ParsedKey::generate(&KeySpec::default()).expect("root key");
    let root_key_pem = root_key.to_pem(root_key.encoding()).expect("root key PEM");
    secrets
        .create(
            &pp,
            &secret("root-key", &[("tls.key", root_key_pem.as_bytes())]),
        )
        .await
        .expect("key Secret");
    issuers
        .create(
            &pp,
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
    requests
        .create(
            &pp,
            &request(
                "root-1",
                "selfsigned",
                csr(&root_key, "certsmith test root", true),
                true,
                Some("root-key"),
            ),
        )
        .await
        .expect("root request");
    let root = until_ready_reason(&requests, "root-1", "Issued", &ctl).await;
    let status = root.status.expect("status");
    let approved = find_condition(status.conditions.as_deref().unwrap_or_default(), "Approved")
        .expect("Approved");
    assert_eq!(
        (approved.status, approved.reason.as_deref()),
        (ConditionStatus::True, Some("cert-manager.io"))
    );
    let root_pem = status.certificate.expect("status.certificate").0;
    let root_info = &parse_certificates_pem(&root_pem).expect("root certificate")[0];
    assert!(root_info.is_ca, "isCA requested");
    assert_eq!(
        root_info.common_name.as_deref(),
        Some("certsmith test root")
    );
    assert_eq!(
        status.ca.expect("status.ca").0,
        root_pem,
        "a self-signed certificate is its own CA"
    );

    // A CA issuer whose Secret does not exist yet: its request waits, and is signed once the
    // issuer becomes Ready.
    issuers
        .create(
            &pp,
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
    let leaf_key = ParsedKey::generate(&KeySpec::default()).expect("leaf key");
    requests
        .create(
            &pp,
            &request(
                "web-1",
                "ca",
                csr(&leaf_key, "web.example.test", false),
                false,
                None,
            ),
        )
        .await
        .expect("leaf request");
    let waiting = until_ready_reason(&requests, "web-1", "Pending", &ctl).await;
    let message = find_condition(
        waiting
            .status
            .and_then(|s| s.conditions)
            .as_deref()
            .unwrap_or_default(),
        "Ready",
    )
    .and_then(|c| c.message.clone())
    .unwrap_or_default();
    assert!(
        message.contains("is not ready"),
        "the request says why it waits: {message}"
    );

    secrets
        .create(
            &pp,
            &secret(
                "root-ca",
                &[("tls.crt", &root_pem), ("tls.key", root_key_pem.as_bytes())],
            ),
        )
        .await
        .expect("CA Secret");
    let leaf = until_ready_reason(&requests, "web-1", "Issued", &ctl).await;
    let status = leaf.status.expect("status");
    let leaf_pem = status.certificate.expect("certificate").0;
    let leaf_info = &parse_certificates_pem(&leaf_pem).expect("leaf certificate")[0];
    assert_eq!(leaf_info.dns_names, ["web.example.test"]);
    assert_eq!(leaf_info.issuer, root_info.subject);
    assert!(!leaf_info.is_ca);

    // The chain verifies with OpenSSL against ca.crt.
    let dir = std::env::temp_dir().join(format!("certsmith-{ns}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("ca.pem"), status.ca.expect("ca").0).expect("ca.pem");
    std::fs::write(dir.join("leaf.pem"), &leaf_pem).expect("leaf.pem");
    let (ok, out, err) = run(std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .arg(dir.join("leaf.pem")));
    assert!(ok, "openssl verify: {out}{err}");
    assert!(
        !ctl.log_text().contains("-----BEGIN"),
        "no key material in logs"
    );
}

#[tokio::test]
async fn bad_requests_fail_or_wait_with_a_reason() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "badrequests").await;
    let ctl = ControllerProcess::start(&bed, &format!("badrequests-{ns}"), &["--namespace", &ns]);
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    let key = ParsedKey::generate(&KeySpec::default()).expect("key");
    let other = ParsedKey::generate(&KeySpec::default()).expect("other key");

    // No such issuer: waits, naming it.
    requests
        .create(
            &pp,
            &request(
                "orphan-1",
                "nowhere",
                csr(&key, "a.example.test", false),
                false,
                None,
            ),
        )
        .await
        .expect("create");
    let cr = until_ready_reason(&requests, "orphan-1", "Pending", &ctl).await;
    let c = find_condition(
        cr.status
            .and_then(|s| s.conditions)
            .as_deref()
            .unwrap_or_default(),
        "Ready",
    )
    .cloned()
    .expect("Ready");
    assert!(
        c.message
            .unwrap_or_default()
            .contains(&format!("{ns}/nowhere")),
        "names the missing issuer"
    );

    // A self-signed request whose CSR was made with another key than the annotated Secret's:
    // a terminal failure, written once.
    issuers
        .create(
            &pp,
            &Issuer::new(
                "selfsigned",
                IssuerSpec {
                    self_signed: Some(SelfSignedIssuer::default()),
                    ..Default::default()
                },
            ),
        )
        .await
        .expect("issuer");
    let other_pem = other.to_pem(other.encoding()).expect("PEM");
    secrets
        .create(
            &pp,
            &secret("other-key", &[("tls.key", other_pem.as_bytes())]),
        )
        .await
        .expect("Secret");
    requests
        .create(
            &pp,
            &request(
                "mismatch-1",
                "selfsigned",
                csr(&key, "b.example.test", false),
                false,
                Some("other-key"),
            ),
        )
        .await
        .expect("create");
    let failed = until_ready_reason(&requests, "mismatch-1", "Failed", &ctl).await;
    let status = failed.status.clone().expect("status");
    assert!(status.failure_time.is_some(), "failureTime is set");
    assert!(status.certificate.is_none());
    let message = find_condition(status.conditions.as_deref().unwrap_or_default(), "Ready")
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("private-key-secret-name"),
        "says which key is wrong: {message}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = requests.get("mismatch-1").await.expect("read");
    assert_eq!(
        again.metadata.resource_version, failed.metadata.resource_version,
        "a failed request is not retried"
    );
}
