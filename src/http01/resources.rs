//! The Kubernetes objects that serve one HTTP-01 challenge, built from the Challenge: the
//! solver Pod (`certsmith acmesolver`), a Service in front of it, and either a temporary Ingress
//! routing `/.well-known/acme-challenge/<token>` for the name to that Service, or that one path
//! added to (and later removed from) an existing Ingress the user named.
//!
//! Pure functions, no client: the Challenge controller lists objects by [`solver_labels`] and
//! [`is_controlled_by`], asks the `*_matches` functions whether what exists is what it would
//! build, and creates, edits or deletes accordingly.
//!
//! Naming and label contract (as cert-manager, so solver objects it left behind are recognised
//! and NetworkPolicies written for its solver Pods keep matching):
//! - every object: `generateName: cm-acme-http-solver-`, a controller ownerReference to the
//!   Challenge, and the labels `acme.cert-manager.io/http01-solver: "true"`,
//!   `acme.cert-manager.io/http-domain: <adler32 of spec.dnsName, decimal>` and
//!   `acme.cert-manager.io/http-token: <adler32 of spec.token, decimal>`. A decimal adler32 is
//!   at most 10 digits, so any name fits a label value. The three labels are the Service's
//!   selector; the podTemplate/ingressTemplate may add labels but never change these (cert-manager
//!   lets them, which silently breaks the selector).
//! - Pod: one container `acmesolver`, `args: [acmesolver, --listen-port=8089, --domain=<host>,
//!   --token=<token>, --key=<key authorization>]`, port 8089 named `http`. The image's
//!   entrypoint must be the certsmith binary. `<host>` is the name's ASCII form (see
//!   [`Host`]).
//! - Service: port 8089 named `http`, targetPort `http`, type `NodePort` unless the solver asks
//!   for `ClusterIP`.
//! - Ingress: one rule for the host (no host for an IP identifier), one path, pathType `Exact`,
//!   backend the Service on port 8089.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, Pod, PodSecurityContext, PodSpec, ResourceRequirements,
    SeccompProfile, SecurityContext, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use super::host::{Host, HostError};
use super::solver::{CHALLENGE_PATH_PREFIX, DEFAULT_LISTEN_PORT, is_base64url};
use crate::api::{
    AcmeChallengeSolverHttp01Ingress, AcmeChallengeSolverHttp01PodTemplate, Challenge,
    ChallengeType, ServiceType,
};

/// `generateName` of every solver object.
pub const GENERATE_NAME: &str = "cm-acme-http-solver-";
/// Marks solver Pods, Services and Ingresses.
pub const LABEL_SOLVER: &str = "acme.cert-manager.io/http01-solver";
/// adler32 of the Challenge's `spec.dnsName`.
pub const LABEL_DOMAIN: &str = "acme.cert-manager.io/http-domain";
/// adler32 of the Challenge's `spec.token`.
pub const LABEL_TOKEN: &str = "acme.cert-manager.io/http-token";
/// Name of the solver container and of its port.
pub const CONTAINER_NAME: &str = "acmesolver";
pub const PORT_NAME: &str = "http";
/// The solver's port in the Pod, on the Service, and in the Ingress backend.
pub const SOLVER_PORT: i32 = DEFAULT_LISTEN_PORT as i32;
/// Legacy Ingress class annotation, set from the solver's `class`.
pub const ANN_INGRESS_CLASS: &str = "kubernetes.io/ingress.class";
const ANN_NGINX_WHITELIST: &str = "nginx.ingress.kubernetes.io/whitelist-source-range";

