//! The built-in approver: approves CertificateRequests addressed to certsmith's own issuers
//! (group cert-manager.io), so they can be signed. Requests for other issuer groups are left
//! to their own approvers; a request already Approved or Denied is never touched.

use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use super::Context;
use crate::api::{
    CONDITION_APPROVED, CONDITION_DENIED, CertificateRequest, Condition, ConditionStatus, GROUP,
    REASON_APPROVED_BY_CERT_MANAGER, find_condition,
};

const FIELD_MANAGER: &str = "certsmith-approver";

#[derive(Debug, thiserror::Error)]
pub enum ApproverError {
    #[error("approving CertificateRequest {namespace}/{name} failed: {source}")]
    Approve {
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

/// Whether the built-in approver should approve this request now. Pure.
pub fn should_approve(request: &CertificateRequest) -> bool {
    let conditions = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let decided = find_condition(conditions, CONDITION_APPROVED).is_some()
        || find_condition(conditions, CONDITION_DENIED).is_some();
    !decided && request.spec.issuer_ref.group_or_default() == GROUP
}

/// Runs the approver until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    if !ctx.requests.listed().await {
        return; // shut down before the first list
    }
    ctx.requests
        .controller()
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("approver", &ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| super::log_outcome("approver", r))
        .await;
}

async fn reconcile(
    request: Arc<CertificateRequest>,
    ctx: Arc<Context>,
) -> Result<Action, ApproverError> {
    if !should_approve(&request) {
        return Ok(Action::await_change());
    }
    let (namespace, name) = (request.namespace().unwrap_or_default(), request.name_any());
    let condition = Condition {
        type_: CONDITION_APPROVED.into(),
        status: ConditionStatus::True,
        reason: Some(REASON_APPROVED_BY_CERT_MANAGER.into()),
        message: Some("Certificate request has been approved by certsmith".into()),
        last_transition_time: Some(Time(Timestamp::now())),
        observed_generation: request.metadata.generation,
    };
    let patch = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "status": { "conditions": [condition] },
    });
    let written = Api::<CertificateRequest>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| ApproverError::Approve {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
    ctx.writes.record(&written);
    tracing::info!(namespace, name, "approved CertificateRequest");
    ctx.backoff
        .reset(&format!("CertificateRequest/{namespace}/{name}/approver"));
    Ok(Action::await_change())
}

fn error_policy(
    request: Arc<CertificateRequest>,
    err: &ApproverError,
    ctx: Arc<Context>,
) -> Action {
    let key = format!(
        "CertificateRequest/{}/{}/approver",
        request.namespace().unwrap_or_default(),
        request.name_any()
    );
    let delay = ctx.backoff.next(&key);
    tracing::warn!(%err, retry_in = ?delay, "approver reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateRequestSpec, CertificateRequestStatus, IssuerReference};

    fn request(group: Option<&str>, conditions: &[(&str, ConditionStatus)]) -> CertificateRequest {
        let mut cr = CertificateRequest::new(
            "app-1",
            CertificateRequestSpec {
                issuer_ref: IssuerReference {
                    name: "ca".into(),
                    kind: None,
                    group: group.map(Into::into),
                },
                ..Default::default()
            },
        );
        cr.status = Some(CertificateRequestStatus {
            conditions: Some(
                conditions
                    .iter()
                    .map(|(t, s)| Condition {
                        type_: (*t).into(),
                        status: *s,
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        cr
    }

    #[test]
    fn approves_only_undecided_requests_for_our_issuers() {
        let table = [
            (None, vec![], true),
            (Some("cert-manager.io"), vec![], true),
            (Some(""), vec![("Ready", ConditionStatus::False)], true),
            (Some("awspca.cert-manager.io"), vec![], false),
            (None, vec![("Approved", ConditionStatus::True)], false),
            (None, vec![("Denied", ConditionStatus::True)], false),
        ];
        for (group, conditions, want) in table {
            assert_eq!(
                should_approve(&request(group, &conditions)),
                want,
                "{group:?} {conditions:?}"
            );
        }
    }
}
