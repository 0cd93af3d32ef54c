use std::convert::Infallible;
use std::net::Ipv4Addr;

use http::Response;
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use super::*;
use crate::http01::solver::{SolverChallenge, bind, serve};

const TOKEN: &str = "tok_EN-1";
const KEY: &str = "tok_EN-1.thumbprint";

fn target(s: &str) -> Target {
    let t = Target {
        tls: false,
        host: Host::parse("a.example").unwrap(),
        port: 5002,
        path: "/.well-known/acme-challenge/T?x=1".into(),
    };
    if s.is_empty() {
        t
    } else {
        t.follow(s).unwrap()
    }
}

#[test]
fn redirect_locations() {
    let cases: &[(&str, &str)] = &[
        ("", "http://a.example:5002/.well-known/acme-challenge/T?x=1"),
        ("https://B.example/x", "https://b.example/x"),
        ("https://b.example:8443/x?y", "https://b.example:8443/x?y"),
        ("http://b.example", "http://b.example/"),
        ("http://[2001:db8::1]:81/p", "http://[2001:db8::1]:81/p"),
        ("/other", "http://a.example:5002/other"),
        ("//c.example/p", "http://c.example/p"),
        (
            "next",
            "http://a.example:5002/.well-known/acme-challenge/next",
        ),
    ];
    for (location, want) in cases {
        assert_eq!(target(location).to_string(), *want, "{location:?}");
    }
    let t = target("");
    assert!(t.follow("ftp://x/").unwrap_err().contains("\"ftp\""));
    assert!(t.follow("https://*.example/").is_err());
    assert_eq!(t.host_header(), "a.example:5002");
    assert_eq!(target("https://b.example/").host_header(), "b.example");
}

#[test]
fn key_comparison() {
    for (body, ok) in [
        ("k.t", true),
        ("k.t\n", true),
        ("k.t \r\n\t", true),
        (" k.t", false),
        ("k.t.", false),
        ("", false),
        ("K.T", false),
    ] {
        assert_eq!(key_matches(body.as_bytes(), "k.t"), ok, "{body:?}");
    }
    assert_eq!(quote(b"short"), "\"short\"");
    assert_eq!(
        quote("x".repeat(100).as_bytes()),
        format!("\"{}...\"", "x".repeat(40))
    );
    assert_eq!(quote(b"a\"b\n"), "\"a\\\"b\\n\"");
}

fn config(port: u16) -> SelfCheckConfig {
    SelfCheckConfig {
        port,
        nameservers: None,
        timeout: Duration::from_secs(5),
    }
}

/// The real solver on a loopback port; the challenge's "domain" is 127.0.0.1, so no DNS.
async fn solver(key: &str) -> u16 {
    let listener = bind(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0)
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let ch = SolverChallenge::new("127.0.0.1", TOKEN, key).unwrap();
    tokio::spawn(serve(listener, ch, std::future::pending()));
    port
}

/// A server answering every request with `status` and `location`.
async fn redirector(status: u16, location: String) -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let location = location.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| {
                    let resp = Response::builder()
                        .status(status)
                        .header("location", location.clone())
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    port
}

fn failed(r: SelfCheck) -> String {
    match r {
        SelfCheck::Failed { reason } => reason,
        SelfCheck::Passed => panic!("expected a failure"),
    }
}

#[tokio::test]
async fn passes_and_fails_with_readable_reasons() {
    let port = solver(KEY).await;
    let url = format!("http://127.0.0.1:{port}/.well-known/acme-challenge/{TOKEN}");
    assert_eq!(
        self_check("127.0.0.1", TOKEN, KEY, &config(port))
            .await
            .unwrap(),
        SelfCheck::Passed
    );
    assert_eq!(
        failed(
            self_check("127.0.0.1", TOKEN, "other.key", &config(port))
                .await
                .unwrap()
        ),
        format!("GET {url} returned \"{KEY}\" instead of the key authorization")
    );
    assert_eq!(
        failed(
            self_check("127.0.0.1", "wrongtoken", KEY, &config(port))
                .await
                .unwrap()
        ),
        format!(
            "GET http://127.0.0.1:{port}/.well-known/acme-challenge/wrongtoken returned 404 Not Found"
        )
    );

    let closed = {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        l.local_addr().unwrap().port()
    };
    assert_eq!(
        failed(
            self_check("127.0.0.1", TOKEN, KEY, &config(closed))
                .await
                .unwrap()
        ),
        format!(
            "GET http://127.0.0.1:{closed}/.well-known/acme-challenge/{TOKEN} failed: connecting to 127.0.0.1:{closed}: connection refused"
        )
    );
}

