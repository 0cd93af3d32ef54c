//! cert-manager's DNS-01 webhook contract, end to end: a webhook solver (written here, backed
//! by the bed's BIND through RFC 2136) registered as an APIService; the controller reaches it
//! through kube-apiserver's aggregation layer, and Pebble validates the TXT record it set.
//! Its own test binary: it registers a cluster-scoped APIService.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use certsmith::api::{Certificate, Challenge, ConditionStatus, find_condition};
use certsmith::dns01::webhook::{ChallengeAction, ChallengePayload, ChallengeResponse};
use certsmith::dns01::{Protocol, Rfc2136, Rfc2136Config, TsigKey};
use support::certs::tail;
use support::values::b64;
use support::{ControllerProcess, TestBed, eventually, fresh_namespace, install_crds};

/// This machine's address other hosts reach: kube-apiserver refuses loopback endpoints.
fn host_ip() -> IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
    // No packet is sent: connecting only picks the outgoing interface.
    socket
        .connect("192.0.2.1:9")
        .expect("a route to a non-loopback address");
    let ip = socket.local_addr().unwrap().ip();
    assert!(
        !ip.is_loopback(),
        "this machine has no non-loopback address for the APIService endpoint"
    );
    ip
}

/// A cert-manager-style webhook solver: discovery for its group, and POST
/// /apis/<group>/v1alpha1/<solver> presenting or cleaning up TXT records in BIND.
async fn serve_webhook(group: String, solver: String, rfc: Arc<Rfc2136>) -> SocketAddr {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["webhook.certsmith.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, group, solver, rfc) =
                (acceptor.clone(), group.clone(), solver.clone(), rfc.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (group, solver, rfc) = (group.clone(), solver.clone(), rfc.clone());
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                handle(req, &group, &solver, &rfc).await,
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    group: &str,
    solver: &str,
    rfc: &Rfc2136,
) -> Response<Full<Bytes>> {
    let json_response = |status: StatusCode, body: Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    let path = req.uri().path().to_owned();
    let version_path = format!("/apis/{group}/v1alpha1");
    if req.method() == hyper::Method::GET
        && (path == version_path || path == format!("{version_path}/"))
    {
        return json_response(
            StatusCode::OK,
            json!({
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/v1alpha1"),
                "resources": [{ "name": solver, "singularName": solver, "namespaced": false, "kind": "ChallengePayload", "verbs": ["create"] }]
            }),
        );
    }
    if req.method() != hyper::Method::POST || path != format!("{version_path}/{solver}") {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404 }),
        );
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Ok(mut payload) = serde_json::from_slice::<ChallengePayload>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400 }),
        );
    };
    let request = payload.request.take().expect("a request");
    let result = match request.action {
        ChallengeAction::Present => rfc
            .present(
                &request.resolved_fqdn,
                &request.key,
                60,
                Some(&request.resolved_zone),
            )
            .await
            .map(|_| ()),
        ChallengeAction::CleanUp => rfc
            .cleanup(
                &request.resolved_fqdn,
                &request.key,
                Some(&request.resolved_zone),
            )
            .await
            .map(|_| ()),
    };
    payload.response = Some(ChallengeResponse {
        uid: request.uid,
        success: result.is_ok(),
        status: result.err().map(|e| json!({ "message": e.to_string() })),
    });
    json_response(StatusCode::CREATED, serde_json::to_value(&payload).unwrap())
}

