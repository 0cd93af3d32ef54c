//! The HTTP-01 solver server that `certsmith acmesolver` runs in each solver Pod: it answers
//! `GET /.well-known/acme-challenge/<token>` for one name with the key authorization, and
//! nothing else.
//!
//! What to answer is decided by the pure [`answer`]; [`serve`] is the plain hyper 1 (HTTP/1.1)
//! loop around it. `/` and `/healthz` answer 200 with an empty body, as cert-manager's solver
//! does: some load balancers (GCE's Ingress) probe `/` of every backend and route nothing to
//! one that fails.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::host::{Host, HostError, strip_port};

/// The path prefix ACME servers fetch HTTP-01 key authorizations from (RFC 8555 §8.3).
pub const CHALLENGE_PATH_PREFIX: &str = "/.well-known/acme-challenge/";
/// The port the solver listens on in its Pod (cert-manager's too).
pub const DEFAULT_LISTEN_PORT: u16 = 8089;
/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Longest Host/path echoed into a log line.
const LOG_FIELD_MAX: usize = 120;

/// The one challenge a solver answers.
#[derive(Clone, PartialEq, Eq)]
pub struct SolverChallenge {
    host: Host,
    token: String,
    key_authorization: String,
}

/// Why the solver's arguments are unusable.
#[derive(Debug, thiserror::Error)]
pub enum SolverError {
    #[error("--domain: {0}")]
    Domain(#[from] HostError),
    #[error("--token must be a non-empty base64url string (A-Z, a-z, 0-9, '-', '_')")]
    Token,
    #[error("--key must not be empty")]
    Key,
    #[error("listening on port {port} failed: {source}")]
    Bind { port: u16, source: io::Error },
}

impl SolverChallenge {
    pub fn new(domain: &str, token: &str, key_authorization: &str) -> Result<Self, SolverError> {
        let host = Host::parse(domain)?;
        if !is_base64url(token) {
            return Err(SolverError::Token);
        }
        if key_authorization.is_empty() {
            return Err(SolverError::Key);
        }
        Ok(Self {
            host,
            token: token.to_owned(),
            key_authorization: key_authorization.to_owned(),
        })
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

/// Short on purpose: the key authorization is left out of logs.
impl fmt::Debug for SolverChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SolverChallenge")
            .field("host", &self.host)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// ACME tokens use the base64url alphabet only (RFC 8555 §8.1), so they are safe in paths.
pub fn is_base64url(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What to answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the key authorization.
    KeyAuthorization,
    /// 200, empty: a load balancer's health probe.
    Health,
    /// 404, with the reason for the log line.
    NotFound(&'static str),
    /// 405: the challenge path with a method other than GET/HEAD.
    MethodNotAllowed,
}

/// Decides the answer from the request's method, Host (port included or not) and path.
pub fn answer(method: &Method, host: Option<&str>, path: &str, ch: &SolverChallenge) -> Answer {
    let readable = method == Method::GET || method == Method::HEAD;
    if path == "/" || path == "/healthz" {
        return if readable {
            Answer::Health
        } else {
            Answer::NotFound("health path with a method other than GET/HEAD")
        };
    }
    let Some(token) = path.strip_prefix(CHALLENGE_PATH_PREFIX) else {
        return Answer::NotFound("not an ACME challenge path");
    };
    if token != ch.token {
        return Answer::NotFound("unknown token");
    }
    match host {
        Some(h) if ch.host.matches_request_host(strip_port(h)) => {}
        _ => return Answer::NotFound("Host is not the challenge's domain"),
    }
    if !readable {
        return Answer::MethodNotAllowed;
    }
    Answer::KeyAuthorization
}

fn respond(req: &Request<Incoming>, ch: &SolverChallenge) -> Response<Full<Bytes>> {
    // HTTP/1.1 puts the host in the Host header; an absolute-form request line carries it too.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let path = req.uri().path();
    let verdict = answer(req.method(), host, path, ch);
    let (status, body) = match verdict {
        Answer::KeyAuthorization => (StatusCode::OK, ch.key_authorization.clone()),
        Answer::Health => (StatusCode::OK, String::new()),
        Answer::NotFound(_) => (StatusCode::NOT_FOUND, "404 page not found\n".to_owned()),
        Answer::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            "405 method not allowed\n".to_owned(),
        ),
    };
    let (method, host, path, status_code) = (
        req.method(),
        short(host.unwrap_or("")),
        short(path),
        status.as_u16(),
    );
    match verdict {
        Answer::NotFound(why) => {
            tracing::info!(%method, host, path, status = status_code, why, "request");
        }
        _ => tracing::info!(%method, host, path, status = status_code, "request"),
    }
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    if verdict == Answer::MethodNotAllowed {
        headers.insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    resp
}

fn short(s: &str) -> &str {
    match s.char_indices().nth(LOG_FIELD_MAX) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Binds the solver's port: on `address` if given, else on every address (IPv6 and IPv4;
/// IPv4 only where the kernel has no IPv6).
pub async fn bind(address: Option<IpAddr>, port: u16) -> Result<TcpListener, SolverError> {
    let bind = |ip: IpAddr| TcpListener::bind(SocketAddr::new(ip, port));
    let result = match address {
        Some(ip) => bind(ip).await,
        None => match bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED)).await {
            Ok(l) => Ok(l),
            Err(_) => bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED)).await,
        },
    };
    result.map_err(|source| SolverError::Bind { port, source })
}

/// Serves `ch` on `listener` until `shutdown` completes, then lets open connections finish
/// (for up to 5 s).
pub async fn serve(
    listener: TcpListener,
    ch: SolverChallenge,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let ch = Arc::new(ch);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // e.g. EMFILE: keep serving the connections we have
                Err(err) => {
                    tracing::warn!(%err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ch = ch.clone();
        let mut stop_rx = stop_rx.clone();
        conns.spawn(async move {
            let service = service_fn(move |req| {
                let resp = respond(&req, &ch);
                async move { Ok::<_, Infallible>(resp) }
            });
            let mut conn = pin!(
                http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
            );
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // reap finished connections so the set does not grow
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            "connections still open after the grace period; closing them"
        );
        conns.abort_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch() -> SolverChallenge {
        SolverChallenge::new("Www.Example.COM", "tok_EN-1", "tok_EN-1.thumb").unwrap()
    }

    #[test]
    fn answer_table() {
        use Answer::*;
        let path = "/.well-known/acme-challenge/tok_EN-1";
        let cases: &[(Method, Option<&str>, &str, Answer)] = &[
            (Method::GET, Some("www.example.com"), path, KeyAuthorization),
            (
                Method::HEAD,
                Some("www.example.com"),
                path,
                KeyAuthorization,
            ),
            (
                Method::GET,
                Some("WWW.EXAMPLE.COM:5002"),
                path,
                KeyAuthorization,
            ),
            (
                Method::GET,
                Some("www.example.com."),
                path,
                KeyAuthorization,
            ),
            (
                Method::GET,
                Some("example.com"),
                path,
                NotFound("Host is not the challenge's domain"),
            ),
            (
                Method::GET,
                None,
                path,
                NotFound("Host is not the challenge's domain"),
            ),
            (
                Method::GET,
                Some("www.example.com"),
                "/.well-known/acme-challenge/other",
                NotFound("unknown token"),
            ),
            (
                Method::GET,
                Some("www.example.com"),
                "/.well-known/acme-challenge/tok_EN-1/",
                NotFound("unknown token"),
            ),
            (
                Method::GET,
                Some("www.example.com"),
                "/.well-known/acme-challenge/",
                NotFound("unknown token"),
            ),
            (
                Method::GET,
                Some("www.example.com"),
                "/tok_EN-1",
                NotFound("not an ACME challenge path"),
            ),
            (
                Method::POST,
                Some("www.example.com"),
                path,
                MethodNotAllowed,
            ),
            (Method::PUT, Some("www.example.com"), path, MethodNotAllowed),
            (
                Method::POST,
                Some("other.example"),
                path,
                NotFound("Host is not the challenge's domain"),
            ),
            (Method::GET, Some("anything"), "/", Health),
            (Method::HEAD, None, "/healthz", Health),
            (
                Method::DELETE,
                None,
                "/healthz",
                NotFound("health path with a method other than GET/HEAD"),
            ),
        ];
        let c = ch();
        for (method, host, path, want) in cases {
            assert_eq!(
                answer(method, *host, path, &c),
                *want,
                "{method} {host:?} {path}"
            );
        }
    }

    #[test]
    fn idn_and_ip_challenges() {
        let idn = SolverChallenge::new("bücher.example", "t", "k").unwrap();
        let p = "/.well-known/acme-challenge/t";
        assert_eq!(
            answer(&Method::GET, Some("xn--bcher-kva.example"), p, &idn),
            Answer::KeyAuthorization
        );
        let ip = SolverChallenge::new("2001:db8::1", "t", "k").unwrap();
        assert_eq!(
            answer(&Method::GET, Some("[2001:db8::1]:80"), p, &ip),
            Answer::KeyAuthorization
        );
    }

    #[test]
    fn arguments_are_checked() {
        assert!(matches!(
            SolverChallenge::new("*.example.com", "t", "k"),
            Err(SolverError::Domain(HostError::Wildcard(_)))
        ));
        for bad in ["", "a/b", "a.b", "a b", "%2e"] {
            assert!(
                matches!(
                    SolverChallenge::new("example.com", bad, "k"),
                    Err(SolverError::Token)
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            SolverChallenge::new("example.com", "t", ""),
            Err(SolverError::Key)
        ));
    }

    #[test]
    fn debug_leaves_the_key_out() {
        let text = format!("{:?}", ch());
        assert!(!text.contains("thumb"), "{text}");
        assert!(text.contains("tok_EN-1"));
    }

    /// The real server on a loopback port, asked with a raw HTTP/1.1 client.
    #[tokio::test]
    async fn serves_the_key_and_stops_on_shutdown() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = bind(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), 0)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, ch(), async {
            let _ = rx.await;
        }));
        let ask = |req: String| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let get = |method: &str, host: &str, path: &str| {
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        };
        let ok = ask(get(
            "GET",
            "www.example.com:5002",
            "/.well-known/acme-challenge/tok_EN-1",
        ))
        .await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(
            ok.to_ascii_lowercase().contains("content-type: text/plain"),
            "{ok}"
        );
        assert!(ok.ends_with("\r\n\r\ntok_EN-1.thumb"), "{ok}");
        let head = ask(get(
            "HEAD",
            "www.example.com",
            "/.well-known/acme-challenge/tok_EN-1",
        ))
        .await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
        let missing = ask(get(
            "GET",
            "other.example",
            "/.well-known/acme-challenge/tok_EN-1",
        ))
        .await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        let post = ask(get(
            "POST",
            "www.example.com",
            "/.well-known/acme-challenge/tok_EN-1",
        ))
        .await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");

        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stops on shutdown")
            .unwrap()
            .unwrap();
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "port closed"
        );
    }
}
