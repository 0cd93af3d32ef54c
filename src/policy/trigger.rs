//! "Does this Certificate need (re-)issuing, and why?" — cert-manager's trigger policy chain
//! (`internal/controller/certificates/policies/policies.go`, `NewTriggerPolicyChain`, with the
//! checks of `checks.go`), evaluated in its order; the first failing check wins:
//!
//! 1. the Secret exists (`DoesNotExist`);
//! 2. it holds `tls.key` and `tls.crt` (`MissingData`);
//! 3. both parse (`InvalidKeyPair` / `InvalidCertificate`) and the key matches the certificate
//!    (`InvalidKeyPair`);
//! 4. its issuer annotations match `spec.issuerRef`, kind and group defaulted (`IncorrectIssuer`);
//! 5. its `cert-manager.io/certificate-name` annotation, if any, names this Certificate
//!    (`IncorrectCertificate`);
//! 6. the key's algorithm and size match `spec.privateKey` (`SecretMismatch`);
//! 7. the current CertificateRequest's CSR parses (`InvalidCertificateRequest`) and carries the
//!    Secret's key (`SecretMismatch`);
//! 8. the current CertificateRequest still matches the spec (`RequestChanged`); without one, the
//!    certificate's names are compared with the spec, loosely (`SecretMismatch`);
//! 9. the certificate has not expired (`Expired`; certsmith only, see below);
//! 10. the renewal time has not come (`Renewing`).
//!
//! Where certsmith differs from cert-manager:
//! - messages name the fields that differ and both values, so the Certificate's status says what
//!   to fix (cert-manager lists field paths only);
//! - an expired certificate reports `Expired` instead of `Renewing` (cert-manager's trigger
//!   chain has no expiry check; its renewal check fires at the same moment anyway, since the
//!   renewal time is never after `notAfter`);
//! - the loose name check accepts the certificate's CN when `spec.literalSubject` is used
//!   (cert-manager compares it with the empty `spec.commonName` and reissues once);
//! - `spec.postalCodes` is reported under its real name (cert-manager says `postCodes`);
//! - renewal, cron windows and ARI are not modelled (the API has no `spec.renewal` yet).
//!
//! [`decide`] wraps the chain with what the trigger controller checks around it: an issuance
//! already in progress, and the backoff after failures.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::net::IpAddr;

use jiff::Timestamp;
use x509_parser::asn1_rs::Tag;
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::api::{
    ANN_CERTIFICATE_NAME, ANN_ISSUER_GROUP, ANN_ISSUER_KIND, ANN_ISSUER_NAME, CONDITION_ISSUING,
    CertificateSpec, Condition, ConditionStatus, IssuerReference, KeyUsage, PrivateKeyAlgorithm,
    REASON_DOES_NOT_EXIST, REASON_EXPIRED, REASON_INCORRECT_CERTIFICATE, REASON_INCORRECT_ISSUER,
    REASON_INVALID_CERTIFICATE, REASON_INVALID_KEY_PAIR, REASON_MISSING_DATA, REASON_RENEWING,
    REASON_REQUEST_CHANGED, REASON_SECRET_MISMATCH, find_condition,
};
use crate::pki::duration::parse_duration;
use crate::pki::renewal::{renewal_time, renewal_time_for_spec};
use crate::pki::{CertificateInfo, KeyInfo};
use crate::policy::backoff::Backoff;
use crate::policy::facts::{Parsed, RequestFacts, SecretData, SecretFacts, TriggerInput};

use crate::api::REASON_INVALID_CERTIFICATE_REQUEST;

/// Why a Certificate must be (re-)issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerVerdict {
    /// One of the `REASON_*` constants.
    pub reason: &'static str,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl TriggerVerdict {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        TriggerVerdict {
            reason,
            message: message.into(),
        }
    }

    /// The `Issuing=True` condition that starts the issuance, without `lastTransitionTime`
    /// (merge it with `crate::api::upsert_condition`).
    pub fn issuing_condition(&self, observed_generation: Option<i64>) -> Condition {
        Condition {
            type_: CONDITION_ISSUING.to_owned(),
            status: ConditionStatus::True,
            last_transition_time: None,
            reason: Some(self.reason.to_owned()),
            message: Some(self.message.clone()),
            observed_generation,
        }
    }
}

/// The first failing trigger check, or `None` when the certificate in the Secret is up to date
/// and not yet due for renewal.
pub fn issuance_needed(input: &TriggerInput, now: Timestamp) -> Option<TriggerVerdict> {
    evaluate(input, now, FinalCheck::Renewal)
}

/// What the trigger controller should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TriggerDecision {
    /// `Issuing` is already `True`: an issuance is in progress; leave it alone.
    AlreadyIssuing,
    /// Issuance failed before and the spec has not changed since: wait until `until`, then look
    /// again.
    BackedOff { until: Timestamp },
    /// Set `Issuing=True` with this reason and message.
    Issue(TriggerVerdict),
    /// Nothing to do; look again at `recheck_at` (the renewal time), if known.
    UpToDate { recheck_at: Option<Timestamp> },
    /// Another Certificate keeps the Secret this one names: issue nothing (readiness reports
    /// it; a change to either Certificate wakes the controller).
    SecretConflict,
}

/// The trigger controller's whole decision, as cert-manager's `ProcessItem` makes it: nothing
/// while an issuance is in progress; nothing while backed off after a failure (unless the spec
/// changed since the failed request); otherwise the policy chain.
pub fn decide(input: &TriggerInput, now: Timestamp, backoff: &Backoff) -> TriggerDecision {
    if input.secret_conflict.is_some() {
        return TriggerDecision::SecretConflict;
    }
    if is_issuing(input) {
        return TriggerDecision::AlreadyIssuing;
    }

    if let Some(until) = backed_off_until(input, now, backoff) {
        return TriggerDecision::BackedOff { until };
    }

    match issuance_needed(input, now) {
        Some(verdict) => TriggerDecision::Issue(verdict),
        None => TriggerDecision::UpToDate {
            recheck_at: current_certificate(input).map(|cert| spec_renewal_time(cert, input.spec)),
        },
    }
}

/// Whether `Issuing` is `True`: an issuance is in progress.
pub fn is_issuing(input: &TriggerInput) -> bool {
    input
        .status
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_ISSUING))
        .is_some_and(|c| c.status == ConditionStatus::True)
}

/// `Some(next retry)` while issuance is backed off. A failed next request that no longer
/// matches the spec (or cannot be decoded) means the user changed something: no backoff.
fn backed_off_until(input: &TriggerInput, now: Timestamp, backoff: &Backoff) -> Option<Timestamp> {
    let status = input.status?;
    let last_failure = status.last_failure_time.as_ref()?.0;
    if let Some(next) = &input.next_request {
        match request_mismatches(next, input.spec, input.literal_subject_der.as_deref()) {
            None => return None,
            Some(m) if !m.is_empty() => return None,
            Some(_) => {}
        }
    }
    backoff.backed_off_until(Some(last_failure), status.failed_issuance_attempts, now)
}

