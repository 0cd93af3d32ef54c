//! `certsmith status certificate NAME`: fetches the chain (Certificate, Secret, Issuer,
//! CertificateRequest, Order, Challenges, Events) and prints what `diagnose` makes of it.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::kube::{CliError, ConnectionArgs, OutputFormat, block_on, print_report};
use crate::api::{
    ANN_CERTIFICATE_NAME, CLUSTER_ISSUER_KIND, Certificate, CertificateRequest, Challenge,
    ClusterIssuer, GROUP, ISSUER_KIND, Issuer, IssuerSpec, Order, find_condition,
};
use crate::diagnose::{self, EventView, IssuerFacts, SecretFacts, StatusFacts};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(subcommand)]
    pub target: StatusTarget,
}

#[derive(Debug, clap::Subcommand)]
pub enum StatusTarget {
    /// The whole chain of one Certificate, and what is wrong with it.
    #[command(visible_alias = "cert")]
    Certificate(StatusCertificateArgs),
}

#[derive(Debug, clap::Args)]
pub struct StatusCertificateArgs {
    /// Name of the Certificate.
    pub name: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Output format: text for people, json or yaml for tools.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// How many of the newest Events to show.
    #[arg(long, default_value_t = 10)]
    pub events: usize,
}

/// How many of the recent Events are shown by default.
pub fn run(args: StatusArgs) -> ExitCode {
    match args.target {
        StatusTarget::Certificate(args) => block_on("status", status_certificate(args)),
    }
}

