//! The ACME issuer type and its challenge solvers (`spec.acme` of an Issuer or ClusterIssuer;
//! a solver is also copied into each Challenge).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference as CoreLocalObjectReference, PodSecurityContext,
    ResourceRequirements, Toleration,
};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::SecretKeySelector;
use super::rules;

/// Settings of an ACME issuer.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.caBundle) && has(self.skipTLSVerify) && self.skipTLSVerify)")
    .message("spec.acme.caBundle and spec.acme.skipTLSVerify cannot be used together: trust the server's CA with caBundle instead")
    .field_path(".skipTLSVerify").reason(Reason::FieldValueForbidden))]
pub struct AcmeIssuer {
    /// Email address registered with the ACME account; the CA sends expiry and account
    /// notices there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 320))]
    pub email: Option<String>,

    /// The ACME server's directory URL, e.g.
    /// `https://acme-staging-v02.api.letsencrypt.org/directory` for Let's Encrypt staging.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = rules::url("spec.acme.server"))]
    pub server: String,

    /// When the server offers alternate chains, pick the one whose top certificate has this
    /// issuer common name (e.g. `ISRG Root X1`). Falls back to the default chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub preferred_chain: Option<String>,

    /// PEM bundle of CAs to trust for the ACME server's TLS certificate, for private ACME
    /// servers. The system trust store is used when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::meta::bytes_schema")]
    pub ca_bundle: Option<ByteString>,

    /// Do not verify the ACME server's TLS certificate. Insecure; prefer `caBundle`.
    #[serde(
        rename = "skipTLSVerify",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub skip_tls_verify: Option<bool>,

    /// External account binding, for ACME servers that require an existing account with the
    /// CA (ZeroSSL, Sectigo, Google Trust Services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<AcmeExternalAccountBinding>,

    /// Secret key holding the ACME account's private key (key `tls.key` by default). Generated
    /// when missing, unless `disableAccountKeyGeneration` is set.
    pub private_key_secret_ref: SecretKeySelector,

    /// Solvers that prove control of names to the ACME server. For each name, the solver
    /// whose `selector` matches it most specifically is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub solvers: Option<Vec<AcmeChallengeSolver>>,

    /// Never generate an account key: fail until the Secret in `privateKeySecretRef` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_account_key_generation: Option<bool>,

    /// Send the Certificate's `duration` to the ACME server as the order's notAfter. Only
    /// some servers support it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_duration_feature: Option<bool>,

    /// Certificate profile to request from servers that offer profiles (e.g. Let's Encrypt's
    /// `shortlived` or `tlsserver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub profile: Option<String>,
}

/// External account binding credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeExternalAccountBinding {
    /// The key identifier the CA gave you.
    #[serde(rename = "keyID")]
    #[schemars(length(min = 1, max = 1024))]
    pub key_id: String,
    /// Secret key holding the base64url-encoded HMAC key the CA gave you.
    pub key_secret_ref: SecretKeySelector,
    /// MAC algorithm: `HS256` (default), `HS384` or `HS512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<HmacKeyAlgorithm>,
}

/// HMAC algorithm of an external account binding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HmacKeyAlgorithm {
    #[default]
    HS256,
    HS384,
    HS512,
}

/// One way to solve challenges, and the names it applies to.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::exactly_one_of("spec.acme.solvers[]", &["http01", "dns01"]))]
pub struct AcmeChallengeSolver {
    /// Which names this solver is for. Empty matches every name; otherwise the most specific
    /// match wins (dnsNames over dnsZones over matchLabels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CertificateDnsNameSelector>,
    /// Solve with HTTP-01: serve a token at `http://<name>/.well-known/acme-challenge/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http01: Option<AcmeChallengeSolverHttp01>,
    /// Solve with DNS-01: publish a TXT record at `_acme-challenge.<name>`. Required for
    /// wildcard names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns01: Option<AcmeChallengeSolverDns01>,
}

/// Selects the names a solver is used for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDnsNameSelector {
    /// Labels the Certificate (and so its Order) must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Exact names this solver is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
    /// Zones this solver is for: a name matches a zone when it is the zone or under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_zones: Option<Vec<String>>,
}

/// HTTP-01 solver: routes the challenge path to a temporary solver Pod.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::exactly_one_of("spec.acme.solvers[].http01", &["ingress", "gatewayHTTPRoute"]))]
pub struct AcmeChallengeSolverHttp01 {
    /// Route the challenge through an Ingress (a temporary one, or an existing one edited in
    /// place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<AcmeChallengeSolverHttp01Ingress>,
    /// Route the challenge through a Gateway API HTTPRoute attached to `parentRefs`.
    #[serde(
        rename = "gatewayHTTPRoute",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway_http_route: Option<AcmeChallengeSolverHttp01GatewayHttpRoute>,
}

