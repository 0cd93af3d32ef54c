//! Every well-known string of the API in one place: groups, kinds, condition types and
//! reasons, annotation and label keys, finalizers. Values are cert-manager's, so manifests,
//! dashboards and tools written for cert-manager keep working.

// --- Groups, versions, kinds ---------------------------------------------------------------
pub const GROUP: &str = "cert-manager.io";
pub const ACME_GROUP: &str = "acme.cert-manager.io";
pub const VERSION: &str = "v1";
pub const ISSUER_KIND: &str = "Issuer";
pub const CLUSTER_ISSUER_KIND: &str = "ClusterIssuer";
pub const CERTIFICATE_KIND: &str = "Certificate";
pub const CERTIFICATE_REQUEST_KIND: &str = "CertificateRequest";
pub const ORDER_KIND: &str = "Order";
pub const CHALLENGE_KIND: &str = "Challenge";
pub const CATEGORY: &str = "cert-manager";
pub const ACME_CATEGORY: &str = "cert-manager-acme";

// --- Condition types -----------------------------------------------------------------------
/// Certificate, CertificateRequest, Issuer, ClusterIssuer.
pub const CONDITION_READY: &str = "Ready";
/// Certificate: a (re-)issuance is in progress.
pub const CONDITION_ISSUING: &str = "Issuing";
/// CertificateRequest: approved for signing.
pub const CONDITION_APPROVED: &str = "Approved";
/// CertificateRequest: denied; terminal.
pub const CONDITION_DENIED: &str = "Denied";
/// CertificateRequest: the request can never be signed as written; terminal.
pub const CONDITION_INVALID_REQUEST: &str = "InvalidRequest";

// --- Certificate issuance trigger reasons (Issuing condition) -------------------------------
pub const REASON_DOES_NOT_EXIST: &str = "DoesNotExist";
pub const REASON_MISSING_DATA: &str = "MissingData";
pub const REASON_INVALID_KEY_PAIR: &str = "InvalidKeyPair";
pub const REASON_INVALID_CERTIFICATE: &str = "InvalidCertificate";
/// The current CertificateRequest's CSR cannot be decoded.
pub const REASON_INVALID_CERTIFICATE_REQUEST: &str = "InvalidCertificateRequest";
pub const REASON_SECRET_MISMATCH: &str = "SecretMismatch";
pub const REASON_INCORRECT_ISSUER: &str = "IncorrectIssuer";
pub const REASON_INCORRECT_CERTIFICATE: &str = "IncorrectCertificate";
pub const REASON_REQUEST_CHANGED: &str = "RequestChanged";
pub const REASON_RENEWING: &str = "Renewing";
pub const REASON_EXPIRED: &str = "Expired";
pub const REASON_MANUALLY_TRIGGERED: &str = "ManuallyTriggered";
/// Ready=False: another Certificate in the namespace names the same `spec.secretName` and keeps
/// the Secret. The Certificate that keeps it goes on working.
pub const REASON_DUPLICATE_SECRET_NAME: &str = "DuplicateSecretName";
/// Ready=False: `spec.privateKey` asks for a key certsmith cannot generate.
pub const REASON_INVALID_PRIVATE_KEY: &str = "InvalidPrivateKey";

// --- Ready reasons ---------------------------------------------------------------------------
/// Certificate and issuers: Ready=True.
pub const REASON_READY: &str = "Ready";
/// CertificateRequest Ready reasons.
pub const REASON_PENDING: &str = "Pending";
pub const REASON_FAILED: &str = "Failed";
pub const REASON_ISSUED: &str = "Issued";
pub const REASON_DENIED: &str = "Denied";
/// CertificateRequest Approved reason set by the built-in approver (cert-manager's value).
pub const REASON_APPROVED_BY_CERT_MANAGER: &str = "cert-manager.io";

// --- Annotations on Certificates' Secrets and CertificateRequests ----------------------------
pub const ANN_CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
pub const ANN_ISSUER_NAME: &str = "cert-manager.io/issuer-name";
pub const ANN_ISSUER_KIND: &str = "cert-manager.io/issuer-kind";
pub const ANN_ISSUER_GROUP: &str = "cert-manager.io/issuer-group";
pub const ANN_COMMON_NAME: &str = "cert-manager.io/common-name";
pub const ANN_ALT_NAMES: &str = "cert-manager.io/alt-names";
pub const ANN_IP_SANS: &str = "cert-manager.io/ip-sans";
pub const ANN_URI_SANS: &str = "cert-manager.io/uri-sans";
pub const ANN_EMAIL_SANS: &str = "cert-manager.io/email-sans";
pub const ANN_CERTIFICATE_REVISION: &str = "cert-manager.io/certificate-revision";
pub const ANN_PRIVATE_KEY_SECRET_NAME: &str = "cert-manager.io/private-key-secret-name";
pub const ANN_ISSUE_TEMPORARY_CERTIFICATE: &str = "cert-manager.io/issue-temporary-certificate";

