//! Which solver Pod serves a request: the ingress controller's part, as a pure function of the
//! request's Host and path and the watched Ingresses, Services and Pods.
//!
//! Host + path -> the best Ingress rule and path (exact host over wildcard over no host; an
//! Exact path over a Prefix one, then the longest) -> its backend Service -> the Service port
//! -> its targetPort -> a ready Pod selected by the Service -> that Pod's container port.
//! Ingress classes are ignored: this stands in for every controller.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressRule};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The Pod (and port in it) a request goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// `namespace/name` of the Ingress that routed it.
    pub ingress: String,
    /// `namespace/name` of the Service.
    pub service: String,
    /// `namespace/name` and uid of the Pod.
    pub pod: String,
    pub pod_uid: String,
    /// The container port the Service's targetPort names.
    pub container_port: i32,
}

/// Why a request has no backend: the HTTP status to answer and a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    pub status: u16,
    pub why: String,
}

fn miss(status: u16, why: String) -> Miss {
    Miss { status, why }
}

fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// How specifically a rule's host matches (higher wins); `None` when it does not.
fn host_rank(rule: &IngressRule, host: &str) -> Option<u8> {
    match rule.host.as_deref().filter(|h| !h.is_empty()) {
        None => Some(0),
        Some(h) if h.eq_ignore_ascii_case(host) => Some(2),
        Some(h) => {
            // "*.example.test" matches exactly one more label
            let suffix = h.strip_prefix("*.")?;
            let (first, rest) = host.split_once('.')?;
            (!first.is_empty() && rest.eq_ignore_ascii_case(suffix)).then_some(1)
        }
    }
}

/// How specifically a path matches (higher wins); `None` when it does not.
fn path_rank(p: &HTTPIngressPath, path: &str) -> Option<(u8, usize)> {
    let want = p.path.as_deref().unwrap_or("/");
    if p.path_type == "Exact" {
        return (path == want).then_some((1, want.len()));
    }
    // Prefix (and ImplementationSpecific, treated alike): whole path elements.
    let prefix = want.trim_end_matches('/');
    let ok = prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'));
    ok.then_some((0, prefix.len()))
}

