use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::api::{
    AcmeChallengeSolver, AcmeChallengeSolverDns01, AcmeChallengeSolverHttp01,
    AcmeChallengeSolverHttp01Ingress, AcmeChallengeSolverHttp01PodSpec,
    AcmeChallengeSolverHttp01PodTemplate, ChallengeSpec, GatewayParentReference, ServiceType,
    TemplateMetadata,
};
use crate::http01::resources::{adler32, build_pod, build_service};

const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const KEY: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
const UID: &str = "0d5f6a9e-1111-2222-3333-444455556666";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn gateway_challenge(
    dns_name: &str,
    solver: AcmeChallengeSolverHttp01GatewayHttpRoute,
) -> Challenge {
    let mut ch = Challenge::new(
        "web-tls-1-2345-678",
        ChallengeSpec {
            url: "https://acme.example/chall/1".into(),
            authorization_url: "https://acme.example/authz/1".into(),
            dns_name: dns_name.into(),
            token: TOKEN.into(),
            key: KEY.into(),
            solver: AcmeChallengeSolver {
                http01: Some(AcmeChallengeSolverHttp01 {
                    ingress: None,
                    gateway_http_route: Some(solver),
                }),
                ..AcmeChallengeSolver::default()
            },
            ..ChallengeSpec::default()
        },
    );
    ch.metadata.namespace = Some("team-a".into());
    ch.metadata.uid = Some(UID.into());
    ch
}

fn gateway(name: &str) -> GatewayParentReference {
    GatewayParentReference {
        name: name.into(),
        ..Default::default()
    }
}

fn solver() -> AcmeChallengeSolverHttp01GatewayHttpRoute {
    AcmeChallengeSolverHttp01GatewayHttpRoute {
        labels: Some(map(&[
            ("team", "a"),
            // may not override the Service's selector
            ("acme.cert-manager.io/http01-solver", "false"),
        ])),
        parent_refs: Some(vec![
            gateway("public"),
            GatewayParentReference {
                namespace: Some("infra".into()),
                section_name: Some("http".into()),
                port: Some(80),
                ..gateway("shared")
            },
        ]),
        ..Default::default()
    }
}

#[test]
fn http_route_for_a_name() {
    let ch = gateway_challenge("WWW.Bücher.Example", solver());
    let route = build_http_route(&ch, "cm-acme-http-solver-abcde").unwrap();
    let got = serde_json::to_value(&route).unwrap();
    let want = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "generateName": "cm-acme-http-solver-",
            "namespace": "team-a",
            "labels": {
                "acme.cert-manager.io/http01-solver": "true",
                "acme.cert-manager.io/http-domain": adler32("WWW.Bücher.Example".as_bytes()).to_string(),
                "acme.cert-manager.io/http-token": adler32(TOKEN.as_bytes()).to_string(),
                "team": "a",
            },
            "ownerReferences": [{
                "apiVersion": "acme.cert-manager.io/v1",
                "kind": "Challenge",
                "name": "web-tls-1-2345-678",
                "uid": UID,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "parentRefs": [
                {"name": "public"},
                {"name": "shared", "namespace": "infra", "sectionName": "http", "port": 80},
            ],
            "hostnames": ["www.xn--bcher-kva.example"],
            "rules": [{
                "matches": [{"path": {"type": "Exact", "value": format!("/.well-known/acme-challenge/{TOKEN}")}}],
                "backendRefs": [{
                    "group": "",
                    "kind": "Service",
                    "name": "cm-acme-http-solver-abcde",
                    "namespace": "team-a",
                    "port": 8089,
                }],
            }],
        },
    });
    assert_eq!(got, want);
    let ar = http_route_api_resource();
    assert_eq!(
        (
            ar.api_version.as_str(),
            ar.kind.as_str(),
            ar.plural.as_str()
        ),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes")
    );
}

#[test]
fn http_route_for_an_ip_has_no_hostnames() {
    let ch = gateway_challenge(
        "192.0.2.7",
        AcmeChallengeSolverHttp01GatewayHttpRoute::default(),
    );
    let route = build_http_route(&ch, "svc").unwrap();
    assert_eq!(route.data["spec"].get("hostnames"), None);
    assert_eq!(route.data["spec"]["parentRefs"], json!([]));
}

#[test]
fn build_errors() {
    let ok = || gateway_challenge("example.com", solver());
    let ingress = {
        let mut ch = ok();
        ch.spec.solver.http01 = Some(AcmeChallengeSolverHttp01 {
            ingress: Some(AcmeChallengeSolverHttp01Ingress::default()),
            gateway_http_route: None,
        });
        ch
    };
    let dns01 = {
        let mut ch = ok();
        ch.spec.solver.http01 = None;
        ch.spec.solver.dns01 = Some(AcmeChallengeSolverDns01::default());
        ch
    };
    let wildcard = gateway_challenge("*.example.com", solver());
    let unsaved = {
        let mut ch = ok();
        ch.metadata.uid = None;
        ch
    };
    let bad_token = {
        let mut ch = ok();
        ch.spec.token = "no/slashes".into();
        ch
    };
    let cases: Vec<(&str, Challenge, Option<BuildError>)> = vec![
        ("gateway solver", ok(), None),
        (
            "ingress solver",
            ingress,
            Some(BuildError::NotGatewaySolver),
        ),
        ("dns01 solver", dns01, Some(BuildError::NoHttp01Solver)),
        (
            "wildcard",
            wildcard,
            Some(BuildError::Wildcard("*.example.com".into())),
        ),
        ("not read from the API", unsaved, Some(BuildError::Unsaved)),
        ("bad token", bad_token, Some(BuildError::Token)),
    ];
    for (what, ch, want) in cases {
        assert_eq!(build_http_route(&ch, "svc").err(), want, "{what}");
    }
}

