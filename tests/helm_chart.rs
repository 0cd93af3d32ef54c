//! The Helm chart as rendered (helm lint / helm template, the bed's helm binary): the generated
//! CRDs exactly when asked to (`installCRDs` or `crds.enabled`), kept on uninstall by default;
//! the controller Deployment, Service, RBAC and optional objects for default and non-default
//! values; and the schema's rejection of misspelt or mistyped values. tests/helm_install.rs
//! installs the chart on the bed.

mod support;

use serde_json::Value;
use support::{TestBed, committed_crds, repo_root};

/// Renders the chart with `--set` values; returns the CRDs of the output.
fn rendered_crds(bed: &TestBed, sets: &[&str]) -> Vec<Value> {
    let chart = repo_root().join("charts/certsmith");
    let mut args = vec![
        "template",
        "certsmith",
        chart.to_str().expect("utf-8 path"),
        "-n",
        "certsmith",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let (ok, out, err) = bed.helm(&args);
    assert!(ok, "helm template {sets:?} failed: {err}");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out).expect("helm output is YAML");
    docs.into_iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect()
}

fn keep_annotation(crd: &Value) -> Option<&str> {
    crd["metadata"]["annotations"]["helm.sh/resource-policy"].as_str()
}

#[test]
fn chart_lints() {
    let bed = TestBed::get();
    let chart = repo_root().join("charts/certsmith");
    let (ok, out, err) = bed.helm(&[
        "lint",
        chart.to_str().expect("utf-8 path"),
        "--set",
        "installCRDs=true",
    ]);
    assert!(ok, "helm lint failed:\n{out}{err}");
}

#[test]
fn no_crds_unless_asked() {
    let bed = TestBed::get();
    assert!(
        rendered_crds(&bed, &[]).is_empty(),
        "CRDs rendered without installCRDs/crds.enabled"
    );
}

#[test]
fn install_crds_renders_the_generated_crds_and_keeps_them() {
    let bed = TestBed::get();
    let committed = committed_crds();
    for sets in [&["installCRDs=true"][..], &["crds.enabled=true"]] {
        let rendered = rendered_crds(&bed, sets);
        assert_eq!(
            rendered.len(),
            committed.len(),
            "{sets:?}: one CRD per generated file"
        );
        for crd in &committed {
            let name = crd.metadata.name.as_deref().expect("CRD name");
            let found = rendered
                .iter()
                .find(|r| r["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{sets:?}: {name} not rendered"));
            assert_eq!(
                found["spec"],
                serde_json::to_value(&crd.spec).expect("CRD spec as JSON"),
                "{sets:?}: the chart's {name} differs from crds/"
            );
            assert_eq!(
                keep_annotation(found),
                Some("keep"),
                "{sets:?}: {name} must survive helm uninstall"
            );
            assert_eq!(
                found["metadata"]["labels"]["app.kubernetes.io/instance"],
                "certsmith"
            );
        }
    }
}

#[test]
fn crds_keep_false_lets_uninstall_remove_them() {
    let bed = TestBed::get();
    let rendered = rendered_crds(&bed, &["crds.enabled=true", "crds.keep=false"]);
    assert_eq!(rendered.len(), 6);
    assert!(rendered.iter().all(|crd| keep_annotation(crd).is_none()));
}

// ------------------------------------------------------------------ controller, RBAC, values

/// Renders the chart (release `rel`, namespace `certsmith`) with extra helm arguments; returns
/// every document, or helm's error output.
fn render(bed: &TestBed, extra: &[&str]) -> Result<Vec<Value>, String> {
    let chart = repo_root().join("charts/certsmith");
    let mut args = vec![
        "template",
        "rel",
        chart.to_str().expect("utf-8 path"),
        "-n",
        "certsmith",
    ];
    args.extend(extra);
    let (ok, out, err) = bed.helm(&args);
    if !ok {
        return Err(err);
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out).expect("helm output is YAML");
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn rendered(bed: &TestBed, extra: &[&str]) -> Vec<Value> {
    render(bed, extra).unwrap_or_else(|err| panic!("helm template {extra:?} failed: {err}"))
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "exactly one {kind} rendered");
    found[0]
}

