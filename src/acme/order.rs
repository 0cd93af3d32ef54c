//! Orders, authorizations and challenges, addressed by URL so a controller can resume from what
//! it stored in the Order/Challenge status, and returned as plain snapshots to mirror there.
//!
//! Each call is one signed request (plus a `HEAD newNonce` when the nonce pool is empty, plus
//! one per `badNonce` retry). instant-acme 0.8 reaches authorizations and challenges only through
//! an `Order` value fetched first, cannot fetch a certificate's alternate chains, and has no
//! `notAfter`; these requests are therefore signed here ([`super::jws`]) over the same transport.

use std::net::IpAddr;
use std::time::Duration;

use aws_lc_rs::digest;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::AcmeAccount;
use super::chain::{ChainTop, alternate_links, choose_chain};
use super::client::unusable;
use super::error::{AcmeError, Problem};
use super::http::{Action, HttpResponse};
use super::jws::{KeyId, Payload, b64};
use crate::api::AcmeState;

/// An identifier of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identifier {
    Dns(String),
    Ip(IpAddr),
}

impl Identifier {
    fn to_wire(&self) -> Value {
        match self {
            Identifier::Dns(name) => json!({"type": "dns", "value": name}),
            Identifier::Ip(ip) => json!({"type": "ip", "value": ip.to_string()}),
        }
    }

    fn from_wire(w: WireIdentifier) -> Option<Self> {
        match w.kind.as_str() {
            "dns" => Some(Identifier::Dns(w.value)),
            "ip" => w.value.parse().ok().map(Identifier::Ip),
            _ => None,
        }
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identifier::Dns(name) => f.write_str(name),
            Identifier::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// An order as the server last reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderSnapshot {
    pub url: String,
    pub state: AcmeState,
    pub identifiers: Vec<Identifier>,
    pub finalize_url: String,
    pub authorization_urls: Vec<String>,
    pub certificate_url: Option<String>,
    pub profile: Option<String>,
    pub error: Option<Problem>,
    /// The server's `Retry-After`: when to look at the order again.
    pub retry_after: Option<Duration>,
}

/// An authorization as the server last reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthorizationSnapshot {
    pub url: String,
    /// The identifier to prove control of (for a wildcard, the base name without `*.`).
    pub identifier: Identifier,
    pub wildcard: bool,
    pub state: AcmeState,
    pub challenges: Vec<ChallengeSnapshot>,
    pub retry_after: Option<Duration>,
}

/// A challenge as the server last reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChallengeSnapshot {
    /// As the server names it: `http-01`, `dns-01`, `tls-alpn-01`, ...
    pub challenge_type: String,
    pub url: String,
    pub token: String,
    pub state: AcmeState,
    pub error: Option<Problem>,
    pub retry_after: Option<Duration>,
}

impl AuthorizationSnapshot {
    /// The challenge of `challenge_type` (`"dns-01"`, `"http-01"`), if offered.
    pub fn challenge(&self, challenge_type: &str) -> Option<&ChallengeSnapshot> {
        self.challenges
            .iter()
            .find(|c| c.challenge_type == challenge_type)
    }
}

/// The state an ACME status string maps to. Orders, authorizations and challenges share the
/// names; an authorization's `deactivated`/`revoked` can never become valid again, so they map
/// to `Invalid`; a status this client does not know is `Errored`.
pub fn state_from_wire(status: &str) -> AcmeState {
    match status {
        "pending" => AcmeState::Pending,
        "ready" => AcmeState::Ready,
        "processing" => AcmeState::Processing,
        "valid" => AcmeState::Valid,
        "invalid" | "deactivated" | "revoked" => AcmeState::Invalid,
        "expired" => AcmeState::Expired,
        _ => AcmeState::Errored,
    }
}

#[derive(Deserialize)]
struct WireIdentifier {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Deserialize)]
struct WireOrder {
    status: String,
    #[serde(default)]
    identifiers: Vec<WireIdentifier>,
    #[serde(default)]
    authorizations: Vec<String>,
    finalize: String,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    error: Option<instant_acme::Problem>,
}

#[derive(Deserialize)]
struct WireAuthorization {
    status: String,
    identifier: WireIdentifier,
    #[serde(default)]
    wildcard: bool,
    #[serde(default)]
    challenges: Vec<WireChallenge>,
}

