//! ACME accounts of Issuers and ClusterIssuers: the key Secret (generated when allowed), the
//! External Account Binding, and the registered account from the process-wide cache. Used by
//! the issuer controller (Ready) and by the Order and Challenge controllers (their ACME calls).

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::acme::{
    AccountCache, AcmeAccount, AcmeError, AcmeRequestStats, ErrorClass, ExternalAccountBinding,
    Registration, ServerConfig, account_key_hash, generate_account_key,
};
use crate::api::{AcmeIssuer, TLS_PRIVATE_KEY_KEY};
use crate::controller::Context;

/// Issuer Ready reasons for ACME issuers (cert-manager's where it has one).
pub const REASON_ACCOUNT_REGISTERED: &str = "ACMEAccountRegistered";
pub const REASON_ERR_REGISTER: &str = "ErrRegisterACMEAccount";
pub const REASON_ERR_KEY: &str = "ErrGetKeyPair";
pub const REASON_ERR_EAB: &str = "ErrGetEABKey";

/// How the ACME controllers reach the world; set by flags.
#[derive(Clone, Debug)]
pub struct AcmeSettings {
    /// Resolvers for self-checks and DNS-01 lookups (`--dns01-recursive-nameservers`); empty:
    /// the system's.
    pub nameservers: Vec<SocketAddr>,
    /// Ask only `nameservers` for DNS-01 propagation, not the zone's authoritative servers
    /// (`--dns01-recursive-nameservers-only`).
    pub nameservers_only: bool,
    /// The port the HTTP-01 self-check GETs (80 in a real cluster).
    pub http01_self_check_port: u16,
    /// Image of the HTTP-01 solver Pods (runs `certsmith acmesolver`).
    pub http01_solver_image: String,
    /// At most this many Challenges processing at once.
    pub max_concurrent_challenges: usize,
}

impl Default for AcmeSettings {
    fn default() -> Self {
        AcmeSettings {
            nameservers: Vec::new(),
            nameservers_only: false,
            http01_self_check_port: 80,
            http01_solver_image: format!(
                "ghcr.io/certsmith/certsmith:v{}",
                env!("CARGO_PKG_VERSION")
            ),
            max_concurrent_challenges: 60,
        }
    }
}

/// What the ACME controllers share: the account cache, the request counters, the settings.
#[derive(Clone, Debug, Default)]
pub struct AcmeRuntime {
    pub accounts: AccountCache,
    pub stats: AcmeRequestStats,
    pub settings: AcmeSettings,
}

/// Why an issuer's account cannot be had: a Ready reason, a message naming what to fix, and
/// when to try again by itself (`None`: only when something changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProblem {
    pub reason: &'static str,
    pub message: String,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{}", .0.message)]
    Problem(AccountProblem),
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
}

/// An issuer's registered account and what its status records.
#[derive(Clone, Debug)]
pub struct IssuerAccount {
    pub account: AcmeAccount,
    pub key_hash: String,
    pub email: Option<String>,
}

/// The Secret key holding the account key: `privateKeySecretRef.key`, default `tls.key`.
fn key_entry(acme: &AcmeIssuer) -> &str {
    acme.private_key_secret_ref
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .unwrap_or(TLS_PRIVATE_KEY_KEY)
}