// --- Ingress / Gateway shim annotations -------------------------------------------------------
pub const ANN_ISSUER: &str = "cert-manager.io/issuer";
pub const ANN_CLUSTER_ISSUER: &str = "cert-manager.io/cluster-issuer";
/// cert-manager 0.x spellings, still found in old manifests and tutorials.
pub const ANN_LEGACY_ISSUER: &str = "certmanager.k8s.io/issuer";
pub const ANN_LEGACY_CLUSTER_ISSUER: &str = "certmanager.k8s.io/cluster-issuer";
pub const ANN_TLS_ACME: &str = "kubernetes.io/tls-acme";
pub const ANN_DURATION: &str = "cert-manager.io/duration";
pub const ANN_RENEW_BEFORE: &str = "cert-manager.io/renew-before";
pub const ANN_RENEW_BEFORE_PERCENTAGE: &str = "cert-manager.io/renew-before-percentage";
pub const ANN_USAGES: &str = "cert-manager.io/usages";
pub const ANN_REVISION_HISTORY_LIMIT: &str = "cert-manager.io/revision-history-limit";
pub const ANN_PRIVATE_KEY_ALGORITHM: &str = "cert-manager.io/private-key-algorithm";
pub const ANN_PRIVATE_KEY_ENCODING: &str = "cert-manager.io/private-key-encoding";
pub const ANN_PRIVATE_KEY_SIZE: &str = "cert-manager.io/private-key-size";
pub const ANN_PRIVATE_KEY_ROTATION_POLICY: &str = "cert-manager.io/private-key-rotation-policy";
pub const ANN_SUBJECT_ORGANIZATIONS: &str = "cert-manager.io/subject-organizations";
pub const ANN_SUBJECT_ORGANIZATIONAL_UNITS: &str = "cert-manager.io/subject-organizationalunits";
pub const ANN_SUBJECT_COUNTRIES: &str = "cert-manager.io/subject-countries";
pub const ANN_SUBJECT_PROVINCES: &str = "cert-manager.io/subject-provinces";
pub const ANN_SUBJECT_LOCALITIES: &str = "cert-manager.io/subject-localities";
pub const ANN_SUBJECT_STREET_ADDRESSES: &str = "cert-manager.io/subject-streetaddresses";
pub const ANN_SUBJECT_POSTAL_CODES: &str = "cert-manager.io/subject-postalcodes";
pub const ANN_SUBJECT_SERIAL_NUMBER: &str = "cert-manager.io/subject-serialnumber";
pub const ANN_HTTP01_EDIT_IN_PLACE: &str = "acme.cert-manager.io/http01-edit-in-place";
pub const ANN_HTTP01_INGRESS_CLASS: &str = "acme.cert-manager.io/http01-ingress-class";
pub const ANN_HTTP01_INGRESS_CLASS_NAME: &str =
    "acme.cert-manager.io/http01-ingress-ingressclassname";
/// The prefix of the http-01 override annotations, copied Certificate → request → Order.
pub const HTTP01_OVERRIDE_PREFIX: &str = "acme.cert-manager.io/http01-override-";
pub const ANN_HTTP01_OVERRIDE_INGRESS_NAME: &str =
    "acme.cert-manager.io/http01-override-ingress-name";
pub const ANN_HTTP01_OVERRIDE_INGRESS_CLASS: &str =
    "acme.cert-manager.io/http01-override-ingress-class";
pub const ANN_HTTP01_OVERRIDE_INGRESS_CLASS_NAME: &str =
    "acme.cert-manager.io/http01-override-ingress-ingressclassname";

// --- Labels ------------------------------------------------------------------------------------
/// Marks Secrets the controller writes, so it can watch only those.
pub const LABEL_FAO: &str = "controller.cert-manager.io/fao";
/// Marks the temporary Secret holding a Certificate's next private key.
pub const LABEL_NEXT_PRIVATE_KEY: &str = "cert-manager.io/next-private-key";
pub const LABEL_HTTP_DOMAIN: &str = "acme.cert-manager.io/http-domain";
pub const LABEL_HTTP_TOKEN: &str = "acme.cert-manager.io/http-token";
pub const LABEL_HTTP01_SOLVER: &str = "acme.cert-manager.io/http01-solver";

// --- Finalizers ----------------------------------------------------------------------------------
pub const ACME_FINALIZER: &str = "acme.cert-manager.io/finalizer";

// --- Secret keys ---------------------------------------------------------------------------------
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_PRIVATE_KEY_KEY: &str = "tls.key";
pub const CA_CERT_KEY: &str = "ca.crt";
pub const PKCS12_KEYSTORE_KEY: &str = "keystore.p12";
pub const PKCS12_TRUSTSTORE_KEY: &str = "truststore.p12";
pub const JKS_KEYSTORE_KEY: &str = "keystore.jks";
pub const JKS_TRUSTSTORE_KEY: &str = "truststore.jks";
pub const DER_KEY: &str = "key.der";
pub const COMBINED_PEM_KEY: &str = "tls-combined.pem";

// --- Defaults and limits -------------------------------------------------------------------------
/// Default certificate lifetime when `spec.duration` is unset (90 days).
pub const DEFAULT_DURATION: &str = "2160h";
pub const MIN_DURATION: &str = "1h";
pub const MIN_RENEW_BEFORE: &str = "5m";
pub const DEFAULT_JKS_ALIAS: &str = "certificate";