/// Ingress-based HTTP-01 solver.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::at_most_one_of("spec.acme.solvers[].http01.ingress", &["class", "ingressClassName", "name"]))]
pub struct AcmeChallengeSolverHttp01Ingress {
    /// Type of the solver Service: `NodePort` (the default) or `ClusterIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    /// `spec.ingressClassName` of the temporary Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub ingress_class_name: Option<String>,
    /// `kubernetes.io/ingress.class` annotation of the temporary Ingress (legacy controllers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub class: Option<String>,
    /// Add the challenge path to this existing Ingress instead of creating a temporary one
    /// (for controllers that give each Ingress its own IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub name: Option<String>,
    /// Metadata and scheduling settings of the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<AcmeChallengeSolverHttp01PodTemplate>,
    /// Metadata added to the temporary Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_template: Option<AcmeChallengeSolverHttp01IngressTemplate>,
}

/// Gateway API HTTPRoute-based HTTP-01 solver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01GatewayHttpRoute {
    /// Type of the solver Service: `NodePort` (the default) or `ClusterIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    /// Labels added to the temporary HTTPRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Gateways (or listeners) the temporary HTTPRoute attaches to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_refs: Option<Vec<GatewayParentReference>>,
    /// Metadata and scheduling settings of the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<AcmeChallengeSolverHttp01PodTemplate>,
}

/// Kind of Service created for a solver Pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    #[default]
    NodePort,
    ClusterIP,
}

/// A reference to a Gateway API parent (usually a Gateway), as in `gateway.networking.k8s.io/v1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayParentReference {
    /// API group of the parent (default `gateway.networking.k8s.io`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the parent (default `Gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace of the parent (default: the Challenge's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the parent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Name of a listener (section) of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// Port of the parent's listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// Settings applied to the solver Pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01PodTemplate {
    /// Labels and annotations added to the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// Scheduling and security settings of the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<AcmeChallengeSolverHttp01PodSpec>,
}

/// The parts of a Pod spec a user may set for solver Pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01PodSpec {
    /// Node labels the solver Pod must be scheduled on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Scheduling constraints of the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations of the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Priority class of the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Service account of the solver Pod (its token is never mounted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Pull secrets for the solver image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<CoreLocalObjectReference>>,
    /// Pod-level security context; the solver already runs as non-root with a read-only root
    /// filesystem and no capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    /// Compute resources of the solver container (small requests by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Settings applied to the temporary Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressTemplate {
    /// Labels and annotations added to the temporary Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
}

/// Labels and annotations for an object the controller creates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// DNS-01 solver: exactly one DNS provider.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = rules::exactly_one_of(
    "spec.acme.solvers[].dns01",
    &["rfc2136", "webhook", "cloudflare", "route53", "cloudDNS", "azureDNS", "digitalocean", "acmeDNS", "akamai"]
))]
pub struct AcmeChallengeSolverDns01 {
    /// `Follow` follows CNAME records from `_acme-challenge.<name>` and writes the TXT record
    /// at their target (to delegate validation to another zone); `None` (the default) does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname_strategy: Option<CnameStrategy>,
    /// RFC 2136 dynamic DNS updates (BIND, Knot, PowerDNS, Windows DNS), optionally TSIG-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc2136: Option<AcmeIssuerDns01ProviderRfc2136>,
    /// An out-of-tree DNS provider reached through a webhook solver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<AcmeIssuerDns01ProviderWebhook>,
    /// Cloudflare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudflare: Option<AcmeIssuerDns01ProviderCloudflare>,
    /// Amazon Route 53.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<AcmeIssuerDns01ProviderRoute53>,
    /// Google Cloud DNS.
    #[serde(rename = "cloudDNS", default, skip_serializing_if = "Option::is_none")]
    pub cloud_dns: Option<AcmeIssuerDns01ProviderCloudDns>,
    /// Azure DNS.
    #[serde(rename = "azureDNS", default, skip_serializing_if = "Option::is_none")]
    pub azure_dns: Option<AcmeIssuerDns01ProviderAzureDns>,
    /// DigitalOcean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitalocean: Option<AcmeIssuerDns01ProviderDigitalOcean>,
    /// acme-dns.
    #[serde(rename = "acmeDNS", default, skip_serializing_if = "Option::is_none")]
    pub acme_dns: Option<AcmeIssuerDns01ProviderAcmeDns>,
    /// Akamai Edge DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub akamai: Option<AcmeIssuerDns01ProviderAkamai>,
}

/// How CNAMEs at `_acme-challenge.<name>` are treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CnameStrategy {
    #[default]
    None,
    Follow,
}

/// RFC 2136 provider settings.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.tsigKeyName) == has(self.tsigSecretSecretRef)")
    .message("spec.acme.solvers[].dns01.rfc2136: tsigKeyName and tsigSecretSecretRef must be set together")
    .reason(Reason::FieldValueRequired))]
