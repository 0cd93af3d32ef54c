//! `Order` (acme.cert-manager.io/v1): one ACME order for one CertificateRequest, mirrored
//! from the ACME server.

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::IssuerReference;
use super::rules;

/// Spec of an Order: what is ordered. Immutable.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Order",
    namespaced,
    status = "OrderStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    doc = "An Order is one ACME order placed for one CertificateRequest. Its status mirrors the \
           order on the ACME server; one Challenge is created per pending authorization.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        json_path = ".spec.issuerRef.name",
        priority = "1"
    ),
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
#[x_kube(validation = rules::immutable("spec", "Order"))]
pub struct OrderSpec {
    /// The PEM certificate signing request sent (as DER) at finalization, base64 in JSON: the
    /// CertificateRequest's `spec.request`, as cert-manager stores it.
    #[schemars(schema_with = "super::meta::bytes_schema")]
    pub request: ByteString,
    /// The issuer that placed the order.
    pub issuer_ref: IssuerReference,
    /// Common name of the CSR; it must also be one of `dnsNames` or `ipAddresses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub common_name: Option<String>,
    /// DNS identifiers of the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    /// IP identifiers of the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    /// Requested lifetime, sent as notAfter when the issuer enables the duration feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub duration: Option<String>,
    /// ACME certificate profile requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// State of an ACME order, authorization or challenge, as the server reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcmeState {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    Expired,
    Errored,
}

impl AcmeState {
    /// Final states never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Valid | Self::Invalid | Self::Expired | Self::Errored
        )
    }
}

/// Observed state of an Order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    /// URL of the order on the ACME server. Once set, the order is never placed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// URL to finalize the order with the CSR.
    #[serde(
        rename = "finalizeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub finalize_url: Option<String>,
    /// Authorizations the server requires, one per identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizations: Option<Vec<AcmeAuthorization>>,
    /// The issued certificate chain, PEM-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::bytes_schema")]
    pub certificate: Option<ByteString>,
    /// State of the order: pending, ready, processing, valid, invalid, expired or errored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AcmeState>,
    /// Why the order is in its state, e.g. the ACME server's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the order failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

/// One ACME authorization of an order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeAuthorization {
    /// URL of the authorization.
    pub url: String,
    /// The identifier (DNS name or IP) being authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Whether this authorizes a wildcard name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
    /// State of the authorization when the order was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<AcmeState>,
    /// Challenges the server offered for this authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenges: Option<Vec<AcmeChallenge>>,
}

/// One challenge offered for an authorization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallenge {
    /// URL of the challenge.
    pub url: String,
    /// The challenge token.
    pub token: String,
    /// Challenge type as the server names it, e.g. `http-01` or `dns-01`.
    #[serde(rename = "type")]
    pub type_: String,
}
