//! `Issuer` and `ClusterIssuer` (cert-manager.io/v1): who signs certificates. Both kinds share
//! one spec and status; an Issuer serves its own namespace, a ClusterIssuer every namespace
//! (its Secrets live in the cluster resource namespace).

use std::borrow::Cow;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames,
};
use kube::core::{ClusterResourceScope, ObjectMeta, Resource};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::acme_issuer::AcmeIssuer;
use super::meta::Condition;
use super::rules;

/// Spec of an Issuer or ClusterIssuer: exactly one issuer type.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    namespaced,
    status = "IssuerStatus",
    shortname = "iss",
    category = "cert-manager",
    doc = "An Issuer signs certificates for Certificates and CertificateRequests in its own \
           namespace: with an ACME server (such as Let's Encrypt), a CA key pair kept in a Secret, \
           or self-signed.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
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
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::exactly_one_of("spec", &["acme", "ca", "selfSigned"]))]
pub struct IssuerSpec {
    /// Obtain certificates from an ACME server (Let's Encrypt, ZeroSSL, a private ACME CA),
    /// proving control of each name with HTTP-01 or DNS-01 challenges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuer>,
    /// Sign certificates with a CA key pair kept in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
    /// Sign each certificate with its own private key (useful to bootstrap a CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
}

/// A CA issuer: signs with the key pair in a Secret.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    /// Name of the Secret holding the CA's `tls.crt` and `tls.key` (for a ClusterIssuer, in
    /// the cluster resource namespace). The certificate must be a CA matching the key.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// CRL distribution point URLs written into every certificate this issuer signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), inner(length(max = 2048)))]
    #[x_kube(validation = rules::all_urls("spec.ca.crlDistributionPoints"))]
    pub crl_distribution_points: Option<Vec<String>>,
    /// OCSP responder URLs written into every certificate this issuer signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), inner(length(max = 2048)))]
    #[x_kube(validation = rules::all_urls("spec.ca.ocspServers"))]
    pub ocsp_servers: Option<Vec<String>>,
    /// Issuing-certificate (CA Issuers) URLs written into the Authority Information Access of
    /// every certificate this issuer signs.
    #[serde(
        rename = "issuingCertificateURLs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 16), inner(length(max = 2048)))]
    #[x_kube(validation = rules::all_urls("spec.ca.issuingCertificateURLs"))]
    pub issuing_certificate_urls: Option<Vec<String>>,
}

/// A self-signed issuer.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfSignedIssuer {
    /// CRL distribution point URLs written into every certificate this issuer signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), inner(length(max = 2048)))]
    #[x_kube(validation = rules::all_urls("spec.selfSigned.crlDistributionPoints"))]
    pub crl_distribution_points: Option<Vec<String>>,
}

/// Observed state of an Issuer or ClusterIssuer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerStatus {
    /// `Ready` says whether the issuer can sign now, and if not, why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
    /// State of the ACME account, for ACME issuers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuerStatus>,
}

/// ACME account state of an issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerStatus {
    /// URL of the ACME account on the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The email address the account was last registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_registered_email: Option<String>,
    /// Hash of the account key the account was last registered with; a change triggers a new
    /// registration check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_private_key_hash: Option<String>,
}

/// A ClusterIssuer: an Issuer that serves every namespace. Same spec and status as Issuer.
/// Written by hand (kube's derive makes one kind per spec type) so both kinds share `IssuerSpec`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIssuer {
    pub metadata: ObjectMeta,
    pub spec: IssuerSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<IssuerStatus>,
}

impl ClusterIssuer {
    pub fn new(name: &str, spec: IssuerSpec) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }

    /// The ClusterIssuer CRD: Issuer's schema, cluster-scoped, under its own names.
    pub fn crd() -> CustomResourceDefinition {
        let mut crd = Issuer::crd();
        crd.metadata.name = Some(format!("clusterissuers.{}", super::GROUP));
        crd.spec.scope = "Cluster".into();
        crd.spec.names = CustomResourceDefinitionNames {
            kind: super::CLUSTER_ISSUER_KIND.into(),
            list_kind: Some("ClusterIssuerList".into()),
            plural: "clusterissuers".into(),
            singular: Some("clusterissuer".into()),
            short_names: Some(vec!["ciss".into()]),
            categories: Some(vec![super::CATEGORY.into()]),
        };
        if let Some(schema) = crd.spec.versions[0]
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            schema.title = Some(super::CLUSTER_ISSUER_KIND.into());
            schema.description = Some(
                "A ClusterIssuer signs certificates for Certificates and CertificateRequests in \
                 every namespace: with an ACME server (such as Let's Encrypt), a CA key pair kept \
                 in a Secret of the cluster resource namespace, or self-signed."
                    .into(),
            );
        }
        crd
    }
}

impl Serialize for ClusterIssuer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut obj = serializer.serialize_struct("ClusterIssuer", 5)?;
        obj.serialize_field(
            "apiVersion",
            &format!("{}/{}", super::GROUP, super::VERSION),
        )?;
        obj.serialize_field("kind", super::CLUSTER_ISSUER_KIND)?;
        obj.serialize_field("metadata", &self.metadata)?;
        obj.serialize_field("spec", &self.spec)?;
        if let Some(status) = &self.status {
            obj.serialize_field("status", status)?;
        }
        obj.end()
    }
}

impl Resource for ClusterIssuer {
    type DynamicType = ();
    type Scope = ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        super::CLUSTER_ISSUER_KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        super::GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        super::VERSION.into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "clusterissuers".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Read access to what Issuer and ClusterIssuer share, so issuer code handles both alike.
pub trait GenericIssuer: Resource<DynamicType = ()> {
    fn spec(&self) -> &IssuerSpec;
    fn status(&self) -> Option<&IssuerStatus>;
}

impl GenericIssuer for Issuer {
    fn spec(&self) -> &IssuerSpec {
        &self.spec
    }
    fn status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
}

impl GenericIssuer for ClusterIssuer {
    fn spec(&self) -> &IssuerSpec {
        &self.spec
    }
    fn status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
}
