//! `Certificate` (cert-manager.io/v1): the desired state of a signed certificate and where its
//! key pair is kept.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::{Condition, IssuerReference, SecretKeySelector};
use super::rules;

/// Spec of a Certificate: the identities to certify, the issuer to ask, and the Secret that
/// receives the signed certificate and its private key.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced,
    status = "CertificateStatus",
    shortname = "cert",
    shortname = "certs",
    category = "cert-manager",
    doc = "A Certificate asks for an X.509 certificate from an Issuer or ClusterIssuer and keeps it, \
           with its private key, up to date in a Secret of type kubernetes.io/tls.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(name = "Secret", type_ = "string", json_path = ".spec.secretName"),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        json_path = ".spec.issuerRef.name",
        priority = "1"
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
    ),
    selectable = ".spec.issuerRef.name",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.group"
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.literalSubject) || (!has(self.commonName) && !has(self.subject))")
    .message("spec.literalSubject cannot be combined with spec.commonName or spec.subject: write the whole subject in spec.literalSubject")
    .field_path(".literalSubject").reason(Reason::FieldValueForbidden))]
#[x_kube(validation = Rule::new(IDENTITY_RULE)
    .message("spec must name at least one identity: spec.commonName (or a CN in spec.literalSubject), spec.dnsNames, spec.ipAddresses, spec.uris, spec.emailAddresses or spec.otherNames")
    .reason(Reason::FieldValueRequired))]
#[x_kube(validation = Rule::new("!(has(self.renewBefore) && has(self.renewBeforePercentage))")
    .message("spec.renewBefore and spec.renewBeforePercentage cannot both be set: choose one")
    .field_path(".renewBeforePercentage").reason(Reason::FieldValueForbidden))]
#[x_kube(validation = Rule::new(RENEW_BEFORE_SHORTER_RULE)
    .message("spec.renewBefore must be shorter than spec.duration (which defaults to 2160h, 90 days)")
    .field_path(".renewBefore"))]
#[x_kube(validation = Rule::new("!has(self.nameConstraints) || (has(self.isCA) && self.isCA)")
    .message("spec.nameConstraints can only be set on a CA certificate: set spec.isCA to true")
    .field_path(".nameConstraints").reason(Reason::FieldValueForbidden))]
pub struct CertificateSpec {
    /// Full X.509 distinguished-name fields other than the common name. Cannot be combined
    /// with `literalSubject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<X509Subject>,

    /// The whole subject as an RFC 4514 string (for example `CN=app,O=Example,C=NL`), written
    /// into the certificate exactly in that order. Use it when a relying party needs an exact
    /// subject; it cannot be combined with `commonName` or `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub literal_subject: Option<String>,

    /// The subject common name (CN), at most 64 characters. Browsers ignore it; put every name
    /// a client will use in `dnsNames` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub common_name: Option<String>,

    /// Requested lifetime of the certificate, as a duration such as `2160h` (the default: 90
    /// days). At least 1h. The issuer may return a different lifetime; renewal is computed
    /// from the certificate actually issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = rules::go_duration("spec.duration"))]
    #[x_kube(validation = rules::duration_at_least("spec.duration", "1h"))]
    pub duration: Option<String>,

    /// How long before the certificate expires it is renewed, as a duration such as `720h`.
    /// At least 5m and shorter than `duration`. When neither this nor
    /// `renewBeforePercentage` is set, the certificate is renewed when two thirds of its actual
    /// lifetime has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = rules::go_duration("spec.renewBefore"))]
    #[x_kube(validation = rules::duration_at_least("spec.renewBefore", "5m"))]
    pub renew_before: Option<String>,

    /// Renew when this percentage of the certificate's actual lifetime remains (1 to 99).
    /// Cannot be combined with `renewBefore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 99))]
    pub renew_before_percentage: Option<i32>,

    /// DNS subject alternative names; a name may start with `*.` for a wildcard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), inner(length(min = 1, max = 253)))]
    pub dns_names: Option<Vec<String>>,

    /// IP address subject alternative names (IPv4 or IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), inner(length(max = 64)))]
    #[x_kube(validation = rules::all_ips("spec.ipAddresses"))]
    pub ip_addresses: Option<Vec<String>>,