fn current_certificate<'a>(input: &'a TriggerInput) -> Option<&'a CertificateInfo> {
    match &input.secret {
        SecretFacts::Present(data) => data.certificate.valid(),
        SecretFacts::Missing => None,
    }
}

/// The renewal time of `cert` under the spec's renewal settings. An unparseable
/// `spec.renewBefore` (the CRD schema rejects those) counts as unset.
pub(crate) fn spec_renewal_time(cert: &CertificateInfo, spec: &CertificateSpec) -> Timestamp {
    renewal_time_for_spec(cert.not_before, cert.not_after, spec).unwrap_or_else(|_| {
        renewal_time(
            cert.not_before,
            cert.not_after,
            None,
            spec.renew_before_percentage,
        )
    })
}

/// The last check of the chain: the trigger asks "due for renewal?", readiness "expired?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FinalCheck {
    Renewal,
    Expiry,
}

/// The policy chain shared by the trigger and readiness controllers.
pub(crate) fn evaluate(
    input: &TriggerInput,
    now: Timestamp,
    final_check: FinalCheck,
) -> Option<TriggerVerdict> {
    let secret = match &input.secret {
        SecretFacts::Missing => {
            return Some(TriggerVerdict::new(
                REASON_DOES_NOT_EXIST,
                "Issuing certificate as Secret does not exist",
            ));
        }
        SecretFacts::Present(data) => data,
    };
    let (key, cert) = match key_pair(secret) {
        Ok(pair) => pair,
        Err(verdict) => return Some(verdict),
    };

    if let Some(v) = issuer_annotations_mismatch(secret, &input.spec.issuer_ref) {
        return Some(v);
    }
    if let Some(name) = secret.annotations.get(ANN_CERTIFICATE_NAME)
        && name != input.certificate_name
    {
        return Some(TriggerVerdict::new(
            REASON_INCORRECT_CERTIFICATE,
            format!(
                "Secret was issued for Certificate {name:?}, not {:?}. If this message is not \
                 transient, two Certificates name the same Secret in spec.secretName: give each \
                 its own Secret",
                input.certificate_name
            ),
        ));
    }
    if let Some(v) = private_key_mismatch(key, input.spec) {
        return Some(v);
    }

    match &input.current_request {
        Some(request) => {
            let csr = match &request.csr {
                Ok(csr) => csr,
                Err(e) => {
                    return Some(TriggerVerdict::new(
                        REASON_INVALID_CERTIFICATE_REQUEST,
                        format!("Failed to decode the current CertificateRequest: {e}"),
                    ));
                }
            };
            if !same_public_key(&csr.public_key_der, &key.public_key_der) {
                return Some(TriggerVerdict::new(
                    REASON_SECRET_MISMATCH,
                    "Issuing certificate as the private key in the Secret does not match the \
                     current CertificateRequest (was the Secret changed by hand?)",
                ));
            }
            let mismatches =
                request_mismatches(request, input.spec, input.literal_subject_der.as_deref())
                    .unwrap_or_default();
            if !mismatches.is_empty() {
                return Some(TriggerVerdict::new(
                    REASON_REQUEST_CHANGED,
                    format!(
                        "Issuing certificate as the current CertificateRequest no longer matches \
                         spec: {}",
                        join(&mismatches, "the request")
                    ),
                ));
            }
        }
        None => {
            let mismatches = certificate_mismatches(cert, input.spec);
            if !mismatches.is_empty() {
                return Some(TriggerVerdict::new(
                    REASON_SECRET_MISMATCH,
                    format!(
                        "Issuing certificate as the certificate in the Secret is not up to date \
                         for spec: {}",
                        join(&mismatches, "the certificate")
                    ),
                ));
            }
        }
    }

    if now > cert.not_after {
        return Some(TriggerVerdict::new(
            REASON_EXPIRED,
            format!("Certificate expired on {}", cert.not_after),
        ));
    }
    if final_check == FinalCheck::Renewal {
        let renew_at = spec_renewal_time(cert, input.spec);
        if now >= renew_at {
            return Some(TriggerVerdict::new(
                REASON_RENEWING,
                format!("Renewing certificate as renewal was scheduled at {renew_at}"),
            ));
        }
    }
    None
}

/// Checks 2 and 3: both keys present, readable, and a pair.
fn key_pair(secret: &SecretData) -> Result<(&KeyInfo, &CertificateInfo), TriggerVerdict> {
    let missing = |what: &str| {
        TriggerVerdict::new(
            REASON_MISSING_DATA,
            format!("Issuing certificate as Secret does not contain {what}"),
        )
    };
    let (key, cert) = match (&secret.private_key, &secret.certificate) {
        (Parsed::Absent, Parsed::Absent) => {
            return Err(missing(
                "a private key (tls.key) or a certificate (tls.crt)",
            ));
        }
        (Parsed::Absent, _) => return Err(missing("a private key (tls.key)")),
        (_, Parsed::Absent) => return Err(missing("a certificate (tls.crt)")),
        (Parsed::Invalid(e), _) => {
            return Err(TriggerVerdict::new(
                REASON_INVALID_KEY_PAIR,
                format!(
                    "Issuing certificate as Secret contains invalid private key data (tls.key): {e}"
                ),
            ));
        }
        (_, Parsed::Invalid(e)) => {
            return Err(TriggerVerdict::new(
                REASON_INVALID_CERTIFICATE,
                format!(
                    "Issuing certificate as Secret contains an invalid certificate (tls.crt): {e}"
                ),
            ));
        }
        (Parsed::Valid(key), Parsed::Valid(cert)) => (key, cert),
    };
    if !same_public_key(&key.public_key_der, &cert.public_key_der) {
        return Err(TriggerVerdict::new(
            REASON_INVALID_KEY_PAIR,
            "Issuing certificate as Secret contains a private key (tls.key) that does not match \
             the certificate (tls.crt)",
        ));
    }
    Ok((key, cert))
}

/// Whether two DER SubjectPublicKeyInfos hold the same key: equal bytes, or the same
/// algorithm, curve and key bits (an RSA key written with or without NULL parameters is still
/// itself, as Go's `PublicKeysEqual` sees it).
fn same_public_key(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (Ok(([], a)), Ok(([], b))) = (
        SubjectPublicKeyInfo::from_der(a),
        SubjectPublicKeyInfo::from_der(b),
    ) else {
        return false;
    };
    let params_oid = |spki: &SubjectPublicKeyInfo| {
        spki.algorithm
            .parameters
            .as_ref()
            .filter(|p| p.tag() == Tag::Oid)
            .and_then(|p| p.clone().oid().ok())
            .map(|oid| oid.to_id_string())
    };
    a.algorithm.algorithm == b.algorithm.algorithm
        && params_oid(&a) == params_oid(&b)
        && a.subject_public_key.data == b.subject_public_key.data
}

