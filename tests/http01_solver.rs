//! HTTP-01 through the real test bed: the solver Pod, Service and Ingress built by
//! `certsmith::http01::resources` are created in the bed's kube-apiserver as the Challenge
//! controller will; the bed's solver host (hack/solver-host: kubelet + ingress controller
//! stand-in) runs the real `certsmith acmesolver` for the Pod and routes port 5002 by the
//! Ingress; the self-check resolves the name through the bed's BIND. Then Pebble validates a
//! real http-01 challenge the same way.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, ResourceExt};

use certsmith::acme::{
    AcmeAccount, AcmeRequestStats, Identifier, Registration, ServerConfig, generate_account_key,
};
use certsmith::api::{
    AcmeChallengeSolver, AcmeChallengeSolverHttp01, AcmeChallengeSolverHttp01Ingress, AcmeState,
    Challenge, ChallengeSpec, IssuerReference,
};
use certsmith::http01::resources::{
    add_challenge_path, build_ingress, build_pod, build_service, has_challenge_path,
    remove_challenge_path,
};
use certsmith::http01::{SelfCheck, self_check};
use support::values::{bed_self_check, random_label, random_token};
use support::{TestBed, delete_namespace, eventually, fresh_namespace, install_crds, run};

/// Fails at once, saying how to start it, when the bed's solver host is not serving.
fn require_solver_host(bed: &TestBed) {
    let url = format!("http://127.0.0.1:{}/healthz", bed.var("HTTP01_PORT"));
    let (ok, out, err) =
        run(std::process::Command::new("curl").args(["-sS", "--max-time", "3", &url]));
    assert!(
        ok && out.starts_with("ok"),
        "the bed's solver host is not serving on {url} ({out}{err}). Start it with `hack/testenv.sh up`."
    );
}

