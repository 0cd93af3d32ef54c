//! cert-manager's DNS-01 webhook contract, so external DNS providers written for cert-manager
//! plug in unchanged: the controller POSTs a `ChallengePayload` to
//! `/apis/<groupName>/v1alpha1/<solverName>` on the Kubernetes API server, which proxies it
//! to the webhook's APIService; the webhook answers with the same kind, carrying `response`.
//! Pure: building the request and reading the answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the webhook API (cert-manager's `v1alpha1`).
pub const WEBHOOK_VERSION: &str = "v1alpha1";

/// What the webhook is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeAction {
    Present,
    CleanUp,
}

/// The body exchanged with a webhook solver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengePayload {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ChallengeRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ChallengeResponse>,
}

/// One Present or CleanUp, with what the solver needs to act.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    /// Identifies this exchange; echoed in the response.
    pub uid: String,
    pub action: ChallengeAction,
    /// Always `dns-01`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The name being validated (`*.example.com` stays a wildcard here).
    pub dns_name: String,
    /// The TXT record value.
    pub key: String,
    /// Where the solver may read Secrets named in its config.
    pub resource_namespace: String,
    /// The record to set, fully qualified, after `cnameStrategy`.
    #[serde(rename = "resolvedFQDN")]
    pub resolved_fqdn: String,
    /// Its zone apex, fully qualified.
    pub resolved_zone: String,
    /// Whether ambient credentials (the controller's cloud identity) may be used: never here.
    pub allow_ambient_credentials: bool,
    /// The solver's `config`, as written in the Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

/// The webhook's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub success: bool,
    /// A `metav1.Status`: only its message and reason are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// The API server path of a webhook solver.
pub fn webhook_path(group_name: &str, solver_name: &str) -> String {
    format!("/apis/{group_name}/{WEBHOOK_VERSION}/{solver_name}")
}

/// The payload asking `group_name`'s webhook to do `request`.
pub fn payload(group_name: &str, request: ChallengeRequest) -> ChallengePayload {
    ChallengePayload {
        api_version: format!("{group_name}/{WEBHOOK_VERSION}"),
        kind: "ChallengePayload".into(),
        request: Some(request),
        response: None,
    }
}

/// `Ok` when the webhook says it did it; else its message.
pub fn outcome(answer: &ChallengePayload) -> Result<(), String> {
    let Some(response) = &answer.response else {
        return Err("the webhook answered without a response".into());
    };
    if response.success {
        return Ok(());
    }
    let status = response.status.as_ref();
    let text = |key: &str| {
        status
            .and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
    };
    Err(text("message")
        .or_else(|| text("reason"))
        .unwrap_or_else(|| "the webhook reported a failure without a message".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_wire_format() {
        let p = payload(
            "acme.example.com",
            ChallengeRequest {
                uid: "u1".into(),
                action: ChallengeAction::Present,
                type_: "dns-01".into(),
                dns_name: "*.example.com".into(),
                key: "txt".into(),
                resource_namespace: "certsmith".into(),
                resolved_fqdn: "_acme-challenge.example.com.".into(),
                resolved_zone: "example.com.".into(),
                allow_ambient_credentials: false,
                config: Some(json!({"apiKeySecretRef": {"name": "k"}})),
            },
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({
                "apiVersion": "acme.example.com/v1alpha1",
                "kind": "ChallengePayload",
                "request": {
                    "uid": "u1", "action": "Present", "type": "dns-01", "dnsName": "*.example.com",
                    "key": "txt", "resourceNamespace": "certsmith",
                    "resolvedFQDN": "_acme-challenge.example.com.", "resolvedZone": "example.com.",
                    "allowAmbientCredentials": false, "config": {"apiKeySecretRef": {"name": "k"}}
                }
            })
        );
        assert_eq!(
            webhook_path("acme.example.com", "mydns"),
            "/apis/acme.example.com/v1alpha1/mydns"
        );
    }

    #[test]
    fn outcome_table() {
        let answer = |response: Value| -> ChallengePayload {
            serde_json::from_value(json!({"apiVersion": "a/v1alpha1", "kind": "ChallengePayload", "response": response})).unwrap()
        };
        let cases = [
            (answer(json!({"uid": "u", "success": true})), Ok(())),
            (
                answer(
                    json!({"uid": "u", "success": false, "status": {"message": "zone not found"}}),
                ),
                Err("zone not found".to_owned()),
            ),
            (
                answer(json!({"uid": "u", "success": false, "status": {"reason": "Forbidden"}})),
                Err("Forbidden".to_owned()),
            ),
            (
                answer(json!({"uid": "u", "success": false})),
                Err("the webhook reported a failure without a message".to_owned()),
            ),
            (
                serde_json::from_value(
                    json!({"apiVersion": "a/v1alpha1", "kind": "ChallengePayload"}),
                )
                .unwrap(),
                Err("the webhook answered without a response".to_owned()),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(outcome(&answer), want, "{answer:?}");
        }
    }
}