#[tokio::test]
async fn webhook_solver_through_the_aggregation_layer() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "acme-webhook").await;
    let group = format!("{ns}.webhook.certsmith.test");
    let solver = "bind".to_owned();
    let tsig = TsigKey::parse(
        bed.var("RFC2136_TSIG_KEY"),
        bed.var("RFC2136_TSIG_ALGORITHM"),
        bed.var("RFC2136_TSIG_SECRET"),
    )
    .unwrap();
    let rfc = Arc::new(
        Rfc2136::new(&Rfc2136Config::new(
            bed.var("RFC2136_NAMESERVER"),
            Some(tsig),
            Protocol::Udp,
        ))
        .unwrap(),
    );
    let addr = serve_webhook(group.clone(), solver.clone(), rfc).await;
    let ip = host_ip();
    let apply = |resource: ApiResource, namespaced: bool, doc: Value| {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            let api: Api<DynamicObject> = if namespaced {
                Api::namespaced_with(client, &ns, &resource)
            } else {
                Api::all_with(client, &resource)
            };
            let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
            api.patch(
                &name,
                &PatchParams::apply("certsmith-tests").force(),
                &Patch::Apply(&doc),
            )
            .await
            .unwrap_or_else(|e| panic!("applying {} {name}: {e}", resource.kind));
        }
    };
    let core = |kind: &str, plural: &str| ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    // A Service without selector, its endpoints set by hand to this process (no controller
    // manager on the bed), and the APIService pointing at it.
    apply(
        core("Service", "services"),
        true,
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": { "name": "webhook" },
            "spec": { "ports": [{ "port": addr.port(), "targetPort": addr.port() }] }
        }),
    )
    .await;
    apply(core("Endpoints", "endpoints"), true, json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": { "name": "webhook" },
        "subsets": [{ "addresses": [{ "ip": ip.to_string() }], "ports": [{ "port": addr.port() }] }]
    })).await;
    apply(ApiResource { group: "discovery.k8s.io".into(), version: "v1".into(), api_version: "discovery.k8s.io/v1".into(), kind: "EndpointSlice".into(), plural: "endpointslices".into() }, true, json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": "webhook-1", "labels": { "kubernetes.io/service-name": "webhook" } },
        "addressType": if ip.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{ "addresses": [ip.to_string()], "conditions": { "ready": true } }],
        "ports": [{ "port": addr.port(), "protocol": "TCP" }]
    })).await;
    let apiservice = ApiResource {
        group: "apiregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiregistration.k8s.io/v1".into(),
        kind: "APIService".into(),
        plural: "apiservices".into(),
    };
    let apiservice_name = format!("v1alpha1.{group}");
    apply(apiservice.clone(), false, json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": { "name": apiservice_name },
        "spec": { "group": group, "version": "v1alpha1", "service": { "namespace": ns, "name": "webhook", "port": addr.port() },
                  "insecureSkipTLSVerify": true, "groupPriorityMinimum": 1000, "versionPriority": 15 }
    })).await;
    let services: Api<DynamicObject> = Api::all_with(client.clone(), &apiservice);
    eventually(
        Duration::from_secs(60),
        "the APIService Available",
        || async {
            let s = services.get(&apiservice_name).await.ok()?;
            s.data["status"]["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Available" && c["status"] == "True")
                .then_some(())
        },
    )
    .await;

    let ctl = ControllerProcess::start(
        &bed,
        &format!("acme-webhook-{ns}"),
        &[
            "--namespace",
            &ns,
            "--dns01-recursive-nameservers",
            bed.var("RFC2136_NAMESERVER"),
            "--dns01-recursive-nameservers-only",
        ],
    );
    let ca = std::fs::read(bed.var("ACME_SERVER_CA_FILE")).unwrap();
    let cm = |kind: &str, plural: &str| ApiResource {
        group: "cert-manager.io".into(),
        version: "v1".into(),
        api_version: "cert-manager.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    apply(cm("Issuer", "issuers"), true, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": { "name": "webhook" },
        "spec": { "acme": { "server": bed.var("ACME_DIRECTORY_URL"), "caBundle": b64(&ca),
            "privateKeySecretRef": { "name": "webhook-account" },
            "solvers": [{ "dns01": { "webhook": { "groupName": group, "solverName": solver, "config": { "zone": "example.test" } } } }] } }
    })).await;
    apply(cm("Issuer", "issuers"), true, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": { "name": "no-webhook" },
        "spec": { "acme": { "server": bed.var("ACME_DIRECTORY_URL"), "caBundle": b64(&ca),
            "privateKeySecretRef": { "name": "webhook-account" },
            "solvers": [{ "dns01": { "webhook": { "groupName": format!("absent.{group}"), "solverName": "nothing" } } }] } }
    })).await;
    let wild = format!("{ns}.example.test");
    apply(cm("Certificate", "certificates"), true, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": { "name": "webhook" },
        "spec": { "secretName": "webhook-tls", "dnsNames": [format!("*.{wild}"), wild], "issuerRef": { "name": "webhook" } }
    })).await;
    apply(cm("Certificate", "certificates"), true, json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": { "name": "unreachable" },
        "spec": { "secretName": "unreachable-tls", "dnsNames": [format!("u.{wild}")], "issuerRef": { "name": "no-webhook" } }
    })).await;

    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let ready = tokio::time::timeout(
        Duration::from_secs(90),
        eventually(
            Duration::from_secs(95),
            "Certificate webhook Ready",
            || async {
                let c = certs.get("webhook").await.ok()?;
                let r = find_condition(c.status.as_ref()?.conditions.as_deref()?, "Ready")?.clone();
                (r.status == ConditionStatus::True).then_some(())
            },
        ),
    )
    .await;
    if ready.is_err() {
        panic!("timed out; controller log:\n{}", tail(&ctl.log_text(), 60));
    }
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("webhook-tls")
        .await
        .unwrap();
    let sans = support::certs::openssl(
        &["x509", "-noout", "-ext", "subjectAltName"],
        support::certs::secret_data(&secret, "tls.crt"),
    )
    .unwrap();
    assert!(sans.contains(&format!("DNS:*.{wild}")), "{sans}");

    // A webhook that is not registered: the Challenge says so and keeps trying.
    let challenges: Api<Challenge> = Api::namespaced(client.clone(), &ns);
    let reason = eventually(
        Duration::from_secs(30),
        "the unreachable webhook reported",
        || async {
            challenges
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter_map(|c| c.status?.reason)
                .find(|r| r.contains("could not be reached"))
        },
    )
    .await;
    assert!(
        reason.contains(&format!("absent.{group}/nothing")),
        "{reason}"
    );
    let _ = services.delete(&apiservice_name, &Default::default()).await;
}