/// The pids of acmesolver processes serving `token` on this machine.
fn solver_pids(token: &str) -> Vec<u32> {
    let want = format!("--token={token}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|a| a == want.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// A Challenge in the API server, as the Order controller creates them.
async fn create_challenge(
    client: &Client,
    ns: &str,
    domain: &str,
    token: &str,
    key: &str,
    ingress: AcmeChallengeSolverHttp01Ingress,
) -> Challenge {
    let ch = Challenge::new(
        &format!("http01-{}", random_label()),
        ChallengeSpec {
            url: "https://127.0.0.1:24000/chalZ/1".into(),
            authorization_url: "https://127.0.0.1:24000/authZ/1".into(),
            dns_name: domain.into(),
            token: token.into(),
            key: key.into(),
            solver: AcmeChallengeSolver {
                http01: Some(AcmeChallengeSolverHttp01 {
                    ingress: Some(ingress),
                    gateway_http_route: None,
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

/// The solver Pod and Service for `ch`; returns the Service's (generated) name.
async fn create_pod_and_service(client: &Client, ns: &str, ch: &Challenge) -> (String, String) {
    let pod = build_pod(ch, "certsmith:test").expect("build_pod");
    let pod = Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("creating the solver Pod");
    let svc = build_service(ch).expect("build_service");
    let svc = Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &svc)
        .await
        .expect("creating the solver Service");
    (pod.name_any(), svc.name_any())
}

async fn check(bed: &TestBed, domain: &str, token: &str, key: &str) -> SelfCheck {
    self_check(domain, token, key, &bed_self_check(bed))
        .await
        .expect("self-check input")
}

async fn wait_passed(bed: &TestBed, domain: &str, token: &str, key: &str) -> Duration {
    let started = Instant::now();
    let mut last = None;
    let r = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let got = check(bed, domain, token, key).await;
            if got == SelfCheck::Passed {
                return;
            }
            last = Some(got);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        r.is_ok(),
        "self-check of {domain} did not pass within 30 s; last: {last:?}"
    );
    started.elapsed()
}

async fn wait_failed(
    bed: &TestBed,
    domain: &str,
    token: &str,
    key: &str,
    containing: &str,
) -> String {
    eventually(
        Duration::from_secs(15),
        &format!("self-check of {domain} failing with {containing:?}"),
        || async {
            match check(bed, domain, token, key).await {
                SelfCheck::Failed { reason } if reason.contains(containing) => Some(reason),
                _ => None,
            }
        },
    )
    .await
}

#[tokio::test]
async fn solver_objects_serve_the_challenge_and_go_away() {
    let bed = TestBed::get();
    require_solver_host(&bed);
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "http01").await;
    let domain = format!("h{}.{}", random_label(), bed.var("RFC2136_ZONE"));
    let token = random_token();
    let key = format!("{token}.{}", random_token());

    let started = Instant::now();
    let ch = create_challenge(
        &client,
        &ns,
        &domain,
        &token,
        &key,
        AcmeChallengeSolverHttp01Ingress::default(),
    )
    .await;
    let (pod_name, svc_name) = create_pod_and_service(&client, &ns, &ch).await;
    let ing = build_ingress(&ch, &svc_name).expect("build_ingress");
    let ing = Api::<Ingress>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &ing)
        .await
        .expect("creating the solver Ingress");
    let passed_after = wait_passed(&bed, &domain, &token, &key).await;
    let from_create = started.elapsed();

    // A wrong expectation reads back what is served; curl sees the same as the ACME server.
    let reason = match check(&bed, &domain, &token, "not-the-key").await {
        SelfCheck::Failed { reason } => reason,
        SelfCheck::Passed => panic!("a wrong key passed"),
    };
    assert_eq!(
        reason,
        format!(
            "GET http://{domain}:{}/.well-known/acme-challenge/{token} returned {:?} instead of the key authorization",
            bed.var("HTTP01_PORT"),
            format!("{}...", &key[..40])
        )
    );
    let url = format!(
        "http://{domain}:{}/.well-known/acme-challenge/{token}",
        bed.var("HTTP01_PORT")
    );
    let (ok, body, err) = run(std::process::Command::new("curl").args([
        "-sS",
        "--max-time",
        "5",
        "--resolve",
        &format!("{domain}:{}:127.0.0.1", bed.var("HTTP01_PORT")),
        &url,
    ]));
    assert!(ok, "curl {url}: {err}");
    assert_eq!(body, key);

    // The kubelet stand-in ran one real acmesolver and reported the Pod Running and Ready.
    let pids = solver_pids(&token);
    assert_eq!(
        pids.len(),
        1,
        "acmesolver processes for the token: {pids:?}"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    eventually(
        Duration::from_secs(10),
        "the solver Pod Running and Ready",
        || async {
            let p = pods.get(&pod_name).await.ok()?;
            let st = p.status?;
            let ready = st
                .conditions?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            (st.phase.as_deref() == Some("Running") && ready).then_some(())
        },
    )
    .await;

    // The route goes with the Ingress; the process goes with the Pod.
    Api::<Ingress>::namespaced(client.clone(), &ns)
        .delete(&ing.name_any(), &DeleteParams::default())
        .await
        .expect("deleting the Ingress");
    let reason = wait_failed(&bed, &domain, &token, &key, "returned 404").await;
    assert_eq!(reason, format!("GET {url} returned 404 Not Found"));
    pods.delete(&pod_name, &DeleteParams::default())
        .await
        .expect("deleting the Pod");
    Api::<Service>::namespaced(client.clone(), &ns)
        .delete(&svc_name, &DeleteParams::default())
        .await
        .expect("deleting the Service");
    let stop_started = Instant::now();
    eventually(
        Duration::from_secs(10),
        "the acmesolver process to exit",
        || async { solver_pids(&token).is_empty().then_some(()) },
    )
    .await;
    println!(
        "{{\"figure\":\"http01_solver_ready\",\"from_objects_created_s\":{:.3},\"self_check_wait_s\":{:.3},\"process_exit_after_pod_delete_s\":{:.3}}}",
        from_create.as_secs_f64(),
        passed_after.as_secs_f64(),
        stop_started.elapsed().as_secs_f64()
    );
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn edit_in_place_routes_through_the_users_ingress_and_cleans_up() {
    let bed = TestBed::get();
    require_solver_host(&bed);
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "http01-edit").await;
    let domain = format!("Shop-{}.{}", random_label(), bed.var("RFC2136_ZONE"));
    let host = domain.to_ascii_lowercase();
    let token = random_token();
    let key = format!("{token}.{}", random_token());

    // The user's Ingress: the site at "/" (its Service does not exist here: 502 from the bed).
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &ns);
    let user: Ingress = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "annotations": {"team": "a"}},
        "spec": {"rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
        ]}}]},
    }))
    .unwrap();
    let user = ingresses
        .create(&PostParams::default(), &user)
        .await
        .expect("creating the user's Ingress");
    let solver = AcmeChallengeSolverHttp01Ingress {
        name: Some("web".into()),
        ..Default::default()
    };
    let ch = create_challenge(&client, &ns, &domain, &token, &key, solver).await;
    let (_pod, svc_name) = create_pod_and_service(&client, &ns, &ch).await;
    let reason = wait_failed(&bed, &domain, &token, &key, "returned 502").await;
    assert!(reason.contains("502 Bad Gateway"), "{reason}");

    // Edit in place (GET, pure edit, replace with the resourceVersion), as the controller will.
    let mut edited = ingresses.get("web").await.unwrap();
    assert!(add_challenge_path(&mut edited, &ch, &svc_name).unwrap());
    let edited = ingresses
        .replace("web", &PostParams::default(), &edited)
        .await
        .expect("updating the user's Ingress");
    assert!(has_challenge_path(&edited, &ch, &svc_name));
    wait_passed(&bed, &domain, &token, &key).await;

    let mut cleaned = ingresses.get("web").await.unwrap();
    assert!(remove_challenge_path(&mut cleaned, &ch));
    let cleaned = ingresses
        .replace("web", &PostParams::default(), &cleaned)
        .await
        .expect("cleaning the user's Ingress");
    assert_eq!(
        cleaned.spec, user.spec,
        "the user's Ingress is back as it was"
    );
    assert_eq!(cleaned.metadata.annotations, user.metadata.annotations);
    wait_failed(&bed, &domain, &token, &key, "returned 502").await;
    delete_solver_objects(&client, &ns).await;
    delete_namespace(&client, &ns).await;
}