/// Reads (or, when `generate` and allowed, creates) the account key Secret in `namespace`;
/// returns the key PEM.
pub async fn account_key(
    ctx: &Context,
    acme: &AcmeIssuer,
    namespace: &str,
    generate: bool,
) -> Result<zeroize::Zeroizing<Vec<u8>>, AccountError> {
    let name = &acme.private_key_secret_ref.name;
    let entry = key_entry(acme);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let kube_err = |source| AccountError::Kube {
        what: format!("reading Secret {namespace}/{name}"),
        source,
    };
    let problem = |message: String| {
        AccountError::Problem(AccountProblem {
            reason: REASON_ERR_KEY,
            message,
            retry_after: None,
        })
    };
    let secret = match secrets.get_opt(name).await.map_err(kube_err)? {
        Some(secret) => secret,
        None if generate && !acme.disable_account_key_generation.unwrap_or(false) => {
            let pem = generate_account_key().map_err(|e| problem(e.to_string()))?;
            let mut secret = Secret::default();
            secret.metadata.name = Some(name.clone());
            secret.metadata.namespace = Some(namespace.to_owned());
            secret.data = Some([(entry.to_owned(), ByteString(pem.as_bytes().to_vec()))].into());
            match secrets.create(&PostParams::default(), &secret).await {
                Ok(_) => {
                    tracing::info!(namespace, secret = name, "generated an ACME account key");
                    return Ok(zeroize::Zeroizing::new(pem.as_bytes().to_vec()));
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    secrets
                        .get(name)
                        .await
                        .map_err(|source| AccountError::Kube {
                            what: format!("reading Secret {namespace}/{name}"),
                            source,
                        })?
                }
                Err(source) => {
                    return Err(AccountError::Kube {
                        what: format!("creating Secret {namespace}/{name}"),
                        source,
                    });
                }
            }
        }
        None => {
            return Err(problem(format!(
                "the ACME account key Secret {namespace}/{name} does not exist \
                 (spec.acme.privateKeySecretRef; key generation is disabled by \
                 spec.acme.disableAccountKeyGeneration)"
            )));
        }
    };
    match secret
        .data
        .as_ref()
        .and_then(|d| d.get(entry))
        .filter(|v| !v.0.is_empty())
    {
        Some(value) => Ok(zeroize::Zeroizing::new(value.0.clone())),
        None => Err(problem(format!(
            "the ACME account key Secret {namespace}/{name} has no key {entry:?}"
        ))),
    }
}

/// The External Account Binding of `acme`, its HMAC key read from its Secret in `namespace`.
async fn eab(
    ctx: &Context,
    acme: &AcmeIssuer,
    namespace: &str,
) -> Result<Option<ExternalAccountBinding>, AccountError> {
    let Some(binding) = &acme.external_account_binding else {
        return Ok(None);
    };
    let selector = &binding.key_secret_ref;
    let name = &selector.name;
    let entry = selector
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .unwrap_or("secret");
    let problem = |message: String| {
        AccountError::Problem(AccountProblem {
            reason: REASON_ERR_EAB,
            message,
            retry_after: None,
        })
    };
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| AccountError::Kube {
            what: format!("reading Secret {namespace}/{name}"),
            source,
        })?
        .ok_or_else(|| {
            problem(format!(
                "the External Account Binding Secret {namespace}/{name} does not exist \
                 (spec.acme.externalAccountBinding.keySecretRef)"
            ))
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(entry))
        .ok_or_else(|| {
            problem(format!(
                "the External Account Binding Secret {namespace}/{name} has no key {entry:?}"
            ))
        })?;
    ExternalAccountBinding::new(
        binding.key_id.clone(),
        &value.0,
        binding.key_algorithm.unwrap_or_default(),
    )
    .map(Some)
    .map_err(|e| problem(e.to_string()))
}

/// The server settings of `acme`.
pub fn server_config(acme: &AcmeIssuer) -> ServerConfig {
    ServerConfig {
        directory_url: acme.server.clone(),
        ca_bundle: acme
            .ca_bundle
            .as_ref()
            .map(|b| b.0.clone())
            .filter(|b| !b.is_empty()),
        skip_tls_verify: acme.skip_tls_verify.unwrap_or(false),
    }
}

/// The issuer's registered account: from the cache, or registered now (then cached).
/// `known_uri` is `status.acme.uri`, used only when it is on the same server.
pub async fn issuer_account(
    ctx: &Context,
    acme: &AcmeIssuer,
    secret_namespace: &str,
    known_uri: Option<&str>,
    generate_key: bool,
) -> Result<IssuerAccount, AccountError> {
    let key_pem = account_key(ctx, acme, secret_namespace, generate_key).await?;
    let key_hash = account_key_hash(&key_pem).map_err(|e| {
        AccountError::Problem(AccountProblem {
            reason: REASON_ERR_KEY,
            message: format!(
                "the ACME account key in Secret {secret_namespace}/{} cannot be used: {e}",
                acme.private_key_secret_ref.name
            ),
            retry_after: None,
        })
    })?;
    let eab = eab(ctx, acme, secret_namespace).await?;
    let server = server_config(acme);
    let email = acme.email.clone().filter(|e| !e.is_empty());
    let known = known_uri.filter(|uri| same_host(uri, &acme.server));
    let registration = Registration {
        server: &server,
        key_pem: &key_pem,
        email: email.as_deref(),
        eab: eab.as_ref(),
        known_account_url: known,
    };
    let account = ctx
        .acme
        .accounts
        .get_or_register(&registration, &ctx.acme.stats)
        .await
        .map_err(|e| AccountError::Problem(problem_of(&e, "registering the ACME account")))?;
    Ok(IssuerAccount {
        account,
        key_hash,
        email,
    })
}