    /// URI subject alternative names, e.g. SPIFFE IDs (`spiffe://cluster.local/ns/a/sa/b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), inner(length(max = 2048)))]
    #[x_kube(validation = rules::all_urls("spec.uris"))]
    pub uris: Option<Vec<String>>,

    /// otherName subject alternative names: an OID and a UTF-8 string value each, e.g. a
    /// Microsoft UPN (`1.3.6.1.4.1.311.20.2.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub other_names: Option<Vec<OtherName>>,

    /// Email address subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000), inner(length(max = 320)))]
    #[x_kube(validation = Rule::new("self.all(e, e.matches(r'^[^@\\s]+@[^@\\s]+$'))")
        .message("spec.emailAddresses must hold email addresses, such as admin@example.com"))]
    pub email_addresses: Option<Vec<String>>,

    /// Name of the Secret, in the Certificate's namespace, that receives `tls.crt`, `tls.key`
    /// and `ca.crt`. Created if missing; keys other writers added to it are kept.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub secret_name: String,

    /// Labels and annotations copied onto the Secret and kept in step with this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<CertificateSecretTemplate>,

    /// Extra keystore formats (JKS, PKCS#12) written into the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystores: Option<CertificateKeystores>,

    /// The Issuer or ClusterIssuer that signs this certificate. `kind` defaults to `Issuer`
    /// (same namespace); set it to `ClusterIssuer` to use a cluster-wide issuer.
    pub issuer_ref: IssuerReference,

    /// Request a CA certificate (basic constraints CA:TRUE), able to sign other certificates.
    /// Adds `cert sign` to the usages.
    #[serde(rename = "isCA", default, skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,

    /// Key usages and extended key usages requested. Defaults to `digital signature` and
    /// `key encipherment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 23))]
    pub usages: Option<Vec<KeyUsage>>,

    /// How the private key is generated, encoded and rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<CertificatePrivateKey>,

    /// Signature algorithm the issuer should use. By default it follows the issuer's key type
    /// and size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<SignatureAlgorithm>,

    /// Put the requested key usages into the CSR as well (default true). Some issuers reject
    /// CSRs that carry usages; set false for those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_usages_in_request: Option<bool>,

    /// How many old CertificateRequests of this Certificate to keep (at least 1). Unset keeps
    /// all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub revision_history_limit: Option<i32>,

    /// Extra output formats written into the Secret next to tls.crt and tls.key: `DER`
    /// (key.der) and `CombinedPEM` (tls-combined.pem, key then chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 2))]
    pub additional_output_formats: Option<Vec<CertificateAdditionalOutputFormat>>,

    /// X.509 name constraints for a CA certificate (requires `isCA: true`): which names the
    /// CA may, and may not, certify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<NameConstraints>,
}

/// At least one identity. A literal subject counts when it holds a CN attribute.
const IDENTITY_RULE: &str = "has(self.commonName) \
    || (has(self.literalSubject) && self.literalSubject.matches(r'(^|[,+])\\s*(CN|cn|2\\.5\\.4\\.3)=')) \
    || (has(self.dnsNames) && size(self.dnsNames) > 0) \
    || (has(self.ipAddresses) && size(self.ipAddresses) > 0) \
    || (has(self.uris) && size(self.uris) > 0) \
    || (has(self.emailAddresses) && size(self.emailAddresses) > 0) \
    || (has(self.otherNames) && size(self.otherNames) > 0)";

/// renewBefore < duration (default 90 days), evaluated only once both parse as durations;
/// the fields' own rules report malformed values.
const RENEW_BEFORE_SHORTER_RULE: &str = concat!(
    "!has(self.renewBefore) || !self.renewBefore.matches(r'",
    r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$",
    "') || (has(self.duration) && !self.duration.matches(r'",
    r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$",
    "')) || duration(self.renewBefore) < duration(has(self.duration) ? self.duration : '2160h')"
);

