//! The ingress controller's data path: an HTTP/1.1 server on the port Pebble validates http-01
//! on, forwarding each request (Host header untouched) to the acmesolver process of the Pod
//! [`routing::route`] picks. No route: 404; a route whose process is not up: 502. One log line
//! per request, with the reason for a 404/502.
//!
//! `GET /healthz` with Host `127.0.0.1` or `localhost` (never an Ingress host) is the bed's
//! health check: 200 once every watch has listed its objects.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::DynamicObject;
use kube::runtime::reflector::Store;
use tokio::net::{TcpListener, TcpStream};

use crate::processes::Table;
use crate::routing;

type Body = BoxBody<Bytes, hyper::Error>;

/// The HTTPRoutes, once their CRD exists (set by the watch that waits for it).
pub type HttpRoutes = Arc<OnceLock<Store<DynamicObject>>>;

/// What the proxy routes with.
#[derive(Clone)]
pub struct Proxy {
    pub ingresses: Store<Ingress>,
    pub http_routes: HttpRoutes,
    pub services: Store<Service>,
    pub pods: Store<Pod>,
    pub table: Table,
    pub ready: Arc<AtomicBool>,
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl Proxy {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let raw_host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let host = strip_port(&raw_host).to_ascii_lowercase();
        let path = req.uri().path().to_owned();
        let method = req.method().clone();

        if (host == "127.0.0.1" || host == "localhost") && path == "/healthz" {
            return if self.ready.load(Ordering::Relaxed) {
                text(
                    StatusCode::OK,
                    format!("ok: {} acmesolver processes\n", self.table.running()),
                )
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "watches not synced yet\n".into(),
                )
            };
        }

        let backend = routing::route(
            &host,
            &path,
            &self.ingresses.state(),
            &self.http_routes.get().map(Store::state).unwrap_or_default(),
            &self.services.state(),
            &self.pods.state(),
        );
        let backend = match backend {
            Ok(b) => b,
            Err(miss) => {
                tracing::info!(%method, host = %raw_host, path = %path, status = miss.status, why = %miss.why, "no route");
                let status = StatusCode::from_u16(miss.status).unwrap_or(StatusCode::BAD_GATEWAY);
                return text(status, format!("{}\n", miss.why));
            }
        };
        let port = match self.table.lookup(&backend.pod_uid, backend.container_port) {
            Ok(p) => p,
            Err(why) => {
                let why = format!("Pod {}: {why}", backend.pod);
                tracing::info!(%method, host = %raw_host, path = %path, status = 502, why = %why, "no backend");
                return text(StatusCode::BAD_GATEWAY, format!("{why}\n"));
            }
        };
        match forward(req, port).await {
            Ok(resp) => {
                tracing::info!(
                    %method, host = %raw_host, path = %path, status = resp.status().as_u16(),
                    route = %backend.route, pod = %backend.pod, "proxied"
                );
                resp.map(|b| b.boxed())
            }
            Err(err) => {
                let why = format!(
                    "Pod {}: forwarding to 127.0.0.1:{port} failed: {err}",
                    backend.pod
                );
                tracing::info!(%method, host = %raw_host, path = %path, status = 502, why = %why, "no backend");
                text(StatusCode::BAD_GATEWAY, format!("{why}\n"))
            }
        }
    }
}

async fn forward(req: Request<Incoming>, port: u16) -> Result<Response<Incoming>, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    // origin-form request line; the Host header stays as the client sent it
    let (mut parts, body) = req.into_parts();
    if let Some(pq) = parts.uri.path_and_query() {
        parts.uri = pq
            .as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    }
    sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|e| e.to_string())
}

/// Serves until `shutdown` completes.
pub async fn serve(listener: TcpListener, proxy: Proxy, shutdown: impl Future<Output = ()>) {
    let proxy = Arc::new(proxy);
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(req).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_port_table() {
        for (h, want) in [
            ("a.example.test:5002", "a.example.test"),
            ("a.example.test", "a.example.test"),
            ("[::1]:5002", "::1"),
            ("127.0.0.1:5002", "127.0.0.1"),
        ] {
            assert_eq!(super::strip_port(h), want);
        }
    }
}
