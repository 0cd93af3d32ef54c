//! The Gateway API route of an HTTP-01 challenge (`http01.gatewayHTTPRoute` solvers): a
//! temporary `gateway.networking.k8s.io/v1` HTTPRoute, attached to the solver's `parentRefs`,
//! sending `/.well-known/acme-challenge/<token>` for the name to the solver Service. The Pod and
//! Service are the same as for the ingress solver ([`super::resources::build_pod`],
//! [`super::resources::build_service`]; the Service is `NodePort` unless `serviceType` says
//! otherwise, as cert-manager does).
//!
//! Pure functions, no client. HTTPRoute is not in k8s-openapi, so the route is a
//! [`DynamicObject`]; create it with `Api::<DynamicObject>::namespaced_with(client, ns,
//! &http_route_api_resource())`. Same naming and label contract as the other solver objects
//! (see [`super::resources`]): `generateName: cm-acme-http-solver-`, a controller
//! ownerReference to the Challenge, the identity labels plus the solver's `labels` (which may
//! not override the identity labels).

use kube::api::{ApiResource, DynamicObject, GroupVersionKind, TypeMeta};
use serde_json::{Value, json};

use super::resources::{
    BuildError, SOLVER_PORT, add_labels, challenge_path, check, meta, meta_matches, solver_labels,
};
use crate::api::{AcmeChallengeSolverHttp01GatewayHttpRoute, Challenge};

pub const GROUP: &str = "gateway.networking.k8s.io";
pub const VERSION: &str = "v1";
pub const KIND: &str = "HTTPRoute";
pub const PLURAL: &str = "httproutes";

/// The HTTPRoute resource, for `Api::<DynamicObject>` calls.
pub fn http_route_api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, KIND), PLURAL)
}

/// The Challenge's `http01.gatewayHTTPRoute` settings.
pub fn gateway_solver(
    ch: &Challenge,
) -> Result<&AcmeChallengeSolverHttp01GatewayHttpRoute, BuildError> {
    check(ch)?;
    let http01 = ch.spec.solver.http01.as_ref();
    match http01 {
        Some(h) if h.ingress.is_none() => h
            .gateway_http_route
            .as_ref()
            .ok_or(BuildError::NoHttp01Solver),
        _ => Err(BuildError::NotGatewaySolver),
    }
}

/// The temporary HTTPRoute: `parentRefs` from the solver, `hostnames: [<name>]` (none for an IP
/// identifier, which a hostname cannot hold: the route then matches every host of its
/// parents, as a host-less Ingress rule does), one rule matching the challenge path `Exact`,
/// backend the Service `service_name` on port 8089.
pub fn build_http_route(ch: &Challenge, service_name: &str) -> Result<DynamicObject, BuildError> {
    let solver = gateway_solver(ch)?;
    let c = check(ch)?;
    let mut labels = solver_labels(ch);
    add_labels(&mut labels, solver.labels.as_ref());
    let mut spec = json!({
        "parentRefs": solver.parent_refs.clone().unwrap_or_default(),
        "rules": [{
            "matches": [{"path": {"type": "Exact", "value": challenge_path(&ch.spec.token)}}],
            "backendRefs": [{
                "group": "",
                "kind": "Service",
                "name": service_name,
                "namespace": c.namespace,
                "port": SOLVER_PORT,
            }],
        }],
    });
    if let Some(host) = c.host.ingress_host() {
        spec["hostnames"] = json!([host]);
    }
    Ok(DynamicObject {
        types: Some(TypeMeta {
            api_version: format!("{GROUP}/{VERSION}"),
            kind: KIND.to_owned(),
        }),
        metadata: meta(&c, labels, Default::default()),
        data: json!({ "spec": spec }),
    })
}

/// A parent as routed by: (group, kind, namespace, name, sectionName, port).
type Parent = (String, String, String, String, Option<String>, Option<i64>);
/// A backend: (group, kind, namespace, name, port).
type Backend = (String, String, String, String, i64);

/// One rule: its path matches (type, value) and its backends.
#[derive(Debug, PartialEq)]
struct RuleFacts {
    paths: Vec<(String, String)>,
    backends: Vec<Backend>,
}

/// What decides where a route sends traffic, with the API server's defaults filled in (so an
/// HTTPRoute read back compares equal to the one built).
#[derive(Debug, PartialEq)]
struct RouteFacts {
    hostnames: Vec<String>,
    parents: Vec<Parent>,
    rules: Vec<RuleFacts>,
}

fn route_facts(route: &DynamicObject) -> Option<RouteFacts> {
    let ns = route.metadata.namespace.as_deref().unwrap_or_default();
    let spec = route.data.get("spec")?;
    let s = |v: &Value, k: &str, default: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let list = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let hostnames = list(spec, "hostnames")
        .iter()
        .filter_map(|h| h.as_str().map(str::to_ascii_lowercase))
        .collect();
    let parents = list(spec, "parentRefs")
        .iter()
        .map(|p| {
            (
                s(p, "group", GROUP),
                s(p, "kind", "Gateway"),
                s(p, "namespace", ns),
                s(p, "name", ""),
                p.get("sectionName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                p.get("port").and_then(Value::as_i64),
            )
        })
        .collect();
    let rules = list(spec, "rules")
        .iter()
        .map(|r| RuleFacts {
            paths: list(r, "matches")
                .iter()
                .map(|m| {
                    let path = m.get("path").cloned().unwrap_or(Value::Null);
                    (s(&path, "type", "PathPrefix"), s(&path, "value", "/"))
                })
                .collect(),
            backends: list(r, "backendRefs")
                .iter()
                .map(|b| {
                    (
                        s(b, "group", ""),
                        s(b, "kind", "Service"),
                        s(b, "namespace", ns),
                        s(b, "name", ""),
                        b.get("port").and_then(Value::as_i64).unwrap_or(0),
                    )
                })
                .collect(),
        })
        .collect();
    Some(RouteFacts {
        hostnames,
        parents,
        rules,
    })
}

/// Whether an existing HTTPRoute is the one [`build_http_route`] would make: same controller
/// owner, the desired labels present, and the same hostnames, parents, path matches and
/// backends once the API server's defaults (parent group/kind, backend group/kind, namespaces)
/// are filled in. Status and fields nobody routes by are not compared.
pub fn http_route_matches(have: &DynamicObject, want: &DynamicObject) -> bool {
    let kind = |o: &DynamicObject| {
        o.types
            .as_ref()
            .map(|t| (t.api_version.clone(), t.kind.clone()))
    };
    kind(have).is_none_or(|k| Some(k) == kind(want))
        && meta_matches(&have.metadata, &want.metadata)
        && route_facts(have).is_some()
        && route_facts(have) == route_facts(want)
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