async fn status_certificate(args: StatusCertificateArgs) -> Result<ExitCode, CliError> {
    let conn = args.connection.connect().await?;
    let ns = conn.namespace.as_str();
    let certificate = Api::<Certificate>::namespaced(conn.client.clone(), ns)
        .get_opt(&args.name)
        .await
        .map_err(CliError::api(format!(
            "reading Certificate {ns}/{}",
            args.name
        )))?
        .ok_or_else(|| CliError::Failed(format!("Certificate {ns}/{} not found", args.name)))?;
    let facts = gather(&conn.client, certificate, args.events).await?;
    let now = Timestamp::now();
    let report = diagnose::report(&facts, now);
    print_report(args.output, &report, |r| {
        diagnose::render::status_text(r, now)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Reads everything the diagnosis needs. Reads only; a part that cannot be read (RBAC) is
/// reported as such instead of failing the whole command.
pub async fn gather(
    client: &Client,
    certificate: Certificate,
    max_events: usize,
) -> Result<StatusFacts, CliError> {
    let ns = certificate.namespace().unwrap_or_default();
    let secret = read_secret(client, &ns, &certificate.spec.secret_name).await;
    let issuer = read_issuer(client, &ns, &certificate).await;
    let request = current_request(client, &ns, &certificate).await?;
    let order = match &request {
        Some(r) => owned_by(
            Api::<Order>::namespaced(client.clone(), &ns)
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default(),
            r.uid().as_deref(),
        )
        .into_iter()
        .next(),
        None => None,
    };
    let challenges = match &order {
        Some(o) => owned_by(
            Api::<Challenge>::namespaced(client.clone(), &ns)
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default(),
            o.uid().as_deref(),
        ),
        None => Vec::new(),
    };
    let mut uids: HashSet<String> = HashSet::new();
    uids.extend(certificate.uid());
    uids.extend(request.as_ref().and_then(|r| r.uid()));
    uids.extend(order.as_ref().and_then(|o| o.uid()));
    uids.extend(challenges.iter().filter_map(|c| c.uid()));
    let events = read_events(client, &ns, &uids, max_events).await;
    Ok(StatusFacts {
        certificate,
        secret,
        issuer,
        request,
        order,
        challenges,
        events,
    })
}

fn owned_by<K: kube::Resource>(items: Vec<K>, owner_uid: Option<&str>) -> Vec<K> {
    let Some(uid) = owner_uid else {
        return Vec::new();
    };
    let mut out: Vec<K> = items
        .into_iter()
        .filter(|o| o.owner_references().iter().any(|r| r.uid == uid))
        .collect();
    out.sort_by_key(|o| {
        o.meta()
            .creation_timestamp
            .as_ref()
            .map(|t| std::cmp::Reverse(t.0))
    });
    out
}

async fn read_secret(client: &Client, ns: &str, name: &str) -> SecretFacts {
    match Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
    {
        Ok(None) => SecretFacts::Missing,
        Err(e) => SecretFacts::Unreadable(e.to_string()),
        Ok(Some(secret)) => {
            let certificate_name = secret.annotations().get(ANN_CERTIFICATE_NAME).cloned();
            let data: BTreeMap<String, Vec<u8>> = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            SecretFacts::Present {
                analysis: Box::new(diagnose::secret::analyse(&data)),
                certificate_name,
            }
        }
    }
}

fn issuer_type(spec: &IssuerSpec) -> &'static str {
    if spec.acme.is_some() {
        "ACME"
    } else if spec.ca.is_some() {
        "CA"
    } else if spec.self_signed.is_some() {
        "SelfSigned"
    } else {
        "unknown"
    }
}

async fn read_issuer(client: &Client, ns: &str, certificate: &Certificate) -> IssuerFacts {
    let r = &certificate.spec.issuer_ref;
    let (kind, group) = (r.kind_or_default(), r.group_or_default());
    if group != GROUP {
        return IssuerFacts::External {
            label: format!("{kind}.{group} {}", r.name),
        };
    }
    let (label, found) = match kind {
        ISSUER_KIND => (
            format!("Issuer {ns}/{}", r.name),
            Api::<Issuer>::namespaced(client.clone(), ns)
                .get_opt(&r.name)
                .await
                .map(|o| o.map(|i| (i.spec, i.status))),
        ),
        CLUSTER_ISSUER_KIND => (
            format!("ClusterIssuer {}", r.name),
            Api::<ClusterIssuer>::all(client.clone())
                .get_opt(&r.name)
                .await
                .map(|o| o.map(|i| (i.spec, i.status))),
        ),
        other => {
            return IssuerFacts::NotFound {
                label: format!(
                    "{other} {} (certsmith serves Issuer and ClusterIssuer)",
                    r.name
                ),
            };
        }
    };
    match found {
        Err(e) => IssuerFacts::Unreadable {
            label,
            error: e.to_string(),
        },
        Ok(None) => IssuerFacts::NotFound { label },
        Ok(Some((spec, status))) => IssuerFacts::Found {
            label,
            type_: issuer_type(&spec).into(),
            ready: status
                .and_then(|s| s.conditions)
                .and_then(|c| find_condition(&c, "Ready").cloned()),
        },
    }
}

/// The request of the issuance in progress or last failed (`<name>-<revision+1>`), else the
/// one that produced the current certificate (`<name>-<revision>`).
async fn current_request(
    client: &Client,
    ns: &str,
    certificate: &Certificate,
) -> Result<Option<CertificateRequest>, CliError> {
    let api = Api::<CertificateRequest>::namespaced(client.clone(), ns);
    let revision = certificate
        .status
        .as_ref()
        .and_then(|s| s.revision)
        .unwrap_or(0);
    for rev in [revision + 1, revision] {
        if rev < 1 {
            continue;
        }
        let name = format!("{}-{rev}", certificate.name_any());
        let found = api.get_opt(&name).await.map_err(CliError::api(format!(
            "reading CertificateRequest {ns}/{name}"
        )))?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The newest `max` Events about the objects in `uids`, oldest first. Unreadable Events
/// (RBAC) are left out quietly: the rest of the report still stands.
async fn read_events(
    client: &Client,
    ns: &str,
    uids: &HashSet<String>,
    max: usize,
) -> Vec<EventView> {
    let Ok(list) = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
    else {
        return Vec::new();
    };
    let mut events: Vec<EventView> = list
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object
                .uid
                .as_ref()
                .is_some_and(|u| uids.contains(u))
        })
        .map(|e| EventView {
            time: e
                .last_timestamp
                .map(|t| t.0)
                .or(e.event_time.map(|t| t.0))
                .or(e.series.and_then(|s| s.last_observed_time).map(|t| t.0))
                .or(e.metadata.creation_timestamp.map(|t| t.0)),
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            object: format!(
                "{}/{}",
                e.involved_object.kind.unwrap_or_default(),
                e.involved_object.name.unwrap_or_default()
            ),
            message: e.message.unwrap_or_default().trim().to_owned(),
            count: e.count.unwrap_or(1),
        })
        .collect();
    events.sort_by_key(|e| e.time);
    let skip = events.len().saturating_sub(max);
    events.split_off(skip)
}