/// Why no solver objects can be built for a Challenge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the challenge is of type DNS-01, not HTTP-01")]
    NotHttp01,
    #[error("{0:?} is a wildcard name; wildcards can only be validated with DNS-01")]
    Wildcard(String),
    #[error("spec.dnsName: {0}")]
    Name(#[from] HostError),
    #[error("spec.token must be a non-empty base64url string")]
    Token,
    #[error("spec.key (the key authorization) is empty")]
    NoKey,
    #[error("spec.solver has no http01 section")]
    NoHttp01Solver,
    #[error("spec.solver.http01 uses gatewayHTTPRoute; only the ingress solver builds Ingresses")]
    NotIngressSolver,
    #[error("spec.solver.http01 uses ingress; only the gatewayHTTPRoute solver builds HTTPRoutes")]
    NotGatewaySolver,
    #[error("at most one of http01.ingress.class, ingressClassName and name may be set; found {0}")]
    ConflictingIngressFields(String),
    #[error(
        "http01.ingress.name is set: add the challenge path to Ingress {0:?} instead of creating one"
    )]
    NamedIngress(String),
    #[error("the Challenge has no name, namespace or uid (it was not read from the API server)")]
    Unsaved,
}

/// How the challenge path is routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngressMode<'a> {
    /// Create a temporary Ingress ([`build_ingress`]); delete it when done.
    Temporary,
    /// Add the path to this existing Ingress ([`add_challenge_path`]); remove it when done
    /// ([`remove_challenge_path`]).
    Existing(&'a str),
}

/// The three identity labels of a Challenge's solver objects (also the Service's selector).
pub fn solver_labels(ch: &Challenge) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_SOLVER.to_owned(), "true".to_owned()),
        (
            LABEL_DOMAIN.to_owned(),
            adler32(ch.spec.dns_name.as_bytes()).to_string(),
        ),
        (
            LABEL_TOKEN.to_owned(),
            adler32(ch.spec.token.as_bytes()).to_string(),
        ),
    ])
}

/// [`solver_labels`] as a label selector for list/watch calls.
pub fn solver_selector(ch: &Challenge) -> String {
    solver_labels(ch)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `/.well-known/acme-challenge/<token>`.
pub fn challenge_path(token: &str) -> String {
    format!("{CHALLENGE_PATH_PREFIX}{token}")
}

/// Whether `meta` has a controller ownerReference to this Challenge (by uid).
pub fn is_controlled_by(meta: &ObjectMeta, ch: &Challenge) -> bool {
    let Some(uid) = ch.metadata.uid.as_deref() else {
        return false;
    };
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The checked HTTP-01 facts of a Challenge that every builder needs.
pub(super) struct Checked<'a> {
    pub(super) host: Host,
    pub(super) namespace: &'a str,
    pub(super) owner: OwnerReference,
    pub(super) pod_template: Option<&'a AcmeChallengeSolverHttp01PodTemplate>,
    pub(super) service_type: ServiceType,
}

pub(super) fn check(ch: &Challenge) -> Result<Checked<'_>, BuildError> {
    let spec = &ch.spec;
    if spec.type_ != ChallengeType::Http01 {
        return Err(BuildError::NotHttp01);
    }
    if spec.wildcard == Some(true) || spec.dns_name.starts_with("*.") {
        return Err(BuildError::Wildcard(spec.dns_name.clone()));
    }
    let host = Host::parse(&spec.dns_name)?;
    if !is_base64url(&spec.token) {
        return Err(BuildError::Token);
    }
    if spec.key.is_empty() {
        return Err(BuildError::NoKey);
    }
    let namespace = ch
        .metadata
        .namespace
        .as_deref()
        .ok_or(BuildError::Unsaved)?;
    let mut owner = ch.controller_owner_ref(&()).ok_or(BuildError::Unsaved)?;
    // As cert-manager: foreground deletion of the Challenge waits for its solver objects. (With
    // the OwnerReferencesPermissionEnforcement admission plugin this needs RBAC `update` on
    // `challenges/finalizers`.)
    owner.block_owner_deletion = Some(true);
    let http01 = spec
        .solver
        .http01
        .as_ref()
        .ok_or(BuildError::NoHttp01Solver)?;
    let (pod_template, service_type) = match (&http01.ingress, &http01.gateway_http_route) {
        (Some(i), _) => (i.pod_template.as_ref(), i.service_type),
        (None, Some(g)) => (g.pod_template.as_ref(), g.service_type),
        (None, None) => return Err(BuildError::NoHttp01Solver),
    };
    Ok(Checked {
        host,
        namespace,
        owner,
        pod_template,
        service_type: service_type.unwrap_or_default(),
    })
}

