use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, NodeAffinity, NodeSelector, PodSecurityContext, PodStatus,
    ResourceRequirements, Toleration,
};
use k8s_openapi::api::networking::v1::{Ingress, IngressRule};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::json;

use super::*;
use crate::api::{
    AcmeChallengeSolver, AcmeChallengeSolverDns01, AcmeChallengeSolverHttp01,
    AcmeChallengeSolverHttp01GatewayHttpRoute, AcmeChallengeSolverHttp01IngressTemplate,
    AcmeChallengeSolverHttp01PodSpec, ChallengeSpec, TemplateMetadata,
};

const TOKEN: &str = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const KEY: &str =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

fn challenge(dns_name: &str, ingress: AcmeChallengeSolverHttp01Ingress) -> Challenge {
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
                    ingress: Some(ingress),
                    gateway_http_route: None,
                }),
                ..AcmeChallengeSolver::default()
            },
            ..ChallengeSpec::default()
        },
    );
    ch.metadata.namespace = Some("team-a".into());
    ch.metadata.uid = Some("0d5f6a9e-1111-2222-3333-444455556666".into());
    ch
}

fn plain(dns_name: &str) -> Challenge {
    challenge(dns_name, AcmeChallengeSolverHttp01Ingress::default())
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn valid_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && v.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && v.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

#[test]
fn adler32_matches_known_values() {
    assert_eq!(adler32(b""), 1);
    assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    assert_eq!(adler32(b"abc"), 0x024d_0127);
    // long input: the chunked modulo gives the same result as the definition
    let long = vec![0xffu8; 20_000];
    let (mut a, mut b) = (1u64, 0u64);
    for &x in &long {
        a = (a + u64::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    assert_eq!(u64::from(adler32(&long)), (b << 16) | a);
}

#[test]
fn labels_are_valid_for_any_name() {
    let long = format!(
        "{}.{}.{}.{}.example.test",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(40)
    );
    assert!(long.len() > 240);
    for name in [
        "example.com",
        "WWW.Example.COM",
        "bücher.example",
        long.as_str(),
        "10.0.0.1",
        "2001:db8::1",
    ] {
        let labels = solver_labels(&plain(name));
        assert_eq!(labels.len(), 3);
        assert_eq!(labels[LABEL_SOLVER], "true");
        for v in labels.values() {
            assert!(valid_label_value(v), "{name}: label value {v:?}");
        }
        assert_eq!(labels[LABEL_DOMAIN], adler32(name.as_bytes()).to_string());
        assert_eq!(labels[LABEL_TOKEN], adler32(TOKEN.as_bytes()).to_string());
    }
    // cert-manager's value for the same input (Go: fmt.Sprintf("%d", adler32.Checksum(..)))
    assert_eq!(
        solver_labels(&plain("example.com"))[LABEL_DOMAIN],
        "446694490"
    );
    let sel = solver_selector(&plain("example.com"));
    assert!(
        sel.contains("acme.cert-manager.io/http01-solver=true"),
        "{sel}"
    );
    assert!(
        sel.contains("acme.cert-manager.io/http-domain=446694490"),
        "{sel}"
    );
}

#[test]
fn refuses_challenges_http01_cannot_solve() {
    let mut dns = plain("example.com");
    dns.spec.type_ = ChallengeType::Dns01;
    dns.spec.solver = AcmeChallengeSolver {
        dns01: Some(AcmeChallengeSolverDns01::default()),
        ..AcmeChallengeSolver::default()
    };
    let mut wildcard_flag = plain("example.com");
    wildcard_flag.spec.wildcard = Some(true);
    let mut bad_token = plain("example.com");
    bad_token.spec.token = "../etc".into();
    let mut no_key = plain("example.com");
    no_key.spec.key.clear();
    let mut no_solver = plain("example.com");
    no_solver.spec.solver.http01 = None;
    let mut unsaved = plain("example.com");
    unsaved.metadata.uid = None;
    let mut no_ns = plain("example.com");
    no_ns.metadata.namespace = None;

    let cases: Vec<(&str, Challenge, BuildError)> = vec![
        ("dns-01", dns, BuildError::NotHttp01),
        (
            "wildcard flag",
            wildcard_flag,
            BuildError::Wildcard("example.com".into()),
        ),
        (
            "wildcard name",
            plain("*.example.com"),
            BuildError::Wildcard("*.example.com".into()),
        ),
        (
            "bad name",
            plain("exa mple.com"),
            BuildError::Name(HostError::Invalid("exa mple.com".into())),
        ),
        ("bad token", bad_token, BuildError::Token),
        ("no key", no_key, BuildError::NoKey),
        ("no http01", no_solver, BuildError::NoHttp01Solver),
        ("no uid", unsaved, BuildError::Unsaved),
        ("no namespace", no_ns, BuildError::Unsaved),
    ];
    for (what, ch, want) in cases {
        assert_eq!(build_pod(&ch, "img").unwrap_err(), want, "{what}: pod");
        assert_eq!(build_service(&ch).unwrap_err(), want, "{what}: service");
        assert_eq!(
            build_ingress(&ch, "svc").unwrap_err(),
            want,
            "{what}: ingress"
        );
    }
}

#[test]
fn ingress_fields_are_exclusive() {
    let s = |class: Option<&str>, icn: Option<&str>, name: Option<&str>| {
        AcmeChallengeSolverHttp01Ingress {
            class: class.map(Into::into),
            ingress_class_name: icn.map(Into::into),
            name: name.map(Into::into),
            ..AcmeChallengeSolverHttp01Ingress::default()
        }
    };
    let cases = [
        (s(None, None, None), Ok(IngressMode::Temporary)),
        (s(Some("nginx"), None, None), Ok(IngressMode::Temporary)),
        (s(None, Some("nginx"), None), Ok(IngressMode::Temporary)),
        (s(None, None, Some("web")), Ok(IngressMode::Existing("web"))),
        (
            s(Some("nginx"), None, Some("web")),
            Err(BuildError::ConflictingIngressFields("class, name".into())),
        ),
        (
            s(Some("a"), Some("b"), Some("c")),
            Err(BuildError::ConflictingIngressFields(
                "class, ingressClassName, name".into(),
            )),
        ),
    ];
    for (solver, want) in cases {
        let ch = challenge("example.com", solver.clone());
        assert_eq!(ingress_mode(&ch), want, "{solver:?}");
    }
    let named = challenge("example.com", s(None, None, Some("web")));
    assert_eq!(
        build_ingress(&named, "svc").unwrap_err(),
        BuildError::NamedIngress("web".into())
    );
    // a gatewayHTTPRoute solver gets a Pod and a Service, but no Ingress
    let mut gw = plain("example.com");
    gw.spec.solver.http01 = Some(AcmeChallengeSolverHttp01 {
        ingress: None,
        gateway_http_route: Some(AcmeChallengeSolverHttp01GatewayHttpRoute {
            service_type: Some(ServiceType::ClusterIP),
            ..Default::default()
        }),
    });
    assert!(build_pod(&gw, "img").is_ok());
    assert_eq!(
        build_service(&gw).unwrap().spec.unwrap().type_.as_deref(),
        Some("ClusterIP")
    );
    assert_eq!(
        build_ingress(&gw, "svc").unwrap_err(),
        BuildError::NotIngressSolver
    );
}

#[test]
fn pod_defaults() {
    let ch = plain("WWW.Bücher.Example");
    let pod = build_pod(&ch, "ghcr.io/certsmith/certsmith:v1").unwrap();
    let got = serde_json::to_value(&pod).unwrap();
    let want = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "cm-acme-http-solver-",
            "namespace": "team-a",
            "labels": {
                "acme.cert-manager.io/http01-solver": "true",
                "acme.cert-manager.io/http-domain": adler32("WWW.Bücher.Example".as_bytes()).to_string(),
                "acme.cert-manager.io/http-token": adler32(TOKEN.as_bytes()).to_string(),
            },
            "annotations": {
                "sidecar.istio.io/inject": "false",
                "cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
            },
            "ownerReferences": [{
                "apiVersion": "acme.cert-manager.io/v1",
                "kind": "Challenge",
                "name": "web-tls-1-2345-678",
                "uid": "0d5f6a9e-1111-2222-3333-444455556666",
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "restartPolicy": "OnFailure",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "acmesolver",
                "image": "ghcr.io/certsmith/certsmith:v1",
                "imagePullPolicy": "IfNotPresent",
                "args": [
                    "acmesolver",
                    "--listen-port=8089",
                    "--domain=www.xn--bcher-kva.example",
                    format!("--token={TOKEN}"),
                    format!("--key={KEY}"),
                ],
                "ports": [{"name": "http", "containerPort": 8089}],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "64Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
                "securityContext": {
                    "runAsNonRoot": true,
                    "readOnlyRootFilesystem": true,
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }],
        },
    });
    assert_eq!(got, want);
}

#[test]
fn pod_template_is_merged_over_the_defaults() {
    let toleration = Toleration {
        key: Some("dedicated".into()),
        operator: Some("Exists".into()),
        ..Toleration::default()
    };
    let affinity = Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    };
    let template = AcmeChallengeSolverHttp01PodTemplate {
        metadata: Some(TemplateMetadata {
            labels: Some(map(&[
                ("team", "a"),
                // may not change the identity labels: they are the Service's selector
                (LABEL_SOLVER, "false"),
                (LABEL_TOKEN, "x"),
            ])),
            annotations: Some(map(&[("sidecar.istio.io/inject", "true"), ("note", "hi")])),
        }),
        spec: Some(AcmeChallengeSolverHttp01PodSpec {
            node_selector: Some(map(&[("pool", "edge"), ("kubernetes.io/os", "linux")])),
            tolerations: Some(vec![toleration.clone()]),
            affinity: Some(affinity.clone()),
            priority_class_name: Some("high".into()),
            service_account_name: Some("solver".into()),
            image_pull_secrets: Some(vec![LocalObjectReference {
                name: "regcred".into(),
            }]),
            security_context: Some(PodSecurityContext {
                run_as_user: Some(1000),
                run_as_non_root: Some(false),
                ..PodSecurityContext::default()
            }),
            resources: Some(ResourceRequirements {
                limits: Some(BTreeMap::from([(
                    "memory".to_owned(),
                    Quantity("128Mi".into()),
                )])),
                ..ResourceRequirements::default()
            }),
        }),
    };
    let ch = challenge(
        "example.com",
        AcmeChallengeSolverHttp01Ingress {
            pod_template: Some(template),
            ..AcmeChallengeSolverHttp01Ingress::default()
        },
    );
    let pod = build_pod(&ch, "img").unwrap();
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels["team"], "a");
    assert_eq!(labels[LABEL_SOLVER], "true");
    assert_eq!(labels[LABEL_TOKEN], adler32(TOKEN.as_bytes()).to_string());
    let ann = pod.metadata.annotations.clone().unwrap();
    assert_eq!(ann["sidecar.istio.io/inject"], "true");
    assert_eq!(ann["note"], "hi");
    assert_eq!(
        ann["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "true"
    );

    let spec = pod.spec.unwrap();
    assert_eq!(
        spec.node_selector.unwrap(),
        map(&[("kubernetes.io/os", "linux"), ("pool", "edge")])
    );
    assert_eq!(spec.tolerations.unwrap(), vec![toleration]);
    assert_eq!(spec.affinity.unwrap(), affinity);
    assert_eq!(spec.priority_class_name.as_deref(), Some("high"));
    assert_eq!(spec.service_account_name.as_deref(), Some("solver"));
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(spec.image_pull_secrets.unwrap()[0].name, "regcred");
    let sc = spec.security_context.unwrap();
    assert_eq!(sc.run_as_user, Some(1000));
    assert_eq!(
        sc.run_as_non_root,
        Some(false),
        "an explicit template value wins"
    );
    assert_eq!(
        sc.seccomp_profile.unwrap().type_,
        "RuntimeDefault",
        "unset fields keep the default"
    );
    let res = spec.containers[0].resources.clone().unwrap();
    assert_eq!(res.limits.unwrap()["memory"].0, "128Mi");
    assert_eq!(res.requests.unwrap()["cpu"].0, "10m");
}

