//! DNS-01 for the Challenge controller: the TXT record through the solver's provider (RFC2136
//! today) and the propagation check. Providers certsmith does not implement yet are reported
//! as such, never ignored.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::challenges::{SolveError, secret_namespace};
use crate::api::{AcmeIssuerDns01ProviderRfc2136, Challenge, CnameStrategy, DnsProtocol};
use crate::controller::Context;
use crate::dns01::propagation::{Authoritative, Nameservers, PropagationState, check};
use crate::dns01::{Protocol, Rfc2136, Rfc2136Config, TsigKey, resolve_record_name};

/// TTL of the challenge record: short, it lives for minutes.
const RECORD_TTL: u32 = 60;

/// The provider named in the solver, or why it cannot be used.
fn rfc2136(challenge: &Challenge) -> Result<&AcmeIssuerDns01ProviderRfc2136, SolveError> {
    let Some(dns01) = &challenge.spec.solver.dns01 else {
        return Err(SolveError::Config(
            "spec.solver has no dns01 section".into(),
        ));
    };
    if let Some(rfc) = &dns01.rfc2136 {
        return Ok(rfc);
    }
    let named = [
        ("cloudflare", dns01.cloudflare.is_some()),
        ("route53", dns01.route53.is_some()),
        ("cloudDNS", dns01.cloud_dns.is_some()),
        ("azureDNS", dns01.azure_dns.is_some()),
        ("digitalocean", dns01.digitalocean.is_some()),
        ("acmeDNS", dns01.acme_dns.is_some()),
        ("akamai", dns01.akamai.is_some()),
        ("webhook", dns01.webhook.is_some()),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(name, _)| name);
    Err(SolveError::Config(match named {
        Some(name) => format!(
            "the dns01 provider {name:?} is not supported by certsmith yet (supported: rfc2136); \
             nothing was published"
        ),
        None => "spec.solver.dns01 names no provider".into(),
    }))
}

/// The updater for the solver's RFC2136 server, its TSIG secret read from its Secret.
async fn updater(ctx: &Context, challenge: &Challenge) -> Result<Rfc2136, SolveError> {
    let rfc = rfc2136(challenge)?;
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
    let updater = updater(ctx, challenge).await?;
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
    let updater = match updater(ctx, challenge).await {
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