/// The route as the API server returns it: name, uid, resourceVersion, defaults filled in
/// (parent group/kind, backend weight), a status from the Gateway controller.
fn read_back(built: &DynamicObject) -> DynamicObject {
    let mut v = serde_json::to_value(built).unwrap();
    v["metadata"]["name"] = json!("cm-acme-http-solver-x7k2p");
    v["metadata"]["uid"] = json!("aaaa");
    v["metadata"]["resourceVersion"] = json!("42");
    for p in v["spec"]["parentRefs"].as_array_mut().unwrap() {
        p["group"] = json!("gateway.networking.k8s.io");
        p["kind"] = json!("Gateway");
    }
    v["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(1);
    v["status"] = json!({"parents": []});
    serde_json::from_value(v).unwrap()
}

#[test]
fn http_route_matches_table() {
    let ch = gateway_challenge("shop.example.com", solver());
    let want = build_http_route(&ch, "svc-a").unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = serde_json::to_value(read_back(&want)).unwrap();
        f(&mut v);
        serde_json::from_value::<DynamicObject>(v).unwrap()
    };
    let other_token = {
        let mut c = ch.clone();
        c.spec.token = "other-token".into();
        build_http_route(&c, "svc-a").unwrap()
    };
    let cases: Vec<(&str, DynamicObject, bool)> = vec![
        ("as built", want.clone(), true),
        ("read back with defaults", read_back(&want), true),
        (
            "backend namespace left to default",
            edit(&|v| {
                v["spec"]["rules"][0]["backendRefs"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("namespace");
            }),
            true,
        ),
        (
            "extra label",
            edit(&|v| v["metadata"]["labels"]["x"] = json!("y")),
            true,
        ),
        (
            "hostname in upper case",
            edit(&|v| v["spec"]["hostnames"] = json!(["SHOP.example.com"])),
            true,
        ),
        (
            "other Service",
            edit(&|v| v["spec"]["rules"][0]["backendRefs"][0]["name"] = json!("svc-b")),
            false,
        ),
        (
            "other port",
            edit(&|v| v["spec"]["rules"][0]["backendRefs"][0]["port"] = json!(80)),
            false,
        ),
        (
            "Prefix instead of Exact",
            edit(&|v| v["spec"]["rules"][0]["matches"][0]["path"]["type"] = json!("PathPrefix")),
            false,
        ),
        (
            "no path match (defaults to PathPrefix /)",
            edit(&|v| v["spec"]["rules"][0]["matches"] = json!([{}])),
            false,
        ),
        ("other token", other_token, false),
        (
            "other hostname",
            edit(&|v| v["spec"]["hostnames"] = json!(["www.example.com"])),
            false,
        ),
        (
            "parent dropped",
            edit(&|v| {
                v["spec"]["parentRefs"].as_array_mut().unwrap().pop();
            }),
            false,
        ),
        (
            "parent in another namespace",
            edit(&|v| v["spec"]["parentRefs"][0]["namespace"] = json!("elsewhere")),
            false,
        ),
        (
            "label removed",
            edit(&|v| {
                v["metadata"]["labels"]
                    .as_object_mut()
                    .unwrap()
                    .remove("team");
            }),
            false,
        ),
        (
            "other owner",
            edit(&|v| v["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else")),
            false,
        ),
        (
            "no spec",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("spec");
            }),
            false,
        ),
        (
            "another kind",
            edit(&|v| v["kind"] = json!("GRPCRoute")),
            false,
        ),
    ];
    for (what, have, expect) in cases {
        assert_eq!(http_route_matches(&have, &want), expect, "{what}");
    }
}

#[test]
fn pod_and_service_for_a_gateway_solver() {
    let template = AcmeChallengeSolverHttp01PodTemplate {
        metadata: Some(TemplateMetadata {
            labels: Some(map(&[("app", "solver")])),
            annotations: Some(map(&[("note", "gw")])),
        }),
        spec: Some(AcmeChallengeSolverHttp01PodSpec {
            node_selector: Some(map(&[("zone", "a")])),
            service_account_name: Some("solver".into()),
            ..Default::default()
        }),
    };
    // (serviceType, podTemplate) -> Service type, Pod has the template's settings
    let cases = [
        (None, None, "NodePort"),
        (Some(ServiceType::ClusterIP), None, "ClusterIP"),
        (
            Some(ServiceType::NodePort),
            Some(template.clone()),
            "NodePort",
        ),
    ];
    for (service_type, pod_template, want_type) in cases {
        let templated = pod_template.is_some();
        let ch = gateway_challenge(
            "example.com",
            AcmeChallengeSolverHttp01GatewayHttpRoute {
                service_type,
                pod_template,
                ..solver()
            },
        );
        let svc = build_service(&ch).unwrap();
        assert_eq!(
            svc.spec.as_ref().unwrap().type_.as_deref(),
            Some(want_type),
            "{service_type:?}"
        );
        let pod = build_pod(&ch, "img").unwrap();
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(
            labels.contains_key("app"),
            templated,
            "{service_type:?}: {labels:?}"
        );
        // the route's labels are not the Pod's
        assert_eq!(labels.get("team"), None);
        let spec = pod.spec.unwrap();
        assert_eq!(
            spec.service_account_name.as_deref(),
            templated.then_some("solver")
        );
        assert_eq!(
            spec.node_selector.unwrap().get("zone").map(String::as_str),
            templated.then_some("a")
        );
        assert_eq!(
            pod.metadata
                .annotations
                .unwrap()
                .get("note")
                .map(String::as_str),
            templated.then_some("gw")
        );
        // the Service selects the Pod
        let selector = svc.spec.unwrap().selector.unwrap();
        assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
    }
}
