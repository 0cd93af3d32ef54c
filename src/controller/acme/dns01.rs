//! DNS-01 for the Challenge controller: the TXT record through the solver's provider (RFC2136,
//! or a cert-manager webhook solver behind an APIService) and the propagation check. Providers
//! certsmith does not implement yet are reported as such, never ignored.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::challenges::{SolveError, secret_namespace};
use crate::api::{
    AcmeIssuerDns01ProviderRfc2136, AcmeIssuerDns01ProviderWebhook, Challenge, CnameStrategy,
    DnsProtocol,
};
use crate::controller::Context;
use crate::dns01::propagation::{Authoritative, Nameservers, PropagationState, check};
use crate::dns01::webhook::{
    ChallengeAction, ChallengePayload, ChallengeRequest, WEBHOOK_VERSION, outcome, payload,
    webhook_path,
};
use crate::dns01::zone_via_resolvers;
use crate::dns01::{Protocol, Rfc2136, Rfc2136Config, TsigKey, resolve_record_name};

/// TTL of the challenge record: short, it lives for minutes.
const RECORD_TTL: u32 = 60;

/// A DNS provider certsmith can drive.
enum Provider<'a> {
    Rfc2136(&'a AcmeIssuerDns01ProviderRfc2136),
    Webhook(&'a AcmeIssuerDns01ProviderWebhook),
}

/// The provider named in the solver, or why it cannot be used.
fn provider(challenge: &Challenge) -> Result<Provider<'_>, SolveError> {
    let Some(dns01) = &challenge.spec.solver.dns01 else {
        return Err(SolveError::Config(
            "spec.solver has no dns01 section".into(),
        ));
    };
    if let Some(rfc) = &dns01.rfc2136 {
        return Ok(Provider::Rfc2136(rfc));
    }
    if let Some(webhook) = &dns01.webhook {
        return Ok(Provider::Webhook(webhook));
    }
    let named = [
        ("cloudflare", dns01.cloudflare.is_some()),
        ("route53", dns01.route53.is_some()),
        ("cloudDNS", dns01.cloud_dns.is_some()),
        ("azureDNS", dns01.azure_dns.is_some()),
        ("digitalocean", dns01.digitalocean.is_some()),
        ("acmeDNS", dns01.acme_dns.is_some()),
        ("akamai", dns01.akamai.is_some()),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(name, _)| name);
    Err(SolveError::Config(match named {
        Some(name) => format!(
            "the dns01 provider {name:?} is not supported by certsmith yet (supported: rfc2136, webhook); \
             nothing was published; a cert-manager webhook solver for it works through dns01.webhook"
        ),
        None => "spec.solver.dns01 names no provider".into(),
    }))
}

/// The updater for the solver's RFC2136 server, its TSIG secret read from its Secret.
async fn updater(
    ctx: &Context,
    challenge: &Challenge,
    rfc: &AcmeIssuerDns01ProviderRfc2136,
) -> Result<Rfc2136, SolveError> {
    let tsig = match (&rfc.tsig_key_name, &rfc.tsig_secret_secret_ref) {
        (Some(name), Some(selector)) => {
            let namespace = secret_namespace(ctx, challenge);
            let secret = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
                .get_opt(&selector.name)
                .await
                .map_err(|e| {
                    SolveError::Transient(format!(
                        "reading the TSIG Secret {namespace}/{}: {e}",
                        selector.name
                    ))
                })?
                .ok_or_else(|| {
                    SolveError::Config(format!(
                        "the TSIG Secret {namespace}/{} (rfc2136.tsigSecretSecretRef) does not exist",
                        selector.name
                    ))
                })?;
            let entry = selector.key.as_deref().unwrap_or_default();
            let value = secret
                .data
                .as_ref()
                .and_then(|d| d.get(entry))
                .ok_or_else(|| {
                    SolveError::Config(format!(
                        "the TSIG Secret {namespace}/{} has no key {entry:?} \
                         (rfc2136.tsigSecretSecretRef.key)",
                        selector.name
                    ))
                })?;
            let secret = String::from_utf8_lossy(&value.0);
            let algorithm = format!("{:?}", rfc.tsig_algorithm.unwrap_or_default());
            Some(
                TsigKey::parse(name, &algorithm, secret.trim())
                    .map_err(|e| SolveError::Config(e.to_string()))?,
            )
        }
        _ => None,
    };
    let protocol = match rfc.protocol.unwrap_or_default() {
        DnsProtocol::Udp => Protocol::Udp,
        DnsProtocol::Tcp => Protocol::Tcp,
    };
    Rfc2136::new(&Rfc2136Config::new(rfc.nameserver.clone(), tsig, protocol))
        .map_err(|e| SolveError::Config(e.to_string()))
}

/// The name whose TXT record is set: `_acme-challenge.<domain>`, through CNAMEs with
/// `cnameStrategy: Follow`.
async fn record_name(ctx: &Context, challenge: &Challenge) -> Result<String, SolveError> {
    let strategy = challenge
        .spec
        .solver
        .dns01
        .as_ref()
        .and_then(|d| d.cname_strategy)
        .unwrap_or(CnameStrategy::None);
    resolve_record_name(
        &challenge.spec.dns_name,
        strategy,
        &ctx.acme.settings.nameservers,
    )
    .await
    .map_err(classify)
}

