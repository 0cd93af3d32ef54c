//! The generated CRDs on a real kube-apiserver: they install, accept what cert-manager users
//! write, reject bad input with a message naming the field, and explain themselves.
//!
//! Needs the test bed (`hack/testenv.sh up`).

mod support;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::Resource;
use serde_json::Value;

use certsmith::api::{Certificate, CertificateRequest, Challenge, ClusterIssuer, Issuer, Order};
use support::{
    TestBed, delete_namespace, fresh_namespace, install_crds, repo_root, yaml_documents,
};

const FIELD_MANAGER: &str = "certsmith-tests";

/// The API resource and scope of one of our kinds.
fn resource_for(kind: &str) -> (ApiResource, bool) {
    match kind {
        "Certificate" => (ApiResource::erase::<Certificate>(&()), true),
        "CertificateRequest" => (ApiResource::erase::<CertificateRequest>(&()), true),
        "Issuer" => (ApiResource::erase::<Issuer>(&()), true),
        "ClusterIssuer" => (ApiResource::erase::<ClusterIssuer>(&()), false),
        "Order" => (ApiResource::erase::<Order>(&()), true),
        "Challenge" => (ApiResource::erase::<Challenge>(&()), true),
        other => panic!("unexpected kind {other} in a test manifest"),
    }
}

/// The API of a manifest's kind (namespaced kinds in `ns`) and the manifest's name.
fn api_for<'a>(client: &Client, ns: &str, doc: &'a Value) -> (Api<DynamicObject>, &'a str) {
    let kind = doc["kind"].as_str().expect("manifest has a kind");
    let name = doc["metadata"]["name"]
        .as_str()
        .expect("manifest has a name");
    let (ar, namespaced) = resource_for(kind);
    let api = if namespaced {
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    (api, name)
}

/// Server-side applies one manifest (namespaced kinds into `ns`); returns the apiserver's
/// answer or its error message.
async fn apply(client: &Client, ns: &str, doc: &Value) -> Result<DynamicObject, String> {
    let (api, name) = api_for(client, ns, doc);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(doc))
        .await
        .map_err(|e| match e {
            kube::Error::Api(status) => status.message,
            other => other.to_string(),
        })
}

/// A manifest made private to this test process: namespaced objects lose their namespace (the
/// test applies them into its own), cluster-scoped ones get a name of their own, so tests never
/// touch objects a user (or the demo) made on the same bed.
fn isolate(mut doc: Value, test: &str) -> Value {
    let cluster_scoped = !resource_for(doc["kind"].as_str().expect("manifest has a kind")).1;
    let meta = doc["metadata"]
        .as_object_mut()
        .expect("manifest has metadata");
    meta.remove("namespace");
    if cluster_scoped {
        let name = meta["name"].as_str().expect("manifest has a name");
        meta["name"] = format!("{name}-{test}-{}", std::process::id()).into();
    }
    doc
}

/// Deletes what a test applied. The bed has no namespace controller, so deleting a namespace
/// would leave its objects behind; cluster-scoped ones must go anyway.
async fn delete_all(client: &Client, ns: &str, docs: &[Value]) {
    for doc in docs {
        let (api, name) = api_for(client, ns, doc);
        let _ = api.delete(name, &Default::default()).await;
    }
    delete_namespace(client, ns).await;
}

fn annotation<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc["metadata"]["annotations"][key].as_str()
}

