//! `certsmith approve|deny NAME`: decides a CertificateRequest by hand, as cmctl does, for
//! setups where the built-in approver is off (`certsmith controller
//! --controllers=*,-certificaterequests-approver`). A request already decided is refused:
//! approval is final.

use std::process::ExitCode;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::kube::{CliError, ConnectionArgs, block_on};
use super::renew::FIELD_MANAGER;
use crate::api::{
    CONDITION_APPROVED, CONDITION_DENIED, CertificateRequest, Condition, ConditionStatus,
    find_condition,
};

/// cmctl's default reason, kept so tools that look for it still find it.
pub const DEFAULT_REASON: &str = "KubectlCertManager";

#[derive(Debug, clap::Args)]
pub struct DecisionArgs {
    /// Name of the CertificateRequest.
    pub name: String,
    /// Reason recorded in the condition (a PascalCase word).
    #[arg(long, default_value = DEFAULT_REASON)]
    pub reason: String,
    /// Message recorded in the condition (default: "manually approved by certsmith" or
    /// "manually denied by certsmith").
    #[arg(long)]
    pub message: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    fn condition_type(self) -> &'static str {
        match self {
            Decision::Approve => CONDITION_APPROVED,
            Decision::Deny => CONDITION_DENIED,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        }
    }
}

/// Why the request cannot be decided again, if it cannot. Pure.
pub fn already_decided(request: &CertificateRequest) -> Option<String> {
    let conditions = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    [CONDITION_APPROVED, CONDITION_DENIED]
        .into_iter()
        .find_map(|t| find_condition(conditions, t))
        .map(|c| {
            let verb = if c.type_ == CONDITION_APPROVED {
                "approved"
            } else {
                "denied"
            };
            format!(
                "CertificateRequest {} is already {verb} ({}); a decision is final",
                request.name_any(),
                c.reason.as_deref().unwrap_or("-")
            )
        })
}

/// The condition written for `decision`.
pub fn decision_condition(
    decision: Decision,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: decision.condition_type().into(),
        status: ConditionStatus::True,
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: Some(Time(now)),
        observed_generation: None,
    }
}

pub fn run(decision: Decision, args: DecisionArgs) -> ExitCode {
    block_on(
        match decision {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        },
        decide(decision, args),
    )
}

async fn decide(decision: Decision, args: DecisionArgs) -> Result<ExitCode, CliError> {
    let conn = args.connection.connect().await?;
    let ns = conn.namespace;
    let api: Api<CertificateRequest> = Api::namespaced(conn.client, &ns);
    let request = api
        .get_opt(&args.name)
        .await
        .map_err(CliError::api(format!(
            "reading CertificateRequest {ns}/{}",
            args.name
        )))?
        .ok_or_else(|| {
            CliError::Failed(format!("CertificateRequest {ns}/{} not found", args.name))
        })?;
    if let Some(why) = already_decided(&request) {
        return Err(CliError::Failed(why));
    }
    let message = args
        .message
        .unwrap_or_else(|| format!("manually {} by certsmith", decision.verb()));
    let condition = decision_condition(decision, &args.reason, &message, Timestamp::now());
    // Conditioned on the version read: if an approver decided in between, this fails (409)
    // instead of writing a second, contradicting decision.
    let patch = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": { "resourceVersion": request.resource_version() },
        "status": { "conditions": [condition] },
    });
    match api
        .patch_status(
            &args.name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            return Err(CliError::Failed(format!(
                "CertificateRequest {ns}/{} changed while deciding; look again with kubectl",
                args.name
            )));
        }
        Err(e) => {
            return Err(CliError::api(format!(
                "updating CertificateRequest {ns}/{}",
                args.name
            ))(e));
        }
    }
    println!(
        "CertificateRequest {ns}/{} {} ({}: {message})",
        args.name,
        decision.verb(),
        args.reason
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateRequestSpec, CertificateRequestStatus};

    #[test]
    fn decided_table() {
        let with = |types: &[&str]| {
            let mut r = CertificateRequest::new("web-1", CertificateRequestSpec::default());
            r.status = Some(CertificateRequestStatus {
                conditions: Some(
                    types
                        .iter()
                        .map(|t| Condition {
                            type_: (*t).into(),
                            status: ConditionStatus::True,
                            reason: Some("X".into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            });
            r
        };
        let table: [(&[&str], Option<&str>); 4] = [
            (&[], None),
            (&["Ready"], None),
            (&["Approved"], Some("already approved")),
            (&["Ready", "Denied"], Some("already denied")),
        ];
        for (types, want) in table {
            let got = already_decided(&with(types));
            match want {
                None => assert!(got.is_none(), "{types:?}: {got:?}"),
                Some(w) => assert!(got.as_deref().unwrap_or_default().contains(w), "{types:?}"),
            }
        }
        let c = decision_condition(Decision::Deny, DEFAULT_REASON, "no", Timestamp::UNIX_EPOCH);
        assert_eq!(
            (c.type_.as_str(), c.reason.as_deref()),
            ("Denied", Some("KubectlCertManager"))
        );
    }
}
