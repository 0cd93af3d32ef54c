//! The chart installed with `helm install` on the bed's kube-apiserver:
//! - it creates the ServiceAccount, RBAC, Deployment and metrics Service (the bed has no
//!   kubelet, so the Deployment never runs a Pod);
//! - the controller, run here with nothing but a token of the chart's ServiceAccount, issues a
//!   CA certificate and a leaf from it: the chart's RBAC is sufficient (every watch, read,
//!   write, Event and the leader Lease), with ClusterRoles and with `watchNamespace` Roles;
//! - the same token is refused (403) what the controller has no business doing;
//! - `helm uninstall` keeps the CRDs, and so the Certificates, with `crds.keep` (the default).
//!
//! Sharing the bed: every release has its own namespace and a unique name, so its
//! ClusterRoles (named after the release) never collide, and `helm uninstall` removes them
//! (also when a test fails, from `Drop`). The controller is always told `--namespace`, so a
//! cluster-wide install never touches other tests' objects. The CRDs are shared by every test:
//! only one test installs them through the chart, taking over the same specs every test
//! applies from crds/ (`--take-ownership`), and never deletes them; it puts their labels and
//! annotations back as they were.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

use certsmith::api::{Certificate, Issuer};
use support::certs::{apply_certificate, apply_spec, ready_at, secret_data};
use support::{
    ControllerProcess, TestBed, committed_crds, delete_namespace, eventually, fresh_namespace,
    install_crds, repo_root,
};

/// A helm release for one test, uninstalled when dropped.
struct Release {
    helm: String,
    kubeconfig: PathBuf,
    name: String,
    namespace: String,
    uninstalled: bool,
}

impl Release {
    /// `helm install <name> charts/certsmith -n <namespace>` with `--set` values.
    fn install(
        bed: &TestBed,
        name: &str,
        namespace: &str,
        sets: &[String],
        extra: &[&str],
    ) -> Self {
        let chart = repo_root().join("charts/certsmith");
        let mut args = vec![
            "install",
            name,
            chart.to_str().expect("utf-8 path"),
            "-n",
            namespace,
        ];
        for s in sets {
            args.extend(["--set", s.as_str()]);
        }
        args.extend(extra);
        let (ok, out, err) = bed.helm(&args);
        assert!(ok, "helm install failed:\n{out}{err}");
        Release {
            helm: bed.var("HELM").to_owned(),
            kubeconfig: bed.kubeconfig().to_owned(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            uninstalled: false,
        }
    }

    /// `helm uninstall`; returns its output.
    fn uninstall(&mut self) -> String {
        let (ok, out, err) = support::run(
            std::process::Command::new(&self.helm)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(["uninstall", &self.name, "-n", &self.namespace, "--wait"]),
        );
        self.uninstalled = true;
        assert!(ok, "helm uninstall failed:\n{out}{err}");
        format!("{out}{err}")
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if !self.uninstalled {
            let _ = std::process::Command::new(&self.helm)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(["uninstall", &self.name, "-n", &self.namespace])
                .output();
        }
    }
}

/// A kubeconfig holding only a fresh token of the ServiceAccount `sa` (written 0600, never
/// printed).
fn token_kubeconfig(bed: &TestBed, sa: &str, namespace: &str) -> PathBuf {
    let (ok, token, err) = bed.kubectl(&["create", "token", sa, "-n", namespace, "--duration=1h"]);
    assert!(
        ok,
        "minting a token for ServiceAccount {namespace}/{sa} failed: {err}"
    );
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "bed", "cluster": {
            "server": bed.var("KUBE_APISERVER_URL"),
            "certificate-authority": bed.var("TESTENV_CA_FILE"),
        }}],
        "users": [{ "name": sa, "user": { "token": token.trim() } }],
        "contexts": [{ "name": sa, "context": { "cluster": "bed", "user": sa } }],
        "current-context": sa,
    });
    let dir = repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).expect("creating target/test-logs");
    let path = dir.join(format!("{namespace}-{sa}.kubeconfig"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).expect("writing the token kubeconfig");
    serde_json::to_writer(file, &config).expect("writing the token kubeconfig");
    path
}

async fn client_from(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("reading the token kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("loading the token kubeconfig");
    Client::try_from(config).expect("a client with the ServiceAccount's token")
}

/// The HTTP status of a refused request, or a panic if it was allowed.
fn refused<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) -> u16 {
    match result {
        Err(kube::Error::Api(status)) => status.code,
        other => panic!("{what} should have been refused, got {other:?}"),
    }
}