/// A Ready-able problem from an ACME error: retryable errors come back after the server's
/// `Retry-After` or a minute; terminal ones when something changes.
pub fn problem_of(err: &AcmeError, doing: &str) -> AccountProblem {
    let retry_after = match err.class() {
        ErrorClass::Terminal => None,
        ErrorClass::Retryable => Some(err.retry_after().unwrap_or(Duration::from_secs(60))),
        ErrorClass::RateLimited => Some(err.retry_after().unwrap_or(Duration::from_secs(3600))),
    };
    AccountProblem {
        reason: REASON_ERR_REGISTER,
        message: format!("{doing} failed: {err}"),
        retry_after,
    }
}

/// Whether two URLs name the same scheme and host (an account URL belongs to its server).
fn same_host(a: &str, b: &str) -> bool {
    fn origin(u: &str) -> Option<&str> {
        let rest = u.split_once("://")?.1;
        Some(rest.split('/').next().unwrap_or(rest))
    }
    match (origin(a), origin(b)) {
        (Some(x), Some(y)) => {
            x.eq_ignore_ascii_case(y) && a.split("://").next() == b.split("://").next()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_table() {
        for (a, b, want) in [
            ("https://acme.test/acct/1", "https://acme.test/dir", true),
            (
                "https://acme.test:14000/my-account/1",
                "https://acme.test:14000/dir",
                true,
            ),
            (
                "https://acme.test:14000/my-account/1",
                "https://acme.test:15000/dir",
                false,
            ),
            ("http://acme.test/acct/1", "https://acme.test/dir", false),
            ("https://other.test/acct/1", "https://acme.test/dir", false),
            ("not a url", "https://acme.test/dir", false),
        ] {
            assert_eq!(same_host(a, b), want, "{a} vs {b}");
        }
    }
}

/// An ACME issuer found through an `issuerRef`: its settings, where its Secrets live and the
/// account URL it recorded.
#[derive(Clone, Debug)]
pub struct ResolvedIssuer {
    /// `Issuer ns/name` or `ClusterIssuer name`, for messages.
    pub label: String,
    pub acme: AcmeIssuer,
    pub secret_namespace: String,
    pub account_uri: Option<String>,
}

/// Finds the ACME issuer `issuer_ref` names for an object in `namespace`. `Err(message)` when
/// it does not exist, is not served, or is not an ACME issuer.
pub async fn resolve_issuer(
    ctx: &Context,
    issuer_ref: &crate::api::IssuerReference,
    namespace: &str,
) -> Result<Result<ResolvedIssuer, String>, kube::Error> {
    use crate::api::{
        CLUSTER_ISSUER_KIND, ClusterIssuer, ISSUER_KIND, Issuer, IssuerSpec, IssuerStatus,
    };
    let name = &issuer_ref.name;
    let found: Option<(String, IssuerSpec, Option<IssuerStatus>, String)> =
        match issuer_ref.kind_or_default() {
            ISSUER_KIND => Api::<Issuer>::namespaced(ctx.client.clone(), namespace)
                .get_opt(name)
                .await?
                .map(|i| {
                    (
                        format!("Issuer {namespace}/{name}"),
                        i.spec,
                        i.status,
                        namespace.to_owned(),
                    )
                }),
            CLUSTER_ISSUER_KIND if ctx.namespace.is_none() => {
                Api::<ClusterIssuer>::all(ctx.client.clone())
                    .get_opt(name)
                    .await?
                    .map(|i| {
                        (
                            format!("ClusterIssuer {name}"),
                            i.spec,
                            i.status,
                            ctx.cluster_resource_namespace.clone(),
                        )
                    })
            }
            other => {
                return Ok(Err(format!(
                    "issuer kind {other:?} is not served by this controller"
                )));
            }
        };
    let Some((label, spec, status, secret_namespace)) = found else {
        return Ok(Err(format!(
            "the {} {name} referenced by spec.issuerRef does not exist",
            issuer_ref.kind_or_default()
        )));
    };
    let Some(acme) = spec.acme else {
        return Ok(Err(format!("{label} is not an ACME issuer")));
    };
    Ok(Ok(ResolvedIssuer {
        label,
        acme,
        secret_namespace,
        account_uri: status.and_then(|s| s.acme).and_then(|a| a.uri),
    }))
}