/// Check 4. A Secret without any issuer annotation (for example created by hand) matches an
/// issuerRef of the default kind and group, whatever its name, as in cert-manager.
fn issuer_annotations_mismatch(
    secret: &SecretData,
    issuer_ref: &IssuerReference,
) -> Option<TriggerVerdict> {
    let ann = |key| secret.annotations.get(key).map(String::as_str);
    let (name, kind, group) = (
        ann(ANN_ISSUER_NAME),
        ann(ANN_ISSUER_KIND),
        ann(ANN_ISSUER_GROUP),
    );
    let recorded = IssuerReference {
        name: name.unwrap_or_default().to_owned(),
        kind: kind.map(str::to_owned),
        group: group.map(str::to_owned),
    };
    let any_annotation = name.is_some() || kind.is_some() || group.is_some();
    let matches = (!any_annotation || recorded.name == issuer_ref.name)
        && recorded.kind_or_default() == issuer_ref.kind_or_default()
        && recorded.group_or_default() == issuer_ref.group_or_default();
    if matches {
        return None;
    }
    Some(TriggerVerdict::new(
        REASON_INCORRECT_ISSUER,
        format!(
            "Issuing certificate as Secret was previously issued by {:?}, but spec.issuerRef is {:?}",
            issuer_string(&recorded),
            issuer_string(issuer_ref)
        ),
    ))
}

fn issuer_string(r: &IssuerReference) -> String {
    format!(
        "{}.{}/{}",
        r.kind_or_default(),
        r.group_or_default(),
        r.name
    )
}

/// Check 6: cert-manager's `PrivateKeyMatchesSpec`, with its defaults (RSA 2048, ECDSA 256).
/// Applies whatever the rotation policy; with `rotationPolicy: Never` the current key then
/// cannot be kept, and the request manager makes a new one.
fn private_key_mismatch(key: &KeyInfo, spec: &CertificateSpec) -> Option<TriggerVerdict> {
    let pk = spec.private_key.clone().unwrap_or_default();
    let want_algorithm = pk.algorithm.unwrap_or_default();
    let want_size = pk
        .size
        .filter(|&s| s > 0)
        .and_then(|s| u32::try_from(s).ok());
    let detail = if key.algorithm != want_algorithm {
        format!(
            "spec.privateKey.algorithm (the key is {}, spec asks for {})",
            algorithm_name(key.algorithm),
            algorithm_name(want_algorithm)
        )
    } else {
        let want_size = match want_algorithm {
            PrivateKeyAlgorithm::Rsa => want_size.unwrap_or(2048),
            PrivateKeyAlgorithm::Ecdsa => want_size.unwrap_or(256),
            PrivateKeyAlgorithm::Ed25519 => return None,
        };
        if key.size == want_size {
            return None;
        }
        format!(
            "spec.privateKey.size (the key is {} {}, spec asks for {want_size})",
            algorithm_name(key.algorithm),
            key.size
        )
    };
    Some(TriggerVerdict::new(
        REASON_SECRET_MISMATCH,
        format!(
            "Issuing certificate as the private key in the Secret is not up to date for spec: {detail}"
        ),
    ))
}

fn algorithm_name(a: PrivateKeyAlgorithm) -> &'static str {
    match a {
        PrivateKeyAlgorithm::Rsa => "RSA",
        PrivateKeyAlgorithm::Ecdsa => "ECDSA",
        PrivateKeyAlgorithm::Ed25519 => "Ed25519",
    }
}

/// One field that differs, with what each side says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    field: &'static str,
    have: String,
    want: String,
}

/// `spec.dnsNames (the request has [...], spec has [...]); ...`
fn join(mismatches: &[Mismatch], holder: &str) -> String {
    mismatches
        .iter()
        .map(|m| format!("{} ({holder} has {}, spec has {})", m.field, m.have, m.want))
        .collect::<Vec<_>>()
        .join("; ")
}

fn list<T: Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    let items: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", items.join(", "))
}

fn opt(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => format!("{s:?}"),
        _ => "none".to_owned(),
    }
}

/// Equal as multisets (order ignored, duplicates counted), as cert-manager's `EqualUnsorted`.
fn same_items<T: Ord + Clone>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// Spec IP strings as addresses; an unparseable one (the schema rejects those) never matches.
fn spec_ips(spec: &CertificateSpec) -> Vec<Option<IpAddr>> {
    spec.ip_addresses
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|s| s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical()))
        .collect()
}

fn ips_match(have: &[IpAddr], spec: &CertificateSpec) -> Option<Mismatch> {
    let have_c: Vec<Option<IpAddr>> = have.iter().map(|ip| Some(ip.to_canonical())).collect();
    let want = spec_ips(spec);
    (!same_items(&have_c, &want)).then(|| Mismatch {
        field: "spec.ipAddresses",
        have: list(have),
        want: list(spec.ip_addresses.as_deref().unwrap_or_default()),
    })
}

fn strings_match(
    field: &'static str,
    have: &[String],
    want: Option<&[String]>,
) -> Option<Mismatch> {
    let want = want.unwrap_or_default();
    (!same_items(have, want)).then(|| Mismatch {
        field,
        have: list(have),
        want: list(want),
    })
}

