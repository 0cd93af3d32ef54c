//! The Ingress shim end to end: annotated Ingresses become Certificates and Secrets, over a
//! CA ClusterIssuer and over ACME http-01 on Pebble (a temporary Ingress, and edit-in-place);
//! legacy annotations, tls-acme with a default issuer, changes propagating, conflicts and bad
//! annotations reported as Events with nothing lost. Its own binary: the controller watches
//! every namespace (ClusterIssuers).

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use certsmith::api::{Certificate, ConditionStatus, find_condition};
use support::certs::{openssl, secret_data, tail};
use support::values::b64;
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds};

struct Env {
    client: Client,
    ns: String,
    ctl: ControllerProcess,
}

impl Env {
    async fn apply(
        &self,
        api_version: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
        doc: Value,
    ) {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = kube::api::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<kube::api::DynamicObject> = if namespaced {
            Api::namespaced_with(self.client.clone(), &self.ns, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
        api.patch(
            &name,
            &PatchParams::apply("certsmith-tests").force(),
            &Patch::Apply(&doc),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }

    async fn ingress(&self, name: &str, annotations: Value, tls: Value) {
        let rules: Vec<Value> = tls
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["hosts"].as_array().cloned().unwrap_or_default())
            .map(|h| {
                json!({ "host": h, "http": { "paths": [{ "path": "/", "pathType": "Prefix",
                "backend": { "service": { "name": "app", "port": { "number": 80 } } } }] } })
            })
            .collect();
        self.apply(
            "networking.k8s.io/v1",
            "Ingress",
            "ingresses",
            true,
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": { "name": name, "annotations": annotations },
                "spec": { "ingressClassName": "bed", "tls": tls, "rules": rules,
                      "defaultBackend": { "service": { "name": "app", "port": { "number": 80 } } } }
            }),
        )
        .await;
    }

    async fn wait<T, F, Fut>(&self, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        match tokio::time::timeout(
            Duration::from_secs(90),
            eventually(Duration::from_secs(95), what, check),
        )
        .await
        {
            Ok(v) => v,
            Err(_) => panic!(
                "timed out waiting for {what}\ncontroller log:\n{}",
                tail(&self.ctl.log_text(), 60)
            ),
        }
    }

    /// The Certificate once Ready at `revision` or later.
    async fn ready(&self, name: &str, revision: i32) -> Certificate {
        let certs: Api<Certificate> = Api::namespaced(self.client.clone(), &self.ns);
        self.wait(
            &format!("Certificate {name} Ready at revision {revision}"),
            || async {
                let c = certs.get(name).await.ok()?;
                let s = c.status.as_ref()?;
                let r = find_condition(s.conditions.as_deref()?, "Ready")?;
                (r.status == ConditionStatus::True && s.revision? >= revision).then_some(c.clone())
            },
        )
        .await
    }

    async fn event(&self, object: &str, reason: &str, contains: &str) -> String {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        self.wait(
            &format!("Event {reason} on {object} mentioning {contains:?}"),
            || async {
                events
                    .list(&ListParams::default())
                    .await
                    .ok()?
                    .items
                    .into_iter()
                    .filter(|e| {
                        e.involved_object.name.as_deref() == Some(object)
                            && e.reason.as_deref() == Some(reason)
                    })
                    .filter_map(|e| e.message)
                    .find(|m| m.contains(contains))
            },
        )
        .await
    }

    async fn secret(&self, name: &str) -> Option<Secret> {
        Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .get_opt(name)
            .await
            .unwrap()
    }
}

fn sans(secret: &Secret) -> String {
    openssl(
        &["x509", "-noout", "-ext", "subjectAltName"],
        secret_data(secret, "tls.crt"),
    )
    .unwrap()
}

