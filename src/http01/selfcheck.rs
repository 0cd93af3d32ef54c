//! The HTTP-01 self-check: before telling the ACME server to validate, fetch
//! `http://<domain>:<port>/.well-known/acme-challenge/<token>` the way it will, and say in one
//! sentence what is wrong when the key authorization does not come back.
//!
//! One attempt per call, no sleeps and no retries: the Challenge controller calls again with
//! backoff. What the check does, and why:
//! - resolves the name itself (hickory): with the system's resolv.conf by default, or only
//!   the given nameservers (the ACME server's view when it uses other resolvers than the
//!   cluster). IPv6 addresses are tried first, then IPv4, moving on only when connecting fails
//!   (as Let's Encrypt does).
//! - follows up to 10 redirects, to `http://` and `https://` URLs, as ACME servers and
//!   cert-manager's self-check do (a common setup redirects every path to HTTPS). Certificates
//!   of redirect targets are not verified: the point of the challenge is to get one. Ports are
//!   not restricted to 80/443 (Let's Encrypt's rule) so the check also works against test
//!   servers on other ports.
//! - passes on status 200 with a body equal to the key authorization, trailing whitespace
//!   ignored (RFC 8555 §8.3).
//! - one deadline (default 10 s, Let's Encrypt's) covers lookups, connects and reads of the
//!   whole redirect chain.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::host::{Host, HostError};
use super::resources::challenge_path;
use super::solver::is_base64url;

/// Redirects followed before giving up (Let's Encrypt's limit).
const MAX_REDIRECTS: usize = 10;
/// The largest body read; a key authorization is under 100 bytes.
const MAX_BODY: usize = 16 * 1024;
/// How much of a wrong body is quoted in the reason.
const QUOTE_MAX: usize = 40;

/// Where and how to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfCheckConfig {
    /// Port of the first request (80 in production; the test bed's Pebble uses 5002).
    pub port: u16,
    /// Ask these DNS servers instead of the system's resolvers.
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Deadline for the whole check.
    pub timeout: Duration,
}