/// Routes `host` (port stripped) and `path` through the watched objects.
pub fn route(
    host: &str,
    path: &str,
    ingresses: &[Arc<Ingress>],
    services: &[Arc<Service>],
    pods: &[Arc<Pod>],
) -> Result<Backend, Miss> {
    let host = host.trim_end_matches('.');
    let mut best: Option<((u8, u8, usize), &Ingress, &HTTPIngressPath)> = None;
    for ing in ingresses {
        if ing.metadata.deletion_timestamp.is_some() {
            continue;
        }
        for rule in ing.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
            let Some(h) = host_rank(rule, host) else {
                continue;
            };
            for p in rule.http.iter().flat_map(|h| &h.paths) {
                if let Some((exact, len)) = path_rank(p, path) {
                    let rank = (h, exact, len);
                    if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                        best = Some((rank, ing, p));
                    }
                }
            }
        }
    }
    let Some((_, ing, p)) = best else {
        return Err(miss(
            404,
            format!("no Ingress rule for host {host:?} and path {path:?}"),
        ));
    };
    let ingress = key(&ing.metadata);
    let namespace = ing.metadata.namespace.as_deref().unwrap_or("");
    let Some(backend) = p.backend.service.as_ref() else {
        return Err(miss(
            502,
            format!("Ingress {ingress}: the path has no service backend"),
        ));
    };
    let service_key = format!("{namespace}/{}", backend.name);
    let Some(svc) = services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(namespace)
            && s.metadata.name.as_deref() == Some(backend.name.as_str())
    }) else {
        return Err(miss(
            502,
            format!("Ingress {ingress}: Service {service_key} not found"),
        ));
    };
    let spec = svc.spec.clone().unwrap_or_default();
    let want_port = backend.port.clone().unwrap_or_default();
    let Some(sp) =
        spec.ports
            .iter()
            .flatten()
            .find(|sp| match (&want_port.number, &want_port.name) {
                (Some(n), _) => sp.port == *n,
                (None, Some(name)) => sp.name.as_deref() == Some(name.as_str()),
                (None, None) => false,
            })
    else {
        return Err(miss(
            502,
            format!("Service {service_key} has no port {want_port:?}"),
        ));
    };
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Err(miss(502, format!("Service {service_key} has no selector")));
    }
    let mut selected: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|pod| {
            pod.metadata.namespace.as_deref() == Some(namespace)
                && pod.metadata.deletion_timestamp.is_none()
                && selector
                    .iter()
                    .all(|(k, v)| pod.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
        })
        .collect();
    selected.sort_by_key(|pod| pod.metadata.name.clone());
    let Some(pod) = selected.first() else {
        return Err(miss(
            502,
            format!("Service {service_key}: no solver Pod matches its selector"),
        ));
    };
    let pod_key = key(&pod.metadata);
    let container_port = match sp.target_port.clone().unwrap_or(IntOrString::Int(sp.port)) {
        IntOrString::Int(n) => n,
        IntOrString::String(name) => {
            let found = pod
                .spec
                .iter()
                .flat_map(|s| &s.containers)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|cp| cp.name.as_deref() == Some(name.as_str()));
            match found {
                Some(cp) => cp.container_port,
                None => {
                    return Err(miss(
                        502,
                        format!("Pod {pod_key} has no container port named {name:?}"),
                    ));
                }
            }
        }
    };
    Ok(Backend {
        ingress,
        service: service_key,
        pod: pod_key,
        pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
        container_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ing(ns: &str, name: &str, rules: serde_json::Value) -> Arc<Ingress> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"namespace": ns, "name": name}, "spec": {"rules": rules}}),
            )
            .unwrap(),
        )
    }

    fn path(p: &str, ty: &str, svc: &str, port: serde_json::Value) -> serde_json::Value {
        json!({"path": p, "pathType": ty, "backend": {"service": {"name": svc, "port": port}}})
    }

    fn svc(ns: &str, name: &str, target: serde_json::Value) -> Arc<Service> {
        Arc::new(serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8089, "targetPort": target}]},
        })).unwrap())
    }

    fn pod(ns: &str, name: &str, app: &str) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name, "uid": format!("uid-{name}"), "labels": {"app": app}},
            "spec": {"containers": [{"name": "acmesolver", "ports": [{"name": "http", "containerPort": 8089}]}]},
        })).unwrap())
    }

    #[test]
    fn route_table() {
        let tok = "/.well-known/acme-challenge/T";
        let ingresses = vec![
            ing(
                "a",
                "solver",
                json!([{"host": "x.example.test", "http": {"paths": [path(tok, "Exact", "s1", json!({"number": 8089}))]}}]),
            ),
            ing(
                "a",
                "site",
                json!([{"host": "x.example.test", "http": {"paths": [path("/", "Prefix", "web", json!({"number": 80}))]}}]),
            ),
            ing(
                "b",
                "wild",
                json!([{"host": "*.wild.test", "http": {"paths": [path("/.well-known", "Prefix", "s2", json!({"name": "http"}))]}}]),
            ),
            ing(
                "b",
                "any",
                json!([{"http": {"paths": [path("/any", "ImplementationSpecific", "s3", json!({"number": 8089}))]}}]),
            ),
        ];
        let services = vec![
            svc("a", "s1", json!("http")),
            svc("b", "s2", json!(8089)),
            svc("b", "s3", json!("nope")),
        ];
        let pods = vec![
            pod("a", "p1", "s1"),
            pod("b", "p2", "s2"),
            pod("b", "p3", "s3"),
            pod("a", "other", "s1x"),
        ];
        let ok = |ingress: &str, service: &str, pod: &str| {
            Ok(Backend {
                ingress: ingress.into(),
                service: service.into(),
                pod: pod.into(),
                pod_uid: format!("uid-{}", pod.split('/').nth(1).unwrap()),
                container_port: 8089,
            })
        };
        let tok_x = format!("{tok}x");
        let cases: Vec<(&str, &str, Result<Backend, u16>)> = vec![
            ("x.example.test", tok, ok("a/solver", "a/s1", "a/p1")),
            ("X.Example.Test.", tok, ok("a/solver", "a/s1", "a/p1")),
            // exact path beats the site's Prefix "/"; other paths go to the site (no Service)
            ("x.example.test", "/index.html", Err(502)),
            ("x.example.test", &tok_x, Err(502)),
            ("y.example.test", tok, Err(404)),
            (
                "a.wild.test",
                "/.well-known/acme-challenge/Z",
                ok("b/wild", "b/s2", "b/p2"),
            ),
            ("a.b.wild.test", "/.well-known/x", Err(404)),
            ("wild.test", "/.well-known/x", Err(404)),
            ("a.wild.test", "/.well-knownx", Err(404)),
            ("whatever", "/any/thing", Err(502)), // targetPort "nope" is not a container port
            ("whatever", "/anything", Err(404)),
        ];
        for (host, p, want) in cases {
            let got = route(host, p, &ingresses, &services, &pods).map_err(|m| m.status);
            assert_eq!(got, want, "{host} {p}");
        }
        let why = route("x.example.test", "/", &ingresses, &services, &pods)
            .unwrap_err()
            .why;
        assert_eq!(why, "Ingress a/site: Service a/web not found");
    }

    #[test]
    fn terminating_objects_do_not_route() {
        let tok = "/.well-known/acme-challenge/T";
        let mut i = (*ing("a", "solver", json!([{"host": "x.test", "http": {"paths": [path(tok, "Exact", "s1", json!({"number": 8089}))]}}]))).clone();
        let services = vec![svc("a", "s1", json!("http"))];
        let mut p = (*pod("a", "p1", "s1")).clone();
        assert!(
            route(
                "x.test",
                tok,
                &[Arc::new(i.clone())],
                &services,
                &[Arc::new(p.clone())]
            )
            .is_ok()
        );
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
        p.metadata.deletion_timestamp = Some(now.clone());
        let r = route(
            "x.test",
            tok,
            &[Arc::new(i.clone())],
            &services,
            &[Arc::new(p)],
        );
        assert_eq!(r.unwrap_err().status, 502);
        i.metadata.deletion_timestamp = Some(now);
        assert_eq!(
            route("x.test", tok, &[Arc::new(i)], &services, &[])
                .unwrap_err()
                .status,
            404
        );
    }
}