#[tokio::test]
async fn follows_redirects() {
    let port = solver(KEY).await;
    let to_solver = format!("http://127.0.0.1:{port}/.well-known/acme-challenge/{TOKEN}");
    for status in [301, 302, 303, 307, 308] {
        let r = redirector(status, to_solver.clone()).await;
        assert_eq!(
            self_check("127.0.0.1", TOKEN, KEY, &config(r))
                .await
                .unwrap(),
            SelfCheck::Passed,
            "{status}"
        );
    }
    let to_nowhere = redirector(302, format!("http://127.0.0.1:{port}/elsewhere")).await;
    assert_eq!(
        failed(
            self_check("127.0.0.1", TOKEN, KEY, &config(to_nowhere))
                .await
                .unwrap()
        ),
        format!(
            "GET http://127.0.0.1:{to_nowhere}/.well-known/acme-challenge/{TOKEN} (redirected to http://127.0.0.1:{port}/elsewhere) returned 404 Not Found"
        )
    );
    let looping = redirector(302, "/loop".into()).await;
    let reason = failed(
        self_check("127.0.0.1", TOKEN, KEY, &config(looping))
            .await
            .unwrap(),
    );
    assert!(
        reason.ends_with("was redirected more than 10 times"),
        "{reason}"
    );
    let ftp = redirector(302, "ftp://127.0.0.1/x".into()).await;
    let reason = failed(
        self_check("127.0.0.1", TOKEN, KEY, &config(ftp))
            .await
            .unwrap(),
    );
    assert!(reason.contains("only http and https"), "{reason}");
}

#[tokio::test]
async fn follows_a_redirect_to_https_with_any_certificate() {
    // a self-signed HTTPS server proxying nothing: it answers the key itself
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = service_fn(|req: Request<hyper::body::Incoming>| {
                    let body = if req.uri().path().ends_with(TOKEN) {
                        KEY
                    } else {
                        "no"
                    };
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    let r = redirector(
        301,
        format!("https://127.0.0.1:{tls_port}/.well-known/acme-challenge/{TOKEN}"),
    )
    .await;
    assert_eq!(
        self_check("127.0.0.1", TOKEN, KEY, &config(r))
            .await
            .unwrap(),
        SelfCheck::Passed
    );
}

#[tokio::test]
async fn times_out() {
    // accepts connections and never answers
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            held.push(s);
        }
    });
    let cfg = SelfCheckConfig {
        timeout: Duration::from_millis(300),
        ..config(port)
    };
    let reason = failed(self_check("127.0.0.1", TOKEN, KEY, &cfg).await.unwrap());
    assert_eq!(
        reason,
        format!(
            "GET http://127.0.0.1:{port}/.well-known/acme-challenge/{TOKEN} timed out after 300ms"
        )
    );
}

#[tokio::test]
async fn bad_input_is_an_error_not_a_failure() {
    let cfg = config(80);
    assert!(matches!(
        self_check("*.example.com", TOKEN, KEY, &cfg).await,
        Err(SelfCheckError::Domain(HostError::Wildcard(_)))
    ));
    assert!(matches!(
        self_check("example.com", "a/b", KEY, &cfg).await,
        Err(SelfCheckError::Token)
    ));
}

#[tokio::test]
async fn unreachable_nameserver_fails_naming_the_host() {
    let closed = {
        let s = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        s.local_addr().unwrap()
    };
    let cfg = SelfCheckConfig {
        port: 80,
        nameservers: Some(vec![closed]),
        timeout: Duration::from_secs(1),
    };
    let reason = failed(
        self_check("nowhere.example.test", TOKEN, KEY, &cfg)
            .await
            .unwrap(),
    );
    assert!(
        reason.starts_with("looking up nowhere.example.test "),
        "{reason}"
    );
}