#[test]
fn empty_template_changes_nothing() {
    let with_empty = challenge(
        "example.com",
        AcmeChallengeSolverHttp01Ingress {
            pod_template: Some(AcmeChallengeSolverHttp01PodTemplate {
                metadata: Some(TemplateMetadata::default()),
                spec: Some(AcmeChallengeSolverHttp01PodSpec::default()),
            }),
            ..AcmeChallengeSolverHttp01Ingress::default()
        },
    );
    assert_eq!(
        build_pod(&with_empty, "img").unwrap(),
        build_pod(&plain("example.com"), "img").unwrap()
    );
}

#[test]
fn service_defaults_and_types() {
    let svc = build_service(&plain("example.com")).unwrap();
    let got = serde_json::to_value(&svc).unwrap();
    let labels = serde_json::to_value(solver_labels(&plain("example.com"))).unwrap();
    assert_eq!(got["metadata"]["generateName"], "cm-acme-http-solver-");
    assert_eq!(got["metadata"]["labels"], labels);
    assert_eq!(
        got["metadata"]["annotations"],
        json!({"auth.istio.io/8089": "NONE"})
    );
    assert_eq!(got["metadata"]["ownerReferences"][0]["kind"], "Challenge");
    assert_eq!(
        got["spec"],
        json!({
            "type": "NodePort",
            "selector": labels,
            "ports": [{"name": "http", "port": 8089, "targetPort": "http"}],
        })
    );
    for (asked, want) in [
        (None, "NodePort"),
        (Some(ServiceType::NodePort), "NodePort"),
        (Some(ServiceType::ClusterIP), "ClusterIP"),
    ] {
        let ch = challenge(
            "example.com",
            AcmeChallengeSolverHttp01Ingress {
                service_type: asked,
                ..AcmeChallengeSolverHttp01Ingress::default()
            },
        );
        let spec = build_service(&ch).unwrap().spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some(want));
    }
}