/// The Challenge's `http01.ingress` settings, checked: at most one of class, ingressClassName
/// and name (the CRDs reject more already; this guards hand-made Challenges).
pub fn ingress_solver(ch: &Challenge) -> Result<&AcmeChallengeSolverHttp01Ingress, BuildError> {
    check(ch)?;
    let http01 = ch.spec.solver.http01.as_ref();
    let ingress = http01
        .and_then(|h| h.ingress.as_ref())
        .ok_or(BuildError::NotIngressSolver)?;
    let set: Vec<&str> = [
        ("class", ingress.class.is_some()),
        ("ingressClassName", ingress.ingress_class_name.is_some()),
        ("name", ingress.name.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    if set.len() > 1 {
        return Err(BuildError::ConflictingIngressFields(set.join(", ")));
    }
    Ok(ingress)
}

/// Whether the challenge needs a temporary Ingress or edits an existing one.
pub fn ingress_mode(ch: &Challenge) -> Result<IngressMode<'_>, BuildError> {
    Ok(match ingress_solver(ch)?.name.as_deref() {
        Some(name) => IngressMode::Existing(name),
        None => IngressMode::Temporary,
    })
}

pub(super) fn meta(
    c: &Checked<'_>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        generate_name: Some(GENERATE_NAME.to_owned()),
        namespace: Some(c.namespace.to_owned()),
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![c.owner.clone()]),
        ..ObjectMeta::default()
    }
}

/// Adds `extra` to `labels`, except the identity labels (they are the Service's selector).
pub(super) fn add_labels(
    labels: &mut BTreeMap<String, String>,
    extra: Option<&BTreeMap<String, String>>,
) {
    for (k, v) in extra.into_iter().flatten() {
        if k != LABEL_SOLVER && k != LABEL_DOMAIN && k != LABEL_TOKEN {
            labels.insert(k.clone(), v.clone());
        }
    }
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ])
}