/// Distinguished-name fields of the certificate subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct X509Subject {
    /// Organizations (O).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
    /// Countries (C).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countries: Option<Vec<String>>,
    /// Organizational units (OU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_units: Option<Vec<String>>,
    /// Cities or localities (L).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localities: Option<Vec<String>>,
    /// States or provinces (ST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provinces: Option<Vec<String>>,
    /// Street addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_addresses: Option<Vec<String>>,
    /// Postal codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_codes: Option<Vec<String>>,
    /// Serial number attribute of the subject (not the certificate's serial number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// An otherName subject alternative name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtherName {
    /// Object identifier of the name type, in dotted form, e.g. `1.3.6.1.4.1.311.20.2.3`.
    #[schemars(regex(pattern = r"^[0-2](\.(0|[1-9][0-9]*))+$"), length(max = 128))]
    pub oid: String,
    /// The value, encoded as a UTF8String.
    #[schemars(length(min = 1, max = 1024))]
    pub utf8_value: String,
}

/// Metadata copied onto the certificate's Secret.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSecretTemplate {
    /// Annotations added to the Secret. Keys under `cert-manager.io/` are reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 128))]
    #[x_kube(validation = rules::no_cert_manager_keys("spec.secretTemplate.annotations"))]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels added to the Secret. Keys under `cert-manager.io/` are reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 128))]
    #[x_kube(validation = rules::no_cert_manager_keys("spec.secretTemplate.labels"))]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Keystores written into the Secret besides the PEM files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateKeystores {
    /// A Java KeyStore (`keystore.jks`, and `truststore.jks` when a CA is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jks: Option<JksKeystore>,
    /// A PKCS#12 file (`keystore.p12`, and `truststore.p12` when a CA is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs12: Option<Pkcs12Keystore>,
}

/// JKS keystore settings.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.passwordSecretRef) != has(self.password)")
    .message("spec.keystores.jks needs exactly one password source: passwordSecretRef or password")
    .reason(Reason::FieldValueRequired))]
pub struct JksKeystore {
    /// Write the keystore into the Secret.
    pub create: bool,
    /// Alias of the key entry in the keystore (default `certificate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub alias: Option<String>,
    /// Secret key holding the keystore password. Exactly one of this and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    /// The keystore password inline (it is stored in plain text in this object). Exactly one
    /// of this and `passwordSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub password: Option<String>,
}

/// PKCS#12 keystore settings.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.passwordSecretRef) != has(self.password)")
    .message("spec.keystores.pkcs12 needs exactly one password source: passwordSecretRef or password")
    .reason(Reason::FieldValueRequired))]
pub struct Pkcs12Keystore {
    /// Write the keystore into the Secret.
    pub create: bool,
    /// Encryption profile: `LegacyRC2` (default, readable by old Java and OpenSSL), `LegacyDES`,
    /// or `Modern2023` (AES-256 with PBKDF2, for current software).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Pkcs12Profile>,
    /// Secret key holding the keystore password. Exactly one of this and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    /// The keystore password inline (it is stored in plain text in this object). Exactly one
    /// of this and `passwordSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub password: Option<String>,
}

/// PKCS#12 encryption profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Pkcs12Profile {
    #[default]
    LegacyRC2,
    LegacyDES,
    Modern2023,
}

/// How the private key is generated, encoded and rotated.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(KEY_SIZE_RULE)
    .message("spec.privateKey.size must be 2048 to 8192 for RSA, or 256, 384 or 521 for ECDSA; Ed25519 takes no size")
    .field_path(".size"))]
pub struct CertificatePrivateKey {
    /// `Always` (the default) generates a new key at every issuance; `Never` keeps the key in
    /// the Secret, generating one only when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<PrivateKeyRotationPolicy>,
    /// `PKCS1` (the default; PKCS#8 for Ed25519, which has no PKCS#1 form) or `PKCS8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<PrivateKeyEncoding>,
    /// `RSA` (the default), `ECDSA` or `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<PrivateKeyAlgorithm>,
    /// Key size in bits: RSA 2048 (default) to 8192; ECDSA 256 (default), 384 or 521.
    /// Ignored for Ed25519.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
}

const KEY_SIZE_RULE: &str = "!has(self.size) \
    || (has(self.algorithm) && self.algorithm == 'Ed25519') \
    || (has(self.algorithm) && self.algorithm == 'ECDSA' ? self.size in [256, 384, 521] : (self.size >= 2048 && self.size <= 8192))";

/// When a new private key is generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PrivateKeyRotationPolicy {
    Never,
    #[default]
    Always,
}

