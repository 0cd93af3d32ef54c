//! The HTTP transport of the ACME client: hyper + rustls (aws-lc-rs), an implementation of
//! instant-acme's [`instant_acme::HttpClient`], request counting and a nonce pool.
//!
//! - Trust: the platform's roots plus the Issuer's `caBundle`, or nothing at all when the user
//!   chose `skipTLSVerify`.
//! - Timeouts: connecting ([`HttpOptions::connect_timeout`]) and the whole exchange, body
//!   included ([`HttpOptions::request_timeout`]).
//! - Every request that reaches the network is counted in [`AcmeRequestStats`], labelled like
//!   cert-manager's `certmanager_http_acme_client_request_count`.
//! - The `Replay-Nonce` of every response to our own requests goes into a small pool; a signed
//!   request takes its nonce from there, so a `HEAD newNonce` is only needed when the pool is
//!   empty (RFC 8555 §7.2 allows any unused nonce the server handed out). instant-acme's
//!   requests keep their nonces to instant-acme (it reuses them itself, and a nonce must be used
//!   once), but its `HEAD newNonce` is answered from the pool when it can be.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use instant_acme::{BodyWrapper, BytesResponse};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use super::ServerConfig;
use super::error::{AcmeError, ErrorClass, Failure, parse_retry_after};

const USER_AGENT_VALUE: &str = concat!("certsmith/", env!("CARGO_PKG_VERSION"));
/// ACME responses are small (a chain is a few KiB); anything larger is not an ACME server.
const MAX_BODY_BYTES: usize = 4 << 20;
/// Enough unused nonces for a burst of concurrent requests; older ones may have expired anyway.
const MAX_POOLED_NONCES: usize = 32;

/// The purpose of an ACME request: the `action` label of the request metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Directory,
    NewNonce,
    NewAccount,
    /// Reading or updating an existing account (its URL).
    Account,
    NewOrder,
    Order,
    Authorization,
    Challenge,
    Finalize,
    Certificate,
    Revoke,
    KeyChange,
    RenewalInfo,
    Other,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Directory => "directory",
            Action::NewNonce => "new_nonce",
            Action::NewAccount => "new_account",
            Action::Account => "account",
            Action::NewOrder => "new_order",
            Action::Order => "order",
            Action::Authorization => "authorization",
            Action::Challenge => "challenge",
            Action::Finalize => "finalize",
            Action::Certificate => "certificate",
            Action::Revoke => "revoke",
            Action::KeyChange => "key_change",
            Action::RenewalInfo => "renewal_info",
            Action::Other => "other",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The labels of one request counter, as in cert-manager's
/// `certmanager_http_acme_client_request_count{scheme,host,action,method,status}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestLabels {
    pub scheme: String,
    /// `host[:port]` of the URL.
    pub host: String,
    pub action: Action,
    pub method: String,
    /// The HTTP status code, or `"error"` when no response arrived.
    pub status: String,
}

/// Count and summed duration of the requests with one set of labels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestTally {
    pub count: u64,
    pub duration_seconds: f64,
}

/// Counts every ACME request that reaches the network. Cheap to clone (one shared map); share
/// one instance across all accounts to build the process's metrics from it.
#[derive(Clone, Default)]
pub struct AcmeRequestStats {
    inner: Arc<Mutex<BTreeMap<RequestLabels, RequestTally>>>,
}

impl fmt::Debug for AcmeRequestStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeRequestStats")
            .field("total", &self.total())
            .finish()
    }
}

impl AcmeRequestStats {
    pub fn new() -> Self {
        Self::default()
    }

    fn record(&self, labels: RequestLabels, elapsed: Duration) {
        // One debug line per request (URLs carry no secrets): how tests and users count what
        // an issuance cost until the metrics endpoint exists.
        tracing::debug!(
            target: "certsmith::acme::request",
            host = labels.host,
            action = labels.action.as_str(),
            method = labels.method,
            status = labels.status,
            ms = elapsed.as_millis() as u64,
            "ACME request"
        );
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let tally = map.entry(labels).or_default();
        tally.count += 1;
        tally.duration_seconds += elapsed.as_secs_f64();
    }

    /// Every counter, ordered by labels.
    pub fn snapshot(&self) -> Vec<(RequestLabels, RequestTally)> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// All requests counted so far.
    pub fn total(&self) -> u64 {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(|t| t.count).sum()
    }