fn describe(doc: &Value) -> String {
    format!(
        "{} {}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Every valid manifest: tests/manifests/valid.yaml and every file in examples/.
fn valid_documents() -> Vec<Value> {
    let root = repo_root();
    let mut docs = yaml_documents(&root.join("tests/manifests/valid.yaml"));
    let mut examples: Vec<_> = std::fs::read_dir(root.join("examples"))
        .expect("reading examples/")
        .map(|e| e.expect("examples/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    for path in examples {
        docs.extend(yaml_documents(&path));
    }
    docs
}

#[tokio::test]
async fn crds_install_and_become_established() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let (ok, out, err) =
        bed.kubectl(&["api-resources", "--api-group=cert-manager.io", "-o", "name"]);
    assert!(ok, "kubectl api-resources failed: {err}");
    for plural in [
        "certificates",
        "certificaterequests",
        "issuers",
        "clusterissuers",
    ] {
        assert!(
            out.contains(&format!("{plural}.cert-manager.io")),
            "{plural} not served: {out}"
        );
    }
    let (ok, out, err) = bed.kubectl(&[
        "api-resources",
        "--api-group=acme.cert-manager.io",
        "-o",
        "name",
    ]);
    assert!(ok, "kubectl api-resources failed: {err}");
    assert!(
        out.contains("orders.acme.cert-manager.io")
            && out.contains("challenges.acme.cert-manager.io"),
        "{out}"
    );
    // Short names and categories work as cert-manager users type them.
    let (ok, _, err) = bed.kubectl(&["get", "cert,cr,iss,ciss", "-A"]);
    assert!(ok, "short names: {err}");
    let (ok, _, err) = bed.kubectl(&["get", "cert-manager", "-A"]);
    assert!(ok, "category cert-manager: {err}");
    let (ok, _, err) = bed.kubectl(&["get", "cert-manager-acme", "-A"]);
    assert!(ok, "category cert-manager-acme: {err}");
}

#[tokio::test]
async fn valid_manifests_are_accepted_and_read_back() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "valid").await;

    let docs: Vec<Value> = valid_documents()
        .into_iter()
        .map(|d| isolate(d, "valid"))
        .collect();
    assert!(
        docs.len() >= 15,
        "expected at least 15 valid manifests, found {}",
        docs.len()
    );
    let mut failures = Vec::new();
    for doc in &docs {
        match apply(&client, &ns, doc).await {
            Ok(stored) => {
                // What was written is what is stored: the spec comes back unchanged.
                let stored = serde_json::to_value(&stored).expect("stored object as JSON");
                if stored["spec"] != doc["spec"] {
                    failures.push(format!(
                        "{}: stored spec differs:\n  sent   {}\n  stored {}",
                        describe(doc),
                        doc["spec"],
                        stored["spec"]
                    ));
                }
                // And our own types read it.
                let typed = match doc["kind"].as_str() {
                    Some("Certificate") => {
                        serde_json::from_value::<Certificate>(stored).map(|_| ())
                    }
                    Some("CertificateRequest") => {
                        serde_json::from_value::<CertificateRequest>(stored).map(|_| ())
                    }
                    Some("Issuer") => serde_json::from_value::<Issuer>(stored).map(|_| ()),
                    Some("ClusterIssuer") => {
                        serde_json::from_value::<ClusterIssuer>(stored).map(|_| ())
                    }
                    Some("Order") => serde_json::from_value::<Order>(stored).map(|_| ()),
                    Some("Challenge") => serde_json::from_value::<Challenge>(stored).map(|_| ()),
                    _ => Ok(()),
                };
                if let Err(e) = typed {
                    failures.push(format!(
                        "{}: accepted but our types cannot read it: {e}",
                        describe(doc)
                    ));
                }
            }
            Err(message) => failures.push(format!("{}: rejected: {message}", describe(doc))),
        }
    }
    delete_all(&client, &ns, &docs).await;
    assert!(
        failures.is_empty(),
        "{} of {} valid manifests failed:\n{}",
        failures.len(),
        docs.len(),
        failures.join("\n")
    );
    println!("{} valid manifests accepted", docs.len());
}

#[tokio::test]
async fn invalid_manifests_are_rejected_naming_the_field() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "invalid").await;

    let docs: Vec<Value> = yaml_documents(&repo_root().join("tests/manifests/invalid.yaml"))
        .into_iter()
        .map(|d| isolate(d, "invalid"))
        .collect();
    assert!(
        docs.len() >= 25,
        "expected at least 25 invalid manifests, found {}",
        docs.len()
    );
    let mut failures = Vec::new();
    for doc in &docs {
        let field = annotation(doc, "certsmith.test/expect-field")
            .unwrap_or_else(|| panic!("{} lacks certsmith.test/expect-field", describe(doc)));
        match apply(&client, &ns, doc).await {
            Ok(_) => failures.push(format!(
                "{}: accepted, expected a rejection naming {field}",
                describe(doc)
            )),
            Err(message) => {
                // The apiserver prefixes each cause with its field path: `<path>: <reason>`.
                if !message.contains(&format!("{field}: ")) {
                    failures.push(format!(
                        "{}: message does not name {field}: {message}",
                        describe(doc)
                    ));
                }
                if let Some(words) = annotation(doc, "certsmith.test/expect-message")
                    && !message.contains(words)
                {
                    failures.push(format!(
                        "{}: message lacks {words:?}: {message}",
                        describe(doc)
                    ));
                }
            }
        }
    }
    delete_all(&client, &ns, &docs).await;
    assert!(
        failures.is_empty(),
        "{} of {} invalid manifests misbehaved:\n{}",
        failures.len(),
        docs.len(),
        failures.join("\n")
    );
    println!(
        "{} invalid manifests rejected with the field named",
        docs.len()
    );
}

