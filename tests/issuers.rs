//! Issuer and ClusterIssuer readiness with the real controller process on the test bed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use certsmith::api::{
    CaIssuer, ClusterIssuer, ConditionStatus, Issuer, IssuerSpec, SelfSignedIssuer, find_condition,
};
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds};

/// A key pair and a self-signed certificate, CA or not, as PEM.
fn self_signed(ca: bool) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["ca.example.test".into()]).expect("params");
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

fn tls_secret(name: &str, cert: &str, key: &str) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), ByteString(cert.as_bytes().to_vec())),
            ("tls.key".to_owned(), ByteString(key.as_bytes().to_vec())),
        ])),
        ..Default::default()
    }
}

/// Waits until the issuer's Ready condition has `reason`; returns (status, message).
async fn ready_reason(
    api: &Api<Issuer>,
    name: &str,
    reason: &str,
    ctl: &ControllerProcess,
) -> (ConditionStatus, String) {
    let what = format!("Issuer {name} Ready reason {reason}");
    let found = tokio::time::timeout(
        Duration::from_secs(20),
        eventually(Duration::from_secs(20), &what, || async {
            let iss = api.get(name).await.ok()?;
            let conditions = iss.status?.conditions?;
            let c = find_condition(&conditions, "Ready")?.clone();
            (c.reason.as_deref() == Some(reason)).then(|| (c.status, c.message.unwrap_or_default()))
        }),
    )
    .await;
    found.unwrap_or_else(|_| {
        panic!(
            "timed out waiting for {what}\ncontroller log:\n{}",
            ctl.log_text()
        )
    })
}

async fn events_for(client: &Client, ns: &str, name: &str) -> Vec<(String, String)> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let list = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .expect("listing events");
    list.items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn ca_issuer_ready_follows_its_secret() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "issuers").await;
    let ctl = ControllerProcess::start(&bed, &format!("issuers-{ns}"), &["--namespace", &ns]);
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);

    // A self-signed issuer is ready at once.
    let selfsigned = Issuer::new(
        "selfsigned",
        IssuerSpec {
            self_signed: Some(SelfSignedIssuer::default()),
            ..Default::default()
        },
    );
    issuers
        .create(&PostParams::default(), &selfsigned)
        .await
        .expect("creating the selfsigned issuer");
    let (status, _) = ready_reason(&issuers, "selfsigned", "IsReady", &ctl).await;
    assert_eq!(status, ConditionStatus::True);

    // A CA issuer whose Secret is missing says so, and becomes Ready when it appears.
    let ca = Issuer::new(
        "ca",
        IssuerSpec {
            ca: Some(CaIssuer {
                secret_name: "root-ca".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    issuers
        .create(&PostParams::default(), &ca)
        .await
        .expect("creating the CA issuer");
    let (status, message) = ready_reason(&issuers, "ca", "SecretNotFound", &ctl).await;
    assert_eq!(status, ConditionStatus::False);
    assert!(
        message.contains(&format!("{ns}/root-ca")),
        "message names the Secret: {message}"
    );

    let (cert, key) = self_signed(true);
    secrets
        .create(&PostParams::default(), &tls_secret("root-ca", &cert, &key))
        .await
        .expect("creating the CA Secret");
    let (status, _) = ready_reason(&issuers, "ca", "KeyPairVerified", &ctl).await;
    assert_eq!(status, ConditionStatus::True);

    // A key that does not match the certificate.
    let (_, other_key) = self_signed(true);
    secrets
        .replace(
            "root-ca",
            &PostParams::default(),
            &tls_secret("root-ca", &cert, &other_key),
        )
        .await
        .expect("replacing the Secret");
    let (status, message) = ready_reason(&issuers, "ca", "ErrInvalidKeyPair", &ctl).await;
    assert_eq!(status, ConditionStatus::False);
    assert!(
        message.contains("does not belong"),
        "message says the key does not belong to the certificate: {message}"
    );
    assert!(
        !message.contains("-----BEGIN"),
        "no key material in messages: {message}"
    );

    // A certificate that is not a CA.
    let (leaf, leaf_key) = self_signed(false);
    secrets
        .replace(
            "root-ca",
            &PostParams::default(),
            &tls_secret("root-ca", &leaf, &leaf_key),
        )
        .await
        .expect("replacing the Secret");
    let (status, _) = ready_reason(&issuers, "ca", "NotACA", &ctl).await;
    assert_eq!(status, ConditionStatus::False);

    // Settled: no further writes (no reconcile loop rewriting the same status).
    let before = issuers
        .get("ca")
        .await
        .expect("reading the issuer")
        .metadata
        .resource_version;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = issuers
        .get("ca")
        .await
        .expect("reading the issuer")
        .metadata
        .resource_version;
    assert_eq!(
        before, after,
        "the issuer was rewritten although nothing changed"
    );

    // Each transition was announced, with the reason.
    let events = events_for(&client, &ns, "ca").await;
    for reason in ["SecretNotFound", "KeyPairVerified", "ErrInvalidKeyPair"] {
        assert!(
            events.iter().any(|(r, _)| r == reason),
            "no {reason} Event: {events:?}"
        );
    }
    assert!(
        !ctl.log_text().contains("-----BEGIN"),
        "no key material in logs"
    );
}

#[tokio::test]
async fn cluster_issuer_reads_the_cluster_resource_namespace() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let resources = fresh_namespace(&client, "cluster-resources").await;
    let ctl = ControllerProcess::start(
        &bed,
        &format!("cluster-issuers-{resources}"),
        &["--cluster-resource-namespace", &resources],
    );
    let cluster_issuers: Api<ClusterIssuer> = Api::all(client.clone());
    let name = format!("ca-{resources}");
    let spec = IssuerSpec {
        ca: Some(CaIssuer {
            secret_name: "root-ca".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    cluster_issuers
        .create(&PostParams::default(), &ClusterIssuer::new(&name, spec))
        .await
        .expect("creating a ClusterIssuer");

    let (cert, key) = self_signed(true);
    Api::<Secret>::namespaced(client.clone(), &resources)
        .create(&PostParams::default(), &tls_secret("root-ca", &cert, &key))
        .await
        .expect("creating the CA Secret");
    let ready = eventually(Duration::from_secs(20), "ClusterIssuer Ready", || async {
        let ci = cluster_issuers.get(&name).await.ok()?;
        let c = find_condition(ci.status?.conditions.as_deref()?, "Ready")?.clone();
        (c.status == ConditionStatus::True).then_some(c)
    })
    .await;
    assert_eq!(
        ready.reason.as_deref(),
        Some("KeyPairVerified"),
        "log:\n{}",
        ctl.log_text()
    );
    cluster_issuers
        .delete(&name, &Default::default())
        .await
        .expect("deleting the ClusterIssuer");
}