    /// Requests per action, whatever their host, method and status.
    pub fn by_action(&self) -> BTreeMap<Action, u64> {
        let mut out = BTreeMap::new();
        for (labels, tally) in self.snapshot() {
            *out.entry(labels.action).or_default() += tally.count;
        }
        out
    }
}

/// Timeouts of the transport.
#[derive(Clone, Copy, Debug)]
pub struct HttpOptions {
    /// Establishing the TCP connection.
    pub connect_timeout: Duration,
    /// One whole exchange: connecting, TLS, sending, and reading the whole response.
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The `Retry-After` header, as a duration from now.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, jiff::Timestamp::now())
    }

    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Directory URLs the transport needs to name the actions of instant-acme's requests.
#[derive(Clone, Debug, Default)]
pub(crate) struct KnownUrls {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    pub revoke_cert: Option<String>,
    pub key_change: Option<String>,
    pub renewal_info: Option<String>,
}

type Connector = HttpsConnector<HttpConnector>;

/// The ACME HTTP client of one server configuration. Cheap to clone.
#[derive(Clone)]
pub struct AcmeHttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: HyperClient<Connector, BodyWrapper<Bytes>>,
    stats: AcmeRequestStats,
    options: HttpOptions,
    nonces: Mutex<Vec<String>>,
    urls: OnceLock<KnownUrls>,
}

