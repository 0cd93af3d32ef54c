//! One ACME server: its directory, and signed requests to it with nonce handling and the
//! transparent `badNonce` retry.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;

use super::ServerConfig;
use super::error::{AcmeError, Problem};
use super::http::{AcmeHttpClient, AcmeRequestStats, Action, HttpOptions, HttpResponse, KnownUrls};
use super::jws::{KeyId, Payload, SigningKey, sign_request};

/// How many times one signed request is sent while the server answers `badNonce`.
///
/// instant-acme 0.8 retries its own requests 3 times in all (its main branch: 5); against a
/// server rejecting 40 % of good nonces (Pebble's fault mode) that still fails 6 % of requests.
/// Every retry reuses the fresh nonce the rejection carried, so it costs one request; 12
/// attempts leave 0.4^12 ≈ 2e-5 per request.
pub(crate) const MAX_NONCE_ATTEMPTS: usize = 12;

/// The parts of the directory (RFC 8555 §7.1.1) certsmith uses; `raw` keeps the whole object.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Directory {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    #[serde(default)]
    pub revoke_cert: Option<String>,
    #[serde(default)]
    pub key_change: Option<String>,
    #[serde(default)]
    pub renewal_info: Option<String>,
    #[serde(default)]
    pub meta: DirectoryMeta,
    #[serde(skip)]
    pub raw: serde_json::Value,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DirectoryMeta {
    #[serde(default)]
    pub external_account_required: bool,
    /// Profile name -> description (draft-aaron-acme-profiles).
    #[serde(default)]
    pub profiles: Option<BTreeMap<String, String>>,
}

/// A connection to one ACME server (directory read). Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AcmeClient {
    pub http: AcmeHttpClient,
    pub directory: Arc<Directory>,
    pub directory_url: String,
}

impl AcmeClient {
    /// Reads the directory (one GET).
    pub async fn connect(
        server: &ServerConfig,
        stats: &AcmeRequestStats,
        options: HttpOptions,
    ) -> Result<Self, AcmeError> {
        let http = AcmeHttpClient::new(server, stats.clone(), options)?;
        let url = server.directory_url.trim();
        let rsp = http.send(Method::GET, url, None, Action::Directory).await?;
        check_status(Action::Directory, &rsp)?;
        let not_acme = |why: String| {
            AcmeError::invalid(
                Action::Directory,
                format!(
                    "{url} is not an ACME directory ({why}); spec.acme.server must be the \
                     directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory"
                ),
            )
        };
        let raw: serde_json::Value =
            serde_json::from_slice(&rsp.body).map_err(|e| not_acme(format!("not JSON: {e}")))?;
        let mut directory: Directory = serde_json::from_value(raw.clone())
            .map_err(|e| not_acme(format!("missing or malformed field: {e}")))?;
        directory.raw = raw;
        http.set_known_urls(KnownUrls {
            new_nonce: directory.new_nonce.clone(),
            new_account: directory.new_account.clone(),
            new_order: directory.new_order.clone(),
            revoke_cert: directory.revoke_cert.clone(),
            key_change: directory.key_change.clone(),
            renewal_info: directory.renewal_info.clone(),
        });
        Ok(AcmeClient {
            http,
            directory: Arc::new(directory),
            directory_url: url.to_owned(),
        })
    }

    /// A fresh nonce: from the pool, else from `HEAD newNonce`.
    async fn nonce(&self) -> Result<String, AcmeError> {
        if let Some(n) = self.http.pooled_nonce() {
            return Ok(n);
        }
        let url = &self.directory.new_nonce;
        let rsp = self
            .http
            .send(Method::HEAD, url, None, Action::NewNonce)
            .await?;
        check_status(Action::NewNonce, &rsp)?;
        rsp.header("replay-nonce")
            .map(str::to_owned)
            .ok_or_else(|| {
                AcmeError::new(
                    super::ErrorClass::Retryable,
                    super::Failure {
                        action: Action::NewNonce,
                        message: format!(
                            "ACME new_nonce request to {url} returned no Replay-Nonce"
                        ),
                        problem: None,
                        status: Some(rsp.status.as_u16()),
                        retry_after: None,
                    },
                )
            })
    }

    /// Sends a signed POST and returns the successful response; an error response becomes an
    /// [`AcmeError`]. A `badNonce` answer is retried with the nonce it carried.
    pub async fn post(
        &self,
        key: &SigningKey,
        key_id: &KeyId<'_>,
        url: &str,
        payload: &Payload<'_>,
        action: Action,
    ) -> Result<HttpResponse, AcmeError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let nonce = self.nonce().await?;
            let body = sign_request(key, key_id, &nonce, url, payload).ok_or_else(|| {
                AcmeError::invalid(action, format!("signing the ACME {action} request failed"))
            })?;
            let rsp = self
                .http
                .send(Method::POST, url, Some(body), action)
                .await?;
            match check_status(action, &rsp) {
                Err(e) if e.is_problem("badNonce") && attempt < MAX_NONCE_ATTEMPTS => continue,
                Err(e) => return Err(e),
                Ok(()) => return Ok(rsp),
            }
        }
    }
}

/// `Ok` for 1xx-3xx; otherwise the classified error with the server's problem and
/// `Retry-After`.
pub(crate) fn check_status(action: Action, rsp: &HttpResponse) -> Result<(), AcmeError> {
    let status = rsp.status.as_u16();
    if status < 400 {
        return Ok(());
    }
    Err(AcmeError::from_response(
        action,
        status,
        Problem::parse(&rsp.body),
        rsp.retry_after(),
    ))
}

/// An error for a successful response whose content we could not use.
pub(crate) fn unusable(action: Action, rsp: &HttpResponse, what: String) -> AcmeError {
    let mut e = AcmeError::from_response(action, rsp.status.as_u16(), None, rsp.retry_after());
    e.failure_mut().message = format!("ACME {action} response is unusable: {what}");
    e
}
