//! `Challenge` (acme.cert-manager.io/v1): one ACME challenge being solved for one name.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::acme_issuer::AcmeChallengeSolver;
use super::meta::IssuerReference;
use super::order::AcmeState;

/// Spec of a Challenge: which challenge, for which name, solved how.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Challenge",
    namespaced,
    status = "ChallengeStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    doc = "A Challenge is one ACME challenge being solved to prove control of one name: the \
           solver publishes the key (a solver Pod for HTTP-01, a TXT record for DNS-01), checks \
           it is visible, tells the ACME server, and cleans up once the challenge is over.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Domain", type_ = "string", json_path = ".spec.dnsName"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.reason",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "CreationTimestamp is a timestamp representing the server time when this object was created."
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeSpec {
    /// URL of the challenge on the ACME server.
    pub url: String,
    /// URL of the authorization this challenge belongs to.
    #[serde(rename = "authorizationURL")]
    pub authorization_url: String,
    /// The name being validated (without any `*.` prefix).
    pub dns_name: String,
    /// Whether the authorization is for a wildcard name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
    /// `HTTP-01` or `DNS-01`.
    #[serde(rename = "type")]
    pub type_: ChallengeType,
    /// The challenge token.
    pub token: String,
    /// The key authorization to publish: the file body for HTTP-01, or the TXT record value
    /// (already hashed) for DNS-01.
    pub key: String,
    /// The solver chosen for this challenge, copied from the issuer.
    pub solver: AcmeChallengeSolver,
    /// The issuer that created the order.
    pub issuer_ref: IssuerReference,
}

/// Challenge type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChallengeType {
    #[default]
    #[serde(rename = "HTTP-01")]
    Http01,
    #[serde(rename = "DNS-01")]
    Dns01,
}

/// Observed state of a Challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeStatus {
    /// Whether the controller is working on this challenge now (bounded by a limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<bool>,
    /// Whether the key is published (solver Pod, Service and route, or TXT record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented: Option<bool>,
    /// Why the challenge is in its state, e.g. the last self-check result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// State of the challenge on the ACME server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AcmeState>,
}