impl fmt::Debug for AcmeHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeHttpClient")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl AcmeHttpClient {
    /// A client trusting what `server` says: platform roots plus `ca_bundle`, or nothing
    /// checked at all with `skip_tls_verify`.
    pub fn new(
        server: &ServerConfig,
        stats: AcmeRequestStats,
        options: HttpOptions,
    ) -> Result<Self, AcmeError> {
        let tls = tls_config(server)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(AcmeHttpClient {
            inner: Arc::new(Inner {
                client,
                stats,
                options,
                nonces: Mutex::new(Vec::new()),
                urls: OnceLock::new(),
            }),
        })
    }

    pub fn stats(&self) -> &AcmeRequestStats {
        &self.inner.stats
    }

    pub(crate) fn set_known_urls(&self, urls: KnownUrls) {
        let _ = self.inner.urls.set(urls);
    }

    /// An unused nonce from the pool, newest first (older ones are likelier to have expired).
    pub(crate) fn pooled_nonce(&self) -> Option<String> {
        self.inner
            .nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
    }

    fn pool_nonce(&self, headers: &HeaderMap) {
        let Some(nonce) = headers.get("replay-nonce").and_then(|v| v.to_str().ok()) else {
            return;
        };
        let mut pool = self.inner.nonces.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() >= MAX_POOLED_NONCES {
            pool.remove(0);
        }
        pool.push(nonce.to_owned());
    }

    /// Sends one request and reads the whole response. Any HTTP status is a success here;
    /// only failing to get a response (connect, TLS, timeout, body) is an error, retryable.
    /// The response's nonce is pooled, except for [`Action::NewNonce`]: that one is the
    /// caller's.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        action: Action,
    ) -> Result<HttpResponse, AcmeError> {
        let uri: Uri = url.parse().map_err(|_| {
            AcmeError::invalid(
                action,
                format!("ACME {action} request: {url:?} is not a valid URL"),
            )
        })?;
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .header(USER_AGENT, USER_AGENT_VALUE);
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/jose+json");
        }
        let request = builder
            .body(body.map(BodyWrapper::from).unwrap_or_default())
            .map_err(|e| {
                AcmeError::invalid(action, format!("ACME {action} request to {url}: {e}"))
            })?;
        let response = self.execute(request, action).await?;
        if action != Action::NewNonce {
            self.pool_nonce(&response.headers);
        }
        Ok(response)
    }

    async fn execute(
        &self,
        request: Request<BodyWrapper<Bytes>>,
        action: Action,
    ) -> Result<HttpResponse, AcmeError> {
        let uri = request.uri().clone();
        let method = request.method().clone();
        let started = Instant::now();
        let exchange = async {
            let response = self.inner.client.request(request).await.map_err(|e| {
                let mut msg = describe_error(&e);
                if e.is_connect() && !msg.contains("connect") {
                    msg = format!("cannot connect: {msg}");
                }
                msg
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the response failed: {}", describe_error(&*e)))?
                .to_bytes();
            Ok::<_, String>(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let result = match tokio::time::timeout(self.inner.options.request_timeout, exchange).await
        {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no complete response within {} s",
                self.inner.options.request_timeout.as_secs()
            )),
        };
        let status = match &result {
            Ok(r) => r.status.as_u16().to_string(),
            Err(_) => "error".to_owned(),
        };
        self.inner.stats.record(
            RequestLabels {
                scheme: uri.scheme_str().unwrap_or("").to_owned(),
                host: uri.authority().map(|a| a.to_string()).unwrap_or_default(),
                action,
                method: method.as_str().to_owned(),
                status,
            },
            started.elapsed(),
        );
        match result {
            Ok(response) => Ok(response),
            Err(reason) => Err(AcmeError::new(
                ErrorClass::Retryable,
                Failure {
                    action,
                    message: transport_message(action, &method, &uri, &reason),
                    problem: None,
                    status: None,
                    retry_after: None,
                },
            )),
        }
    }
}

/// What a user should read when no response arrived.
fn transport_message(action: Action, method: &Method, uri: &Uri, reason: &str) -> String {
    let mut msg = format!("ACME {action} request {method} {uri} failed: {reason}");
    if reason.contains("invalid peer certificate") {
        msg.push_str(
            "; the ACME server's TLS certificate is not trusted: put its CA in the issuer's \
             spec.acme.caBundle (or, for testing only, set spec.acme.skipTLSVerify)",
        );
    }
    msg
}

/// The messages of an error and its sources, without repeats ("a: b: c").
fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// Names the action of a request instant-acme makes (we name our own explicitly).
pub(crate) fn action_for(method: &Method, url: &str, urls: Option<&KnownUrls>) -> Action {
    if let Some(u) = urls {
        if url == u.new_nonce {
            return Action::NewNonce;
        }
        if url == u.new_account {
            return Action::NewAccount;
        }
        if url == u.new_order {
            return Action::NewOrder;
        }
        if u.revoke_cert.as_deref() == Some(url) {
            return Action::Revoke;
        }
        if u.key_change.as_deref() == Some(url) {
            return Action::KeyChange;
        }
        if u.renewal_info
            .as_deref()
            .is_some_and(|r| url.starts_with(r))
        {
            return Action::RenewalInfo;
        }
    }
    match *method {
        // instant-acme GETs only the directory (and ARI, matched above).
        Method::GET => Action::Directory,
        Method::HEAD => Action::NewNonce,
        _ => Action::Other,
    }
}

impl instant_acme::HttpClient for AcmeHttpClient {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let this = self.clone();
        Box::pin(async move {
            let url = req.uri().to_string();
            let action = action_for(req.method(), &url, this.inner.urls.get());
            // A newNonce request is answered from the pool when it can be: no round trip.
            if action == Action::NewNonce
                && let Some(nonce) = this.pooled_nonce()
            {
                let mut response = Response::new(Full::new(Bytes::new()));
                if let Ok(v) = HeaderValue::from_str(&nonce) {
                    response.headers_mut().insert("replay-nonce", v);
                }
                return Ok(BytesResponse::from(response));
            }
            let r = this
                .execute(req, action)
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut response = Response::new(Full::new(r.body));
            *response.status_mut() = r.status;
            *response.headers_mut() = r.headers;
            Ok(BytesResponse::from(response))
        })
    }
}

// ------------------------------------------------------------------------------------------ TLS

fn tls_config(server: &ServerConfig) -> Result<rustls::ClientConfig, AcmeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let fail = |msg: String| AcmeError::invalid(Action::Directory, msg);
    let verifier: Arc<dyn ServerCertVerifier> = if server.skip_tls_verify {
        Arc::new(NoVerification(provider.clone()))
    } else {
        let extra = match &server.ca_bundle {
            Some(pem) => ca_bundle_roots(pem).map_err(fail)?,
            None => Vec::new(),
        };
        Arc::new(
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| {
                    fail(format!(
                        "cannot set up TLS verification for the ACME server: {e} (no trusted CA \
                         certificates; give the issuer a spec.acme.caBundle)"
                    ))
                })?,
        )
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// The certificates of a PEM CA bundle; an error names what is wrong with it.
pub(crate) fn ca_bundle_roots(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("spec.acme.caBundle is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("spec.acme.caBundle holds no PEM CERTIFICATE block".to_owned());
    }
    Ok(certs)
}

