//! A client-side limit on API writes (cert-manager's `--kube-api-qps` / `--kube-api-burst`),
//! as a tower layer on the kube client.
//!
//! Only writes are limited: reads and watches are what keep caches fresh, and the limit exists
//! so that a burst of issuance or a renewal storm cannot flood the API server with writes.
//! A token bucket: `burst` writes at once, refilled at `qps` per second.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Method, Request};
use tower::{Layer, Service};

/// The bucket shared by every clone of the client.
#[derive(Clone, Debug)]
pub struct WriteLimit {
    bucket: Arc<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token if one is there; otherwise how long until one will be. Pure but for
    /// `now`.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.qps))
        }
    }
}

impl WriteLimit {
    /// `qps` writes per second on average, `burst` at once. `qps <= 0` means no limit.
    pub fn new(qps: f64, burst: u32) -> Option<Self> {
        (qps > 0.0).then(|| {
            let burst = f64::from(burst.max(1));
            WriteLimit {
                bucket: Arc::new(Mutex::new(Bucket {
                    qps,
                    burst,
                    tokens: burst,
                    last: Instant::now(),
                })),
            }
        })
    }

    async fn acquire(&self) {
        loop {
            let wait = {
                let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
                bucket.take(Instant::now())
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

impl<S> Layer<S> for WriteLimit {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited {
            inner,
            limit: self.clone(),
        }
    }
}

/// The limited service.
#[derive(Clone, Debug)]
pub struct Limited<S> {
    inner: S,
    limit: WriteLimit,
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl<S, B> Service<Request<B>> for Limited<S>
where
    S: Service<Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let write = is_write(req.method());
        // The inner future sends nothing until polled, so waiting before polling it delays
        // the request itself.
        let response = self.inner.call(req);
        let limit = self.limit.clone();
        Box::pin(async move {
            if write {
                limit.acquire().await;
            }
            response.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket {
            qps: 10.0,
            burst: 3.0,
            tokens: 3.0,
            last: start,
        };
        // the burst
        for _ in 0..3 {
            assert_eq!(bucket.take(start), None);
        }
        // then one write per 100 ms
        let wait = bucket.take(start).expect("empty bucket");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert_eq!(bucket.take(start + Duration::from_millis(100)), None);
        // a long idle time refills only up to the burst
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(later), None);
        }
        assert!(bucket.take(later).is_some());
    }

    #[test]
    fn only_writes_are_limited() {
        for (method, write) in [
            (Method::GET, false),
            (Method::HEAD, false),
            (Method::POST, true),
            (Method::PUT, true),
            (Method::PATCH, true),
            (Method::DELETE, true),
        ] {
            assert_eq!(is_write(&method), write, "{method}");
        }
        assert!(WriteLimit::new(0.0, 10).is_none());
    }
}