/// The solver Pod, running `image` as `certsmith acmesolver`, with the solver's podTemplate
/// (of `http01.ingress` or `http01.gatewayHTTPRoute`) merged over the defaults:
/// - labels added (identity labels kept), annotations added or overridden;
/// - nodeSelector keys added or overridden; tolerations and imagePullSecrets appended;
///   affinity, priorityClassName and serviceAccountName replaced when set;
/// - securityContext: each field set in the template replaces the default's (so a template
///   that sets only `runAsUser` keeps `runAsNonRoot` and the seccomp profile; cert-manager
///   drops them);
/// - resources: requests and limits merged by resource name.
pub fn build_pod(ch: &Challenge, image: &str) -> Result<Pod, BuildError> {
    let c = check(ch)?;
    let mut labels = solver_labels(ch);
    let mut annotations = BTreeMap::from([
        ("sidecar.istio.io/inject".to_owned(), "false".to_owned()),
        (
            "cluster-autoscaler.kubernetes.io/safe-to-evict".to_owned(),
            "true".to_owned(),
        ),
    ]);
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(vec![
            "acmesolver".to_owned(),
            format!("--listen-port={SOLVER_PORT}"),
            format!("--domain={}", c.host),
            format!("--token={}", ch.spec.token),
            format!("--key={}", ch.spec.key),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: SOLVER_PORT,
            ..ContainerPort::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("10m", "64Mi")),
            limits: Some(quantities("100m", "64Mi")),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let mut spec = PodSpec {
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        restart_policy: Some("OnFailure".to_owned()),
        node_selector: Some(BTreeMap::from([(
            "kubernetes.io/os".to_owned(),
            "linux".to_owned(),
        )])),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        containers: vec![container],
        ..PodSpec::default()
    };

    if let Some(t) = c.pod_template {
        if let Some(m) = &t.metadata {
            add_labels(&mut labels, m.labels.as_ref());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        if let Some(s) = &t.spec {
            merge_pod_spec(&mut spec, s);
        }
    }
    Ok(Pod {
        metadata: meta(&c, labels, annotations),
        spec: Some(spec),
        status: None,
    })
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

fn merge_pod_spec(spec: &mut PodSpec, t: &crate::api::AcmeChallengeSolverHttp01PodSpec) {
    if let Some(ns) = &t.node_selector {
        spec.node_selector
            .get_or_insert_with(BTreeMap::new)
            .extend(ns.clone());
    }
    if let Some(tol) = &t.tolerations {
        spec.tolerations
            .get_or_insert_with(Vec::new)
            .extend(tol.iter().cloned());
    }
    if t.affinity.is_some() {
        spec.affinity = t.affinity.clone();
    }
    if let Some(p) = t.priority_class_name.as_ref().filter(|p| !p.is_empty()) {
        spec.priority_class_name = Some(p.clone());
    }
    if let Some(sa) = t.service_account_name.as_ref().filter(|s| !s.is_empty()) {
        spec.service_account_name = Some(sa.clone());
    }
    if let Some(ips) = &t.image_pull_secrets {
        spec.image_pull_secrets
            .get_or_insert_with(Vec::new)
            .extend(ips.iter().cloned());
    }
    if let Some(sc) = &t.security_context {
        spec.security_context = Some(overlay(
            spec.security_context.take().unwrap_or_default(),
            sc,
        ));
    }
    if let Some(r) = &t.resources {
        let res = spec.containers[0]
            .resources
            .get_or_insert_with(ResourceRequirements::default);
        if let Some(req) = &r.requests {
            res.requests
                .get_or_insert_with(BTreeMap::new)
                .extend(req.clone());
        }
        if let Some(lim) = &r.limits {
            res.limits
                .get_or_insert_with(BTreeMap::new)
                .extend(lim.clone());
        }
    }
}

/// `base` with every top-level field that `top` sets replaced by `top`'s.
fn overlay<T: serde::Serialize + serde::de::DeserializeOwned>(base: T, top: &T) -> T {
    let (Ok(serde_json::Value::Object(mut b)), Ok(serde_json::Value::Object(t))) =
        (serde_json::to_value(&base), serde_json::to_value(top))
    else {
        return base;
    };
    b.extend(t);
    serde_json::from_value(serde_json::Value::Object(b)).unwrap_or(base)
}

/// The Service in front of the solver Pod: selector = the identity labels, port 8089 named
/// `http` to the container port `http`, type NodePort unless the solver (`http01.ingress` or
/// `http01.gatewayHTTPRoute`, cert-manager defaults both to NodePort) says ClusterIP.
pub fn build_service(ch: &Challenge) -> Result<Service, BuildError> {
    let c = check(ch)?;
    let labels = solver_labels(ch);
    let annotations = BTreeMap::from([(format!("auth.istio.io/{SOLVER_PORT}"), "NONE".to_owned())]);
    let type_ = match c.service_type {
        ServiceType::NodePort => "NodePort",
        ServiceType::ClusterIP => "ClusterIP",
    };
    Ok(Service {
        metadata: meta(&c, labels.clone(), annotations),
        spec: Some(ServiceSpec {
            type_: Some(type_.to_owned()),
            selector: Some(labels),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: SOLVER_PORT,
                target_port: Some(IntOrString::String(PORT_NAME.to_owned())),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    })
}

/// The path routing the challenge to `service_name`.
pub fn challenge_ingress_path(token: &str, service_name: &str) -> HTTPIngressPath {
    HTTPIngressPath {
        path: Some(challenge_path(token)),
        path_type: "Exact".to_owned(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: service_name.to_owned(),
                port: Some(ServiceBackendPort {
                    number: Some(SOLVER_PORT),
                    name: None,
                }),
            }),
            resource: None,
        },
    }
}

/// The temporary Ingress (when the solver names no existing Ingress): one rule for the name
/// with the challenge path to `service_name`. `ingressClassName` becomes
/// `spec.ingressClassName`, `class` the legacy `kubernetes.io/ingress.class` annotation; the
/// ingressTemplate's labels are added (identity labels kept) and its annotations added or
/// overridden. Like cert-manager it also sets nginx's `whitelist-source-range` to everything
/// (so an allow-list on the host does not block the ACME server), unless the template sets a
/// `*/whitelist-source-range` of its own.
pub fn build_ingress(ch: &Challenge, service_name: &str) -> Result<Ingress, BuildError> {
    let solver = ingress_solver(ch)?;
    if let Some(name) = &solver.name {
        return Err(BuildError::NamedIngress(name.clone()));
    }
    let c = check(ch)?;
    let mut labels = solver_labels(ch);
    let mut annotations =
        BTreeMap::from([(ANN_NGINX_WHITELIST.to_owned(), "0.0.0.0/0,::/0".to_owned())]);
    if let Some(class) = &solver.class {
        annotations.insert(ANN_INGRESS_CLASS.to_owned(), class.clone());
    }
    if let Some(m) = solver
        .ingress_template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
    {
        add_labels(&mut labels, m.labels.as_ref());
        for (k, v) in m.annotations.iter().flatten() {
            if k.rsplit('/').next() == Some("whitelist-source-range") {
                annotations.remove(ANN_NGINX_WHITELIST);
            }
            annotations.insert(k.clone(), v.clone());
        }
    }
    Ok(Ingress {
        metadata: meta(&c, labels, annotations),
        spec: Some(IngressSpec {
            ingress_class_name: solver.ingress_class_name.clone(),
            rules: Some(vec![IngressRule {
                host: c.host.ingress_host().map(str::to_owned),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![challenge_ingress_path(&ch.spec.token, service_name)],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    })
}

fn rule_is_for(rule: &IngressRule, host: Option<&str>) -> bool {
    rule.host.as_deref().filter(|h| !h.is_empty()) == host
}

/// Adds the challenge path for `service_name` to a user's Ingress (edit-in-place mode): to the
/// first rule for the name (ahead of its other paths), or in a new rule for the name. A path
/// for the token that points elsewhere is replaced. Nothing else is touched. Returns whether
/// the Ingress changed (write it back only then, with its resourceVersion).
pub fn add_challenge_path(
    ingress: &mut Ingress,
    ch: &Challenge,
    service_name: &str,
) -> Result<bool, BuildError> {
    let c = check(ch)?;
    let host = c.host.ingress_host();
    let want = challenge_ingress_path(&ch.spec.token, service_name);
    let rules = ingress
        .spec
        .get_or_insert_with(IngressSpec::default)
        .rules
        .get_or_insert_with(Vec::new);
    let Some(rule) = rules.iter_mut().find(|r| rule_is_for(r, host)) else {
        rules.push(IngressRule {
            host: host.map(str::to_owned),
            http: Some(HTTPIngressRuleValue { paths: vec![want] }),
        });
        return Ok(true);
    };
    let paths = &mut rule
        .http
        .get_or_insert_with(HTTPIngressRuleValue::default)
        .paths;
    match paths.iter_mut().find(|p| p.path == want.path) {
        Some(p) if *p == want => Ok(false),
        Some(p) => {
            *p = want;
            Ok(true)
        }
        None => {
            paths.insert(0, want);
            Ok(true)
        }
    }
}

/// The inverse of [`add_challenge_path`] for cleanup: removes the challenge's path from the
/// rules for the name, and a rule left with no paths by that removal. Everything else stays.
/// Returns whether the Ingress changed.
pub fn remove_challenge_path(ingress: &mut Ingress, ch: &Challenge) -> bool {
    // Cleanup must work even for a Challenge that no longer passes `check` (e.g. a bad name
    // would never have been added, and then there is nothing to remove).
    let Ok(host) = Host::parse(&ch.spec.dns_name) else {
        return false;
    };
    let host = host.ingress_host();
    let path = challenge_path(&ch.spec.token);
    let Some(rules) = ingress.spec.as_mut().and_then(|s| s.rules.as_mut()) else {
        return false;
    };
    let mut changed = false;
    rules.retain_mut(|rule| {
        if !rule_is_for(rule, host) {
            return true;
        }
        let Some(http) = rule.http.as_mut() else {
            return true;
        };
        let before = http.paths.len();
        http.paths
            .retain(|p| p.path.as_deref() != Some(path.as_str()));
        if http.paths.len() == before {
            return true;
        }
        changed = true;
        !http.paths.is_empty()
    });
    changed
}

/// Whether `ingress` routes the challenge path for the name to `service_name` (for an edited
/// Ingress: add the path again when this turns false).
pub fn has_challenge_path(ingress: &Ingress, ch: &Challenge, service_name: &str) -> bool {
    let Ok(host) = Host::parse(&ch.spec.dns_name) else {
        return false;
    };
    let want = challenge_ingress_path(&ch.spec.token, service_name);
    ingress
        .spec
        .as_ref()
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .find(|r| rule_is_for(r, host.ingress_host()))
        .and_then(|r| r.http.as_ref())
        .is_some_and(|h| h.paths.contains(&want))
}

/// Every key of `want` is in `have` with the same value.
fn contains_all(
    have: &Option<BTreeMap<String, String>>,
    want: &Option<BTreeMap<String, String>>,
) -> bool {
    let have = have.as_ref();
    want.iter()
        .flatten()
        .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
}

/// Same controller (by uid) and the desired labels and annotations present.
pub(super) fn meta_matches(have: &ObjectMeta, want: &ObjectMeta) -> bool {
    let controller = |m: &ObjectMeta| {
        m.owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone())
    };
    controller(have).is_some()
        && controller(have) == controller(want)
        && contains_all(&have.labels, &want.labels)
        && contains_all(&have.annotations, &want.annotations)
}

/// Whether an existing solver Pod is the one [`build_pod`] would make: same owner, labels and
/// annotations present, and the solver container with the same image, arguments and port.
/// Fields the API server defaults or admission plugins extend (tolerations, resources
/// formatting, ...) are not compared; a Challenge's solver does not change after creation.
pub fn pod_matches(have: &Pod, want: &Pod) -> bool {
    let container = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.containers.iter().find(|c| c.name == CONTAINER_NAME))
            .map(|c| {
                let port = c
                    .ports
                    .iter()
                    .flatten()
                    .find(|p| p.name.as_deref() == Some(PORT_NAME))
                    .map(|p| p.container_port);
                (c.image.clone(), c.args.clone(), port)
            })
    };
    meta_matches(&have.metadata, &want.metadata)
        && container(have).is_some()
        && container(have) == container(want)
}

/// Whether a solver Pod has stopped for good (it then answers nothing; delete and re-create).
pub fn pod_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether an existing solver Service is the one [`build_service`] would make: same owner,
/// labels, type, exactly the desired selector, and the desired port.
pub fn service_matches(have: &Service, want: &Service) -> bool {
    let facts = |s: &Service| {
        s.spec.as_ref().map(|spec| {
            let port = spec
                .ports
                .iter()
                .flatten()
                .find(|p| p.port == SOLVER_PORT)
                .map(|p| (p.name.clone(), p.target_port.clone()));
            (spec.type_.clone(), spec.selector.clone(), port)
        })
    };
    meta_matches(&have.metadata, &want.metadata)
        && facts(have).is_some()
        && facts(have) == facts(want)
}

/// Whether an existing temporary Ingress is the one [`build_ingress`] would make: same owner,
/// labels and annotations present (the class annotation included), same ingressClassName, and
/// its rules hold the desired rule's host and path.
pub fn ingress_matches(have: &Ingress, want: &Ingress) -> bool {
    let class = |i: &Ingress| i.spec.as_ref().and_then(|s| s.ingress_class_name.clone());
    let want_rule = want
        .spec
        .as_ref()
        .and_then(|s| s.rules.as_ref())
        .and_then(|r| r.first());
    let routed = want_rule.is_some_and(|w| {
        have.spec
            .as_ref()
            .and_then(|s| s.rules.as_ref())
            .into_iter()
            .flatten()
            .any(|r| {
                rule_is_for(r, w.host.as_deref())
                    && r.http.as_ref().is_some_and(|h| {
                        w.http
                            .iter()
                            .flat_map(|wh| &wh.paths)
                            .all(|p| h.paths.contains(p))
                    })
            })
    });
    meta_matches(&have.metadata, &want.metadata) && class(have) == class(want) && routed
}

/// Adler-32 (RFC 1950), as Go's hash/adler32 that cert-manager labels with.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the longest run whose sums cannot overflow u32 before the modulo.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