#[test]
fn temporary_ingress() {
    let ch = challenge(
        "Shop.Example.COM",
        AcmeChallengeSolverHttp01Ingress {
            ingress_class_name: Some("nginx".into()),
            ingress_template: Some(AcmeChallengeSolverHttp01IngressTemplate {
                metadata: Some(TemplateMetadata {
                    labels: Some(map(&[("team", "a"), (LABEL_DOMAIN, "0")])),
                    annotations: Some(map(&[("a/b", "c")])),
                }),
            }),
            ..AcmeChallengeSolverHttp01Ingress::default()
        },
    );
    let ing = build_ingress(&ch, "cm-acme-http-solver-abcde").unwrap();
    let got = serde_json::to_value(&ing).unwrap();
    let mut labels = solver_labels(&ch);
    labels.insert("team".into(), "a".into());
    assert_eq!(
        got["metadata"]["labels"],
        serde_json::to_value(labels).unwrap()
    );
    assert_eq!(
        got["metadata"]["annotations"],
        json!({"a/b": "c", "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"})
    );
    assert_eq!(got["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        got["spec"],
        json!({
            "ingressClassName": "nginx",
            "rules": [{
                "host": "shop.example.com",
                "http": {"paths": [{
                    "path": format!("/.well-known/acme-challenge/{TOKEN}"),
                    "pathType": "Exact",
                    "backend": {"service": {"name": "cm-acme-http-solver-abcde", "port": {"number": 8089}}},
                }]},
            }],
        })
    );
}

#[test]
fn ingress_class_annotation_and_whitelist_override() {
    let ch = challenge(
        "example.com",
        AcmeChallengeSolverHttp01Ingress {
            class: Some("traefik".into()),
            ingress_template: Some(AcmeChallengeSolverHttp01IngressTemplate {
                metadata: Some(TemplateMetadata {
                    annotations: Some(map(&[("other.io/whitelist-source-range", "10.0.0.0/8")])),
                    labels: None,
                }),
            }),
            ..AcmeChallengeSolverHttp01Ingress::default()
        },
    );
    let ing = build_ingress(&ch, "svc").unwrap();
    assert_eq!(
        ing.metadata.annotations.unwrap(),
        map(&[
            ("kubernetes.io/ingress.class", "traefik"),
            ("other.io/whitelist-source-range", "10.0.0.0/8"),
        ])
    );
    assert_eq!(ing.spec.unwrap().ingress_class_name, None);
}

#[test]
fn ip_challenges_route_every_host() {
    let ing = build_ingress(&plain("192.0.2.7"), "svc").unwrap();
    let rule = &ing.spec.unwrap().rules.unwrap()[0];
    assert_eq!(rule.host, None);
    let pod = build_pod(&plain("2001:db8::7"), "img").unwrap();
    let args = pod.spec.unwrap().containers[0].args.clone().unwrap();
    assert_eq!(args[2], "--domain=[2001:db8::7]");
}

fn user_ingress(rules: serde_json::Value) -> Ingress {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "team-a", "annotations": {"x": "y"}},
        "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["example.com"], "secretName": "web-tls"}], "rules": rules},
    }))
    .unwrap()
}

