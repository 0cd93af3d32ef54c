//! What docs/migrating.md promises: certsmith takes over a Certificate another controller
//! (cert-manager) issued without issuing it again. The Secret, Certificate and
//! CertificateRequest are left with no field owned by certsmith (as after a swap, when
//! cert-manager's field managers own them), then a fresh controller starts: the revision, the
//! certificate and the request list must not change. Again with the request gone, as
//! cert-manager before 1.13 named requests randomly. And an issuance cert-manager left in
//! progress finishes with the key it had made.
//!
//! Needs the test bed (`hack/testenv.sh up`).

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::{NamespaceResourceScope, Resource};
use serde_json::json;

use certsmith::api::{Certificate, CertificateRequest, Issuer};
use certsmith::pki::keys::{KeySpec, ParsedKey, parse_private_key_pem, public_keys_equal};
use support::certs::{apply_certificate, ready_at, ready_summary, secret_data, tail};
use support::{
    ControllerProcess, TestBed, delete_namespace, eventually, fresh_namespace, install_crds,
};

/// Drops every field manager of an object: no field is owned by certsmith any more.
async fn strip_managed_fields<K>(api: &Api<K>, name: &str)
where
    K: Resource<Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let patch = json!({ "metadata": { "managedFields": [{}] } });
    let obj = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("stripping managedFields of {name}: {e}"));
    let left = obj.meta().managed_fields.as_ref().map_or(0, Vec::len);
    assert_eq!(left, 0, "{name} still has field managers");
}

/// For `for_how_long`, the Certificate stays Ready at `revision`, its Secret keeps `cert_pem`
/// and no CertificateRequest other than `requests` appears.
async fn assert_steady(
    certs: &Api<Certificate>,
    secrets: &Api<Secret>,
    requests: &Api<CertificateRequest>,
    revision: i32,
    cert_pem: &[u8],
    want_requests: &[String],
    ctl: &ControllerProcess,
) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let cert = certs.get("web").await.expect("the Certificate");
        let status = cert.status.clone().unwrap_or_default();
        let secret = secrets.get("web-tls").await.expect("the Secret");
        let mut names: Vec<String> = requests
            .list(&ListParams::default())
            .await
            .expect("listing requests")
            .items
            .into_iter()
            .filter_map(|r| r.metadata.name)
            .collect();
        names.sort();
        let ok = status.revision == Some(revision)
            && ready_at(&cert, revision)
            && secret_data(&secret, "tls.crt") == cert_pem
            && names == want_requests;
        assert!(
            ok,
            "the Certificate was touched: revision {:?}, Ready {}, requests {names:?}, same \
             certificate {}\ncontroller log:\n{}",
            status.revision,
            ready_summary(&cert),
            secret_data(&secret, "tls.crt") == cert_pem,
            tail(&ctl.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The restarted controller did look at the Certificate: its trigger and readiness controllers
/// have run (read from `/metrics` of the current process).
async fn assert_reconciled(ctl: &ControllerProcess) {
    let address = ctl.listen_address("metrics").await;
    let (_, body) = support::http_get(address, "/metrics");
    for controller in ["certificates-trigger", "certificates-readiness"] {
        let line = format!("certmanager_controller_sync_call_count{{controller=\"{controller}\"}}");
        let calls: f64 = body
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.trim().parse().ok())
            .unwrap_or(0.0);
        assert!(
            calls >= 1.0,
            "{controller} never reconciled after the restart:\n{body}"
        );
    }
}

#[tokio::test]
async fn a_certificate_issued_by_another_controller_is_not_issued_again() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "migration").await;
    let mut ctl = ControllerProcess::start(&bed, &format!("migration-{ns}"), &["--namespace", &ns]);
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), &ns);
    let issuer = json!({ "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
        "metadata": { "name": "selfsigned" }, "spec": { "selfSigned": {} } });
    issuers
        .patch(
            "selfsigned",
            &PatchParams::apply("certsmith-tests").force(),
            &Patch::Apply(&issuer),
        )
        .await
        .expect("the Issuer");
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    apply_certificate(
        &certs,
        "web",
        json!({ "secretName": "web-tls", "dnsNames": ["web.example.com"],
                "issuerRef": { "name": "selfsigned" } }),
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "the Certificate Ready at revision 1",
        || async {
            let cert = certs.get("web").await.ok()?;
            ready_at(&cert, 1).then_some(())
        },
    )
    .await;
    ctl.kill9();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let pem = secret_data(&secrets.get("web-tls").await.unwrap(), "tls.crt").to_vec();
    strip_managed_fields(&secrets, "web-tls").await;
    strip_managed_fields(&certs, "web").await;
    strip_managed_fields(&requests, "web-1").await;

    // cert-manager 1.13 and later: the request of the current revision is `web-1`.
    ctl.restart();
    assert_steady(
        &certs,
        &secrets,
        &requests,
        1,
        &pem,
        &["web-1".to_owned()],
        &ctl,
    )
    .await;

    // Before 1.13 requests had random names: there is no `web-1` to compare with.
    ctl.kill9();
    requests
        .delete("web-1", &DeleteParams::default())
        .await
        .expect("deleting web-1");
    ctl.restart();
    assert_steady(&certs, &secrets, &requests, 1, &pem, &[], &ctl).await;
    assert_reconciled(&ctl).await;

    drop(ctl);
    delete_namespace(&client, &ns).await;
}