fn classify(err: crate::dns01::Dns01Error) -> SolveError {
    if err.is_transient() {
        SolveError::Transient(err.to_string())
    } else {
        SolveError::Config(err.to_string())
    }
}

/// Publishes the challenge's TXT value (other values at the name stay).
pub async fn present(ctx: &Context, challenge: &Challenge) -> Result<String, SolveError> {
    let rfc = match provider(challenge)? {
        Provider::Rfc2136(rfc) => rfc,
        Provider::Webhook(webhook) => {
            let fqdn = record_name(ctx, challenge).await?;
            call_webhook(ctx, challenge, webhook, ChallengeAction::Present, &fqdn).await?;
            return Ok(format!(
                "TXT record {fqdn} presented by webhook solver {}/{}",
                webhook.group_name, webhook.solver_name
            ));
        }
    };
    let updater = updater(ctx, challenge, rfc).await?;
    let fqdn = record_name(ctx, challenge).await?;
    let zone = updater
        .present(&fqdn, &challenge.spec.key, RECORD_TTL, None)
        .await
        .map_err(classify)?;
    tracing::info!(
        namespace = challenge.namespace().unwrap_or_default(),
        challenge = challenge.name_any(),
        record = fqdn,
        zone,
        "presented the DNS-01 TXT record"
    );
    Ok(format!("TXT record {fqdn} set in zone {zone}"))
}

/// Removes exactly the challenge's TXT value.
pub async fn clean_up(ctx: &Context, challenge: &Challenge) -> Result<(), SolveError> {
    // Nothing was ever published for a provider certsmith cannot use.
    let rfc = match provider(challenge) {
        Ok(Provider::Rfc2136(rfc)) => rfc,
        Ok(Provider::Webhook(webhook)) => {
            let fqdn = record_name(ctx, challenge).await?;
            return call_webhook(ctx, challenge, webhook, ChallengeAction::CleanUp, &fqdn).await;
        }
        Err(_) => return Ok(()),
    };
    let updater = match updater(ctx, challenge, rfc).await {
        Ok(u) => u,
        Err(SolveError::Config(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let fqdn = record_name(ctx, challenge).await?;
    updater
        .cleanup(&fqdn, &challenge.spec.key, None)
        .await
        .map_err(classify)?;
    Ok(())
}

/// Asks a webhook solver (through the API server's aggregation layer) to present or clean up
/// the record. Its failures are retried: a webhook cannot tell a passing outage from a
/// configuration mistake, and its message says which.
async fn call_webhook(
    ctx: &Context,
    challenge: &Challenge,
    webhook: &AcmeIssuerDns01ProviderWebhook,
    action: ChallengeAction,
    fqdn: &str,
) -> Result<(), SolveError> {
    let solver = format!("{}/{}", webhook.group_name, webhook.solver_name);
    let zone = zone_via_resolvers(fqdn, &ctx.acme.settings.nameservers)
        .await
        .map_err(classify)?;
    let body = payload(
        &webhook.group_name,
        ChallengeRequest {
            uid: challenge.metadata.uid.clone().unwrap_or_default(),
            action,
            type_: "dns-01".into(),
            dns_name: challenge.spec.dns_name.clone(),
            key: challenge.spec.key.clone(),
            resource_namespace: secret_namespace(ctx, challenge),
            resolved_fqdn: fqdn.to_owned(),
            resolved_zone: zone,
            allow_ambient_credentials: false,
            config: webhook.config.clone(),
        },
    );
    let request = http::Request::post(webhook_path(&webhook.group_name, &webhook.solver_name))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .map_err(|e| SolveError::Config(format!("webhook solver {solver}: {e}")))?;
    let answer: ChallengePayload = ctx.client.request(request).await.map_err(|e| {
        SolveError::Transient(format!(
            "the webhook solver {solver} could not be reached through the API server              (is its APIService {}.{} available?): {e}",
            WEBHOOK_VERSION, webhook.group_name
        ))
    })?;
    outcome(&answer).map_err(|message| {
        SolveError::Transient(format!("the webhook solver {solver} failed: {message}"))
    })?;
    tracing::info!(
        namespace = challenge.namespace().unwrap_or_default(),
        challenge = challenge.name_any(),
        solver,
        ?action,
        record = fqdn,
        "webhook solver done"
    );
    Ok(())
}

/// `None` once every server asked has the value; else what they answered.
pub async fn propagated(
    ctx: &Context,
    challenge: &Challenge,
) -> Result<Option<String>, SolveError> {
    let fqdn = record_name(ctx, challenge).await?;
    let settings = &ctx.acme.settings;
    let nameservers = if settings.nameservers_only {
        Nameservers::Recursive(settings.nameservers.clone())
    } else {
        Nameservers::Authoritative(Authoritative {
            resolvers: settings.nameservers.clone(),
            ..Authoritative::default()
        })
    };
    match check(&fqdn, &challenge.spec.key, &nameservers)
        .await
        .map_err(classify)?
    {
        PropagationState::Propagated { .. } => Ok(None),
        pending => Ok(Some(format!(
            "waiting for DNS-01 propagation of {fqdn}: {pending}"
        ))),
    }
}