fn path_json(path: &str, svc: &str) -> serde_json::Value {
    json!({"path": path, "pathType": "Prefix", "backend": {"service": {"name": svc, "port": {"number": 80}}}})
}

#[test]
fn edit_in_place_adds_and_removes_exactly_one_path() {
    let ours = serde_json::to_value(challenge_ingress_path(TOKEN, "solver-svc")).unwrap();
    let ch = plain("Example.com");
    // (case, user's rules, rules after adding)
    let cases = vec![
        (
            "no rules",
            json!(null),
            json!([{"host": "example.com", "http": {"paths": [ours]}}]),
        ),
        (
            "rule for the host",
            json!([{"host": "example.com", "http": {"paths": [path_json("/", "web")]}}]),
            json!([{"host": "example.com", "http": {"paths": [ours, path_json("/", "web")]}}]),
        ),
        (
            "rules for other hosts only",
            json!([{"host": "other.com", "http": {"paths": [path_json("/", "web")]}}]),
            json!([
                {"host": "other.com", "http": {"paths": [path_json("/", "web")]}},
                {"host": "example.com", "http": {"paths": [ours]}},
            ]),
        ),
        (
            "second rule is for the host",
            json!([
                {"host": "other.com", "http": {"paths": [path_json("/", "web")]}},
                {"host": "example.com", "http": {"paths": [path_json("/api", "api")]}},
            ]),
            json!([
                {"host": "other.com", "http": {"paths": [path_json("/", "web")]}},
                {"host": "example.com", "http": {"paths": [ours, path_json("/api", "api")]}},
            ]),
        ),
    ];
    for (what, before, after) in cases {
        let original = user_ingress(before);
        let mut ing = original.clone();
        assert!(
            add_challenge_path(&mut ing, &ch, "solver-svc").unwrap(),
            "{what}: changed"
        );
        let mut want = user_ingress(after);
        if original.spec.as_ref().unwrap().rules.is_none() {
            want.spec
                .as_mut()
                .unwrap()
                .rules
                .get_or_insert_with(Vec::new);
        }
        assert_eq!(ing, want, "{what}: after adding");
        assert!(has_challenge_path(&ing, &ch, "solver-svc"), "{what}");
        assert!(!has_challenge_path(&ing, &ch, "other-svc"), "{what}");
        // adding again changes nothing
        assert!(
            !add_challenge_path(&mut ing, &ch, "solver-svc").unwrap(),
            "{what}: idempotent"
        );
        // removing restores the user's rules
        assert!(remove_challenge_path(&mut ing, &ch), "{what}: removed");
        let rules = |i: &Ingress| i.spec.as_ref().unwrap().rules.clone().unwrap_or_default();
        assert_eq!(rules(&ing), rules(&original), "{what}: after removing");
        assert_eq!(
            ing.metadata, original.metadata,
            "{what}: metadata untouched"
        );
        assert!(
            !remove_challenge_path(&mut ing, &ch),
            "{what}: nothing left to remove"
        );
    }
}

