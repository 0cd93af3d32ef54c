//! Which solver Pod serves a request: the ingress controller's (and Gateway controller's) part,
//! as a pure function of the request's Host and path and the watched Ingresses, HTTPRoutes,
//! Services and Pods.
//!
//! Host + path -> the best Ingress rule path or HTTPRoute rule match (exact host over wildcard
//! over no host; an exact path over a prefix one, then the longest; an Ingress wins a tie) ->
//! its backend Service -> the Service port -> its targetPort -> a ready Pod selected by the
//! Service -> that Pod's container port. Ingress classes and HTTPRoute parentRefs are ignored:
//! this stands in for every controller and every Gateway.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use serde_json::Value;

/// The Pod (and port in it) a request goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// `Ingress namespace/name` or `HTTPRoute namespace/name`: what routed it.
    pub route: String,
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

fn key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// (host rank, exact path, path length): higher wins.
type Rank = (u8, u8, usize);

/// A Service port as a route names it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PortRef {
    Number(i32),
    Name(String),
    Missing,
}

/// Where the best route sends the request, before Services and Pods are looked at.
struct Target {
    route: String,
    namespace: String,
    /// `Err(why)`: the route matched but names no Service backend (502).
    service: Result<(String, PortRef), String>,
}

/// How specifically an Ingress rule's host matches (higher wins); `None` when it does not.
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

/// Whether `path` is `prefix` or below it, by whole path elements.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// How specifically an Ingress path matches (higher wins); `None` when it does not.
fn path_rank(p: &HTTPIngressPath, path: &str) -> Option<(u8, usize)> {
    let want = p.path.as_deref().unwrap_or("/");
    if p.path_type == "Exact" {
        return (path == want).then_some((1, want.len()));
    }
    // Prefix (and ImplementationSpecific, treated alike): whole path elements.
    under(path, want).then_some((0, want.trim_end_matches('/').len()))
}

fn best_ingress(host: &str, path: &str, ingresses: &[Arc<Ingress>]) -> Option<(Rank, Target)> {
    let mut best: Option<(Rank, &Ingress, &HTTPIngressPath)> = None;
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
    let (rank, ing, p) = best?;
    let route = format!("Ingress {}", key(&ing.metadata));
    let service = match &p.backend.service {
        Some(b) => {
            let port = match b.port.as_ref().map(|p| (p.number, p.name.clone())) {
                Some((Some(n), _)) => PortRef::Number(n),
                Some((None, Some(name))) => PortRef::Name(name),
                _ => PortRef::Missing,
            };
            Ok((b.name.clone(), port))
        }
        None => Err(format!("{route}: the path has no service backend")),
    };
    Some((
        rank,
        Target {
            route,
            namespace: ing.metadata.namespace.clone().unwrap_or_default(),
            service,
        },
    ))
}

/// How specifically an HTTPRoute hostname matches (higher wins). Gateway API wildcards match
/// any number of labels in front of the suffix.
fn route_host_rank(hostnames: &[Value], host: &str) -> Option<u8> {
    if hostnames.is_empty() {
        return Some(0);
    }
    hostnames
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|h| {
            if h.eq_ignore_ascii_case(host) {
                return Some(2);
            }
            let suffix = h.strip_prefix("*.")?;
            let head = host.len().checked_sub(suffix.len() + 1)?;
            (head > 0
                && host.is_char_boundary(head)
                && host[head..].starts_with('.')
                && host[head + 1..].eq_ignore_ascii_case(suffix))
            .then_some(1)
        })
        .max()
}

