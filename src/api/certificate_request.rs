//! `CertificateRequest` (cert-manager.io/v1): one signing request (a CSR) sent to an issuer.
//! Its spec never changes after creation; each (re-)issuance of a Certificate creates a new one.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::certificate::KeyUsage;
use super::meta::{Condition, IssuerReference};
use super::rules;

/// Spec of a CertificateRequest. Immutable.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    namespaced,
    status = "CertificateRequestStatus",
    shortname = "cr",
    shortname = "crs",
    category = "cert-manager",
    doc = "A CertificateRequest carries one PEM-encoded certificate signing request to an issuer; \
           the signed certificate appears in its status. Certificates create these; each has \
           to be approved before an issuer acts on it.",
    printcolumn(
        name = "Approved",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Approved")].status"#
    ),
    printcolumn(
        name = "Denied",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Denied")].status"#
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(name = "Issuer", type_ = "string", json_path = ".spec.issuerRef.name"),
    printcolumn(name = "Requester", type_ = "string", json_path = ".spec.username"),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#,
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "CreationTimestamp is a timestamp representing the server time when this object was created."
    ),
    selectable = ".spec.issuerRef.name",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.group"
)]
#[x_kube(validation = rules::immutable("spec", "CertificateRequest"))]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    /// The PEM-encoded PKCS#10 certificate signing request (base64 in JSON and YAML).
    #[schemars(schema_with = "super::meta::bytes_schema")]
    pub request: ByteString,

    /// The Issuer or ClusterIssuer asked to sign the request.
    pub issuer_ref: IssuerReference,

    /// Requested lifetime of the certificate, as a duration such as `2160h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = rules::go_duration("spec.duration"))]
    pub duration: Option<String>,

    /// Request a CA certificate.
    #[serde(rename = "isCA", default, skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,

    /// Requested key usages and extended key usages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 23))]
    pub usages: Option<Vec<KeyUsage>>,

    /// Name of the user who created the request, as recorded at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// UID of the user who created the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Groups of the user who created the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Extra attributes of the user who created the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<BTreeMap<String, Vec<String>>>,
}

/// Observed state of a CertificateRequest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    /// `Approved` or `Denied` (set by an approver), `Ready` (reason Pending, Issued, Failed or
    /// Denied) and `InvalidRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
    /// The signed certificate, PEM-encoded: leaf first, then any intermediates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::bytes_schema")]
    pub certificate: Option<ByteString>,
    /// The PEM-encoded CA certificate of the signer, when the issuer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::bytes_schema")]
    pub ca: Option<ByteString>,
    /// When the request failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}