/// cert-manager's `RequestMatchesSpec`: what the current request asked for against the spec.
/// `None` when the request cannot be compared (its CSR did not parse, or the literal subject
/// could not be encoded).
pub(crate) fn request_mismatches(
    request: &RequestFacts,
    spec: &CertificateSpec,
    literal_subject_der: Option<&[u8]>,
) -> Option<Vec<Mismatch>> {
    let csr = request.csr.as_ref().ok()?;
    let mut out = Vec::new();
    let mut push = |m: Option<Mismatch>| out.extend(m);

    push(ips_match(&csr.ip_addresses, spec));
    push(strings_match("spec.uris", &csr.uris, spec.uris.as_deref()));
    push(strings_match(
        "spec.emailAddresses",
        &csr.email_addresses,
        spec.email_addresses.as_deref(),
    ));
    push(strings_match(
        "spec.dnsNames",
        &csr.dns_names,
        spec.dns_names.as_deref(),
    ));
    if let Some(want) = &spec.other_names {
        let have: Vec<(String, String)> = csr
            .other_names
            .iter()
            .map(|o| (o.oid.clone(), o.utf8_value.clone()))
            .collect();
        let want_pairs: Vec<(String, String)> = want
            .iter()
            .map(|o| (o.oid.clone(), o.utf8_value.clone()))
            .collect();
        if !same_items(&have, &want_pairs) {
            let show = |v: &[(String, String)]| {
                list(
                    &v.iter()
                        .map(|(o, s)| format!("{o}={s}"))
                        .collect::<Vec<_>>(),
                )
            };
            push(Some(Mismatch {
                field: "spec.otherNames",
                have: show(&have),
                want: show(&want_pairs),
            }));
        }
    }

    match &spec.literal_subject {
        None => {
            let subject = spec.subject.clone().unwrap_or_default();
            let have_cn = csr.subject.common_name.as_deref().unwrap_or_default();
            let want_cn = spec.common_name.as_deref().unwrap_or_default();
            if have_cn != want_cn {
                push(Some(Mismatch {
                    field: "spec.commonName",
                    have: opt(Some(have_cn)),
                    want: opt(Some(want_cn)),
                }));
            }
            let have_sn = csr.subject.serial_number.as_deref().unwrap_or_default();
            let want_sn = subject.serial_number.as_deref().unwrap_or_default();
            if have_sn != want_sn {
                push(Some(Mismatch {
                    field: "spec.subject.serialNumber",
                    have: opt(Some(have_sn)),
                    want: opt(Some(want_sn)),
                }));
            }
            let s = &csr.subject;
            let lists: [ListField; 7] = [
                (
                    "spec.subject.organizations",
                    &s.organizations,
                    subject.organizations.as_deref(),
                ),
                (
                    "spec.subject.countries",
                    &s.countries,
                    subject.countries.as_deref(),
                ),
                (
                    "spec.subject.localities",
                    &s.localities,
                    subject.localities.as_deref(),
                ),
                (
                    "spec.subject.organizationalUnits",
                    &s.organizational_units,
                    subject.organizational_units.as_deref(),
                ),
                (
                    "spec.subject.postalCodes",
                    &s.postal_codes,
                    subject.postal_codes.as_deref(),
                ),
                (
                    "spec.subject.provinces",
                    &s.provinces,
                    subject.provinces.as_deref(),
                ),
                (
                    "spec.subject.streetAddresses",
                    &s.street_addresses,
                    subject.street_addresses.as_deref(),
                ),
            ];
            for (field, have, want) in lists {
                push(strings_match(field, have, want));
            }
        }
        Some(literal) => {
            if literal_subject_der? != csr.subject.der.as_slice() {
                push(Some(Mismatch {
                    field: "spec.literalSubject",
                    have: "a different subject".to_owned(),
                    want: format!("{literal:?}"),
                }));
            }
        }
    }

    let want_ca = spec.is_ca.unwrap_or(false);
    if request.is_ca != want_ca {
        push(Some(Mismatch {
            field: "spec.isCA",
            have: request.is_ca.to_string(),
            want: want_ca.to_string(),
        }));
    }
    let want_usages = spec.usages.as_deref().unwrap_or_default();
    if !same_items(&request.usages, want_usages) {
        push(Some(Mismatch {
            field: "spec.usages",
            have: usages(&request.usages),
            want: usages(want_usages),
        }));
    }
    if let (Some(have), Some(want)) = (&request.duration, &spec.duration) {
        let differ = match (parse_duration(have), parse_duration(want)) {
            (Ok(h), Ok(w)) => h != w,
            _ => have != want,
        };
        if differ {
            push(Some(Mismatch {
                field: "spec.duration",
                have: format!("{have:?}"),
                want: format!("{want:?}"),
            }));
        }
    }
    let have_ref = &request.issuer_ref;
    let want_ref = &spec.issuer_ref;
    if have_ref.name != want_ref.name
        || have_ref.kind_or_default() != want_ref.kind_or_default()
        || have_ref.group_or_default() != want_ref.group_or_default()
    {
        push(Some(Mismatch {
            field: "spec.issuerRef",
            have: format!("{:?}", issuer_string(have_ref)),
            want: format!("{:?}", issuer_string(want_ref)),
        }));
    }
    Some(out)
}

/// A list field of the subject: its path, the request's values, the spec's values.
type ListField<'a> = (&'static str, &'a [String], Option<&'a [String]>);

fn usages(u: &[KeyUsage]) -> String {
    if u.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<String> = u
        .iter()
        .map(|k| serde_json::to_string(k).unwrap_or_default())
        .collect();
    format!("[{}]", names.join(", "))
}