#[tokio::test]
async fn certificate_request_spec_is_immutable() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "immutable").await;
    let api: Api<CertificateRequest> = Api::namespaced(client.clone(), &ns);
    let mut cr: CertificateRequest = serde_json::from_value(serde_json::json!({
        "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
        "metadata": { "name": "app-1" },
        "spec": { "request": "LS0tLS0=", "issuerRef": { "name": "ca" }, "duration": "24h" }
    }))
    .expect("a CertificateRequest");
    let created = api
        .create(&PostParams::default(), &cr)
        .await
        .expect("creating a CertificateRequest");
    cr.metadata.resource_version = created.meta().resource_version.clone();
    cr.spec.duration = Some("48h".into());
    let err = api
        .replace("app-1", &PostParams::default(), &cr)
        .await
        .expect_err("changing the spec must fail");
    let message = match err {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    };
    assert!(
        message.contains("spec: "),
        "message does not name spec: {message}"
    );
    assert!(
        message.contains("spec is immutable"),
        "unexpected message: {message}"
    );

    // Metadata and status stay writable: the controller records progress there.
    let mut labelled = api.get("app-1").await.expect("reading back");
    labelled.metadata.labels = Some([("team".to_owned(), "web".to_owned())].into());
    api.replace("app-1", &PostParams::default(), &labelled)
        .await
        .expect("labels may change");
    api.delete("app-1", &Default::default())
        .await
        .expect("deleting");
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn kubectl_explain_describes_fields() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    for (path, words) in [
        (
            "certificate.spec.renewBefore",
            "How long before the certificate expires it is renewed",
        ),
        ("certificate.spec.privateKey.rotationPolicy", "Always"),
        (
            "issuer.spec.acme.solvers.dns01.rfc2136.nameserver",
            "authoritative DNS server",
        ),
        (
            "clusterissuer.spec.ca.secretName",
            "cluster resource namespace",
        ),
        (
            "certificaterequest.spec.request",
            "certificate signing request",
        ),
        ("challenge.spec.key", "key authorization"),
        ("order.status.state", "pending, ready, processing, valid"),
    ] {
        // kubectl explain reads the published OpenAPI, which follows CRD changes within seconds.
        let mut last = String::new();
        let mut found = false;
        for _ in 0..100 {
            let (ok, out, err) = bed.kubectl(&["explain", path]);
            if ok && out.contains(words) {
                found = true;
                break;
            }
            last = format!("{out}{err}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(
            found,
            "kubectl explain {path} does not say {words:?}:\n{last}"
        );
    }
}

#[tokio::test]
async fn kubectl_get_shows_printer_columns() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "columns").await;
    // One object of each kind, taken from the valid manifests.
    let all = yaml_documents(&repo_root().join("tests/manifests/valid.yaml"));
    let mut docs = Vec::new();
    for name in [
        "minimal",
        "app-1",
        "ca",
        "valid-selfsigned-crl",
        "app-1-1234567890",
        "app-1-1234567890-1",
    ] {
        let doc = isolate(
            all.iter()
                .find(|d| d["metadata"]["name"] == name)
                .expect("manifest present")
                .clone(),
            "columns",
        );
        apply(&client, &ns, &doc)
            .await
            .unwrap_or_else(|e| panic!("applying {name}: {e}"));
        docs.push(doc);
    }
    for (kind, wide, headers) in [
        (
            "certificate",
            false,
            &["NAME", "READY", "SECRET", "AGE"][..],
        ),
        (
            "certificate",
            true,
            &["READY", "SECRET", "ISSUER", "STATUS", "AGE"],
        ),
        (
            "certificaterequest",
            false,
            &["APPROVED", "DENIED", "READY", "ISSUER", "REQUESTER", "AGE"],
        ),
        ("issuer", true, &["READY", "STATUS", "AGE"]),
        ("clusterissuer", true, &["READY", "STATUS", "AGE"]),
        ("order", true, &["STATE", "ISSUER", "REASON", "AGE"]),
        ("challenge", false, &["STATE", "DOMAIN", "AGE"]),
    ] {
        let mut args = vec!["get", kind, "-n", ns.as_str()];
        if wide {
            args.extend(["-o", "wide"]);
        }
        let (ok, out, err) = bed.kubectl(&args);
        assert!(ok, "kubectl get {kind}: {err}");
        let header = out.lines().next().unwrap_or_default();
        let columns: Vec<&str> = header.split_whitespace().collect();
        for h in headers {
            assert!(
                columns.contains(h),
                "kubectl get {kind} lacks column {h}: {header}"
            );
        }
    }
    let (_, out, _) = bed.kubectl(&["get", "certificate", "minimal", "-n", &ns]);
    assert!(
        out.contains("minimal-tls"),
        "the SECRET column shows spec.secretName: {out}"
    );
    let (_, out, _) = bed.kubectl(&["get", "challenge", "-n", &ns]);
    assert!(
        out.contains("app.example.test"),
        "the DOMAIN column shows spec.dnsName: {out}"
    );
    delete_all(&client, &ns, &docs).await;
}
