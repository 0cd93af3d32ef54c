//! HTTP-01 through a Gateway API HTTPRoute on the real test bed: the solver Pod, Service and
//! HTTPRoute built by `certsmith::http01` for a `gatewayHTTPRoute` solver are created in the
//! bed's kube-apiserver (which serves the Gateway API CRDs, see hack/testenv.sh) as the
//! Challenge controller will; the bed's solver host runs the real `certsmith acmesolver` for
//! the Pod and routes port 5002 by the HTTPRoute's hostnames and path match; the self-check
//! resolves the name through the bed's BIND. Deleting the HTTPRoute takes the route away.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::{Client, ResourceExt};

use certsmith::api::{
    AcmeChallengeSolver, AcmeChallengeSolverHttp01, AcmeChallengeSolverHttp01GatewayHttpRoute,
    Challenge, ChallengeSpec, GatewayParentReference, IssuerReference,
};
use certsmith::http01::gateway::{build_http_route, http_route_api_resource, http_route_matches};
use certsmith::http01::resources::{build_pod, build_service};
use certsmith::http01::{SelfCheck, self_check};
use support::values::{bed_self_check, random_label, random_token};
use support::{TestBed, delete_namespace, eventually, fresh_namespace, install_crds, run};

/// Fails at once, saying how to start them, when the bed's solver host is not serving or the
/// API server has no HTTPRoutes.
fn require_gateway_bed(bed: &TestBed) {
    let url = format!("http://127.0.0.1:{}/healthz", bed.var("HTTP01_PORT"));
    let (ok, out, err) =
        run(std::process::Command::new("curl").args(["-sS", "--max-time", "3", &url]));
    assert!(
        ok && out.starts_with("ok"),
        "the bed's solver host is not serving on {url} ({out}{err}). Start it with `hack/testenv.sh up`."
    );
    let (ok, _, err) = bed.kubectl(&["get", "crd", "httproutes.gateway.networking.k8s.io"]);
    assert!(
        ok,
        "the bed's API server has no HTTPRoute CRD ({err}). Install it with `hack/testenv.sh up`."
    );
}

/// A Challenge with a gatewayHTTPRoute solver in the API server, as the Order controller
/// creates them.
async fn create_challenge(
    client: &Client,
    ns: &str,
    domain: &str,
    token: &str,
    key: &str,
) -> Challenge {
    let ch = Challenge::new(
        &format!("http01-gw-{}", random_label()),
        ChallengeSpec {
            url: "https://127.0.0.1:24000/chalZ/1".into(),
            authorization_url: "https://127.0.0.1:24000/authZ/1".into(),
            dns_name: domain.into(),
            token: token.into(),
            key: key.into(),
            solver: AcmeChallengeSolver {
                http01: Some(AcmeChallengeSolverHttp01 {
                    ingress: None,
                    gateway_http_route: Some(AcmeChallengeSolverHttp01GatewayHttpRoute {
                        labels: Some([("team".to_owned(), "web".to_owned())].into()),
                        parent_refs: Some(vec![GatewayParentReference {
                            name: "public".into(),
                            namespace: Some("infra".into()),
                            section_name: Some("http".into()),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                }),
                ..AcmeChallengeSolver::default()
            },
            issuer_ref: IssuerReference {
                name: "test".into(),
                kind: Some("Issuer".into()),
                group: None,
            },
            ..ChallengeSpec::default()
        },
    );
    Api::<Challenge>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &ch)
        .await
        .expect("creating the Challenge")
}

async fn check(bed: &TestBed, domain: &str, token: &str, key: &str) -> SelfCheck {
    self_check(domain, token, key, &bed_self_check(bed))
        .await
        .expect("self-check input")
}

#[tokio::test]
async fn http_route_serves_the_challenge_and_goes_away() {
    let bed = TestBed::get();
    require_gateway_bed(&bed);
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "http01-gw").await;
    let domain = format!("gw{}.{}", random_label(), bed.var("RFC2136_ZONE"));
    let token = random_token();
    let key = format!("{token}.{}", random_token());

    let started = Instant::now();
    let ch = create_challenge(&client, &ns, &domain, &token, &key).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = pods
        .create(
            &PostParams::default(),
            &build_pod(&ch, "certsmith:test").unwrap(),
        )
        .await
        .expect("creating the solver Pod");
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let svc = services
        .create(&PostParams::default(), &build_service(&ch).unwrap())
        .await
        .expect("creating the solver Service");
    let want = build_http_route(&ch, &svc.name_any()).expect("build_http_route");
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &http_route_api_resource());
    let route = routes
        .create(&PostParams::default(), &want)
        .await
        .expect("creating the solver HTTPRoute (the CRD's validation accepts it)");
    // What the API server stored (its defaults filled in) is what the builder makes.
    assert!(
        http_route_matches(&route, &want),
        "stored HTTPRoute differs: {}",
        serde_json::to_string(&route.data).unwrap()
    );

    let mut last = None;
    let passed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let got = check(&bed, &domain, &token, &key).await;
            if got == SelfCheck::Passed {
                return;
            }
            last = Some(got);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        passed.is_ok(),
        "self-check of {domain} through the HTTPRoute did not pass within 30 s; last: {last:?}"
    );
    let passed_after = started.elapsed();

    // The route goes with the HTTPRoute.
    routes
        .delete(&route.name_any(), &DeleteParams::default())
        .await
        .expect("deleting the HTTPRoute");
    let url = format!(
        "http://{domain}:{}/.well-known/acme-challenge/{token}",
        bed.var("HTTP01_PORT")
    );
    let reason = eventually(
        Duration::from_secs(15),
        "the self-check failing with 404 once the HTTPRoute is gone",
        || async {
            match check(&bed, &domain, &token, &key).await {
                SelfCheck::Failed { reason } if reason.contains("returned 404") => Some(reason),
                _ => None,
            }
        },
    )
    .await;
    assert_eq!(reason, format!("GET {url} returned 404 Not Found"));

    // The bed has no garbage collector: delete what the test made so no acmesolver lingers.
    pods.delete(&pod.name_any(), &DeleteParams::default())
        .await
        .expect("deleting the Pod");
    services
        .delete(&svc.name_any(), &DeleteParams::default())
        .await
        .expect("deleting the Service");
    println!(
        "{{\"figure\":\"http01_gateway_ready\",\"from_objects_created_s\":{:.3}}}",
        passed_after.as_secs_f64()
    );
    delete_namespace(&client, &ns).await;
}