/// cert-manager's `FuzzyX509AltNamesMatchSpec`, used when the current request is gone: names
/// may move between the CN and the DNS names (some CAs do that); IPs, URIs and emails compare
/// exactly (order ignored).
fn certificate_mismatches(cert: &CertificateInfo, spec: &CertificateSpec) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let spec_cn = spec.common_name.as_deref().filter(|s| !s.is_empty());
    // With a literal subject the CN comes from it; let the certificate's CN through.
    let cert_cn = cert
        .common_name
        .as_deref()
        .filter(|s| !s.is_empty() && spec.literal_subject.is_none());
    let spec_dns = spec.dns_names.as_deref().unwrap_or_default();

    let expected: BTreeSet<&str> = spec_dns.iter().map(String::as_str).chain(spec_cn).collect();
    let all: BTreeSet<&str> = cert
        .dns_names
        .iter()
        .map(String::as_str)
        .chain(cert_cn)
        .collect();
    if all != expected {
        if spec_cn.is_some_and(|cn| !all.contains(cn))
            || cert_cn.is_some_and(|cn| !expected.contains(cn))
        {
            out.push(Mismatch {
                field: "spec.commonName",
                have: opt(cert.common_name.as_deref()),
                want: opt(spec.common_name.as_deref()),
            });
        }
        if !spec_dns.iter().all(|d| all.contains(d.as_str()))
            || !cert.dns_names.iter().all(|d| expected.contains(d.as_str()))
        {
            out.push(Mismatch {
                field: "spec.dnsNames",
                have: list(&cert.dns_names),
                want: list(spec_dns),
            });
        }
    }
    out.extend(ips_match(&cert.ip_addresses, spec));
    out.extend(strings_match("spec.uris", &cert.uris, spec.uris.as_deref()));
    out.extend(strings_match(
        "spec.emailAddresses",
        &cert.email_addresses,
        spec.email_addresses.as_deref(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::api::{
        CertificatePrivateKey, CertificateStatus, OtherName, REASON_DOES_NOT_EXIST, X509Subject,
    };
    use crate::pki::OtherNameValue;
    use crate::policy::facts::SecretData;
    use crate::policy::fixtures::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    type Spoil = fn(&mut Facts);

    struct Case {
        name: &'static str,
        spoil: Spoil,
        now: &'static str,
        /// Expected reason and a piece of the message (or the whole message).
        want: Option<(&'static str, &'static str)>,
    }

    const NOW: &str = "2026-02-01T00:00:00Z";

    fn case(name: &'static str, spoil: Spoil, want: Option<(&'static str, &'static str)>) -> Case {
        Case {
            name,
            spoil,
            now: NOW,
            want,
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            case("up to date", |_| {}, None),
            // --- the Secret ---------------------------------------------------------------
            case(
                "Secret missing",
                |f| f.secret = SecretFacts::Missing,
                Some((
                    REASON_DOES_NOT_EXIST,
                    "Issuing certificate as Secret does not exist",
                )),
            ),
            case(
                "Secret without data",
                |f| {
                    let s = f.secret_mut();
                    s.private_key = Parsed::Absent;
                    s.certificate = Parsed::Absent;
                },
                Some((
                    REASON_MISSING_DATA,
                    "Issuing certificate as Secret does not contain a private key (tls.key) or a certificate (tls.crt)",
                )),
            ),
            case(
                "no tls.key",
                |f| f.secret_mut().private_key = Parsed::Absent,
                Some((
                    REASON_MISSING_DATA,
                    "Issuing certificate as Secret does not contain a private key (tls.key)",
                )),
            ),
            case(
                "no tls.crt",
                |f| f.secret_mut().certificate = Parsed::Absent,
                Some((
                    REASON_MISSING_DATA,
                    "Issuing certificate as Secret does not contain a certificate (tls.crt)",
                )),
            ),
            Case {
                name: "no tls.key and an expired certificate: MissingData first",
                spoil: |f| f.secret_mut().private_key = Parsed::Absent,
                now: "2026-05-01T00:00:00Z",
                want: Some((REASON_MISSING_DATA, "does not contain a private key")),
            },
            case(
                "no tls.key and an unreadable tls.crt: MissingData first",
                |f| {
                    let s = f.secret_mut();
                    s.private_key = Parsed::Absent;
                    s.certificate = Parsed::Invalid("bad PEM".into());
                },
                Some((REASON_MISSING_DATA, "does not contain a private key")),
            ),
            case(
                "unreadable tls.key",
                |f| f.secret_mut().private_key = Parsed::Invalid("no PEM block found".into()),
                Some((
                    REASON_INVALID_KEY_PAIR,
                    "Issuing certificate as Secret contains invalid private key data (tls.key): no PEM block found",
                )),
            ),
            case(
                "unreadable tls.key and tls.crt: the key is reported",
                |f| {
                    let s = f.secret_mut();
                    s.private_key = Parsed::Invalid("bad key".into());
                    s.certificate = Parsed::Invalid("bad cert".into());
                },
                Some((REASON_INVALID_KEY_PAIR, "bad key")),
            ),
            case(
                "unreadable tls.crt",
                |f| f.secret_mut().certificate = Parsed::Invalid("no CERTIFICATE block".into()),
                Some((
                    REASON_INVALID_CERTIFICATE,
                    "Issuing certificate as Secret contains an invalid certificate (tls.crt): no CERTIFICATE block",
                )),
            ),
            case(
                "key and certificate are not a pair",
                |f| f.key_mut().public_key_der = KEY_B.to_vec(),
                Some((
                    REASON_INVALID_KEY_PAIR,
                    "Issuing certificate as Secret contains a private key (tls.key) that does not match the certificate (tls.crt)",
                )),
            ),
            case(
                "key pair mismatch and wrong issuer: the pair is reported",
                |f| {
                    f.key_mut().public_key_der = KEY_B.to_vec();
                    f.secret_mut()
                        .annotations
                        .insert(ANN_ISSUER_NAME.into(), "other".into());
                },
                Some((REASON_INVALID_KEY_PAIR, "does not match the certificate")),
            ),
            // --- issuer and certificate-name annotations ---------------------------------------
            case(
                "issued by another issuer",
                |f| {
                    f.secret_mut()
                        .annotations
                        .insert(ANN_ISSUER_NAME.into(), "old-ca".into());
                },
                Some((
                    REASON_INCORRECT_ISSUER,
                    "Issuing certificate as Secret was previously issued by \"ClusterIssuer.cert-manager.io/old-ca\", but spec.issuerRef is \"ClusterIssuer.cert-manager.io/ca\"",
                )),
            ),
            case(
                "issued by an Issuer, spec names a ClusterIssuer",
                |f| {
                    f.secret_mut()
                        .annotations
                        .insert(ANN_ISSUER_KIND.into(), "Issuer".into());
                },
                Some((REASON_INCORRECT_ISSUER, "\"Issuer.cert-manager.io/ca\"")),
            ),
            case(
                "issued by an issuer of another group",
                |f| {
                    f.secret_mut()
                        .annotations
                        .insert(ANN_ISSUER_GROUP.into(), "awspca.cert-manager.io".into());
                },
                Some((
                    REASON_INCORRECT_ISSUER,
                    "\"ClusterIssuer.awspca.cert-manager.io/ca\"",
                )),
            ),
            case(
                "no issuer annotations, spec names a ClusterIssuer",
                |f| {
                    let a = &mut f.secret_mut().annotations;
                    a.remove(ANN_ISSUER_NAME);
                    a.remove(ANN_ISSUER_KIND);
                    a.remove(ANN_ISSUER_GROUP);
                },
                Some((
                    REASON_INCORRECT_ISSUER,
                    "previously issued by \"Issuer.cert-manager.io/\"",
                )),
            ),
            case(
                "no issuer annotations, spec names an Issuer: a hand-made Secret is accepted",
                |f| {
                    let a = &mut f.secret_mut().annotations;
                    a.remove(ANN_ISSUER_NAME);
                    a.remove(ANN_ISSUER_KIND);
                    a.remove(ANN_ISSUER_GROUP);
                    f.spec.issuer_ref.kind = None;
                    f.request_mut().issuer_ref.kind = None;
                },
                None,
            ),
            case(
                "empty kind and group annotations default like the spec",
                |f| {
                    let a = &mut f.secret_mut().annotations;
                    a.insert(ANN_ISSUER_KIND.into(), String::new());
                    a.insert(ANN_ISSUER_GROUP.into(), String::new());
                    f.spec.issuer_ref.kind = Some("Issuer".into());
                    f.spec.issuer_ref.group = Some("cert-manager.io".into());
                    f.request_mut().issuer_ref.kind = None;
                },
                None,
            ),
            case(
                "issued for another Certificate",
                |f| {
                    f.secret_mut()
                        .annotations
                        .insert(ANN_CERTIFICATE_NAME.into(), "other".into());
                },
                Some((
                    REASON_INCORRECT_CERTIFICATE,
                    "Secret was issued for Certificate \"other\", not \"app\"",
                )),
            ),
            case(
                "no certificate-name annotation",
                |f| {
                    f.secret_mut().annotations.remove(ANN_CERTIFICATE_NAME);
                },
                None,
            ),
            case(
                "wrong issuer and another Certificate's Secret: the issuer is reported",
                |f| {
                    let a = &mut f.secret_mut().annotations;
                    a.insert(ANN_CERTIFICATE_NAME.into(), "other".into());
                    a.insert(ANN_ISSUER_NAME.into(), "old-ca".into());
                },
                Some((REASON_INCORRECT_ISSUER, "old-ca")),
            ),
            // --- private key against spec.privateKey ----------------------------------------
            case(
                "RSA key, spec asks for ECDSA",
                |f| {
                    f.spec.private_key = Some(CertificatePrivateKey {
                        algorithm: Some(PrivateKeyAlgorithm::Ecdsa),
                        ..Default::default()
                    });
                },
                Some((
                    REASON_SECRET_MISMATCH,
                    "Issuing certificate as the private key in the Secret is not up to date for spec: spec.privateKey.algorithm (the key is RSA, spec asks for ECDSA)",
                )),
            ),
            case(
                "RSA 2048 key, spec asks for 4096",
                |f| {
                    f.spec.private_key = Some(CertificatePrivateKey {
                        size: Some(4096),
                        ..Default::default()
                    });
                },
                Some((
                    REASON_SECRET_MISMATCH,
                    "spec.privateKey.size (the key is RSA 2048, spec asks for 4096)",
                )),
            ),
            case(
                "ECDSA 384 key, spec asks for ECDSA (default 256)",
                |f| {
                    let k = f.key_mut();
                    k.algorithm = PrivateKeyAlgorithm::Ecdsa;
                    k.size = 384;
                    f.spec.private_key = Some(CertificatePrivateKey {
                        algorithm: Some(PrivateKeyAlgorithm::Ecdsa),
                        ..Default::default()
                    });
                },
                Some((
                    REASON_SECRET_MISMATCH,
                    "(the key is ECDSA 384, spec asks for 256)",
                )),
            ),
            case(
                "Ed25519 key, spec asks for Ed25519 with a size: the size is ignored",
                |f| {
                    let k = f.key_mut();
                    k.algorithm = PrivateKeyAlgorithm::Ed25519;
                    k.size = 256;
                    f.spec.private_key = Some(CertificatePrivateKey {
                        algorithm: Some(PrivateKeyAlgorithm::Ed25519),
                        size: Some(4096),
                        ..Default::default()
                    });
                },
                None,
            ),
            case(
                "key mismatch applies with rotationPolicy Never too",
                |f| {
                    f.spec.private_key = Some(CertificatePrivateKey {
                        rotation_policy: Some(crate::api::PrivateKeyRotationPolicy::Never),
                        size: Some(3072),
                        ..Default::default()
                    });
                },
                Some((REASON_SECRET_MISMATCH, "spec.privateKey.size")),
            ),
            // --- the current CertificateRequest ----------------------------------------------
            case(
                "current request cannot be decoded",
                |f| f.request_mut().csr = Err("no CERTIFICATE REQUEST block".into()),
                Some((
                    REASON_INVALID_CERTIFICATE_REQUEST,
                    "Failed to decode the current CertificateRequest: no CERTIFICATE REQUEST block",
                )),
            ),
            case(
                "current request was made for another key",
                |f| f.csr_mut().public_key_der = KEY_B.to_vec(),
                Some((
                    REASON_SECRET_MISMATCH,
                    "the private key in the Secret does not match the current CertificateRequest",
                )),
            ),
            case(
                "a DNS name was added to the spec",
                |f| {
                    f.spec
                        .dns_names
                        .as_mut()
                        .unwrap()
                        .push("api.example.com".into());
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "Issuing certificate as the current CertificateRequest no longer matches spec: spec.dnsNames (the request has [\"www.example.com\", \"app.example.com\"], spec has [\"app.example.com\", \"www.example.com\", \"api.example.com\"])",
                )),
            ),
            case(
                "the spec's names in another order",
                |f| f.spec.dns_names.as_mut().unwrap().reverse(),
                None,
            ),
            case(
                "common name changed",
                |f| f.spec.common_name = Some("new.example.com".into()),
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.commonName (the request has \"app.example.com\", spec has \"new.example.com\")",
                )),
            ),
            case(
                "common name removed",
                |f| f.spec.common_name = None,
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.commonName (the request has \"app.example.com\", spec has none)",
                )),
            ),
            case(
                "IP address added",
                |f| f.spec.ip_addresses = Some(vec!["10.0.0.1".into()]),
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.ipAddresses (the request has none, spec has [\"10.0.0.1\"])",
                )),
            ),
            case(
                "IPv4 and its IPv6-mapped form are the same address",
                |f| {
                    f.spec.ip_addresses = Some(vec!["::ffff:10.0.0.1".into()]);
                    f.csr_mut().ip_addresses = vec!["10.0.0.1".parse().unwrap()];
                },
                None,
            ),
            case(
                "URI and email changed: both reported",
                |f| {
                    f.spec.uris = Some(vec!["spiffe://a/b".into()]);
                    f.spec.email_addresses = Some(vec!["ops@example.com".into()]);
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.uris (the request has none, spec has [\"spiffe://a/b\"]); spec.emailAddresses (the request has none, spec has [\"ops@example.com\"])",
                )),
            ),
            case(
                "otherName changed",
                |f| {
                    f.spec.other_names = Some(vec![OtherName {
                        oid: "1.3.6.1.4.1.311.20.2.3".into(),
                        utf8_value: "new@example.com".into(),
                    }]);
                    f.csr_mut().other_names = vec![OtherNameValue {
                        oid: "1.3.6.1.4.1.311.20.2.3".into(),
                        utf8_value: "old@example.com".into(),
                    }];
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.otherNames (the request has [\"1.3.6.1.4.1.311.20.2.3=old@example.com\"], spec has [\"1.3.6.1.4.1.311.20.2.3=new@example.com\"])",
                )),
            ),
            case(
                "otherNames unset in the spec are not compared",
                |f| {
                    f.csr_mut().other_names = vec![OtherNameValue {
                        oid: "1.2.3".into(),
                        utf8_value: "x".into(),
                    }];
                },
                None,
            ),
            case(
                "organization added",
                |f| {
                    f.spec.subject = Some(X509Subject {
                        organizations: Some(vec!["Example".into()]),
                        ..Default::default()
                    });
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.subject.organizations (the request has none, spec has [\"Example\"])",
                )),
            ),
            case(
                "subject serial number added",
                |f| {
                    f.spec.subject = Some(X509Subject {
                        serial_number: Some("42".into()),
                        ..Default::default()
                    });
                },
                Some((REASON_REQUEST_CHANGED, "spec.subject.serialNumber")),
            ),
            case(
                "isCA set",
                |f| f.spec.is_ca = Some(true),
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.isCA (the request has false, spec has true)",
                )),
            ),
            case(
                "usages set",
                |f| f.spec.usages = Some(vec![KeyUsage::ServerAuth]),
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.usages (the request has none, spec has [\"server auth\"])",
                )),
            ),
            case(
                "usages in another order",
                |f| {
                    f.spec.usages = Some(vec![KeyUsage::ServerAuth, KeyUsage::DigitalSignature]);
                    f.request_mut().usages = vec![KeyUsage::DigitalSignature, KeyUsage::ServerAuth];
                },
                None,
            ),
            case(
                "duration changed",
                |f| {
                    f.spec.duration = Some("720h".into());
                    f.request_mut().duration = Some("2160h".into());
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.duration (the request has \"2160h\", spec has \"720h\")",
                )),
            ),
            case(
                "duration written differently",
                |f| {
                    f.spec.duration = Some("2160h".into());
                    f.request_mut().duration = Some("129600m0s".into());
                },
                None,
            ),
            case(
                "duration set only in the spec is not compared",
                |f| f.spec.duration = Some("720h".into()),
                None,
            ),
            case(
                "issuer changed",
                |f| {
                    f.spec.issuer_ref.name = "new-ca".into();
                    f.secret_mut()
                        .annotations
                        .insert(ANN_ISSUER_NAME.into(), "new-ca".into());
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.issuerRef (the request has \"ClusterIssuer.cert-manager.io/ca\", spec has \"ClusterIssuer.cert-manager.io/new-ca\")",
                )),
            ),
            case(
                "default issuer group written out",
                |f| f.spec.issuer_ref.group = Some("cert-manager.io".into()),
                None,
            ),
            case(
                "literal subject as requested",
                |f| {
                    f.spec.common_name = None;
                    f.spec.literal_subject = Some("CN=app.example.com,O=Example".into());
                    f.literal_subject_der = Some(b"subject DER".to_vec());
                    f.csr_mut().subject.common_name = Some("other".into());
                },
                None,
            ),
            case(
                "literal subject changed",
                |f| {
                    f.spec.common_name = None;
                    f.spec.literal_subject = Some("CN=app.example.com,O=New".into());
                    f.literal_subject_der = Some(b"other subject DER".to_vec());
                },
                Some((
                    REASON_REQUEST_CHANGED,
                    "spec.literalSubject (the request has a different subject, spec has \"CN=app.example.com,O=New\")",
                )),
            ),
            case(
                "literal subject that could not be encoded: not compared",
                |f| {
                    f.spec.common_name = None;
                    f.spec.literal_subject = Some("CN=app.example.com,O=New".into());
                    f.literal_subject_der = None;
                },
                None,
            ),
            // --- no current request: the certificate against the spec ------------------------
            case(
                "no request, certificate up to date",
                |f| f.current_request = None,
                None,
            ),
            case(
                "no request, the CA moved the CN into the DNS names",
                |f| {
                    f.current_request = None;
                    f.cert_mut().common_name = None;
                },
                None,
            ),
            case(
                "no request, a DNS name was added",
                |f| {
                    f.current_request = None;
                    f.spec
                        .dns_names
                        .as_mut()
                        .unwrap()
                        .push("api.example.com".into());
                },
                Some((
                    REASON_SECRET_MISMATCH,
                    "Issuing certificate as the certificate in the Secret is not up to date for spec: spec.dnsNames (the certificate has [\"app.example.com\", \"www.example.com\"], spec has [\"app.example.com\", \"www.example.com\", \"api.example.com\"])",
                )),
            ),
            case(
                "no request, the common name changed",
                |f| {
                    f.current_request = None;
                    f.spec.common_name = Some("new.example.com".into());
                },
                Some((
                    REASON_SECRET_MISMATCH,
                    "spec.commonName (the certificate has \"app.example.com\", spec has \"new.example.com\")",
                )),
            ),
            case(
                "no request, the IP addresses differ",
                |f| {
                    f.current_request = None;
                    f.spec.ip_addresses = Some(vec!["10.0.0.2".into()]);
                    f.cert_mut().ip_addresses = vec!["10.0.0.1".parse().unwrap()];
                },
                Some((
                    REASON_SECRET_MISMATCH,
                    "spec.ipAddresses (the certificate has [\"10.0.0.1\"], spec has [\"10.0.0.2\"])",
                )),
            ),
            case(
                "no request, literal subject: the certificate's CN is accepted",
                |f| {
                    f.current_request = None;
                    f.spec.common_name = None;
                    f.spec.literal_subject = Some("CN=app.example.com".into());
                    f.cert_mut().dns_names.retain(|d| d != "app.example.com");
                    f.spec.dns_names = Some(vec!["www.example.com".into()]);
                },
                None,
            ),
            // --- time ------------------------------------------------------------------------
            Case {
                name: "one second before the renewal time",
                spoil: |_| {},
                now: "2026-03-01T23:59:59Z",
                want: None,
            },
            Case {
                name: "at the renewal time (2/3 of 90 days)",
                spoil: |_| {},
                now: "2026-03-02T00:00:00Z",
                want: Some((
                    REASON_RENEWING,
                    "Renewing certificate as renewal was scheduled at 2026-03-02T00:00:00Z",
                )),
            },
            Case {
                name: "renewBefore 240h moves the renewal to 2026-03-22",
                spoil: |f| f.spec.renew_before = Some("240h".into()),
                now: "2026-03-10T00:00:00Z",
                want: None,
            },
            Case {
                name: "renewBefore 240h, at 2026-03-22",
                spoil: |f| f.spec.renew_before = Some("240h".into()),
                now: "2026-03-22T00:00:00Z",
                want: Some((REASON_RENEWING, "scheduled at 2026-03-22T00:00:00Z")),
            },
            Case {
                name: "renewBeforePercentage 50 renews at half-life",
                spoil: |f| f.spec.renew_before_percentage = Some(50),
                now: "2026-02-15T00:00:00Z",
                want: Some((REASON_RENEWING, "scheduled at 2026-02-15T00:00:00Z")),
            },
            Case {
                name: "exactly at notAfter: not yet expired, but due",
                spoil: |_| {},
                now: "2026-04-01T00:00:00Z",
                want: Some((REASON_RENEWING, "scheduled at 2026-03-02T00:00:00Z")),
            },
            Case {
                name: "after notAfter",
                spoil: |_| {},
                now: "2026-04-01T00:00:01Z",
                want: Some((
                    REASON_EXPIRED,
                    "Certificate expired on 2026-04-01T00:00:00Z",
                )),
            },
            Case {
                name: "expired and the request changed: RequestChanged first",
                spoil: |f| f.spec.is_ca = Some(true),
                now: "2026-05-01T00:00:00Z",
                want: Some((REASON_REQUEST_CHANGED, "spec.isCA")),
            },
            Case {
                name: "expired and the Secret is gone: DoesNotExist",
                spoil: |f| f.secret = SecretFacts::Missing,
                now: "2026-05-01T00:00:00Z",
                want: Some((REASON_DOES_NOT_EXIST, "does not exist")),
            },
        ]
    }

    #[test]
    fn trigger_table() {
        for c in cases() {
            let mut facts = Facts::default();
            (c.spoil)(&mut facts);
            let got = issuance_needed(&facts.input(), ts(c.now));
            match (c.want, got) {
                (None, None) => {}
                (Some((reason, message)), Some(got)) => {
                    assert_eq!(got.reason, reason, "{}: {}", c.name, got.message);
                    assert!(
                        got.message.contains(message),
                        "{}:\n  got  {:?}\n  want {:?}",
                        c.name,
                        got.message,
                        message
                    );
                }
                (want, got) => panic!("{}: want {want:?}, got {got:?}", c.name),
            }
        }
    }

    #[test]
    fn every_reason_is_reachable() {
        let reached: BTreeSet<&str> = cases().iter().filter_map(|c| c.want).map(|w| w.0).collect();
        let all: BTreeSet<&str> = [
            REASON_DOES_NOT_EXIST,
            REASON_MISSING_DATA,
            REASON_INVALID_KEY_PAIR,
            REASON_INVALID_CERTIFICATE,
            REASON_SECRET_MISMATCH,
            REASON_INCORRECT_ISSUER,
            REASON_INCORRECT_CERTIFICATE,
            REASON_REQUEST_CHANGED,
            REASON_EXPIRED,
            REASON_RENEWING,
            REASON_INVALID_CERTIFICATE_REQUEST,
        ]
        .into();
        assert_eq!(reached, all);
    }

    fn failed(last: &str, attempts: i32) -> CertificateStatus {
        CertificateStatus {
            last_failure_time: Some(Time(ts(last))),
            failed_issuance_attempts: Some(attempts),
            ..Default::default()
        }
    }

    #[test]
    fn decide_table() {
        let issuing = issuing_status(ConditionStatus::True);
        let not_issuing = issuing_status(ConditionStatus::False);
        let missing = |status: Option<CertificateStatus>| Facts {
            secret: SecretFacts::Missing,
            status,
            ..Default::default()
        };
        let does_not_exist = TriggerDecision::Issue(TriggerVerdict::new(
            REASON_DOES_NOT_EXIST,
            "Issuing certificate as Secret does not exist",
        ));
        let table: Vec<(&str, Facts, TriggerDecision)> = vec![
            (
                "up to date: recheck at the renewal time",
                Facts::default(),
                TriggerDecision::UpToDate {
                    recheck_at: Some(ts("2026-03-02T00:00:00Z")),
                },
            ),
            (
                "no Secret, no failures: issue",
                missing(Some(not_issuing.clone())),
                does_not_exist.clone(),
            ),
            (
                "issuance in progress",
                missing(Some(issuing)),
                TriggerDecision::AlreadyIssuing,
            ),
            (
                "another Certificate keeps the Secret: nothing, even without a Secret",
                Facts {
                    secret_conflict: Some(crate::policy::conflicts::SecretConflict {
                        secret_name: "tls".into(),
                        holder: "other".into(),
                        others: vec!["other".into()],
                    }),
                    ..missing(Some(not_issuing.clone()))
                },
                TriggerDecision::SecretConflict,
            ),
            (
                "failed 1 minute ago, first failure: back off 5 minutes",
                missing(Some(failed("2026-01-31T23:59:00Z", 1))),
                TriggerDecision::BackedOff {
                    until: ts("2026-02-01T00:04:00Z"),
                },
            ),
            (
                "failed 3 times, 30 minutes ago: back off 40 minutes",
                missing(Some(failed("2026-01-31T23:30:00Z", 4))),
                TriggerDecision::BackedOff {
                    until: ts("2026-02-01T00:10:00Z"),
                },
            ),
            (
                "failed 1 hour ago, first failure: issue",
                missing(Some(failed("2026-01-31T23:00:00Z", 1))),
                does_not_exist.clone(),
            ),
            (
                "failed recently, but the failed request no longer matches the spec: issue",
                Facts {
                    next_request: Some(RequestFacts {
                        is_ca: true,
                        ..request()
                    }),
                    ..missing(Some(failed("2026-01-31T23:59:00Z", 1)))
                },
                does_not_exist.clone(),
            ),
            (
                "failed recently, the failed request cannot be decoded: issue",
                Facts {
                    next_request: Some(RequestFacts {
                        csr: Err("garbage".into()),
                        ..request()
                    }),
                    ..missing(Some(failed("2026-01-31T23:59:00Z", 1)))
                },
                does_not_exist,
            ),
            (
                "failed recently, the failed request matches the spec: back off",
                Facts {
                    next_request: Some(request()),
                    ..missing(Some(failed("2026-01-31T23:59:00Z", 1)))
                },
                TriggerDecision::BackedOff {
                    until: ts("2026-02-01T00:04:00Z"),
                },
            ),
            (
                "up to date with an old failure",
                Facts {
                    status: Some(failed("2026-01-01T00:00:00Z", 2)),
                    ..Default::default()
                },
                TriggerDecision::UpToDate {
                    recheck_at: Some(ts("2026-03-02T00:00:00Z")),
                },
            ),
            (
                "unreadable certificate: issue, nothing to recheck",
                {
                    let mut f = Facts::default();
                    f.secret_mut().certificate = Parsed::Invalid("bad".into());
                    f
                },
                TriggerDecision::Issue(TriggerVerdict::new(
                    REASON_INVALID_CERTIFICATE,
                    "Issuing certificate as Secret contains an invalid certificate (tls.crt): bad",
                )),
            ),
        ];
        let backoff = Backoff::default();
        for (name, facts, want) in table {
            assert_eq!(decide(&facts.input(), now(), &backoff), want, "{name}");
        }
    }

    #[test]
    fn issuing_condition() {
        let verdict =
            TriggerVerdict::new(REASON_RENEWING, "Renewing certificate as renewal was due");
        assert_eq!(
            verdict.issuing_condition(Some(7)),
            Condition {
                type_: "Issuing".into(),
                status: ConditionStatus::True,
                last_transition_time: None,
                reason: Some("Renewing".into()),
                message: Some("Renewing certificate as renewal was due".into()),
                observed_generation: Some(7),
            }
        );
    }

    #[test]
    fn public_keys_compare_by_key_not_by_encoding() {
        use rcgen::{KeyPair, PublicKeyData as _};
        let rsa = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .unwrap()
            .subject_public_key_info();
        // The same RSA key without the NULL algorithm parameters.
        let with_null: &[u8] = &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let at = rsa
            .windows(with_null.len())
            .position(|w| w == with_null)
            .expect("rsaEncryption with NULL parameters");
        let mut without_null = rsa[..at].to_vec();
        without_null.extend_from_slice(&[0x30, 0x0b]);
        without_null.extend_from_slice(&with_null[2..13]);
        without_null.extend_from_slice(&rsa[at + with_null.len()..]);
        assert_eq!(&rsa[1..2], &[0x82]);
        let len = u16::from_be_bytes([rsa[2], rsa[3]]) - 2;
        without_null[2..4].copy_from_slice(&len.to_be_bytes());
        assert_ne!(rsa, without_null);

        let p256 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .subject_public_key_info();
        let other_p256 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .subject_public_key_info();
        let table: &[(&str, &[u8], &[u8], bool)] = &[
            ("identical", &rsa, &rsa, true),
            (
                "RSA with and without NULL parameters",
                &rsa,
                &without_null,
                true,
            ),
            ("two EC keys", &p256, &other_p256, false),
            ("RSA and EC", &rsa, &p256, false),
            ("garbage", b"abc", b"abd", false),
            ("equal garbage", b"abc", b"abc", true),
        ];
        for &(name, a, b, want) in table {
            assert_eq!(same_public_key(a, b), want, "{name}");
            assert_eq!(same_public_key(b, a), want, "{name}, swapped");
        }
    }

    #[test]
    fn unparseable_renew_before_counts_as_unset() {
        let mut facts = Facts::default();
        facts.spec.renew_before = Some("10d".into());
        let got = issuance_needed(&facts.input(), ts("2026-03-02T00:00:00Z")).unwrap();
        assert_eq!(got.reason, REASON_RENEWING);
        assert!(
            got.message.ends_with("2026-03-02T00:00:00Z"),
            "{}",
            got.message
        );
    }

    #[test]
    fn secret_data_without_certificate_has_no_recheck() {
        let facts = Facts {
            secret: SecretFacts::Present(SecretData {
                certificate: Parsed::Absent,
                ..secret()
            }),
            ..Default::default()
        };
        assert!(matches!(
            decide(&facts.input(), now(), &Backoff::default()),
            TriggerDecision::Issue(TriggerVerdict {
                reason: REASON_MISSING_DATA,
                ..
            })
        ));
    }
}