#[test]
fn edit_in_place_repoints_a_stale_path() {
    let ch = plain("example.com");
    let stale = json!({"path": format!("/.well-known/acme-challenge/{TOKEN}"), "pathType": "Exact",
        "backend": {"service": {"name": "old-svc", "port": {"number": 8089}}}});
    let mut ing = user_ingress(
        json!([{"host": "example.com", "http": {"paths": [path_json("/", "web"), stale]}}]),
    );
    assert!(add_challenge_path(&mut ing, &ch, "new-svc").unwrap());
    let paths = &ing.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
        .http
        .as_ref()
        .unwrap()
        .paths;
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[1], challenge_ingress_path(TOKEN, "new-svc"));
    assert_eq!(paths[0].path.as_deref(), Some("/"));
}

#[test]
fn removal_keeps_rules_it_did_not_empty() {
    let ch = plain("example.com");
    let mut ing = user_ingress(json!([
        {"host": "example.com"},
        {"host": "example.com", "http": {"paths": [path_json(&format!("/.well-known/acme-challenge/{TOKEN}"), "s")]}},
        {"host": "other.com", "http": {"paths": [path_json(&format!("/.well-known/acme-challenge/{TOKEN}"), "s")]}},
    ]));
    assert!(remove_challenge_path(&mut ing, &ch));
    let rules: Vec<IngressRule> = ing.spec.unwrap().rules.unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(rules[0].http.is_none());
    assert_eq!(
        rules[1].host.as_deref(),
        Some("other.com"),
        "other hosts' paths stay"
    );
}