/// The bed has no garbage collector: delete what the test made so no acmesolver lingers.
async fn delete_solver_objects(client: &Client, ns: &str) {
    let lp = kube::api::ListParams::default().labels("acme.cert-manager.io/http01-solver=true");
    let dp = DeleteParams::default();
    let _ = Api::<Pod>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &lp)
        .await;
    let _ = Api::<Ingress>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &lp)
        .await;
    for svc in Api::<Service>::namespaced(client.clone(), ns)
        .list(&lp)
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        let _ = Api::<Service>::namespaced(client.clone(), ns)
            .delete(&svc.name_any(), &dp)
            .await;
    }
}

/// Pebble validates a real http-01 challenge through the solver objects: new order ->
/// solver Pod/Service/Ingress -> self-check -> accept -> challenge valid -> order ready.
#[tokio::test]
async fn pebble_validates_http01_through_the_solver() {
    let bed = TestBed::get();
    require_solver_host(&bed);
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "http01-pebble").await;
    let domain = format!("p{}.{}", random_label(), bed.var("RFC2136_ZONE"));

    let server = ServerConfig {
        directory_url: bed.var("ACME_DIRECTORY_URL").to_owned(),
        ca_bundle: Some(std::fs::read(bed.var("ACME_SERVER_CA_FILE")).expect("Pebble's CA")),
        skip_tls_verify: false,
    };
    let stats = AcmeRequestStats::new();
    let account_key = generate_account_key().unwrap();
    let reg = Registration {
        server: &server,
        key_pem: account_key.as_bytes(),
        email: None,
        eab: None,
        known_account_url: None,
    };
    let account = AcmeAccount::register(&reg, &stats).await.expect("register");
    let started = Instant::now();
    let order = account
        .new_order(&[Identifier::Dns(domain.clone())], None, None)
        .await
        .expect("new order");
    let authz = account
        .authorization(&order.authorization_urls[0])
        .await
        .expect("authorization");
    let challenge = authz
        .challenge("http-01")
        .expect("an http-01 challenge")
        .clone();
    let key = account.key_authorization(&challenge.token);

    let ch = create_challenge(
        &client,
        &ns,
        &domain,
        &challenge.token,
        &key,
        AcmeChallengeSolverHttp01Ingress::default(),
    )
    .await;
    let (_pod, svc_name) = create_pod_and_service(&client, &ns, &ch).await;
    Api::<Ingress>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &build_ingress(&ch, &svc_name).unwrap(),
        )
        .await
        .expect("creating the solver Ingress");
    wait_passed(&bed, &domain, &challenge.token, &key).await;
    let presented = started.elapsed();

    account
        .accept_challenge(&challenge.url)
        .await
        .expect("accept");
    let done = eventually(
        Duration::from_secs(30),
        "Pebble to validate the challenge",
        || async {
            let c = account.challenge(&challenge.url).await.ok()?;
            matches!(c.state, AcmeState::Valid | AcmeState::Invalid).then_some(c)
        },
    )
    .await;
    assert_eq!(
        done.state,
        AcmeState::Valid,
        "Pebble's verdict: {:?}",
        done.error
    );
    let order = eventually(
        Duration::from_secs(30),
        "the order to become ready",
        || async {
            let o = account.order(&order.url).await.ok()?;
            (o.state != AcmeState::Pending).then_some(o)
        },
    )
    .await;
    assert_eq!(
        order.state,
        AcmeState::Ready,
        "order error: {:?}",
        order.error
    );
    println!(
        "{{\"figure\":\"http01_pebble_validation\",\"presented_s\":{:.3},\"valid_s\":{:.3}}}",
        presented.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    delete_solver_objects(&client, &ns).await;
    delete_namespace(&client, &ns).await;
}