fn container(docs: &[Value]) -> &Value {
    &one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn args(docs: &[Value]) -> Vec<String> {
    container(docs)["args"]
        .as_array()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect()
}

/// Writes a values file for one test; returns its path.
fn values_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = repo_root().join("target/test-logs");
    std::fs::create_dir_all(&dir).expect("creating target/test-logs");
    let path = dir.join(format!("{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, text).expect("writing a values file");
    path
}

#[test]
fn chart_lints_with_default_and_non_default_values() {
    let bed = TestBed::get();
    let chart = repo_root().join("charts/certsmith");
    let custom = values_file("lint-values", NON_DEFAULT_VALUES);
    for extra in [
        vec![],
        vec!["-f", custom.to_str().expect("utf-8 path")],
        vec!["--set", "watchNamespace=apps"],
    ] {
        let mut args = vec!["lint", "--strict", chart.to_str().expect("utf-8 path")];
        args.extend(&extra);
        let (ok, out, err) = bed.helm(&args);
        assert!(ok, "helm lint {extra:?} failed:\n{out}{err}");
    }
}

#[test]
fn default_values_render_a_hardened_controller_deployment_and_metrics_service() {
    let bed = TestBed::get();
    let docs = rendered(&bed, &[]);
    let deployment = one(&docs, "Deployment");
    assert_eq!(deployment["metadata"]["name"], "rel-certsmith");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "rel-certsmith");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
    let c = container(&docs);
    assert_eq!(c["image"], "ghcr.io/certsmith/certsmith:v0.1.0");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http-healthz");
    assert_eq!(c["env"][0]["name"], "POD_NAME");
    assert_eq!(
        c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    let a = args(&docs);
    for want in [
        "controller",
        "--log-format=text",
        "--log-level=info",
        "--cluster-resource-namespace=certsmith",
        "--leader-elect=true",
        "--leader-election-namespace=kube-system",
        "--acme-http01-solver-image=ghcr.io/certsmith/certsmith:v0.1.0",
        "--max-concurrent-challenges=60",
        "--metrics-listen-address=0.0.0.0:9402",
        "--healthz-listen-address=0.0.0.0:9403",
    ] {
        assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
    }
    assert!(
        !a.iter().any(|x| x.starts_with("--namespace")),
        "cluster-wide by default: {a:?}"
    );
    assert_eq!(a[0], "controller");

    let service = one(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 9402);
    assert_eq!(
        service["spec"]["ports"][0]["name"],
        "tcp-prometheus-servicemonitor"
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"],
        "9402"
    );
    for absent in [
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "PodMonitor",
        "CustomResourceDefinition",
    ] {
        assert!(
            of_kind(&docs, absent).is_empty(),
            "{absent} rendered by default"
        );
    }
}

/// The RBAC of a rendering: (kind, name, namespace, rules).
fn roles(docs: &[Value]) -> Vec<(String, String, String, Vec<Value>)> {
    docs.iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                d["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                d["rules"].as_array().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// The verbs granted on `group`/`resource` across all roles.
fn verbs_on(docs: &[Value], group: &str, resource: &str) -> std::collections::BTreeSet<String> {
    roles(docs)
        .iter()
        .flat_map(|(_, _, _, rules)| rules.iter())
        .filter(|r| {
            r["apiGroups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g == group))
                && r["resources"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|x| x == resource))
        })
        .flat_map(|r| r["verbs"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn set(items: &[&str]) -> std::collections::BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn rbac_is_one_cluster_role_per_controller_without_wildcards() {
    let bed = TestBed::get();
    let docs = rendered(&bed, &[]);
    let roles = roles(&docs);
    let cluster_roles: std::collections::BTreeSet<_> = roles
        .iter()
        .filter(|(kind, ..)| kind == "ClusterRole")
        .map(|(_, name, ..)| name.trim_start_matches("rel-certsmith-").to_owned())
        .collect();
    assert_eq!(
        cluster_roles,
        set(&[
            "approver",
            "certificaterequests",
            "certificates",
            "challenges",
            "clusterissuers",
            "events",
            "gateway-api-discovery",
            "gateway-shim",
            "ingress-shim",
            "issuers",
            "orders",
            "secrets",
        ]),
        "ClusterRoles named by release, one per concern"
    );
    for (kind, name, _, rules) in &roles {
        for rule in rules {
            for field in ["apiGroups", "resources", "verbs"] {
                let values = rule[field].as_array().expect("rule lists");
                assert!(
                    !values.iter().any(|v| v == "*"),
                    "{kind} {name} has a wildcard in {field}: {rule}"
                );
            }
        }
    }
    // Each ClusterRole is bound to the chart's ServiceAccount, by a binding of the same name.
    for binding in of_kind(&docs, "ClusterRoleBinding") {
        assert_eq!(binding["subjects"][0]["name"], "rel-certsmith");
        assert_eq!(binding["subjects"][0]["namespace"], "certsmith");
        assert_eq!(binding["roleRef"]["name"], binding["metadata"]["name"]);
    }
    // Secrets: what the controllers call, nothing more (no update, deletecollection).
    assert_eq!(
        verbs_on(&docs, "", "secrets"),
        set(&["create", "delete", "get", "list", "patch", "watch"])
    );
    assert_eq!(
        verbs_on(&docs, "events.k8s.io", "events"),
        set(&["create", "patch"])
    );
    assert!(verbs_on(&docs, "", "configmaps").is_empty());
    assert!(verbs_on(&docs, "", "namespaces").is_empty());
    // The leader Lease: a Role in the Lease namespace, the name pinned for all but create.
    let lease = roles
        .iter()
        .find(|(kind, name, ..)| kind == "Role" && name == "rel-certsmith-leader-election")
        .expect("leader election Role");
    assert_eq!(lease.2, "kube-system");
    assert_eq!(lease.3[0]["resourceNames"][0], "certsmith-controller");
    assert_eq!(lease.3[1]["verbs"], serde_json::json!(["create"]));
}

#[test]
fn watch_namespace_renders_roles_in_that_namespace_only() {
    let bed = TestBed::get();
    let docs = rendered(&bed, &["--set", "watchNamespace=apps"]);
    assert!(args(&docs).iter().any(|a| a == "--namespace=apps"));
    for (kind, name, namespace, rules) in roles(&docs) {
        if name == "rel-certsmith-gateway-api-discovery" {
            // CRDs are cluster-scoped: one named CRD, get only.
            assert_eq!(kind, "ClusterRole");
            assert_eq!(rules.len(), 1);
            assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]));
            continue;
        }
        assert_eq!(kind, "Role", "{name} is namespaced");
        if name != "rel-certsmith-leader-election" {
            assert_eq!(namespace, "apps", "{name}");
        }
    }
    assert!(
        verbs_on(&docs, "cert-manager.io", "clusterissuers").is_empty(),
        "ClusterIssuers are ignored in one-namespace mode"
    );
    assert_eq!(of_kind(&docs, "ClusterRoleBinding").len(), 1);
}

#[test]
fn shims_turned_off_get_no_ingress_or_gateway_watch_rights() {
    let bed = TestBed::get();
    let docs = rendered(
        &bed,
        &[
            "--set",
            "ingressShim.enabled=false",
            "--set",
            "gatewayShim.enabled=false",
        ],
    );
    let a = args(&docs);
    assert!(a.iter().any(|x| x == "--ingress-shim=false"));
    assert!(a.iter().any(|x| x == "--gateway-shim=false"));
    // The http-01 solver still manages its own Ingresses; nothing watches them.
    assert_eq!(
        verbs_on(&docs, "networking.k8s.io", "ingresses"),
        set(&["create", "delete", "get", "list", "update"])
    );
    assert!(verbs_on(&docs, "gateway.networking.k8s.io", "gateways").is_empty());
}

const NON_DEFAULT_VALUES: &str = r#"
replicaCount: 3
image:
  registry: registry.example.test
  repository: platform/certsmith
  tag: v9.9.9
  pullPolicy: Always
global:
  logLevel: 4
  logFormat: json
  priorityClassName: system-cluster-critical
  imagePullSecrets: [{name: pull}]
  commonLabels: {team: pki}
  leaderElection:
    namespace: certsmith-system
    leaseDuration: 30s
    renewDeadline: 20s
    retryPeriod: 5s
clusterResourceNamespace: pki
resources:
  requests: {cpu: 10m, memory: 32Mi}
  limits: {memory: 128Mi}
nodeSelector: {pool: system}
tolerations: [{key: dedicated, operator: Equal, value: system, effect: NoSchedule}]
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector: {matchLabels: {app.kubernetes.io/name: certsmith}}
extraArgs: [--acme-http01-self-check-port=8080]
extraEnv: [{name: RUST_BACKTRACE, value: "1"}]
podDnsPolicy: None
podDnsConfig: {nameservers: [1.1.1.1]}
dns01RecursiveNameservers: 1.1.1.1:53,8.8.8.8:53
dns01RecursiveNameserversOnly: true
maxConcurrentChallenges: 10
ingressShim:
  defaultIssuerName: letsencrypt
  defaultIssuerKind: ClusterIssuer
  defaultIssuerGroup: cert-manager.io
podDisruptionBudget:
  enabled: true
  minAvailable: 2
networkPolicy:
  enabled: true
prometheus:
  servicemonitor:
    enabled: true
    labels: {release: kube-prometheus}
    interval: 30s
acmesolver:
  image:
    repository: platform/certsmith-solver
livenessProbe:
  enabled: false
"#;

#[test]
fn non_default_values_reach_the_deployment_and_optional_objects() {
    let bed = TestBed::get();
    let file = values_file("non-default-values", NON_DEFAULT_VALUES);
    let docs = rendered(
        &bed,
        &[
            "-f",
            file.to_str().expect("utf-8 path"),
            "--api-versions",
            "monitoring.coreos.com/v1",
        ],
    );
    let deployment = one(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["metadata"]["labels"]["team"], "pki");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["imagePullSecrets"][0]["name"], "pull");
    // helm merges maps: the default kubernetes.io/os=linux stays unless set to null.
    assert_eq!(pod["nodeSelector"]["pool"], "system");
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"],
        100
    );
    assert_eq!(pod["dnsPolicy"], "None");
    assert_eq!(pod["dnsConfig"]["nameservers"][0], "1.1.1.1");
    let c = container(&docs);
    assert_eq!(
        c["image"],
        "registry.example.test/platform/certsmith:v9.9.9"
    );
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["resources"]["limits"]["memory"], "128Mi");
    assert!(
        c.get("livenessProbe").is_none(),
        "livenessProbe.enabled=false"
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(
        c["env"]
            .as_array()
            .expect("env")
            .iter()
            .any(|e| e["name"] == "RUST_BACKTRACE" && e["value"] == "1")
    );
    let a = args(&docs);
    for want in [
        "--log-format=json",
        "--log-level=debug",
        "--cluster-resource-namespace=pki",
        "--leader-election-namespace=certsmith-system",
        "--leader-election-lease-duration=30s",
        "--leader-election-renew-deadline=20s",
        "--leader-election-retry-period=5s",
        "--acme-http01-solver-image=registry.example.test/platform/certsmith-solver:v9.9.9",
        "--max-concurrent-challenges=10",
        "--dns01-recursive-nameservers=1.1.1.1:53,8.8.8.8:53",
        "--dns01-recursive-nameservers-only",
        "--default-issuer-name=letsencrypt",
        "--default-issuer-kind=ClusterIssuer",
        "--default-issuer-group=cert-manager.io",
        "--acme-http01-self-check-port=8080",
    ] {
        assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
    }
    // extraArgs come last, so they override the chart's own flags.
    assert_eq!(
        a.last().map(String::as_str),
        Some("--acme-http01-self-check-port=8080")
    );

    let pdb = one(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 2);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"],
        "rel"
    );
    let policy = one(&docs, "NetworkPolicy");
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], 9402);
    let monitor = one(&docs, "ServiceMonitor");
    assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus");
    assert_eq!(monitor["spec"]["endpoints"][0]["targetPort"], 9402);
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "30s");
    assert!(
        deployment["spec"]["template"]["metadata"]["annotations"]
            .get("prometheus.io/scrape")
            .is_none(),
        "no scrape annotations when a ServiceMonitor scrapes"
    );
    // The Lease Role follows the Lease namespace.
    let lease_role = of_kind(&docs, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "rel-certsmith-leader-election")
        .expect("lease Role");
    assert_eq!(lease_role["metadata"]["namespace"], "certsmith-system");
}