#[test]
fn existing_objects_match_what_would_be_built() {
    let ch = plain("example.com");
    let want_pod = build_pod(&ch, "img:1").unwrap();
    // what the API server returns: a name, defaults, extra labels and tolerations
    let mut have_pod = want_pod.clone();
    have_pod.metadata.name = Some("cm-acme-http-solver-x1y2z".into());
    have_pod
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("extra".into(), "1".into());
    let spec = have_pod.spec.as_mut().unwrap();
    spec.dns_policy = Some("ClusterFirst".into());
    spec.tolerations = Some(vec![Toleration {
        key: Some("node.kubernetes.io/not-ready".into()),
        ..Toleration::default()
    }]);
    spec.containers[0].termination_message_path = Some("/dev/termination-log".into());
    spec.containers[0].ports.as_mut().unwrap()[0].protocol = Some("TCP".into());
    assert!(pod_matches(&have_pod, &want_pod));
    assert!(!pod_finished(&have_pod));

    type PodEdit = fn(&mut Pod);
    let drifts: [(&str, PodEdit); 5] = [
        ("image", |p| {
            p.spec.as_mut().unwrap().containers[0].image = Some("img:2".into())
        }),
        ("args", |p| {
            p.spec.as_mut().unwrap().containers[0]
                .args
                .as_mut()
                .unwrap()[4] = "--key=x".into()
        }),
        ("label", |p| {
            p.metadata.labels.as_mut().unwrap().remove(LABEL_TOKEN);
        }),
        ("owner", |p| {
            p.metadata.owner_references.as_mut().unwrap()[0].uid = "other".into()
        }),
        ("container name", |p| {
            p.spec.as_mut().unwrap().containers[0].name = "x".into()
        }),
    ];
    for (what, edit) in drifts {
        let mut p = have_pod.clone();
        edit(&mut p);
        assert!(!pod_matches(&p, &want_pod), "pod drift in {what} not seen");
    }
    let mut failed = have_pod.clone();
    failed.status = Some(PodStatus {
        phase: Some("Failed".into()),
        ..PodStatus::default()
    });
    assert!(pod_finished(&failed));

    let want_svc = build_service(&ch).unwrap();
    let mut have_svc = want_svc.clone();
    let s = have_svc.spec.as_mut().unwrap();
    s.cluster_ip = Some("10.0.0.12".into());
    s.ports.as_mut().unwrap()[0].node_port = Some(31234);
    s.ports.as_mut().unwrap()[0].protocol = Some("TCP".into());
    assert!(service_matches(&have_svc, &want_svc));
    let mut other_selector = have_svc.clone();
    other_selector
        .spec
        .as_mut()
        .unwrap()
        .selector
        .as_mut()
        .unwrap()
        .insert("x".into(), "y".into());
    assert!(!service_matches(&other_selector, &want_svc));
    let mut other_type = have_svc.clone();
    other_type.spec.as_mut().unwrap().type_ = Some("ClusterIP".into());
    assert!(!service_matches(&other_type, &want_svc));
    let mut other_port = have_svc.clone();
    other_port.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port =
        Some(IntOrString::Int(80));
    assert!(!service_matches(&other_port, &want_svc));

    let want_ing = build_ingress(&ch, "svc-a").unwrap();
    let mut have_ing = want_ing.clone();
    have_ing
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("added-by-controller".into(), "1".into());
    assert!(ingress_matches(&have_ing, &want_ing));
    assert!(
        !ingress_matches(&have_ing, &build_ingress(&ch, "svc-b").unwrap()),
        "new service"
    );
    let mut other_host = have_ing.clone();
    other_host.spec.as_mut().unwrap().rules.as_mut().unwrap()[0].host = Some("example.org".into());
    assert!(!ingress_matches(&other_host, &want_ing));
    let classed = challenge(
        "example.com",
        AcmeChallengeSolverHttp01Ingress {
            ingress_class_name: Some("nginx".into()),
            ..Default::default()
        },
    );
    assert!(
        !ingress_matches(&have_ing, &build_ingress(&classed, "svc-a").unwrap()),
        "class changed"
    );
}

#[test]
fn ownership() {
    let ch = plain("example.com");
    let pod = build_pod(&ch, "img").unwrap();
    assert!(is_controlled_by(&pod.metadata, &ch));
    let mut other = plain("example.com");
    other.metadata.uid = Some("different".into());
    assert!(!is_controlled_by(&pod.metadata, &other));
}