/// cert-manager stopped mid-issuance: the Certificate is Issuing, and its next key is in a
/// temporary Secret named in `status.nextPrivateKeySecretName` (certsmith holds next keys in
/// memory and makes no such Secrets). certsmith issues with that key, then deletes the Secret
/// and clears the status field.
#[tokio::test]
async fn an_issuance_cert_manager_left_in_progress_uses_its_next_key() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "migration-next-key").await;
    support::certs::create_selfsigned_issuer(&client, &ns, "selfsigned").await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    apply_certificate(
        &certs,
        "mid",
        json!({ "secretName": "mid-tls", "dnsNames": ["mid.example.com"],
                "privateKey": { "algorithm": "ECDSA", "size": 256 },
                "issuerRef": { "name": "selfsigned" } }),
    )
    .await;
    let cert = certs.get("mid").await.expect("the Certificate");
    let uid = cert.metadata.uid.clone().expect("uid");

    // What cert-manager leaves: the key in a Secret the Certificate controls, named in status.
    let spec = KeySpec::from_private_key(cert.spec.private_key.as_ref()).unwrap();
    let key = ParsedKey::generate(&spec).expect("a key");
    let pem = key.to_pem(spec.encoding).expect("PEM");
    let temporary = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": "mid-x7k2p",
            "labels": { "cert-manager.io/next-private-key": "true" },
            "ownerReferences": [{ "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                                  "name": "mid", "uid": uid, "controller": true,
                                  "blockOwnerDeletion": true }]
        },
        "type": "Opaque",
        "stringData": { "tls.key": pem.as_str() }
    });
    secrets
        .create(
            &Default::default(),
            &serde_json::from_value(temporary).unwrap(),
        )
        .await
        .expect("the temporary key Secret");
    let status = json!({ "status": {
        "conditions": [{ "type": "Issuing", "status": "True", "reason": "DoesNotExist",
                         "message": "Issuing certificate as Secret does not exist",
                         "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1 }],
        "nextPrivateKeySecretName": "mid-x7k2p"
    }});
    certs
        .patch_status("mid", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("cert-manager's status");

    let ctl = ControllerProcess::start(&bed, &format!("migration-{ns}"), &["--namespace", &ns]);
    let cert = eventually(
        Duration::from_secs(60),
        "the Certificate Ready at revision 1, its temporary key Secret gone",
        || async {
            let cert = certs.get("mid").await.ok()?;
            let gone = secrets.get_opt("mid-x7k2p").await.ok()?.is_none();
            let cleared = cert.status.as_ref()?.next_private_key_secret_name.is_none();
            (ready_at(&cert, 1) && gone && cleared).then_some(cert)
        },
    )
    .await;
    let secret = secrets.get("mid-tls").await.expect("the Secret");
    let issued = parse_private_key_pem(secret_data(&secret, "tls.key")).expect("tls.key");
    assert!(
        public_keys_equal(&issued.info().public_key_der, &key.info().public_key_der),
        "the Secret holds the key cert-manager had made, not a new one:\n{}",
        tail(&ctl.log_text(), 40)
    );
    assert_eq!(cert.status.and_then(|s| s.revision), Some(1), "issued once");

    drop(ctl);
    delete_namespace(&client, &ns).await;
}