#[test]
fn log_level_takes_filters_and_cert_manager_verbosity_numbers() {
    let bed = TestBed::get();
    for (value, want) in [
        ("2", "info"),
        ("0", "info"),
        ("3", "debug"),
        ("6", "trace"),
        ("warn", "warn"),
        ("certsmith=debug\\,kube=info", "certsmith=debug,kube=info"),
    ] {
        let set = format!("global.logLevel={value}");
        let docs = rendered(&bed, &["--set", &set]);
        let want = format!("--log-level={want}");
        assert!(args(&docs).contains(&want), "{set}: {want} expected");
    }
}

#[test]
fn schema_rejects_misspelt_and_mistyped_values_naming_the_field() {
    let bed = TestBed::get();
    // (helm argument, what the message must name)
    let cases = [
        ("instalCRDs=true", "'instalCRDs' not allowed"),
        ("crds.enable=true", "'enable' not allowed"),
        (
            "prometheus.servicemonitor.enbled=true",
            "'enbled' not allowed",
        ),
        ("replicaCount=two", "/replicaCount"),
        ("global.logFormat=xml", "/global/logFormat"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        (
            "global.leaderElection.leaseDuration=1minute",
            "/global/leaderElection/leaseDuration",
        ),
        (
            "podDisruptionBudget.minAvailable=half",
            "/podDisruptionBudget/minAvailable",
        ),
        (
            "ingressShim.defaultIssuerKind=Issuers",
            "/ingressShim/defaultIssuerKind",
        ),
        ("podDnsPolicy=Custom", "/podDnsPolicy"),
        (
            "dns01RecursiveNameservers=1.1.1.1",
            "/dns01RecursiveNameservers",
        ),
        ("replicaCount=2", ""),
    ];
    for (set, names) in cases {
        let result = render(&bed, &["--set", set]);
        if names.is_empty() {
            // Control case: a valid value passes.
            assert!(result.is_ok(), "{set} should be accepted: {result:?}");
            continue;
        }
        let err = result.expect_err(&format!("{set} should be rejected"));
        assert!(
            err.contains("values don't meet the specifications of the schema"),
            "{set}: not a schema error: {err}"
        );
        assert!(
            err.contains(names),
            "{set}: message should name {names}: {err}"
        );
    }
}

#[test]
fn exclusive_settings_fail_with_a_message() {
    let bed = TestBed::get();
    let err = render(
        &bed,
        &[
            "--set",
            "prometheus.servicemonitor.enabled=true",
            "--set",
            "prometheus.podmonitor.enabled=true",
        ],
    )
    .expect_err("ServiceMonitor and PodMonitor together");
    assert!(err.contains("exclude each other"), "{err}");
    let err = render(
        &bed,
        &[
            "--set",
            "podDisruptionBudget.enabled=true",
            "--set",
            "podDisruptionBudget.minAvailable=1",
            "--set",
            "podDisruptionBudget.maxUnavailable=1",
        ],
    )
    .expect_err("minAvailable and maxUnavailable together");
    assert!(err.contains("not both"), "{err}");
    let docs = rendered(
        &bed,
        &[
            "--set",
            "prometheus.podmonitor.enabled=true",
            "--set",
            "podDisruptionBudget.enabled=true",
            "--set",
            "podDisruptionBudget.maxUnavailable=50%",
        ],
    );
    assert_eq!(
        one(&docs, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"],
        "http-metrics"
    );
    assert_eq!(
        one(&docs, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        "50%"
    );
}

#[test]
fn rbac_and_service_account_can_be_brought_by_the_user() {
    let bed = TestBed::get();
    let docs = rendered(
        &bed,
        &[
            "--set",
            "global.rbac.create=false",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=existing",
        ],
    );
    assert!(roles(&docs).is_empty());
    assert!(of_kind(&docs, "ServiceAccount").is_empty());
    assert_eq!(
        one(&docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"],
        "existing"
    );
}