#[derive(Deserialize)]
struct WireChallenge {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(default)]
    token: String,
    status: String,
    #[serde(default)]
    error: Option<instant_acme::Problem>,
}

impl WireChallenge {
    fn snapshot(self, retry_after: Option<Duration>) -> ChallengeSnapshot {
        ChallengeSnapshot {
            challenge_type: self.kind,
            url: self.url,
            token: self.token,
            state: state_from_wire(&self.status),
            error: self.error.map(Problem::from_wire),
            retry_after,
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    action: Action,
    rsp: &HttpResponse,
    what: &str,
) -> Result<T, AcmeError> {
    serde_json::from_slice(&rsp.body).map_err(|e| unusable(action, rsp, format!("{what}: {e}")))
}

fn order_snapshot(
    url: String,
    rsp: &HttpResponse,
    action: Action,
) -> Result<OrderSnapshot, AcmeError> {
    let w: WireOrder = parse(action, rsp, "order object")?;
    Ok(OrderSnapshot {
        url,
        state: state_from_wire(&w.status),
        identifiers: w
            .identifiers
            .into_iter()
            .filter_map(Identifier::from_wire)
            .collect(),
        finalize_url: w.finalize,
        authorization_urls: w.authorizations,
        certificate_url: w.certificate,
        profile: w.profile,
        error: w.error.map(Problem::from_wire),
        retry_after: rsp.retry_after(),
    })
}

/// Whether `profile` can be asked of a server whose directory lists `offered` (`None`: the
/// server does not support profiles). The error completes "cannot ask for profile X: ...".
pub(crate) fn check_profile(
    offered: Option<&std::collections::BTreeMap<String, String>>,
    profile: &str,
) -> Result<(), String> {
    match offered {
        None => Err("the ACME server does not support certificate profiles".to_owned()),
        Some(p) if p.contains_key(profile) => Ok(()),
        Some(p) => Err(format!(
            "the ACME server offers only {}",
            p.keys()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The media type of a certificate chain (RFC 8555 §9.1).
const PEM_CHAIN: &str = "application/pem-certificate-chain";

impl AcmeAccount {
    async fn signed(
        &self,
        url: &str,
        payload: &Payload<'_>,
        action: Action,
    ) -> Result<HttpResponse, AcmeError> {
        let inner = &self.inner;
        inner
            .client
            .post(
                inner.key.signing(),
                &KeyId::Kid(&inner.url),
                url,
                payload,
                action,
            )
            .await
    }

    /// Places a new order. `profile` must be one the server lists (checked before sending);
    /// `not_after` asks for the certificate's end (cert-manager's `enableDurationFeature`; not
    /// every CA honours it, Let's Encrypt refuses it).
    pub async fn new_order(
        &self,
        identifiers: &[Identifier],
        profile: Option<&str>,
        not_after: Option<Timestamp>,
    ) -> Result<OrderSnapshot, AcmeError> {
        if identifiers.is_empty() {
            return Err(AcmeError::invalid(
                Action::NewOrder,
                "an ACME order needs at least one identifier",
            ));
        }
        let mut payload =
            json!({"identifiers": identifiers.iter().map(Identifier::to_wire).collect::<Vec<_>>()});
        if let Some(profile) = profile {
            check_profile(self.profiles(), profile).map_err(|why| {
                AcmeError::invalid(
                    Action::NewOrder,
                    format!("cannot ask for profile {profile:?}: {why}"),
                )
            })?;
            payload["profile"] = json!(profile);
        }
        if let Some(not_after) = not_after {
            payload["notAfter"] = json!(not_after.to_string());
        }
        let url = &self.inner.client.directory.new_order;
        let rsp = self
            .signed(url, &Payload::Json(&payload), Action::NewOrder)
            .await?;
        let location = rsp
            .header(http::header::LOCATION)
            .map(str::to_owned)
            .ok_or_else(|| unusable(Action::NewOrder, &rsp, "no Location header".to_owned()))?;
        order_snapshot(location, &rsp, Action::NewOrder)
    }

    /// The order's current state.
    pub async fn order(&self, url: &str) -> Result<OrderSnapshot, AcmeError> {
        let rsp = self.signed(url, &Payload::Empty, Action::Order).await?;
        order_snapshot(url.to_owned(), &rsp, Action::Order)
    }

    /// An authorization and its challenges.
    pub async fn authorization(&self, url: &str) -> Result<AuthorizationSnapshot, AcmeError> {
        let rsp = self
            .signed(url, &Payload::Empty, Action::Authorization)
            .await?;
        let w: WireAuthorization = parse(Action::Authorization, &rsp, "authorization object")?;
        let retry_after = rsp.retry_after();
        let identifier = Identifier::from_wire(w.identifier).ok_or_else(|| {
            unusable(
                Action::Authorization,
                &rsp,
                "unknown identifier type".to_owned(),
            )
        })?;
        Ok(AuthorizationSnapshot {
            url: url.to_owned(),
            identifier,
            wildcard: w.wildcard,
            state: state_from_wire(&w.status),
            challenges: w
                .challenges
                .into_iter()
                .map(|c| c.snapshot(retry_after))
                .collect(),
            retry_after,
        })
    }

    /// A challenge's current state.
    pub async fn challenge(&self, url: &str) -> Result<ChallengeSnapshot, AcmeError> {
        let rsp = self.signed(url, &Payload::Empty, Action::Challenge).await?;
        let w: WireChallenge = parse(Action::Challenge, &rsp, "challenge object")?;
        Ok(w.snapshot(rsp.retry_after()))
    }

    /// Tells the server the challenge is ready to be validated (POST `{}`, RFC 8555 §7.5.1).
    /// Accepting an already processing or valid challenge is harmless.
    pub async fn accept_challenge(&self, url: &str) -> Result<ChallengeSnapshot, AcmeError> {
        let rsp = self
            .signed(url, &Payload::Json(&json!({})), Action::Challenge)
            .await?;
        let w: WireChallenge = parse(Action::Challenge, &rsp, "challenge object")?;
        Ok(w.snapshot(rsp.retry_after()))
    }

    /// Sends the CSR (DER) to the order's finalize URL; returns the order, usually
    /// `processing` or `valid`. `order_url` names the order in the snapshot (the response is the
    /// order object; taking the finalize URL from the stored status spares a request).
    pub async fn finalize(
        &self,
        order_url: &str,
        finalize_url: &str,
        csr_der: &[u8],
    ) -> Result<OrderSnapshot, AcmeError> {
        let payload = json!({"csr": b64(csr_der)});
        let rsp = self
            .signed(finalize_url, &Payload::Json(&payload), Action::Finalize)
            .await?;
        order_snapshot(order_url.to_owned(), &rsp, Action::Finalize)
    }

    /// Downloads the certificate chain (PEM, leaf first). `url` is the order's certificate URL,
    /// or the order URL (then one more request reads the order). With `preferred_chain`, the
    /// alternate chains are fetched only if the default one does not match; see
    /// [`super::chain`] for the rule.
    pub async fn certificate(
        &self,
        url: &str,
        preferred_chain: Option<&str>,
    ) -> Result<String, AcmeError> {
        let mut url = url.to_owned();
        let mut rsp = self
            .signed(&url, &Payload::Empty, Action::Certificate)
            .await?;
        if !is_pem_chain(&rsp) {
            // The order URL: follow it to the certificate.
            let order = order_snapshot(url.clone(), &rsp, Action::Certificate)?;
            url = match (order.state, order.certificate_url) {
                (AcmeState::Valid, Some(cert)) => cert,
                (state, _) => {
                    return Err(AcmeError::invalid(
                        Action::Certificate,
                        format!("the ACME order {url} has no certificate yet (state {state:?})"),
                    ));
                }
            };
            rsp = self
                .signed(&url, &Payload::Empty, Action::Certificate)
                .await?;
        }
        let default = pem_body(&rsp)?;
        let Some(preferred) = preferred_chain.map(str::trim).filter(|p| !p.is_empty()) else {
            return Ok(default);
        };
        let mut tops = vec![ChainTop::of_pem(&default)];
        if tops[0].as_ref().is_some_and(|t| t.matches(preferred)) {
            return Ok(default);
        }
        let links = alternate_links(
            rsp.headers
                .get_all(http::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok()),
            &url,
        );
        let mut chains = vec![default];
        for link in links {
            let alt = self
                .signed(&link, &Payload::Empty, Action::Certificate)
                .await?;
            let pem = pem_body(&alt)?;
            tops.push(ChainTop::of_pem(&pem));
            chains.push(pem);
        }
        let chosen = choose_chain(&tops, Some(preferred));
        Ok(chains.swap_remove(chosen))
    }

    /// The key authorization of a challenge token: `token.thumbprint` (RFC 8555 §8.1), what an
    /// http-01 solver serves.
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.inner.key.signing().thumbprint())
    }

    /// The TXT record value of a dns-01 challenge: base64url(SHA-256(key authorization)).
    pub fn dns01_txt_value(&self, token: &str) -> String {
        dns01_value(&self.key_authorization(token))
    }
}

/// base64url(SHA-256(key authorization)), RFC 8555 §8.4.
pub fn dns01_value(key_authorization: &str) -> String {
    b64(digest::digest(
        &digest::SHA256,
        key_authorization.as_bytes(),
    ))
}

fn is_pem_chain(rsp: &HttpResponse) -> bool {
    rsp.header(http::header::CONTENT_TYPE)
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with(PEM_CHAIN))
        || rsp.body.starts_with(b"-----BEGIN")
}

fn pem_body(rsp: &HttpResponse) -> Result<String, AcmeError> {
    let text = std::str::from_utf8(&rsp.body)
        .map_err(|_| unusable(Action::Certificate, rsp, "the chain is not text".to_owned()))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(unusable(
            Action::Certificate,
            rsp,
            "no PEM certificate in the body".to_owned(),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn states_table() {
        let cases = [
            ("pending", AcmeState::Pending),
            ("ready", AcmeState::Ready),
            ("processing", AcmeState::Processing),
            ("valid", AcmeState::Valid),
            ("invalid", AcmeState::Invalid),
            ("deactivated", AcmeState::Invalid),
            ("revoked", AcmeState::Invalid),
            ("expired", AcmeState::Expired),
            ("Valid", AcmeState::Errored),
            ("", AcmeState::Errored),
            ("weird", AcmeState::Errored),
        ];
        for (wire, want) in cases {
            assert_eq!(state_from_wire(wire), want, "{wire:?}");
        }
    }

    #[test]
    fn dns01_value_matches_rfc8555_example_shape() {
        // base64url without padding of a SHA-256: 43 characters.
        let v = dns01_value("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.thumb");
        assert_eq!(v.len(), 43);
        assert!(!v.contains(['=', '+', '/']));
        // Independent check against a known digest: SHA-256("abc").
        assert_eq!(
            dns01_value("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn profile_checks() {
        let offered: BTreeMap<String, String> = [
            ("default".to_owned(), "d".to_owned()),
            ("shortlived".to_owned(), "s".to_owned()),
        ]
        .into();
        assert_eq!(check_profile(Some(&offered), "shortlived"), Ok(()));
        assert_eq!(
            check_profile(Some(&offered), "tlsserver").unwrap_err(),
            r#"the ACME server offers only "default", "shortlived""#
        );
        assert!(
            check_profile(None, "shortlived")
                .unwrap_err()
                .contains("does not support")
        );
    }

    #[test]
    fn wire_objects_parse() {
        let order: WireOrder = serde_json::from_str(
            r#"{"status":"invalid","identifiers":[{"type":"dns","value":"a.example"},{"type":"ip","value":"192.0.2.1"},{"type":"permanent-identifier","value":"x"}],
                "authorizations":["https://ca/authz/1"],"finalize":"https://ca/finalize/1",
                "error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"nope"}}"#,
        )
        .unwrap();
        assert_eq!(
            order
                .identifiers
                .into_iter()
                .filter_map(Identifier::from_wire)
                .collect::<Vec<_>>(),
            vec![
                Identifier::Dns("a.example".into()),
                Identifier::Ip("192.0.2.1".parse().unwrap())
            ]
        );
        assert!(Problem::from_wire(order.error.unwrap()).is("unauthorized"));
        let authz: WireAuthorization = serde_json::from_str(
            r#"{"status":"pending","identifier":{"type":"dns","value":"example.test"},"wildcard":true,
                "challenges":[{"type":"dns-01","url":"https://ca/chal/1","token":"tok","status":"pending"},
                              {"type":"weird-02","url":"https://ca/chal/2","status":"pending"}]}"#,
        )
        .unwrap();
        assert!(authz.wildcard);
        let chals: Vec<_> = authz
            .challenges
            .into_iter()
            .map(|c| c.snapshot(None))
            .collect();
        assert_eq!(chals[0].challenge_type, "dns-01");
        assert_eq!(chals[1].token, "");
    }
}
