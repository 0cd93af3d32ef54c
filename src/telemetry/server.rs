//! The HTTP endpoints: `/metrics`, `/livez`, `/readyz`, on plain hyper.
//!
//! The metrics and the probe addresses are separate flags (cert-manager's 9402 and 9403), but
//! each listener answers every path: one handler, nothing to get wrong between them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::health::Health;
use super::metrics::Metrics;

/// Parses a listen-address flag: empty or `0` means off.
pub fn listen_address(flag: &str) -> Result<Option<SocketAddr>, String> {
    match flag.trim() {
        "" | "0" => Ok(None),
        addr => addr
            .parse()
            .map(Some)
            .map_err(|e| format!("{addr:?} is not a host:port address: {e}")),
    }
}

/// Binds `addr` and serves the endpoints until the process ends; logs the bound address (a
/// port of 0 picks a free one).
pub async fn bind(
    what: &'static str,
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "{what} server listening");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let (metrics, health) = (metrics.clone(), health.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let resp = respond(req.uri().path(), &metrics, &health);
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(local)
}

fn respond(path: &str, metrics: &Metrics, health: &Health) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        "/livez" | "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => match health.readiness() {
            Ok(reason) => (StatusCode::OK, "text/plain", reason + "\n"),
            Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", reason + "\n"),
        },
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /livez or /readyz\n".to_owned(),
        ),
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_flags() {
        assert_eq!(listen_address(""), Ok(None));
        assert_eq!(listen_address("0"), Ok(None));
        assert_eq!(
            listen_address("0.0.0.0:9402"),
            Ok(Some("0.0.0.0:9402".parse().unwrap()))
        );
        assert!(
            listen_address("localhost")
                .unwrap_err()
                .contains("localhost")
        );
    }
}
