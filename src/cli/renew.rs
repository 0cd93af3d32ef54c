//! `certsmith renew NAME... | --all | -l SELECTOR`: asks the controller for a new certificate
//! now, as cmctl does: the Certificate's `Issuing` condition becomes True with reason
//! `ManuallyTriggered` (server-side apply of the status, field manager `certsmith-cli`); the
//! controller's key, request and issuing steps take it from there.

use std::process::ExitCode;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::kube::{CliError, ConnectionArgs, block_on};
use crate::api::{
    CONDITION_ISSUING, Certificate, Condition, ConditionStatus, REASON_MANUALLY_TRIGGERED,
    find_condition,
};

/// The field manager of every write the CLI makes.
pub const FIELD_MANAGER: &str = "certsmith-cli";
/// The Issuing message, cmctl's words.
pub const RENEW_MESSAGE: &str = "Certificate re-issuance manually triggered";

#[derive(Debug, clap::Args)]
pub struct RenewArgs {
    /// Names of the Certificates to renew.
    #[arg(conflicts_with_all = ["all", "selector"])]
    pub names: Vec<String>,
    /// Renew every Certificate in the namespace (with -A, in every namespace).
    #[arg(long)]
    pub all: bool,
    /// Renew the Certificates matching this label selector, e.g. `app=web`.
    #[arg(short = 'l', long, conflicts_with = "all")]
    pub selector: Option<String>,
    /// With --all or -l: look in every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// What to do with one Certificate, given its state. Pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewPlan {
    Trigger,
    /// Already being issued: nothing to add.
    AlreadyIssuing,
    Deleting,
}

pub fn plan(certificate: &Certificate) -> RenewPlan {
    if certificate.metadata.deletion_timestamp.is_some() {
        return RenewPlan::Deleting;
    }
    let issuing = certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_ISSUING))
        .is_some_and(|c| c.status == ConditionStatus::True);
    if issuing {
        RenewPlan::AlreadyIssuing
    } else {
        RenewPlan::Trigger
    }
}

/// The condition the CLI applies.
pub fn manual_trigger(certificate: &Certificate, now: Timestamp) -> Condition {
    Condition {
        type_: CONDITION_ISSUING.into(),
        status: ConditionStatus::True,
        reason: Some(REASON_MANUALLY_TRIGGERED.into()),
        message: Some(RENEW_MESSAGE.into()),
        last_transition_time: Some(Time(now)),
        observed_generation: certificate.metadata.generation,
    }
}

pub fn run(args: RenewArgs) -> ExitCode {
    block_on("renew", renew(args))
}

async fn renew(args: RenewArgs) -> Result<ExitCode, CliError> {
    if args.names.is_empty() && !args.all && args.selector.is_none() {
        return Err(CliError::Usage(
            "name the Certificates to renew, or use --all or -l SELECTOR".into(),
        ));
    }
    if args.all_namespaces && !args.names.is_empty() {
        return Err(CliError::Usage(
            "-A goes with --all or -l, not with names".into(),
        ));
    }
    let conn = args.connection.connect().await?;
    let ns = conn.namespace.clone();
    let certificates: Vec<Certificate> = if args.names.is_empty() {
        let api: Api<Certificate> = if args.all_namespaces {
            Api::all(conn.client.clone())
        } else {
            Api::namespaced(conn.client.clone(), &ns)
        };
        let mut params = ListParams::default();
        if let Some(sel) = &args.selector {
            params = params.labels(sel);
        }
        let list = api
            .list(&params)
            .await
            .map_err(CliError::api("listing Certificates"))?;
        if list.items.is_empty() {
            return Err(CliError::Failed("no Certificates matched".into()));
        }
        list.items
    } else {
        let api: Api<Certificate> = Api::namespaced(conn.client.clone(), &ns);
        let mut out = Vec::new();
        for name in &args.names {
            let c = api
                .get_opt(name)
                .await
                .map_err(CliError::api(format!("reading Certificate {ns}/{name}")))?
                .ok_or_else(|| CliError::Failed(format!("Certificate {ns}/{name} not found")))?;
            out.push(c);
        }
        out
    };
    let mut failed = false;
    for c in &certificates {
        let label = format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any());
        match plan(c) {
            RenewPlan::Deleting => println!("Certificate {label} is being deleted; skipped"),
            RenewPlan::AlreadyIssuing => {
                println!("Certificate {label} is already being issued; nothing to do")
            }
            RenewPlan::Trigger => match trigger(&conn.client, c).await {
                Ok(()) => println!("Manually triggered issuance of Certificate {label}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                }
            },
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Applies `Issuing=True, ManuallyTriggered` to the status subresource.
async fn trigger(client: &Client, certificate: &Certificate) -> Result<(), CliError> {
    let ns = certificate.namespace().unwrap_or_default();
    let name = certificate.name_any();
    let patch = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "status": { "conditions": [manual_trigger(certificate, Timestamp::now())] },
    });
    // Forced: the Issuing condition belongs to the controller's managers otherwise; taking it
    // over is the point.
    Api::<Certificate>::namespaced(client.clone(), &ns)
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(CliError::api(format!(
            "triggering issuance of Certificate {ns}/{name}"
        )))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateSpec, CertificateStatus};

    #[test]
    fn plan_table() {
        let with = |issuing: Option<ConditionStatus>, deleting: bool| {
            let mut c = Certificate::new("web", CertificateSpec::default());
            c.status = Some(CertificateStatus {
                conditions: issuing.map(|status| {
                    vec![Condition {
                        type_: CONDITION_ISSUING.into(),
                        status,
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            });
            if deleting {
                c.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
            }
            c
        };
        let table = [
            (None, false, RenewPlan::Trigger),
            (Some(ConditionStatus::False), false, RenewPlan::Trigger),
            (
                Some(ConditionStatus::True),
                false,
                RenewPlan::AlreadyIssuing,
            ),
            (None, true, RenewPlan::Deleting),
        ];
        for (issuing, deleting, want) in table {
            assert_eq!(
                plan(&with(issuing, deleting)),
                want,
                "{issuing:?} {deleting}"
            );
        }
        let mut c = with(None, false);
        c.metadata.generation = Some(3);
        let cond = manual_trigger(&c, Timestamp::UNIX_EPOCH);
        assert_eq!(cond.reason.as_deref(), Some("ManuallyTriggered"));
        assert_eq!(cond.status, ConditionStatus::True);
        assert_eq!(cond.observed_generation, Some(3));
    }
}