/// The controller arguments of the installed Deployment, without the subcommand.
async fn deployment_args(client: &Client, namespace: &str, name: &str) -> Vec<String> {
    let deployment = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .expect("the chart's Deployment exists");
    let spec = deployment
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod spec");
    let container = &spec.containers[0];
    assert_eq!(
        spec.service_account_name.as_deref(),
        Some(name),
        "the Pods run as the chart's ServiceAccount"
    );
    let args = container.args.clone().expect("args");
    assert_eq!(args[0], "controller");
    args[1..].to_vec()
}

/// Waits until Certificate `name` is Ready at revision 1; panics with the controller log.
async fn wait_ready(api: &Api<Certificate>, name: &str, ctl: &ControllerProcess) {
    let what = format!("Certificate {name} Ready");
    let ready = tokio::time::timeout(
        Duration::from_secs(60),
        eventually(Duration::from_secs(60), &what, || async {
            let cert = api.get(name).await.ok()?;
            ready_at(&cert, 1).then_some(())
        }),
    )
    .await;
    ready.unwrap_or_else(|_| panic!("timed out: {what}\ncontroller log:\n{}", ctl.log_text()));
}

/// An installed release whose controller has issued certificates.
struct Installed {
    /// A client holding only the ServiceAccount's token.
    token: Client,
    namespace: String,
    fullname: String,
    /// Held for its `Drop`: helm uninstall.
    _release: Release,
}