/// Encoding of the private key in `tls.key`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PrivateKeyEncoding {
    #[default]
    #[serde(rename = "PKCS1")]
    Pkcs1,
    #[serde(rename = "PKCS8")]
    Pkcs8,
}

/// Private key algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PrivateKeyAlgorithm {
    #[default]
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "ECDSA")]
    Ecdsa,
    Ed25519,
}

/// Signature algorithm of the issued certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SignatureAlgorithm {
    SHA256WithRSA,
    SHA384WithRSA,
    SHA512WithRSA,
    ECDSAWithSHA256,
    ECDSAWithSHA384,
    ECDSAWithSHA512,
    PureEd25519,
}

/// A key usage or extended key usage, spelled as in cert-manager.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum KeyUsage {
    #[serde(rename = "signing")]
    Signing,
    #[serde(rename = "digital signature")]
    DigitalSignature,
    #[serde(rename = "content commitment")]
    ContentCommitment,
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
    #[serde(rename = "key agreement")]
    KeyAgreement,
    #[serde(rename = "data encipherment")]
    DataEncipherment,
    #[serde(rename = "cert sign")]
    CertSign,
    #[serde(rename = "crl sign")]
    CrlSign,
    #[serde(rename = "encipher only")]
    EncipherOnly,
    #[serde(rename = "decipher only")]
    DecipherOnly,
    #[serde(rename = "any")]
    Any,
    #[serde(rename = "server auth")]
    ServerAuth,
    #[serde(rename = "client auth")]
    ClientAuth,
    #[serde(rename = "code signing")]
    CodeSigning,
    #[serde(rename = "email protection")]
    EmailProtection,
    #[serde(rename = "s/mime")]
    SMime,
    #[serde(rename = "ipsec end system")]
    IpsecEndSystem,
    #[serde(rename = "ipsec tunnel")]
    IpsecTunnel,
    #[serde(rename = "ipsec user")]
    IpsecUser,
    #[serde(rename = "timestamping")]
    Timestamping,
    #[serde(rename = "ocsp signing")]
    OcspSigning,
    #[serde(rename = "microsoft sgc")]
    MicrosoftSgc,
    #[serde(rename = "netscape sgc")]
    NetscapeSgc,
}

/// An extra output format written into the Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CertificateAdditionalOutputFormat {
    /// `DER` writes the private key as DER into `key.der`; `CombinedPEM` writes the key and
    /// then the chain into `tls-combined.pem`.
    #[serde(rename = "type")]
    pub type_: AdditionalOutputFormatType,
}

/// Kind of additional output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AdditionalOutputFormatType {
    #[serde(rename = "DER")]
    Der,
    CombinedPEM,
}

/// X.509 name constraints of a CA certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraints {
    /// Mark the extension critical, so clients that do not understand it reject the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<bool>,
    /// Names the CA may certify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<NameConstraintItem>,
    /// Names the CA may not certify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<NameConstraintItem>,
}

/// Names in one direction of a name constraint.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraintItem {
    /// DNS domains, e.g. `example.com` (covers its subdomains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 253)))]
    pub dns_domains: Option<Vec<String>>,
    /// IP ranges in CIDR notation, e.g. `10.0.0.0/8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 64)))]
    #[x_kube(validation = rules::all_cidrs("spec.nameConstraints ipRanges"))]
    pub ip_ranges: Option<Vec<String>>,
    /// Email addresses or domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<String>>,
    /// URI domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_domains: Option<Vec<String>>,
}

/// Observed state of a Certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// `Ready` says whether the Secret holds a valid, up-to-date certificate; `Issuing` is
    /// present while a (re-)issuance is in progress, and its reason says why it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
    /// When the last issuance attempt failed. Cleared on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    /// Start of validity of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// End of validity of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// When the certificate will next be renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Time>,
    /// Number of the last successful issuance; the next CertificateRequest is named
    /// `<certificate>-<revision + 1>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i32>,
    /// Temporary Secret holding the private key for the issuance in progress (ACME and external
    /// issuers; certsmith's CA and SelfSigned issuances hold it in memory only). Cleared when the
    /// issuance ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_private_key_secret_name: Option<String>,
    /// Consecutive failed issuance attempts; drives the retry backoff. Reset on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i32>,
}