#[tokio::test]
async fn ingress_shim_end_to_end() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "shim").await;
    let resources = format!("{ns}-resources");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": resources } })).unwrap(),
        )
        .await
        .unwrap();
    let ca_issuer = format!("shim-ca-{ns}");
    let ctl = ControllerProcess::start(
        &bed,
        &format!("shim-{ns}"),
        &[
            "--cluster-resource-namespace",
            &resources,
            "--default-issuer-name",
            &ca_issuer,
            "--default-issuer-kind",
            "ClusterIssuer",
            "--dns01-recursive-nameservers",
            bed.var("RFC2136_NAMESERVER"),
            "--dns01-recursive-nameservers-only",
            "--acme-http01-self-check-port",
            bed.var("HTTP01_PORT"),
        ],
    );
    let env = Env {
        client: client.clone(),
        ns: ns.clone(),
        ctl,
    };

    // A CA ClusterIssuer: self-signed root in the cluster resource namespace.
    let selfsigned = format!("shim-selfsigned-{ns}");
    env.apply("cert-manager.io/v1", "ClusterIssuer", "clusterissuers", false, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": { "name": selfsigned }, "spec": { "selfSigned": {} } })).await;
    Api::<Certificate>::namespaced(client.clone(), &resources)
        .patch("root", &PatchParams::apply("certsmith-tests").force(), &Patch::Apply(&json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": { "name": "root" },
            "spec": { "isCA": true, "commonName": "shim root", "secretName": "root-ca",
                      "issuerRef": { "name": selfsigned, "kind": "ClusterIssuer" } } })))
        .await
        .unwrap();
    env.apply("cert-manager.io/v1", "ClusterIssuer", "clusterissuers", false, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": { "name": ca_issuer },
        "spec": { "ca": { "secretName": "root-ca" } } })).await;

    // 1. An annotated Ingress gets its Certificate, owned by it, and the Secret.
    env.ingress(
        "web",
        json!({ "cert-manager.io/cluster-issuer": ca_issuer }),
        json!([{ "hosts": ["a.shim.example.test"], "secretName": "web-tls" }]),
    )
    .await;
    let cert = env.ready("web-tls", 1).await;
    assert_eq!(cert.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
    assert_eq!(cert.owner_references()[0].kind, "Ingress");
    assert_eq!(cert.owner_references()[0].name, "web");
    let secret = env.secret("web-tls").await.expect("the Secret");
    assert!(sans(&secret).contains("DNS:a.shim.example.test"));
    env.event("web", "CreateCertificate", "web-tls").await;

    // 2. A host added and an annotation added propagate (a new revision with both names).
    env.ingress("web", json!({ "cert-manager.io/cluster-issuer": ca_issuer, "cert-manager.io/duration": "720h" }),
        json!([{ "hosts": ["a.shim.example.test", "b.shim.example.test"], "secretName": "web-tls" }])).await;
    let cert = env.ready("web-tls", 2).await;
    assert_eq!(cert.spec.duration.as_deref(), Some("720h"));
    let names = sans(&env.secret("web-tls").await.unwrap());
    assert!(
        names.contains("DNS:a.shim.example.test") && names.contains("DNS:b.shim.example.test"),
        "{names}"
    );

    // 3. The legacy annotation, and tls-acme with the default issuer.
    env.ingress(
        "legacy",
        json!({ "certmanager.k8s.io/cluster-issuer": ca_issuer }),
        json!([{ "hosts": ["legacy.shim.example.test"], "secretName": "legacy-tls" }]),
    )
    .await;
    env.ingress(
        "tls-acme",
        json!({ "kubernetes.io/tls-acme": "true" }),
        json!([{ "hosts": ["default.shim.example.test"], "secretName": "default-tls" }]),
    )
    .await;
    env.ready("legacy-tls", 1).await;
    let cert = env.ready("default-tls", 1).await;
    assert_eq!(cert.spec.issuer_ref.name, ca_issuer);

    // 4. Conflicts and bad annotations: Events, nothing created, nothing changed or deleted.
    env.ingress(
        "thief",
        json!({ "cert-manager.io/cluster-issuer": "someone-else" }),
        json!([{ "hosts": ["x.shim.example.test"], "secretName": "web-tls" }]),
    )
    .await;
    env.event("thief", "ConflictingCertificate", "Ingress web")
        .await;
    env.ingress(
        "bad",
        json!({ "cert-manager.io/cluster-issuer": ca_issuer, "cert-manager.io/duration": "90d" }),
        json!([{ "hosts": ["bad.shim.example.test"], "secretName": "bad-tls" }]),
    )
    .await;
    env.event("bad", "BadConfig", "cert-manager.io/duration")
        .await;
    env.ingress("mixed", json!({ "cert-manager.io/cluster-issuer": ca_issuer, "cert-manager.io/issuer-kind": "Issuer" }),
        json!([{ "hosts": ["mixed.shim.example.test"], "secretName": "mixed-tls" }])).await;
    env.event("mixed", "BadConfig", "cannot be combined").await;
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    assert!(certs.get_opt("bad-tls").await.unwrap().is_none());
    assert!(certs.get_opt("mixed-tls").await.unwrap().is_none());
    let web = certs.get("web-tls").await.unwrap();
    assert_eq!(
        web.owner_references()[0].name,
        "web",
        "no flapping between owners"
    );
    assert_eq!(web.spec.issuer_ref.name, ca_issuer);
    // A bad change to a working Ingress leaves its Certificate as it was.
    env.ingress("legacy", json!({ "certmanager.k8s.io/cluster-issuer": ca_issuer, "cert-manager.io/renew-before-percentage": "200" }),
        json!([{ "hosts": ["legacy.shim.example.test"], "secretName": "legacy-tls" }])).await;
    env.event("legacy", "BadConfig", "renew-before-percentage")
        .await;
    assert!(certs.get_opt("legacy-tls").await.unwrap().is_some());

    // 5. A TLS entry removed: its Certificate goes, the Secret stays.
    env.ingress(
        "tls-acme",
        json!({ "kubernetes.io/tls-acme": "true" }),
        json!([]),
    )
    .await;
    env.wait("Certificate default-tls deleted", || async {
        certs
            .get_opt("default-tls")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        env.secret("default-tls").await.is_some(),
        "the Secret is kept"
    );

    // 6. ACME http-01 through the shim: a temporary solver Ingress, and edit-in-place.
    let pebble = format!("shim-pebble-{ns}");
    let ca = std::fs::read(bed.var("ACME_SERVER_CA_FILE")).unwrap();
    env.apply(
        "cert-manager.io/v1",
        "ClusterIssuer",
        "clusterissuers",
        false,
        json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": { "name": pebble },
        "spec": { "acme": { "server": bed.var("ACME_DIRECTORY_URL"), "caBundle": b64(&ca),
            "privateKeySecretRef": { "name": "shim-account" },
            "solvers": [{ "http01": { "ingress": { "ingressClassName": "bed" } } }] } } }),
    )
    .await;
    let acme_host = format!("acme-{ns}.example.test");
    let inplace_host = format!("inplace-{ns}.example.test");
    env.ingress(
        "acme-web",
        json!({ "cert-manager.io/cluster-issuer": pebble }),
        json!([{ "hosts": [acme_host], "secretName": "acme-web-tls" }]),
    )
    .await;
    env.ingress("inplace", json!({ "cert-manager.io/cluster-issuer": pebble, "acme.cert-manager.io/http01-edit-in-place": "true" }),
        json!([{ "hosts": [inplace_host], "secretName": "inplace-tls" }])).await;
    env.ready("acme-web-tls", 1).await;
    let cert = env.ready("inplace-tls", 1).await;
    assert_eq!(
        cert.annotations()
            .get("acme.cert-manager.io/http01-override-ingress-name")
            .map(String::as_str),
        Some("inplace")
    );
    let root = std::fs::read(bed.var("PEBBLE_ROOT_PEM")).unwrap();
    let dir = std::env::temp_dir().join(format!("certsmith-it-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("root.pem"), &root).unwrap();
    for name in ["acme-web-tls", "inplace-tls"] {
        let chain = dir.join(format!("{name}.crt"));
        std::fs::write(
            &chain,
            secret_data(&env.secret(name).await.unwrap(), "tls.crt"),
        )
        .unwrap();
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
    // The edited Ingress is back to the user's rules (the challenge path was removed).
    let inplace: Ingress = Api::namespaced(client.clone(), &ns)
        .get("inplace")
        .await
        .unwrap();
    let paths: Vec<String> = inplace
        .spec
        .unwrap()
        .rules
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.http
                .iter()
                .flat_map(|h| h.paths.iter().filter_map(|p| p.path.clone()))
        })
        .collect();
    assert_eq!(
        paths,
        ["/"],
        "the challenge path is gone from the user's Ingress"
    );

    // 7. Gateway API: a Gateway's TLS listener gets its Certificate (the Gateway shim), and an
    // ACME issuer solving http-01 through an HTTPRoute attached to that Gateway.
    env.apply("gateway.networking.k8s.io/v1", "Gateway", "gateways", true, json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": { "name": "gw", "annotations": { "cert-manager.io/cluster-issuer": ca_issuer } },
        "spec": { "gatewayClassName": "bed", "listeners": [
            { "name": "http", "port": 80, "protocol": "HTTP" },
            { "name": "https", "hostname": "gw.shim.example.test", "port": 443, "protocol": "HTTPS",
              "tls": { "mode": "Terminate", "certificateRefs": [{ "name": "gw-tls" }] } } ] }
    })).await;
    let cert = env.ready("gw-tls", 1).await;
    assert_eq!(cert.owner_references()[0].kind, "Gateway");
    assert!(sans(&env.secret("gw-tls").await.unwrap()).contains("DNS:gw.shim.example.test"));
    let pebble_gw = format!("shim-pebble-gw-{ns}");
    env.apply("cert-manager.io/v1", "ClusterIssuer", "clusterissuers", false, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": { "name": pebble_gw },
        "spec": { "acme": { "server": bed.var("ACME_DIRECTORY_URL"), "caBundle": b64(&ca),
            "privateKeySecretRef": { "name": "shim-gw-account" },
            "solvers": [{ "http01": { "gatewayHTTPRoute": { "parentRefs": [{ "name": "gw" }] } } }] } } })).await;
    let route_host = format!("route-{ns}.example.test");
    certs
        .patch("route-tls", &PatchParams::apply("certsmith-tests").force(), &Patch::Apply(&json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": { "name": "route-tls" },
            "spec": { "secretName": "route-tls", "dnsNames": [route_host],
                      "issuerRef": { "name": pebble_gw, "kind": "ClusterIssuer" } } })))
        .await
        .unwrap();
    env.ready("route-tls", 1).await;
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let presented: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Presented"))
        .filter_map(|e| e.message)
        .filter(|m| m.contains(&route_host))
        .collect();
    assert!(
        presented.iter().any(|m| m.contains("HTTPRoute")),
        "the challenge was routed by an HTTPRoute: {presented:?}"
    );

    for name in [&selfsigned, &ca_issuer, &pebble, &pebble_gw] {
        let _ = Api::<certsmith::api::ClusterIssuer>::all(client.clone())
            .delete(name, &DeleteParams::default())
            .await;
    }
}