pub struct AcmeIssuerDns01ProviderRfc2136 {
    /// Address of the authoritative DNS server that accepts updates: `host` or `host:port`
    /// (port 53 by default); IPv6 as `[addr]:port`.
    #[schemars(length(min = 1, max = 260))]
    pub nameserver: String,
    /// Name of the TSIG key, as configured on the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub tsig_key_name: Option<String>,
    /// TSIG algorithm: `HMACSHA256` (certsmith's default), `HMACSHA384` or `HMACSHA512`.
    /// `HMACMD5` (cert-manager's default) and `HMACSHA1` are accepted here but refused when
    /// solving: they are no longer safe, and BIND's `tsig-keygen` makes hmac-sha256 keys.
    #[serde(
        rename = "tsigAlgorithm",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tsig_algorithm: Option<TsigAlgorithm>,
    /// Secret key holding the base64-encoded TSIG secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_secret_secret_ref: Option<SecretKeySelector>,
    /// Transport for updates: `UDP` (the default) or `TCP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<DnsProtocol>,
}

/// TSIG algorithm names, as cert-manager spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TsigAlgorithm {
    HMACMD5,
    HMACSHA1,
    #[default]
    HMACSHA256,
    HMACSHA384,
    HMACSHA512,
}

/// Transport protocol for DNS updates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DnsProtocol {
    #[default]
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "TCP")]
    Tcp,
}

/// Webhook (out-of-tree) DNS provider settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderWebhook {
    /// API group of the webhook solver's APIService, e.g. `acme.example.com`.
    #[schemars(length(min = 1, max = 253))]
    pub group_name: String,
    /// Name of the solver within that webhook.
    #[schemars(length(min = 1, max = 253))]
    pub solver_name: String,
    /// Arbitrary settings passed to the webhook unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub config: Option<serde_json::Value>,
}

/// Cloudflare provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderCloudflare {
    /// Account email, used with `apiKeySecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Secret key holding a global API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding an API token (preferred).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_secret_ref: Option<SecretKeySelector>,
}

/// Route 53 provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderRoute53 {
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Access key ID inline.
    #[serde(
        rename = "accessKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<String>,
    /// Secret key holding the access key ID.
    #[serde(
        rename = "accessKeyIDSecretRef",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_secret_ref: Option<SecretKeySelector>,
    /// IAM role to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Hosted zone to use, skipping zone discovery.
    #[serde(
        rename = "hostedZoneID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hosted_zone_id: Option<String>,
    /// Authenticate with a Kubernetes service account token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Route53Auth>,
}

/// Route 53 authentication through Kubernetes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53Auth {
    /// Use a service account token.
    pub kubernetes: Route53KubernetesAuth,
}

/// Service-account-token authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53KubernetesAuth {
    /// The service account whose token is requested.
    pub service_account_ref: ServiceAccountRef,
}

/// A service account and the audiences of its token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountRef {
    /// Name of the service account.
    pub name: String,
    /// Audiences of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
}

/// Google Cloud DNS provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderCloudDns {
    /// Google Cloud project.
    pub project: String,
    /// Secret key holding a service account JSON key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_secret_ref: Option<SecretKeySelector>,
    /// Managed zone to use, skipping zone discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_name: Option<String>,
}

/// Azure DNS provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAzureDns {
    /// Service principal client ID.
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Secret key holding the service principal's client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_secret_ref: Option<SecretKeySelector>,
    /// Azure subscription.
    #[serde(rename = "subscriptionID")]
    pub subscription_id: String,
    /// Azure AD tenant.
    #[serde(rename = "tenantID", default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Resource group of the zone.
    pub resource_group_name: String,
    /// DNS zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_name: Option<String>,
    /// Azure cloud environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<AzureEnvironment>,
    /// Managed identity to authenticate with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<AzureManagedIdentity>,
    /// `AzurePublicZone` (default) or `AzurePrivateZone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_type: Option<AzureZoneType>,
}

/// Azure cloud environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AzureEnvironment {
    AzurePublicCloud,
    AzureChinaCloud,
    AzureGermanCloud,
    AzureUSGovernmentCloud,
}

/// Azure DNS zone type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AzureZoneType {
    AzurePublicZone,
    AzurePrivateZone,
}

/// Azure managed identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureManagedIdentity {
    /// Client ID of the identity.
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Resource ID of the identity.
    #[serde(
        rename = "resourceID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_id: Option<String>,
    /// Tenant of the identity.
    #[serde(rename = "tenantID", default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// DigitalOcean provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderDigitalOcean {
    /// Secret key holding the API token.
    pub token_secret_ref: SecretKeySelector,
}

/// acme-dns provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAcmeDns {
    /// URL of the acme-dns server.
    pub host: String,
    /// Secret key holding the acme-dns account JSON.
    pub account_secret_ref: SecretKeySelector,
}

/// Akamai provider settings (accepted for compatibility; not solved yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAkamai {
    /// Akamai service consumer domain.
    pub service_consumer_domain: String,
    /// Secret key holding the client token.
    pub client_token_secret_ref: SecretKeySelector,
    /// Secret key holding the client secret.
    pub client_secret_secret_ref: SecretKeySelector,
    /// Secret key holding the access token.
    pub access_token_secret_ref: SecretKeySelector,
}