/// `skipTLSVerify`: any server certificate is accepted (the user's explicit choice). The
/// handshake signatures are still checked, so the connection is at least self-consistent.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
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
mod tests {
    use super::*;

    #[test]
    fn actions_of_instant_acme_requests() {
        let urls = KnownUrls {
            new_nonce: "https://ca/nonce".into(),
            new_account: "https://ca/acct".into(),
            new_order: "https://ca/order".into(),
            revoke_cert: Some("https://ca/revoke".into()),
            key_change: Some("https://ca/rollover".into()),
            renewal_info: Some("https://ca/ari".into()),
        };
        let cases = [
            (
                Method::HEAD,
                "https://ca/nonce",
                Some(&urls),
                Action::NewNonce,
            ),
            (
                Method::POST,
                "https://ca/acct",
                Some(&urls),
                Action::NewAccount,
            ),
            (
                Method::POST,
                "https://ca/order",
                Some(&urls),
                Action::NewOrder,
            ),
            (
                Method::POST,
                "https://ca/revoke",
                Some(&urls),
                Action::Revoke,
            ),
            (
                Method::POST,
                "https://ca/rollover",
                Some(&urls),
                Action::KeyChange,
            ),
            (
                Method::GET,
                "https://ca/ari/abc.def",
                Some(&urls),
                Action::RenewalInfo,
            ),
            (
                Method::GET,
                "https://ca/dir",
                Some(&urls),
                Action::Directory,
            ),
            (Method::GET, "https://ca/dir", None, Action::Directory),
            (Method::HEAD, "https://ca/nonce", None, Action::NewNonce),
            (
                Method::POST,
                "https://ca/my-order/1",
                Some(&urls),
                Action::Other,
            ),
        ];
        for (method, url, urls, want) in cases {
            assert_eq!(action_for(&method, url, urls), want, "{method} {url}");
        }
    }

    #[test]
    fn stats_count_per_label_and_total() {
        let stats = AcmeRequestStats::new();
        let labels = |action, status: &str| RequestLabels {
            scheme: "https".into(),
            host: "ca:443".into(),
            action,
            method: "POST".into(),
            status: status.into(),
        };
        stats.record(labels(Action::NewOrder, "201"), Duration::from_millis(10));
        stats.record(labels(Action::NewOrder, "201"), Duration::from_millis(20));
        stats.record(labels(Action::NewOrder, "400"), Duration::from_millis(5));
        stats
            .clone()
            .record(labels(Action::Order, "200"), Duration::ZERO);
        assert_eq!(stats.total(), 4);
        let snap = stats.snapshot();
        assert_eq!(snap.len(), 3);
        let (l, t) = &snap[0];
        assert_eq!(
            (l.action, l.status.as_str(), t.count),
            (Action::NewOrder, "201", 2)
        );
        assert!((t.duration_seconds - 0.030).abs() < 1e-9);
        assert_eq!(stats.by_action()[&Action::NewOrder], 3);
        assert_eq!(stats.by_action()[&Action::Order], 1);
    }

    #[test]
    fn ca_bundle_parsing() {
        assert!(
            ca_bundle_roots(b"")
                .unwrap_err()
                .contains("no PEM CERTIFICATE")
        );
        assert!(
            ca_bundle_roots(b"not pem at all")
                .unwrap_err()
                .contains("no PEM")
        );
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let two = format!("{}{}", ca.pem(), ca.pem());
        assert_eq!(ca_bundle_roots(two.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn transport_messages_point_at_the_fix() {
        let uri: Uri = "https://acme.example:8443/dir".parse().unwrap();
        let m = transport_message(
            Action::Directory,
            &Method::GET,
            &uri,
            "client error (Connect): invalid peer certificate: UnknownIssuer",
        );
        assert!(m.starts_with("ACME directory request GET https://acme.example:8443/dir failed"));
        assert!(m.contains("spec.acme.caBundle"));
        let m = transport_message(Action::Directory, &Method::GET, &uri, "connection refused");
        assert!(!m.contains("caBundle"));
    }
}
