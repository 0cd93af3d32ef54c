//! The ACME client layer under the Issuer, Order and Challenge controllers: bytes and strings
//! in, plain structs out, no Kubernetes.
//!
//! - [`http`]: the transport (hyper + rustls/aws-lc-rs, the Issuer's `caBundle` or
//!   `skipTLSVerify`, timeouts), instant-acme's `HttpClient` seam, and [`AcmeRequestStats`].
//! - [`account`]: account keys, External Account Binding, register-or-find, [`AccountCache`].
//! - [`order`]: orders, authorizations, challenges and certificates by URL, as snapshots.
//! - [`chain`]: `preferredChain` (pure). [`error`]: [`AcmeError`] and its classification (pure).
//!
//! Built on instant-acme 0.8: its `HttpClient` trait is the transport seam, its `Account` is
//! built for every registered account (revocation, ARI, key rollover), its problem type parses
//! errors. The order flow signs its requests itself ([`jws`]) because 0.8's API cannot address
//! authorizations, challenges or alternate chains by URL, cannot register an existing key with a
//! contact and EAB, and has no `notAfter`.
//!
//! Cost, measured against Pebble (`tests/acme_client.rs`): a single-name dns-01 issuance takes 7
//! ACME requests with a cached account (newOrder, authorization, challenge accept, one challenge
//! poll, finalize, one order poll, certificate; polls repeat while the server is busy) and 10
//! with a fresh one (+ directory, newNonce, newAccount). No newNonce is needed after the first:
//! every response's nonce is pooled.

pub mod account;
pub mod chain;
mod client;
pub mod error;
pub mod http;
mod jws;
pub mod order;

pub use account::{
    AccountCache, AccountCacheKey, AccountKey, AcmeAccount, ExternalAccountBinding, Registration,
    account_key_hash, generate_account_key,
};
pub use error::{AcmeError, ErrorClass, Failure, Problem, classify};
pub use http::{
    AcmeHttpClient, AcmeRequestStats, Action, HttpOptions, RequestLabels, RequestTally,
};
pub use order::{AuthorizationSnapshot, ChallengeSnapshot, Identifier, OrderSnapshot, dns01_value};

/// Where the ACME server is and how to trust it (`spec.acme.server`, `caBundle`,
/// `skipTLSVerify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub directory_url: String,
    /// PEM CA certificates trusted in addition to the platform's roots.
    pub ca_bundle: Option<Vec<u8>>,
    /// Accept any server certificate (the user's explicit choice).
    pub skip_tls_verify: bool,
}

impl ServerConfig {
    pub fn new(directory_url: impl Into<String>) -> Self {
        ServerConfig {
            directory_url: directory_url.into(),
            ca_bundle: None,
            skip_tls_verify: false,
        }
    }
}