impl Default for SelfCheckConfig {
    fn default() -> Self {
        Self {
            port: 80,
            nameservers: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The verdict of one self-check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelfCheck {
    /// The key authorization came back.
    Passed,
    /// It did not; `reason` says what happened, for the Challenge's status and events.
    Failed { reason: String },
}

/// A self-check that could not even start (bad input or no DNS configuration); retrying
/// will not help until something changes.
#[derive(Debug, thiserror::Error)]
pub enum SelfCheckError {
    #[error("{0}")]
    Domain(#[from] HostError),
    #[error("the token must be a non-empty base64url string")]
    Token,
    #[error("reading the system's DNS configuration failed: {0}")]
    SystemDns(String),
}

/// Checks that `http://<domain>:<port>/.well-known/acme-challenge/<token>` serves
/// `expected_key_authorization`.
pub async fn self_check(
    domain: &str,
    token: &str,
    expected_key_authorization: &str,
    config: &SelfCheckConfig,
) -> Result<SelfCheck, SelfCheckError> {
    let host = Host::parse(domain)?;
    if !is_base64url(token) {
        return Err(SelfCheckError::Token);
    }
    let resolver = resolver(config.nameservers.as_deref())?;
    let deadline = Instant::now() + config.timeout;
    let first = Target {
        tls: false,
        host,
        port: config.port,
        path: challenge_path(token),
    };
    let mut target = first.clone();
    let fail = |target: &Target, what: String| {
        let via = if *target == first {
            String::new()
        } else {
            format!(" (redirected to {target})")
        };
        Ok(SelfCheck::Failed {
            reason: format!("GET {first}{via} {what}"),
        })
    };
    for _ in 0..=MAX_REDIRECTS {
        let fetched = match timeout_at(deadline, fetch(&resolver, &target, deadline)).await {
            Ok(Ok(f)) => f,
            Ok(Err(FetchError::Dns(reason))) => return Ok(SelfCheck::Failed { reason }),
            Ok(Err(FetchError::Http(what))) => return fail(&target, what),
            Err(_) => return fail(&target, format!("timed out after {:?}", config.timeout)),
        };
        match fetched {
            Fetched::Redirect(location) => match target.follow(&location) {
                Ok(next) => target = next,
                Err(why) => return fail(&target, format!("redirected to {location:?}: {why}")),
            },
            Fetched::Body(status, _) if status != StatusCode::OK => {
                return fail(&target, format!("returned {}", status_text(status)));
            }
            Fetched::Body(_, body) => {
                return if key_matches(&body, expected_key_authorization) {
                    Ok(SelfCheck::Passed)
                } else {
                    fail(
                        &target,
                        format!("returned {} instead of the key authorization", quote(&body)),
                    )
                };
            }
            Fetched::TooLarge => {
                return fail(
                    &target,
                    format!(
                        "returned a body over {MAX_BODY} bytes instead of the key authorization"
                    ),
                );
            }
        }
    }
    fail(
        &target,
        format!("was redirected more than {MAX_REDIRECTS} times"),
    )
}

/// RFC 8555 §8.3: the body is the key authorization; trailing whitespace is ignored.
pub fn key_matches(body: &[u8], expected: &str) -> bool {
    let trimmed = body
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(&body[..0], |end| &body[..=end]);
    trimmed == expected.as_bytes()
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut q: String = text.chars().take(QUOTE_MAX).collect();
    if text.chars().count() > QUOTE_MAX {
        q.push_str("...");
    }
    format!("{q:?}")
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => format!("{} {r}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// One URL of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: Host,
    port: u16,
    /// Path and query.
    path: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default_port) = if self.tls {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default_port {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)
    }
}

impl Target {
    /// The Host header: the host, and the port when it is not the scheme's default.
    fn host_header(&self) -> String {
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The target of a redirect's Location, absolute or relative to this URL.
    fn follow(&self, location: &str) -> Result<Target, String> {
        let location = location.trim();
        if let Some(rest) = location.strip_prefix("//") {
            let scheme = if self.tls { "https:" } else { "http:" };
            return self.follow(&format!("{scheme}//{rest}"));
        }
        if location.starts_with('/') {
            return Ok(Target {
                path: location.to_owned(),
                ..self.clone()
            });
        }
        let uri: Uri = location.parse().map_err(|_| "not a URL".to_owned())?;
        let Some(scheme) = uri.scheme_str() else {
            // a relative path: replace the last segment of the current path
            let dir = self.path.split('?').next().unwrap_or("/");
            let dir = &dir[..=dir.rfind('/').unwrap_or(0)];
            return Ok(Target {
                path: format!("{dir}{location}"),
                ..self.clone()
            });
        };
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            other => {
                return Err(format!(
                    "the scheme {other:?} is not followed (only http and https)"
                ));
            }
        };
        let authority = uri.authority().ok_or("no host in the URL")?;
        let host = Host::parse(authority.host()).map_err(|e| e.to_string())?;
        Ok(Target {
            tls,
            host,
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

fn resolver(nameservers: Option<&[SocketAddr]>) -> Result<TokioResolver, SelfCheckError> {
    let provider = TokioRuntimeProvider::default();
    let builder = match nameservers {
        None => TokioResolver::builder(provider)
            .map_err(|e| SelfCheckError::SystemDns(e.to_string()))?,
        Some(servers) => {
            let servers = servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                provider,
            )
        }
    };
    builder
        .build()
        .map_err(|e| SelfCheckError::SystemDns(e.to_string()))
}

enum FetchError {
    /// The name did not resolve: the whole reason.
    Dns(String),
    /// What went wrong after "GET <url> ".
    Http(String),
}

enum Fetched {
    Redirect(String),
    Body(StatusCode, Bytes),
    TooLarge,
}

/// The addresses to try, IPv6 first.
async fn addresses(
    resolver: &TokioResolver,
    host: &Host,
    deadline: Instant,
) -> Result<Vec<IpAddr>, FetchError> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Dns(name) => name,
    };
    // A final dot: the name is absolute, so resolv.conf search domains are not tried first.
    let Ok(answer) = timeout_at(deadline, resolver.lookup_ip(format!("{name}."))).await else {
        return Err(FetchError::Dns(format!(
            "looking up {name} timed out: no answer from the DNS servers"
        )));
    };
    match answer {
        Ok(found) => {
            let mut ips: Vec<IpAddr> = found.iter().collect();
            ips.sort_by_key(|ip| ip.is_ipv4());
            ips.dedup();
            if ips.is_empty() {
                Err(FetchError::Dns(format!("no A/AAAA record for {name}")))
            } else {
                Ok(ips)
            }
        }
        Err(e) if e.is_nx_domain() => {
            Err(FetchError::Dns(format!("{name} does not exist (NXDOMAIN)")))
        }
        Err(e) if e.is_no_records_found() => {
            Err(FetchError::Dns(format!("no A/AAAA record for {name}")))
        }
        Err(e) => Err(FetchError::Dns(format!("looking up {name} failed: {e}"))),
    }
}

async fn fetch(
    resolver: &TokioResolver,
    target: &Target,
    deadline: Instant,
) -> Result<Fetched, FetchError> {
    let ips = addresses(resolver, &target.host, deadline).await?;
    let mut refused = Vec::new();
    for ip in ips {
        let addr = SocketAddr::new(ip, target.port);
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                refused.push(format!("connecting to {addr}: {}", io_reason(&e)));
                continue;
            }
        };
        return if target.tls {
            let tls = tls_connect(stream, &target.host)
                .await
                .map_err(|e| FetchError::Http(format!("failed: TLS handshake with {addr}: {e}")))?;
            get(tls, target).await
        } else {
            get(stream, target).await
        };
    }
    Err(FetchError::Http(format!("failed: {}", refused.join("; "))))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => e.to_string(),
    }
}

async fn get<S>(stream: S, target: &Target) -> Result<Fetched, FetchError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let http = |e: hyper::Error| FetchError::Http(format!("failed: {e}"));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    // The connection task ends with the response; abort it if we stop early (timeout).
    let conn = AbortOnDrop(tokio::spawn(conn));
    let req = Request::get(target.path.as_str())
        .header(header::HOST, target.host_header())
        .header(
            header::USER_AGENT,
            concat!("certsmith-selfcheck/", env!("CARGO_PKG_VERSION")),
        )
        .header(header::ACCEPT, "*/*")
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::Http(format!("failed: building the request: {e}")))?;
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status();
    if status.is_redirection()
        && let Some(loc) = resp.headers().get(header::LOCATION)
    {
        let loc = String::from_utf8_lossy(loc.as_bytes()).into_owned();
        return Ok(Fetched::Redirect(loc));
    }
    let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(Fetched::TooLarge),
        Err(e) => return Err(FetchError::Http(format!("failed reading the body: {e}"))),
    };
    drop(conn);
    Ok(Fetched::Body(status, body))
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn tls_connect(
    stream: TcpStream,
    host: &Host,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = match host {
        Host::Dns(n) => ServerName::try_from(n.clone()).map_err(|e| e.to_string())?,
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config()?);
    connector
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())
}

/// TLS for redirect targets: any certificate is accepted (signatures are still checked), as
/// ACME servers do when following a redirect to HTTPS.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[path = "selfcheck_tests.rs"]
mod tests;