/// How specifically an HTTPRoute match's path matches; `None` when it does not (or the
/// match has conditions this stand-in does not evaluate: a regular expression).
fn route_path_rank(m: &Value, path: &str) -> Option<(u8, usize)> {
    let p = m.get("path");
    let ty = p
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("PathPrefix");
    let want = p
        .and_then(|p| p.get("value"))
        .and_then(Value::as_str)
        .unwrap_or("/");
    match ty {
        "Exact" => (path == want).then_some((1, want.len())),
        "PathPrefix" => under(path, want).then_some((0, want.trim_end_matches('/').len())),
        _ => None,
    }
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn best_http_route(
    host: &str,
    path: &str,
    routes: &[Arc<DynamicObject>],
) -> Option<(Rank, Target)> {
    let mut best: Option<(Rank, &DynamicObject, &Value)> = None;
    for r in routes {
        if r.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(spec) = r.data.get("spec") else {
            continue;
        };
        let Some(h) = route_host_rank(list(spec, "hostnames"), host) else {
            continue;
        };
        for rule in list(spec, "rules") {
            let no_match = [Value::Null];
            let matches = match list(rule, "matches") {
                [] => &no_match[..], // no matches: every path (PathPrefix "/")
                m => m,
            };
            for m in matches {
                if let Some((exact, len)) = route_path_rank(m, path) {
                    let rank = (h, exact, len);
                    if best.as_ref().is_none_or(|(b, _, _)| rank > *b) {
                        best = Some((rank, r, rule));
                    }
                }
            }
        }
    }
    let (rank, r, rule) = best?;
    let route = format!("HTTPRoute {}", key(&r.metadata));
    let namespace = r.metadata.namespace.clone().unwrap_or_default();
    // The first Service backend that takes traffic (weight 0 takes none).
    let backend = list(rule, "backendRefs").iter().find(|b| {
        let s = |k: &str, d: &'static str| b.get(k).and_then(Value::as_str).unwrap_or(d);
        s("group", "").is_empty()
            && s("kind", "Service") == "Service"
            && b.get("weight").and_then(Value::as_i64) != Some(0)
    });
    let service = match backend {
        Some(b) => {
            let ns = b.get("namespace").and_then(Value::as_str);
            let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
            let port = b
                .get("port")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .map_or(PortRef::Missing, PortRef::Number);
            if ns.is_some_and(|ns| ns != namespace) {
                // A cross-namespace backend needs a ReferenceGrant; solver routes never use one.
                Err(format!(
                    "{route}: backend in namespace {ns:?} is not supported here"
                ))
            } else {
                Ok((name.to_owned(), port))
            }
        }
        None => Err(format!("{route}: the rule has no Service backendRef")),
    };
    Some((
        rank,
        Target {
            route,
            namespace,
            service,
        },
    ))
}

/// Routes `host` (port stripped) and `path` through the watched objects.
pub fn route(
    host: &str,
    path: &str,
    ingresses: &[Arc<Ingress>],
    http_routes: &[Arc<DynamicObject>],
    services: &[Arc<Service>],
    pods: &[Arc<Pod>],
) -> Result<Backend, Miss> {
    let host = host.trim_end_matches('.');
    let ing = best_ingress(host, path, ingresses);
    let hr = best_http_route(host, path, http_routes);
    let target = match (ing, hr) {
        (Some((ri, ti)), Some((rh, th))) => {
            if rh > ri {
                th
            } else {
                ti
            }
        }
        (Some((_, t)), None) | (None, Some((_, t))) => t,
        (None, None) => {
            return Err(miss(
                404,
                format!("no Ingress or HTTPRoute rule for host {host:?} and path {path:?}"),
            ));
        }
    };
    let route = target.route;
    let namespace = target.namespace.as_str();
    let (service_name, want_port) = target.service.map_err(|why| miss(502, why))?;
    let service_key = format!("{namespace}/{service_name}");
    let Some(svc) = services.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(namespace)
            && s.metadata.name.as_deref() == Some(service_name.as_str())
    }) else {
        return Err(miss(
            502,
            format!("{route}: Service {service_key} not found"),
        ));
    };
    let spec = svc.spec.clone().unwrap_or_default();
    let Some(sp) = spec.ports.iter().flatten().find(|sp| match &want_port {
        PortRef::Number(n) => sp.port == *n,
        PortRef::Name(name) => sp.name.as_deref() == Some(name.as_str()),
        PortRef::Missing => false,
    }) else {
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
        route,
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
                route: format!("Ingress {ingress}"),
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
            let got = route(host, p, &ingresses, &[], &services, &pods).map_err(|m| m.status);
            assert_eq!(got, want, "{host} {p}");
        }
        let why = route("x.example.test", "/", &ingresses, &[], &services, &pods)
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
                &[],
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
            &[],
            &services,
            &[Arc::new(p)],
        );
        assert_eq!(r.unwrap_err().status, 502);
        i.metadata.deletion_timestamp = Some(now);
        assert_eq!(
            route("x.test", tok, &[Arc::new(i)], &[], &services, &[])
                .unwrap_err()
                .status,
            404
        );
    }

    fn http_route(ns: &str, name: &str, spec: serde_json::Value) -> Arc<DynamicObject> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"namespace": ns, "name": name},
                "spec": spec,
            }))
            .unwrap(),
        )
    }

    fn backend(svc: &str, port: i64) -> serde_json::Value {
        json!({"group": "", "kind": "Service", "name": svc, "port": port})
    }

    #[test]
    fn http_route_table() {
        let tok = "/.well-known/acme-challenge/T";
        let routes = vec![
            // the solver's route, as certsmith builds it
            http_route(
                "a",
                "solver",
                json!({
                    "parentRefs": [{"name": "gw"}],
                    "hostnames": ["x.example.test"],
                    "rules": [{"matches": [{"path": {"type": "Exact", "value": tok}}],
                               "backendRefs": [backend("s1", 8089)]}],
                }),
            ),
            // the site: every path (no matches), Service missing
            http_route(
                "a",
                "site",
                json!({"hostnames": ["x.example.test"], "rules": [{"backendRefs": [backend("web", 80)]}]}),
            ),
            // wildcard hostname, PathPrefix, weight-0 backend skipped
            http_route(
                "b",
                "wild",
                json!({
                    "hostnames": ["*.wild.test"],
                    "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/.well-known/"}}],
                               "backendRefs": [{"name": "off", "port": 8089, "weight": 0}, backend("s2", 8089)]}],
                }),
            ),
            // no hostnames: every host; a regular expression is not evaluated; another namespace
            http_route(
                "b",
                "any",
                json!({"rules": [
                    {"matches": [{"path": {"type": "RegularExpression", "value": "/re.*"}}], "backendRefs": [backend("s2", 8089)]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/other"}}],
                     "backendRefs": [{"name": "s1", "namespace": "a", "port": 8089}]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/none"}}]},
                ]}),
            ),
        ];
        let services = vec![svc("a", "s1", json!("http")), svc("b", "s2", json!(8089))];
        let pods = vec![pod("a", "p1", "s1"), pod("b", "p2", "s2")];
        let ok = |route: &str, service: &str, pod: &str| {
            Ok(Backend {
                route: route.into(),
                service: service.into(),
                pod: pod.into(),
                pod_uid: format!("uid-{}", pod.split('/').nth(1).unwrap()),
                container_port: 8089,
            })
        };
        let cases: Vec<(&str, &str, Result<Backend, u16>)> = vec![
            (
                "x.example.test",
                tok,
                ok("HTTPRoute a/solver", "a/s1", "a/p1"),
            ),
            (
                "X.EXAMPLE.test.",
                tok,
                ok("HTTPRoute a/solver", "a/s1", "a/p1"),
            ),
            // the Exact match beats the site's implicit PathPrefix "/", which has no Service
            ("x.example.test", "/index.html", Err(502)),
            ("y.example.test", tok, Err(404)),
            ("a.wild.test", tok, ok("HTTPRoute b/wild", "b/s2", "b/p2")),
            ("a.b.wild.test", tok, ok("HTTPRoute b/wild", "b/s2", "b/p2")),
            ("wild.test", tok, Err(404)),
            ("a.wild.test", "/.well-knownx", Err(404)),
            ("whatever", "/regex", Err(404)),
            ("whatever", "/other/x", Err(502)), // cross-namespace backend
            ("whatever", "/none", Err(502)),    // no backendRefs
        ];
        for (host, p, want) in cases {
            let got = route(host, p, &[], &routes, &services, &pods).map_err(|m| m.status);
            assert_eq!(got, want, "{host} {p}");
        }
        let why = |host: &str, p: &str| {
            route(host, p, &[], &routes, &services, &pods)
                .unwrap_err()
                .why
        };
        assert_eq!(
            why("x.example.test", "/"),
            "HTTPRoute a/site: Service a/web not found"
        );
        assert_eq!(
            why("whatever", "/none"),
            "HTTPRoute b/any: the rule has no Service backendRef"
        );
    }

    #[test]
    fn ingress_and_http_route_together() {
        let tok = "/.well-known/acme-challenge/T";
        let ingresses = vec![ing(
            "a",
            "site",
            json!([{"host": "x.test", "http": {"paths": [path("/", "Prefix", "s2", json!({"number": 8089}))]}}]),
        )];
        let routes = vec![http_route(
            "a",
            "solver",
            json!({"hostnames": ["x.test"], "rules": [{"matches": [{"path": {"type": "Exact", "value": tok}}],
                   "backendRefs": [backend("s1", 8089)]}]}),
        )];
        let services = vec![svc("a", "s1", json!("http")), svc("a", "s2", json!("http"))];
        let pods = vec![pod("a", "p1", "s1"), pod("a", "p2", "s2")];
        let via = |p: &str| {
            route("x.test", p, &ingresses, &routes, &services, &pods)
                .map(|b| b.route)
                .unwrap()
        };
        // the more specific wins, whichever API it comes from
        assert_eq!(via(tok), "HTTPRoute a/solver");
        assert_eq!(via("/index.html"), "Ingress a/site");
        // a terminating route does not route
        let mut gone = (*routes[0]).clone();
        gone.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        );
        let b = route(
            "x.test",
            tok,
            &ingresses,
            &[Arc::new(gone)],
            &services,
            &pods,
        )
        .unwrap();
        assert_eq!(b.route, "Ingress a/site");
    }
}