/// Installs the chart (no CRDs), runs the controller with the chart's arguments and only its
/// ServiceAccount's token, and issues a self-signed CA and a leaf signed by it.
async fn chart_rbac_issues_a_ca_certificate(watch_namespace: bool) -> Installed {
    let bed = TestBed::get();
    let admin = bed.client().await;
    install_crds(&admin).await;
    let ns = fresh_namespace(&admin, "helm").await;
    let release_name = ns.clone();
    let fullname = format!("{release_name}-certsmith");
    let mut sets = vec![
        "crds.enabled=false".to_owned(),
        // The Lease in the test's namespace: no test shares it.
        format!("global.leaderElection.namespace={ns}"),
    ];
    if watch_namespace {
        sets.push(format!("watchNamespace={ns}"));
    }
    let release = Release::install(&bed, &release_name, &ns, &sets, &[]);

    // What a user sees after `helm install`.
    let deployment_args = deployment_args(&admin, &ns, &fullname).await;
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns)
        .get(&fullname)
        .await
        .expect("the chart's ServiceAccount");
    let service = Api::<Service>::namespaced(admin.clone(), &ns)
        .get(&fullname)
        .await
        .expect("the chart's metrics Service");
    assert_eq!(
        service.spec.expect("spec").ports.expect("ports")[0].port,
        9402
    );
    let roles_here = Api::<Role>::namespaced(admin.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("listing Roles");
    let cluster_roles = Api::<ClusterRole>::all(admin.clone())
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={release_name}")))
        .await
        .expect("listing ClusterRoles");
    if watch_namespace {
        assert!(
            roles_here.items.len() >= 10,
            "Roles in the watched namespace"
        );
        assert_eq!(
            cluster_roles.items.len(),
            1,
            "only the CRD-discovery ClusterRole"
        );
    } else {
        assert_eq!(cluster_roles.items.len(), 12, "one ClusterRole per concern");
    }

    // The controller as the Pod would run it: the chart's flags, the ServiceAccount's token.
    let kubeconfig = token_kubeconfig(&bed, &fullname, &ns);
    let mut args = deployment_args;
    args.extend([
        "--metrics-listen-address=127.0.0.1:0".to_owned(),
        "--healthz-listen-address=127.0.0.1:0".to_owned(),
    ]);
    if !watch_namespace {
        // Cluster-wide RBAC, but act on this test's namespace only (the bed is shared).
        args.push(format!("--namespace={ns}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ctl = ControllerProcess::start_with_kubeconfig(&kubeconfig, &format!("helm-{ns}"), &args);

    let issuers: Api<Issuer> = Api::namespaced(admin.clone(), &ns);
    let certificates: Api<Certificate> = Api::namespaced(admin.clone(), &ns);
    apply_spec(&issuers, "selfsigned", json!({ "selfSigned": {} })).await;
    apply_certificate(
        &certificates,
        "root",
        json!({
            "isCA": true, "commonName": "helm chart test root", "secretName": "root-ca",
            "privateKey": { "algorithm": "ECDSA" },
            "issuerRef": { "name": "selfsigned", "kind": "Issuer" }
        }),
    )
    .await;
    wait_ready(&certificates, "root", &ctl).await;
    apply_spec(
        &issuers,
        "root",
        json!({ "ca": { "secretName": "root-ca" } }),
    )
    .await;
    apply_certificate(
        &certificates,
        "web",
        json!({
            "dnsNames": ["web.example.test"], "secretName": "web-tls",
            "issuerRef": { "name": "root", "kind": "Issuer" }
        }),
    )
    .await;
    wait_ready(&certificates, "web", &ctl).await;
    let secret = Api::<Secret>::namespaced(admin.clone(), &ns)
        .get("web-tls")
        .await
        .expect("the leaf's Secret");
    assert!(!secret_data(&secret, "tls.crt").is_empty());
    assert_eq!(
        secret_data(&secret, "ca.crt"),
        secret_data(
            &Api::<Secret>::namespaced(admin.clone(), &ns)
                .get("root-ca")
                .await
                .expect("the CA Secret"),
            "tls.crt"
        ),
        "the leaf is signed by the CA the chart's controller issued"
    );
    // Events were written (their RBAC too), and the leader Lease was taken.
    let events = Api::<Event>::namespaced(admin.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("listing Events");
    assert!(
        events.items.iter().any(|e| e
            .regarding
            .as_ref()
            .is_some_and(|r| r.name.as_deref() == Some("web"))),
        "an Event about Certificate web"
    );
    let lease = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(admin.clone(), &ns)
        .get("certsmith-controller")
        .await
        .expect("the leader Lease exists");
    assert!(lease.spec.and_then(|s| s.holder_identity).is_some());
    // Nothing the controllers tried was forbidden (a watch or write the RBAC missed shows here).
    let log = ctl.log_text();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the controller was refused something:\n{log}"
    );
    drop(ctl);
    let token = client_from(&kubeconfig).await;
    // The token stays in memory only.
    let _ = std::fs::remove_file(&kubeconfig);
    Installed {
        token,
        namespace: ns,
        fullname,
        _release: release,
    }
}

/// Asserts that each request was refused with 403 Forbidden.
fn all_forbidden(checks: Vec<(&str, Result<(), kube::Error>)>) {
    for (what, result) in checks {
        assert_eq!(refused(what, result), 403, "{what}");
    }
}

async fn cleanup(ns: &str) {
    let admin = TestBed::get().client().await;
    delete_namespace(&admin, ns).await;
}

#[tokio::test]
async fn chart_cluster_roles_suffice_to_issue_a_ca_certificate_and_refuse_the_rest() {
    let installed = chart_rbac_issues_a_ca_certificate(false).await;
    let (token, ns) = (&installed.token, &installed.namespace);
    // Cluster-wide mode reads Secrets everywhere (Certificates may live in any namespace);
    // what no controller calls is refused.
    all_forbidden(vec![
        (
            "reading ConfigMaps in kube-system",
            Api::<ConfigMap>::namespaced(token.clone(), "kube-system")
                .list(&ListParams::default())
                .await
                .map(drop),
        ),
        (
            "deleting a Namespace",
            Api::<Namespace>::all(token.clone())
                .delete(ns, &DeleteParams::default())
                .await
                .map(drop),
        ),
        (
            "scaling the chart's own Deployment",
            Api::<Deployment>::namespaced(token.clone(), ns)
                .patch(
                    &installed.fullname,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": { "replicas": 5 } })),
                )
                .await
                .map(drop),
        ),
        (
            "reading Leases outside the leader election namespace",
            Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(
                token.clone(),
                "kube-system",
            )
            .list(&ListParams::default())
            .await
            .map(drop),
        ),
        (
            "updating a Secret (only patch is granted)",
            Api::<Secret>::namespaced(token.clone(), ns)
                .replace("root-ca", &Default::default(), &Secret::default())
                .await
                .map(drop),
        ),
    ]);
    let ns = ns.clone();
    drop(installed);
    cleanup(&ns).await;
}

#[tokio::test]
async fn chart_namespace_roles_suffice_to_issue_and_secrets_elsewhere_are_refused() {
    let admin = TestBed::get().client().await;
    let installed = chart_rbac_issues_a_ca_certificate(true).await;
    let other = fresh_namespace(&admin, "helm-other").await;
    let (token, ns) = (&installed.token, &installed.namespace);
    Api::<Secret>::namespaced(token.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("the chart's ServiceAccount lists Secrets in its namespace");
    all_forbidden(vec![
        (
            "reading Secrets in another namespace",
            Api::<Secret>::namespaced(token.clone(), &other)
                .list(&ListParams::default())
                .await
                .map(drop),
        ),
        (
            "reading a Secret in kube-system",
            Api::<Secret>::namespaced(token.clone(), "kube-system")
                .get("anything")
                .await
                .map(drop),
        ),
        (
            "listing the Secrets of all namespaces",
            Api::<Secret>::all(token.clone())
                .list(&ListParams::default())
                .await
                .map(drop),
        ),
        (
            "listing Certificates in another namespace",
            Api::<Certificate>::namespaced(token.clone(), &other)
                .list(&ListParams::default())
                .await
                .map(drop),
        ),
        (
            "reading ClusterIssuers (ignored in one-namespace mode)",
            Api::<certsmith::api::ClusterIssuer>::all(token.clone())
                .list(&ListParams::default())
                .await
                .map(drop),
        ),
        (
            "reading ConfigMaps in its own namespace",
            Api::<ConfigMap>::namespaced(token.clone(), ns)
                .list(&ListParams::default())
                .await
                .map(drop),
        ),
    ]);
    let ns = ns.clone();
    drop(installed);
    cleanup(&other).await;
    cleanup(&ns).await;
}

/// The CRDs' labels and annotations, to put back after the test.
type Metadata = (BTreeMap<String, String>, BTreeMap<String, String>);

#[tokio::test]
async fn uninstall_keeps_the_crds_and_the_certificates() {
    let bed = TestBed::get();
    let admin = bed.client().await;
    // The same specs every test applies: taking them over changes nothing for the others.
    install_crds(&admin).await;
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let mut before: BTreeMap<String, (String, Metadata)> = BTreeMap::new();
    for crd in committed_crds() {
        let name = crd.name_any();
        let live = crds.get(&name).await.expect("the CRD is installed");
        before.insert(
            name,
            (
                live.uid().expect("uid"),
                (live.labels().clone(), live.annotations().clone()),
            ),
        );
    }
    let ns = fresh_namespace(&admin, "helm-crds").await;
    let sets = vec![
        "installCRDs=true".to_owned(),
        format!("global.leaderElection.namespace={ns}"),
        format!("watchNamespace={ns}"),
    ];
    let mut release = Release::install(&bed, &ns, &ns, &sets, &["--take-ownership"]);
    let restore = async || {
        for (name, (_, (labels, annotations))) in &before {
            let Ok(live) = crds.get(name).await else {
                continue;
            };
            let diff = |now: &BTreeMap<String, String>, was: &BTreeMap<String, String>| {
                let mut patch = serde_json::Map::new();
                for key in now.keys().filter(|k| !was.contains_key(*k)) {
                    patch.insert(key.clone(), serde_json::Value::Null);
                }
                for (key, value) in was {
                    patch.insert(key.clone(), json!(value));
                }
                patch
            };
            let patch = json!({ "metadata": {
                "labels": diff(live.labels(), labels),
                "annotations": diff(live.annotations(), annotations),
            }});
            let _ = crds
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
        }
    };
    for name in before.keys() {
        let crd = crds.get(name).await.expect("CRD after install");
        assert_eq!(
            crd.annotations().get("meta.helm.sh/release-name"),
            Some(&ns),
            "{name} belongs to the release"
        );
        assert_eq!(
            crd.annotations()
                .get("helm.sh/resource-policy")
                .map(String::as_str),
            Some("keep")
        );
    }
    let certificates: Api<Certificate> = Api::namespaced(admin.clone(), &ns);
    apply_certificate(
        &certificates,
        "kept",
        json!({ "dnsNames": ["kept.example.test"], "secretName": "kept-tls",
                "issuerRef": { "name": "nobody", "kind": "Issuer" } }),
    )
    .await;

    let output = release.uninstall();
    restore().await;
    assert!(
        output.contains("kept due to the resource policy"),
        "helm says what it kept: {output}"
    );
    for (name, (uid, _)) in &before {
        let crd = crds
            .get(name)
            .await
            .expect("the CRD survives helm uninstall");
        assert_eq!(crd.uid().as_ref(), Some(uid), "{name} was never deleted");
    }
    certificates
        .get("kept")
        .await
        .expect("the Certificate survives helm uninstall");
    assert!(
        Api::<Deployment>::namespaced(admin.clone(), &ns)
            .get_opt(&format!("{ns}-certsmith"))
            .await
            .expect("reading the Deployment")
            .is_none(),
        "the rest of the release is gone"
    );
    cleanup(&ns).await;
}
