//! Signing a CSR into a certificate, self-signed or with a CA key pair, as cert-manager's
//! SelfSigned and CA issuers do ([`sign`]), and the health check of a CA issuer's key pair
//! ([`ca_status`]).
//!
//! The certificate copies the CSR's subject (byte for byte) and subjectAltName extension
//! (critical when the subject is empty); validity starts at `now` (whole seconds) and lasts
//! `duration`; the serial number is 128 random bits. Key usages and basic constraints come
//! from the request, not the CSR, but a CSR that encodes them must agree with the request
//! (cert-manager's `CertificateTemplateValidateAndOverride*`). Extensions: key usage,
//! extended key usage, basic constraints (always, critical), subject and authority key
//! identifiers, authority information access (OCSP, CA issuers), subjectAltName, name
//! constraints, CRL distribution points.
//!
//! Where certsmith differs from cert-manager, on purpose: a certificate never outlives its CA
//! chain (`notAfter` is clamped to the earliest `notAfter` of the chain; cert-manager issue
//! #5864), and an expired or not yet valid CA, or a CA key that does not match its
//! certificate, is refused with an error that says so instead of yielding a certificate no
//! client accepts (cert-manager issue #6323).

use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::csr::{CsrError, CsrInfo, parse_csr};
use super::der::{self, pem_encode};
use super::extensions::{
    Usages, authority_info_access_extension, authority_key_identifier_extension,
    basic_constraints_extension, crl_distribution_points_extension, key_identifier,
    name_constraints_extension, subject_alt_name_extension, subject_key_identifier,
    subject_key_identifier_extension,
};
use super::keys::{
    KeyError, ParsedKey, parse_private_key_pem, public_keys_equal, sign_der,
    signature_algorithm_der, verify_signature,
};
use super::names::rfc4514;
use crate::api::{KeyUsage, NameConstraints};

/// What to put in the certificate beyond what the CSR says: the CertificateRequest's
/// `duration`, `isCA` and `usages`, and the issuer's CRL, OCSP and CA issuers URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningRequest {
    pub duration: Duration,
    pub is_ca: bool,
    /// Empty means cert-manager's defaults: digital signature and key encipherment.
    pub usages: Vec<KeyUsage>,
    pub crl_distribution_points: Vec<String>,
    pub ocsp_servers: Vec<String>,
    pub issuing_certificate_urls: Vec<String>,
    /// Name constraints; when `None`, those the CSR requests are used (as cert-manager does).
    pub name_constraints: Option<NameConstraints>,
}

/// Who signs.
#[derive(Clone, Copy, Debug)]
pub enum Signer<'a> {
    /// The CSR's own key signs (the SelfSigned issuer): `key` must be the key of the CSR.
    SelfSigned { key: &'a ParsedKey },
    /// A CA key pair (the CA issuer). `cert_pem` is the CA certificate first, then any
    /// certificates of its chain (the Secret's `tls.crt`, followed by `ca.crt` when present),
    /// in any order; `key` is the CA certificate's key (`tls.key`).
    Ca {
        cert_pem: &'a [u8],
        key: &'a ParsedKey,
    },
}

/// A signed certificate, ready for a CertificateRequest's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The certificate, then the intermediates up to (not including) a self-signed root,
    /// as cert-manager's `ParseSingleCertificateChain` returns them (for `tls.crt`).
    pub certificate_pem: String,
    /// The top of the chain: the self-signed root when known, else the highest certificate
    /// (for `ca.crt`). A self-signed certificate is its own CA.
    pub ca_pem: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// Whether `not_after` was cut short to the CA chain's own `notAfter`.
    pub clamped_to_ca: bool,
}

/// Errors of signing. None of them carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "the CSR signature does not verify with the CSR's own public key: the request was \
         altered after it was signed, or signed with another key; create a new request"
    )]
    CsrSignatureInvalid,
    #[error("the CSR cannot be read: {0}")]
    ParseCsr(CsrError),
    #[error(
        "the CSR's public key does not belong to the private key the self-signed issuer signs \
         with (the Secret named by the cert-manager.io/private-key-secret-name annotation): \
         the CSR must be made with that key"
    )]
    SelfSignedKeyMismatch,
    #[error(
        "the usages encoded in the CSR ({csr:?}) differ from the usages of the request \
         ({requested:?}, isCA adds cert sign): make the CSR and the request agree"
    )]
    UsagesMismatch {
        requested: Vec<KeyUsage>,
        csr: Vec<KeyUsage>,
    },
    #[error(
        "the CSR's basic constraints say CA:{csr} but the request says isCA: {requested}: make \
         the CSR and the request agree"
    )]
    IsCaMismatch { requested: bool, csr: bool },
    #[error("the request cannot be signed: {0}")]
    InvalidRequest(String),
    #[error("the CA certificate (tls.crt) cannot be read: {0}")]
    InvalidCaCertificate(String),
    #[error(
        "the CA certificate {subject:?} is not a CA (it lacks basic constraints CA:TRUE): issue \
         it with isCA: true, or point the issuer at a CA key pair"
    )]
    NotACa { subject: String },
    #[error(
        "the CA private key (tls.key) does not belong to the CA certificate {subject:?} \
         (tls.crt): put the matching key pair in the Secret"
    )]
    CaKeyMismatch { subject: String },
    #[error(
        "the CA certificate {subject:?} expired at {not_after}: renew or replace the CA before \
         issuing with it"
    )]
    CaExpired {
        subject: String,
        not_after: Timestamp,
    },
    #[error(
        "the CA certificate {subject:?} is not valid before {not_before}: check the clocks, or \
         wait until then"
    )]
    CaNotYetValid {
        subject: String,
        not_before: Timestamp,
    },
    #[error("the CA certificate bundle is not one chain: {0}")]
    BrokenChain(String),
    #[error("the signing key cannot be used: {0}")]
    SigningKey(#[from] KeyError),
    #[error("signing the certificate failed in the crypto library: {0}")]
    Sign(String),
}

/// Why a CA issuer's key pair cannot sign: the Ready condition of a CA Issuer reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaProblem {
    #[error("the Secret has no CA certificate (tls.crt)")]
    MissingCertificate,
    #[error("the Secret has no CA private key (tls.key)")]
    MissingPrivateKey,
    #[error("the CA certificate (tls.crt) cannot be read: {0}")]
    InvalidCertificate(String),
    #[error("the CA private key (tls.key) cannot be read: {0}")]
    InvalidPrivateKey(String),
    #[error(
        "the CA certificate {subject:?} is not a CA (it lacks basic constraints CA:TRUE): issue \
         it with isCA: true"
    )]
    NotCa { subject: String },
    #[error(
        "the CA private key (tls.key) does not belong to the CA certificate {subject:?} \
         (tls.crt): put the matching key pair in the Secret"
    )]
    KeyMismatch { subject: String },
    #[error("the CA certificate {subject:?} expired at {not_after}: renew or replace the CA")]
    Expired {
        subject: String,
        not_after: Timestamp,
    },
    #[error("the CA certificate {subject:?} is not valid before {not_before}")]
    NotYetValid {
        subject: String,
        not_before: Timestamp,
    },
    #[error("the CA certificate bundle is not one chain: {0}")]
    BrokenChain(String),
}

impl CaProblem {
    /// The Ready condition reason cert-manager's CA issuer uses for this problem.
    pub fn reason(&self) -> &'static str {
        match self {
            CaProblem::MissingCertificate
            | CaProblem::MissingPrivateKey
            | CaProblem::InvalidCertificate(_)
            | CaProblem::InvalidPrivateKey(_) => "ErrGetKeyPair",
            _ => "ErrInvalidKeyPair",
        }
    }
}

impl From<CaProblem> for SignError {
    fn from(problem: CaProblem) -> Self {
        match problem {
            CaProblem::MissingCertificate => {
                SignError::InvalidCaCertificate("no CA certificate given".into())
            }
            CaProblem::InvalidCertificate(reason) => SignError::InvalidCaCertificate(reason),
            CaProblem::MissingPrivateKey | CaProblem::InvalidPrivateKey(_) => {
                SignError::SigningKey(KeyError::NoPrivateKeyPem)
            }
            CaProblem::NotCa { subject } => SignError::NotACa { subject },
            CaProblem::KeyMismatch { subject } => SignError::CaKeyMismatch { subject },
            CaProblem::Expired { subject, not_after } => {
                SignError::CaExpired { subject, not_after }
            }
            CaProblem::NotYetValid {
                subject,
                not_before,
            } => SignError::CaNotYetValid {
                subject,
                not_before,
            },
            CaProblem::BrokenChain(reason) => SignError::BrokenChain(reason),
        }
    }
}

/// Checks a CA issuer's Secret: both halves present and readable, the certificate a CA, the
/// key its key, the certificate (and the rest of its bundle) valid at `now`, and the bundle one
/// chain. `None` or blank data counts as missing.
pub fn ca_status(
    cert_pem: Option<&[u8]>,
    key_pem: Option<&[u8]>,
    now: Timestamp,
) -> Result<(), CaProblem> {
    let blank = |d: Option<&[u8]>| d.is_none_or(|d| d.iter().all(u8::is_ascii_whitespace));
    if blank(cert_pem) {
        return Err(CaProblem::MissingCertificate);
    }
    if blank(key_pem) {
        return Err(CaProblem::MissingPrivateKey);
    }
    let ders = certificate_ders(cert_pem.unwrap_or_default())?;
    let certs = parse_certificates(&ders)?;
    let key = parse_private_key_pem(key_pem.unwrap_or_default())
        .map_err(|e| CaProblem::InvalidPrivateKey(e.to_string()))?;
    ca_chain(&certs, &key, now).map(|_| ())
}

/// Signs `csr_pem` (a `CERTIFICATE REQUEST` PEM) as `request` and `signer` say, at `now`.
pub fn sign(
    csr_pem: &[u8],
    request: &SigningRequest,
    signer: &Signer<'_>,
    now: Timestamp,
) -> Result<Signed, SignError> {
    let csr = parse_csr(csr_pem).map_err(|e| match e {
        CsrError::SignatureInvalid => SignError::CsrSignatureInvalid,
        other => SignError::ParseCsr(other),
    })?;
    check_request_matches_csr(request, &csr)?;
    if request.duration.is_zero() {
        return Err(SignError::InvalidRequest(
            "the duration is zero: ask for a positive duration such as 2160h".into(),
        ));
    }
    let not_before = Timestamp::from_second(now.as_second())
        .map_err(|e| SignError::InvalidRequest(format!("now is out of range: {e}")))?;
    let lifetime = SignedDuration::try_from(request.duration)
        .map_err(|_| SignError::InvalidRequest("the duration is too long".into()))?;
    let mut not_after = not_before
        .checked_add(lifetime)
        .and_then(|t| Timestamp::from_second(t.as_second()))
        .map_err(|_| {
            SignError::InvalidRequest(format!("the duration {lifetime:#} runs past the year 9999"))
        })?;

    // The issuer: its name, key identifier, signing key, and the chain above the new cert.
    let ca_ders;
    let ca_certs;
    let (issuer_name, authority_key_id, key, chain): (Vec<u8>, Vec<u8>, &ParsedKey, Vec<_>) =
        match signer {
            Signer::SelfSigned { key } => {
                if !public_keys_equal(&key.info().public_key_der, &csr.public_key_der) {
                    return Err(SignError::SelfSignedKeyMismatch);
                }
                let spki = spki(&csr.public_key_der)?;
                (csr.subject_der.clone(), key_identifier(&spki), key, vec![])
            }
            Signer::Ca { cert_pem, key } => {
                ca_ders = certificate_ders(cert_pem)?;
                ca_certs = parse_certificates(&ca_ders)?;
                let chain = ca_chain(&ca_certs, key, now)?;
                let ca = chain[0];
                let limit = chain
                    .iter()
                    .map(|c| c.validity().not_after.timestamp())
                    .min()
                    .unwrap_or(i64::MAX);
                let clamped_to = Timestamp::from_second(limit).unwrap_or(Timestamp::MAX);
                not_after = not_after.min(clamped_to);
                (
                    ca.subject().as_raw().to_vec(),
                    subject_key_identifier(ca).unwrap_or_else(|| key_identifier(ca.public_key())),
                    key,
                    chain,
                )
            }
        };
    let full_not_after = not_before
        .checked_add(lifetime)
        .map(|t| t.as_second())
        .unwrap_or(i64::MAX);
    let clamped_to_ca = not_after.as_second() < full_not_after;

    let extensions = certificate_extensions(request, &csr, &authority_key_id)?;
    let pair = key.key_pair()?;
    let algorithm = signature_algorithm_der(pair.algorithm());
    let tbs = der::wrap(
        der::SEQUENCE,
        [
            // version v3
            der::tlv(der::context_constructed(0), &der::uint(&[2])),
            der::uint(&serial_number()?),
            algorithm.clone(),
            issuer_name,
            der::wrap(
                der::SEQUENCE,
                [asn1_time(not_before)?, asn1_time(not_after)?],
            ),
            csr.subject_der.clone(),
            csr.public_key_der.clone(),
            der::tlv(
                der::context_constructed(3),
                &der::wrap(der::SEQUENCE, extensions),
            ),
        ],
    );
    let certificate =
        sign_der(&pair, &algorithm, &tbs).map_err(|e| SignError::Sign(e.to_string()))?;

    let mut certificate_pem = pem_encode("CERTIFICATE", &certificate);
    let ca_pem = match chain.last() {
        None => certificate_pem.clone(),
        Some(top) => {
            for cert in &chain {
                if !is_self_signed(cert) {
                    certificate_pem.push_str(&pem_encode("CERTIFICATE", cert.as_raw()));
                }
            }
            pem_encode("CERTIFICATE", top.as_raw())
        }
    };
    Ok(Signed {
        certificate_pem,
        ca_pem,
        not_before,
        not_after,
        clamped_to_ca,
    })
}

/// cert-manager refuses a CSR whose encoded usages or CA flag contradict the request.
fn check_request_matches_csr(request: &SigningRequest, csr: &CsrInfo) -> Result<(), SignError> {
    if let Some(csr_usages) = &csr.usages {
        let requested = Usages::for_request(&request.usages, request.is_ca).vocabulary();
        let (mut a, mut b) = (requested.clone(), csr_usages.clone());
        a.sort();
        b.sort();
        if a != b {
            return Err(SignError::UsagesMismatch {
                requested,
                csr: csr_usages.clone(),
            });
        }
    }
    if let Some(csr_ca) = csr.is_ca
        && csr_ca != request.is_ca
    {
        return Err(SignError::IsCaMismatch {
            requested: request.is_ca,
            csr: csr_ca,
        });
    }
    Ok(())
}

/// The extensions of the new certificate, in the order Go writes them.
fn certificate_extensions(
    request: &SigningRequest,
    csr: &CsrInfo,
    authority_key_id: &[u8],
) -> Result<Vec<Vec<u8>>, SignError> {
    let mut out = Usages::for_request(&request.usages, request.is_ca).extensions();
    out.push(basic_constraints_extension(request.is_ca));
    let subject_key_id = key_identifier(&spki(&csr.public_key_der)?);
    out.push(subject_key_identifier_extension(&subject_key_id));
    out.push(authority_key_identifier_extension(authority_key_id));
    if let Some(access) =
        authority_info_access_extension(&request.ocsp_servers, &request.issuing_certificate_urls)
            .map_err(SignError::InvalidRequest)?
    {
        out.push(access);
    }

    if let Some(san) = &csr.subject_alt_name_der {
        let subject_empty = csr.subject_der == [der::SEQUENCE, 0];
        out.push(subject_alt_name_extension(san, subject_empty));
    }

    let constraints = request
        .name_constraints
        .as_ref()
        .or(csr.name_constraints.as_ref());
    if let Some(constraints) = constraints
        && let Some(ext) = name_constraints_extension(constraints)
            .map_err(|e| SignError::InvalidRequest(e.to_string()))?
    {
        out.push(ext);
    }

    if let Some(points) = crl_distribution_points_extension(&request.crl_distribution_points)
        .map_err(SignError::InvalidRequest)?
    {
        out.push(points);
    }
    Ok(out)
}

fn spki(der: &[u8]) -> Result<SubjectPublicKeyInfo<'_>, SignError> {
    SubjectPublicKeyInfo::from_der(der)
        .map(|(_, spki)| spki)
        .map_err(|e| SignError::ParseCsr(CsrError::ParseCsr(e.to_string())))
}

/// 128 random bits, as cert-manager's `rand.Int(rand.Reader, 2^128)`.
fn serial_number() -> Result<[u8; 16], SignError> {
    let mut serial = [0u8; 16];
    let rng = SystemRandom::new();
    loop {
        rng.fill(&mut serial)
            .map_err(|_| SignError::Sign("no random numbers for the serial number".into()))?;
        if serial.iter().any(|&b| b != 0) {
            return Ok(serial);
        }
    }
}

/// UTCTime through 2049, GeneralizedTime from 2050, as RFC 5280 §4.1.2.5 requires.
fn asn1_time(t: Timestamp) -> Result<Vec<u8>, SignError> {
    let year = t.to_zoned(TimeZone::UTC).year();
    let (tag, format) = if (1950..2050).contains(&year) {
        (der::UTC_TIME, "%y%m%d%H%M%SZ")
    } else {
        (der::GENERALIZED_TIME, "%Y%m%d%H%M%SZ")
    };
    if !(0..=9999).contains(&year) {
        return Err(SignError::InvalidRequest(format!(
            "the time {t} cannot be written in a certificate"
        )));
    }
    Ok(der::tlv(tag, t.strftime(format).to_string().as_bytes()))
}

/// The DER certificates of every `CERTIFICATE` block of `pem`.
fn certificate_ders(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CaProblem> {
    let ders = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaProblem::InvalidCertificate(format!("malformed PEM: {e}")))?;
    if ders.is_empty() {
        return Err(CaProblem::InvalidCertificate(
            "no PEM block of type \"CERTIFICATE\" found".into(),
        ));
    }
    Ok(ders)
}

fn parse_certificates<'a>(
    ders: &'a [CertificateDer<'static>],
) -> Result<Vec<X509Certificate<'a>>, CaProblem> {
    ders.iter()
        .enumerate()
        .map(|(i, der)| match X509Certificate::from_der(der) {
            Ok(([], cert)) => Ok(cert),
            Ok(_) => Err(CaProblem::InvalidCertificate(format!(
                "certificate {} has trailing data",
                i + 1
            ))),
            Err(e) => Err(CaProblem::InvalidCertificate(format!(
                "certificate {} is not valid X.509: {e}",
                i + 1
            ))),
        })
        .collect()
}

fn is_self_signed(cert: &X509Certificate) -> bool {
    cert.issuer().as_raw() == cert.subject().as_raw() && signed_by(cert, cert)
}

fn signed_by(cert: &X509Certificate, issuer: &X509Certificate) -> bool {
    verify_signature(
        issuer.public_key(),
        &cert.signature_algorithm,
        &cert.signature_value.data,
        cert.tbs_certificate.as_ref(),
    )
}

/// Checks the issuing CA (`certs[0]`) against `key` and `now`, then orders the rest of the
/// bundle above it by issuer and signature. Returns the CA and its parents, CA first.
fn ca_chain<'c, 'a>(
    certs: &'c [X509Certificate<'a>],
    key: &ParsedKey,
    now: Timestamp,
) -> Result<Vec<&'c X509Certificate<'a>>, CaProblem> {
    let ca = &certs[0];
    let subject = rfc4514(ca.subject());
    let is_ca = matches!(ca.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    if !is_ca {
        return Err(CaProblem::NotCa { subject });
    }
    if !public_keys_equal(&key.info().public_key_der, ca.public_key().raw) {
        return Err(CaProblem::KeyMismatch { subject });
    }

    // De-duplicate, then follow issuer links from the CA upwards.
    let mut rest: Vec<&X509Certificate> = Vec::new();
    for cert in &certs[1..] {
        if cert.as_raw() != ca.as_raw() && !rest.iter().any(|c| c.as_raw() == cert.as_raw()) {
            rest.push(cert);
        }
    }
    let mut chain = vec![ca];
    while let Some(current) = chain.last().copied() {
        if is_self_signed(current) {
            break;
        }
        let Some(at) = rest.iter().position(|parent| {
            parent.subject().as_raw() == current.issuer().as_raw() && signed_by(current, parent)
        }) else {
            break;
        };
        chain.push(rest.remove(at));
    }
    if !rest.is_empty() {
        let strays: Vec<String> = rest
            .iter()
            .map(|c| format!("{:?}", rfc4514(c.subject())))
            .collect();
        return Err(CaProblem::BrokenChain(format!(
            "{} did not sign the CA certificate {subject:?} or its issuers; leave only the CA's \
             own chain in tls.crt and ca.crt",
            strays.join(", ")
        )));
    }

    let now = now.as_second();
    for cert in &chain {
        let validity = cert.validity();
        let subject = rfc4514(cert.subject());
        if now > validity.not_after.timestamp() {
            return Err(CaProblem::Expired {
                subject,
                not_after: timestamp(validity.not_after.timestamp()),
            });
        }
        if now < validity.not_before.timestamp() {
            return Err(CaProblem::NotYetValid {
                subject,
                not_before: timestamp(validity.not_before.timestamp()),
            });
        }
    }
    Ok(chain)
}

fn timestamp(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap_or(if second < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::process::Command;

    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};

    use super::*;
    use crate::api::{
        CertificateSpec, NameConstraintItem, PrivateKeyAlgorithm, PrivateKeyEncoding,
    };
    use crate::pki::csr::build_csr;
    use crate::pki::csr::tests::{full_spec, key, tamper};

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> Timestamp {
        // A fractional second, to see it truncated.
        "2026-03-01T12:00:00.75Z".parse().unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// A self-signed CA certificate for `key`.
    fn ca_cert(key: &ParsedKey, cn: &str, now: Timestamp, duration: Duration) -> String {
        let spec = CertificateSpec {
            common_name: Some(cn.into()),
            is_ca: Some(true),
            ..Default::default()
        };
        let csr = build_csr(&spec, key).unwrap();
        let request = SigningRequest {
            duration,
            is_ca: true,
            ..Default::default()
        };
        sign(csr.as_bytes(), &request, &Signer::SelfSigned { key }, now)
            .unwrap()
            .certificate_pem
    }

    fn leaf_csr(key: &ParsedKey) -> String {
        build_csr(&full_spec(), key).unwrap()
    }

    /// Default usages, as a CSR built without `usages` encodes them.
    fn plain_request() -> SigningRequest {
        SigningRequest {
            duration: 90 * DAY,
            ..Default::default()
        }
    }

    fn leaf_request() -> SigningRequest {
        SigningRequest {
            duration: 90 * DAY,
            usages: vec![
                KeyUsage::DigitalSignature,
                KeyUsage::KeyEncipherment,
                KeyUsage::ServerAuth,
                KeyUsage::ClientAuth,
            ],
            ..Default::default()
        }
    }

    fn ders(pem: &str) -> Vec<Vec<u8>> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|d| d.unwrap().as_ref().to_vec())
            .collect()
    }

    fn parse(der: &[u8]) -> X509Certificate<'_> {
        X509Certificate::from_der(der).unwrap().1
    }

    fn ext<'a>(
        cert: &'a X509Certificate,
        oid: &str,
    ) -> Option<&'a x509_parser::extensions::X509Extension<'a>> {
        cert.iter_extensions().find(|e| e.oid.to_id_string() == oid)
    }

    fn ski(cert: &X509Certificate) -> Vec<u8> {
        subject_key_identifier(cert).unwrap()
    }

    fn aki(cert: &X509Certificate) -> Vec<u8> {
        cert.iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn self_signed_every_key_kind() {
        use PrivateKeyAlgorithm::*;
        let cases = [
            (Rsa, 2048, "1.2.840.113549.1.1.11"),
            (Rsa, 4096, "1.2.840.113549.1.1.13"),
            (Ecdsa, 256, "1.2.840.10045.4.3.2"),
            (Ecdsa, 384, "1.2.840.10045.4.3.3"),
            (Ecdsa, 521, "1.2.840.10045.4.3.4"),
            (Ed25519, 256, "1.3.101.112"),
        ];
        for (algorithm, size, signature_oid) in cases {
            let name = format!("{algorithm:?} {size}");
            let key = key(algorithm, size);
            let csr = leaf_csr(&key);
            let signed = sign(
                csr.as_bytes(),
                &leaf_request(),
                &Signer::SelfSigned { key: &key },
                now(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(signed.ca_pem, signed.certificate_pem, "{name}");
            let ders = ders(&signed.certificate_pem);
            assert_eq!(ders.len(), 1, "{name}");
            let cert = parse(&ders[0]);

            assert!(
                is_self_signed(&cert),
                "{name}: signature verifies with its own key"
            );
            assert_eq!(
                cert.signature_algorithm.algorithm.to_id_string(),
                signature_oid
            );
            assert_eq!(cert.subject().as_raw(), cert.issuer().as_raw(), "{name}");
            assert_eq!(cert.public_key().raw, key.info().public_key_der, "{name}");
            assert_eq!(cert.version().0, 2);
            assert_eq!(ski(&cert), aki(&cert), "{name}");
            assert_eq!(ski(&cert).len(), 20);
            assert!(!cert.is_ca());

            assert_eq!(signed.not_before, ts("2026-03-01T12:00:00Z"));
            assert_eq!(signed.not_after, ts("2026-05-30T12:00:00Z"));
            assert!(!signed.clamped_to_ca);
            assert_eq!(
                cert.validity().not_before.timestamp(),
                signed.not_before.as_second()
            );
            assert_eq!(
                cert.validity().not_after.timestamp(),
                signed.not_after.as_second()
            );

            // Serial numbers: positive, at most 128 bits (+ a sign byte), different each time.
            assert!(cert.raw_serial().len() <= 17 && cert.raw_serial().len() >= 8);
            let again = sign(
                csr.as_bytes(),
                &leaf_request(),
                &Signer::SelfSigned { key: &key },
                now(),
            )
            .unwrap();
            let again_ders = self::ders(&again.certificate_pem);
            assert_ne!(parse(&again_ders[0]).raw_serial(), cert.raw_serial());
        }
    }

    #[test]
    fn leaf_carries_every_identity_and_extension() {
        let ca_key = key(PrivateKeyAlgorithm::Ecdsa, 384);
        let ca = ca_cert(&ca_key, "Example Root", now(), 3650 * DAY);
        let leaf_key = key(PrivateKeyAlgorithm::Rsa, 2048);
        let request = SigningRequest {
            crl_distribution_points: strings(&[
                "http://crl.example.com/a.crl",
                "http://crl2.example.com/a.crl",
            ]),
            ocsp_servers: strings(&["http://ocsp.example.com"]),
            issuing_certificate_urls: strings(&["http://ca.example.com/ca.crt"]),
            ..leaf_request()
        };
        let signed = sign(
            leaf_csr(&leaf_key).as_bytes(),
            &request,
            &Signer::Ca {
                cert_pem: ca.as_bytes(),
                key: &ca_key,
            },
            now(),
        )
        .unwrap();
        // The root is self-signed, so tls.crt holds the leaf alone and ca.crt the root.
        assert_eq!(ders(&signed.certificate_pem).len(), 1);
        assert_eq!(signed.ca_pem, ca);
        let leaf_der = ders(&signed.certificate_pem).remove(0);
        let leaf = parse(&leaf_der);
        let ca_der = ders(&ca).remove(0);
        let ca = parse(&ca_der);

        assert!(
            signed_by(&leaf, &ca),
            "leaf verifies with the CA public key"
        );
        assert!(!signed_by(&leaf, &leaf));
        assert_eq!(leaf.issuer().as_raw(), ca.subject().as_raw());
        assert_eq!(aki(&leaf), ski(&ca));
        assert_ne!(ski(&leaf), ski(&ca));
        assert_eq!(
            rfc4514(leaf.subject()),
            "SERIALNUMBER=42,CN=app.example.com,OU=Ops,O=Example+O=Example Holding,\
             POSTALCODE=1012 JS,STREET=Dam 1,L=Amsterdam,ST=Noord-Holland,C=NL"
        );

        let san = leaf.subject_alternative_name().unwrap().unwrap();
        assert!(!san.critical);
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(s) => format!("dns:{s}"),
                GeneralName::RFC822Name(s) => format!("email:{s}"),
                GeneralName::URI(s) => format!("uri:{s}"),
                GeneralName::IPAddress(b) => format!(
                    "ip:{}",
                    if b.len() == 4 {
                        IpAddr::from(<[u8; 4]>::try_from(*b).unwrap())
                    } else {
                        IpAddr::from(<[u8; 16]>::try_from(*b).unwrap())
                    }
                ),
                GeneralName::OtherName(oid, _) => format!("other:{oid}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "dns:app.example.com",
                "dns:*.app.example.com",
                "email:admin@example.com",
                "ip:10.0.0.1",
                "ip:2001:db8::1",
                "ip:192.0.2.7",
                "uri:spiffe://cluster.local/ns/a/sa/b",
                "other:1.3.6.1.4.1.311.20.2.3",
            ]
        );

        let ku = leaf.key_usage().unwrap().unwrap();
        assert!(ku.critical);
        assert!(ku.value.digital_signature() && ku.value.key_encipherment());
        assert!(!ku.value.key_cert_sign());
        let eku = leaf.extended_key_usage().unwrap().unwrap();
        assert!(eku.value.server_auth && eku.value.client_auth && !eku.value.code_signing);
        let bc = leaf.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);

        let Some(ParsedExtension::AuthorityInfoAccess(aia)) =
            ext(&leaf, "1.3.6.1.5.5.7.1.1").map(|e| e.parsed_extension())
        else {
            panic!("no AIA")
        };
        let access: Vec<(String, String)> = aia
            .accessdescs
            .iter()
            .map(|d| {
                let GeneralName::URI(uri) = d.access_location else {
                    panic!("not a URI")
                };
                (d.access_method.to_id_string(), uri.to_string())
            })
            .collect();
        assert_eq!(
            access,
            [
                (
                    "1.3.6.1.5.5.7.48.1".to_string(),
                    "http://ocsp.example.com".to_string()
                ),
                (
                    "1.3.6.1.5.5.7.48.2".to_string(),
                    "http://ca.example.com/ca.crt".to_string()
                ),
            ]
        );
        let Some(ParsedExtension::CRLDistributionPoints(points)) =
            ext(&leaf, "2.5.29.31").map(|e| e.parsed_extension())
        else {
            panic!("no CRL distribution points")
        };
        let urls: Vec<String> = points
            .points
            .iter()
            .flat_map(|p| match &p.distribution_point {
                Some(DistributionPointName::FullName(names)) => names
                    .iter()
                    .map(|n| match n {
                        GeneralName::URI(u) => u.to_string(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>(),
                other => vec![format!("{other:?}")],
            })
            .collect();
        assert_eq!(urls, request.crl_distribution_points);
        assert!(ext(&leaf, "2.5.29.30").is_none(), "no name constraints");
    }

    #[test]
    fn ca_signed_with_every_ca_key_kind() {
        use PrivateKeyAlgorithm::*;
        let cases = [
            ((Rsa, 2048), (Ecdsa, 256), "1.2.840.113549.1.1.11"),
            ((Rsa, 4096), (Ed25519, 256), "1.2.840.113549.1.1.13"),
            ((Ecdsa, 256), (Rsa, 2048), "1.2.840.10045.4.3.2"),
            ((Ecdsa, 521), (Ecdsa, 384), "1.2.840.10045.4.3.4"),
            ((Ed25519, 256), (Ecdsa, 256), "1.3.101.112"),
        ];
        for ((ca_alg, ca_size), (leaf_alg, leaf_size), signature_oid) in cases {
            let name = format!("CA {ca_alg:?} {ca_size}, leaf {leaf_alg:?} {leaf_size}");
            let ca_key = key(ca_alg, ca_size);
            let ca_pem = ca_cert(&ca_key, "CA", now(), 365 * DAY);
            let leaf_key = key(leaf_alg, leaf_size);
            let signed = sign(
                leaf_csr(&leaf_key).as_bytes(),
                &leaf_request(),
                &Signer::Ca {
                    cert_pem: ca_pem.as_bytes(),
                    key: &ca_key,
                },
                now(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let leaf_der = ders(&signed.certificate_pem).remove(0);
            let ca_der = ders(&ca_pem).remove(0);
            let (leaf, ca) = (parse(&leaf_der), parse(&ca_der));
            assert!(signed_by(&leaf, &ca), "{name}");
            assert_eq!(
                leaf.signature_algorithm.algorithm.to_id_string(),
                signature_oid,
                "{name}"
            );
            assert_eq!(
                leaf.public_key().raw,
                leaf_key.info().public_key_der,
                "{name}"
            );
            assert_eq!(
                ca_status(
                    Some(ca_pem.as_bytes()),
                    Some(ca_key.to_pem(PrivateKeyEncoding::Pkcs8).unwrap().as_bytes()),
                    now()
                ),
                Ok(()),
                "{name}"
            );
        }
    }

    #[test]
    fn intermediate_chain_and_name_constraints() {
        let root_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let root = ca_cert(&root_key, "Root", now(), 3650 * DAY);
        let intermediate_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let constraints = NameConstraints {
            critical: Some(true),
            permitted: Some(NameConstraintItem {
                dns_domains: Some(strings(&["example.com"])),
                ip_ranges: Some(strings(&["10.0.0.0/8"])),
                uri_domains: Some(strings(&[".cluster.local"])),
                email_addresses: Some(strings(&["example.com"])),
            }),
            excluded: Some(NameConstraintItem {
                dns_domains: Some(strings(&["secret.example.com"])),
                ..Default::default()
            }),
        };
        // The constraints travel in the CSR, as cert-manager sends them.
        let spec = CertificateSpec {
            common_name: Some("Intermediate".into()),
            is_ca: Some(true),
            name_constraints: Some(constraints.clone()),
            ..Default::default()
        };
        let intermediate = sign(
            build_csr(&spec, &intermediate_key).unwrap().as_bytes(),
            &SigningRequest {
                duration: 365 * DAY,
                is_ca: true,
                ..Default::default()
            },
            &Signer::Ca {
                cert_pem: root.as_bytes(),
                key: &root_key,
            },
            now(),
        )
        .unwrap();
        let intermediate_der = ders(&intermediate.certificate_pem).remove(0);
        let intermediate_cert = parse(&intermediate_der);
        assert!(intermediate_cert.is_ca());
        let ku = intermediate_cert.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.digital_signature());
        let nc = ext(&intermediate_cert, "2.5.29.30").unwrap();
        assert!(nc.critical);
        let ParsedExtension::NameConstraints(nc) = nc.parsed_extension() else {
            panic!()
        };
        let permitted: Vec<String> = nc
            .permitted_subtrees
            .iter()
            .flatten()
            .map(|s| format!("{:?}", s.base))
            .collect();
        assert_eq!(permitted.len(), 4, "{permitted:?}");
        assert_eq!(nc.excluded_subtrees.as_ref().unwrap().len(), 1);

        // The request's own constraints win over the CSR's.
        let overridden = sign(
            build_csr(&spec, &intermediate_key).unwrap().as_bytes(),
            &SigningRequest {
                duration: 365 * DAY,
                is_ca: true,
                name_constraints: Some(NameConstraints {
                    permitted: Some(NameConstraintItem {
                        dns_domains: Some(strings(&["other.example"])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &Signer::Ca {
                cert_pem: root.as_bytes(),
                key: &root_key,
            },
            now(),
        )
        .unwrap();
        let overridden_der = ders(&overridden.certificate_pem).remove(0);
        let overridden_cert = parse(&overridden_der);
        let nc = ext(&overridden_cert, "2.5.29.30").unwrap();
        assert!(!nc.critical);

        // A leaf under the intermediate: tls.crt = leaf + intermediate, ca.crt = root,
        // whatever the order and duplicates of the bundle after the issuing CA.
        let leaf_key = key(PrivateKeyAlgorithm::Ed25519, 256);
        for bundle in [
            format!("{}{}", intermediate.certificate_pem, root),
            format!("{}{}{}", intermediate.certificate_pem, root, root),
            intermediate.certificate_pem.clone(),
        ] {
            let signed = sign(
                leaf_csr(&leaf_key).as_bytes(),
                &leaf_request(),
                &Signer::Ca {
                    cert_pem: bundle.as_bytes(),
                    key: &intermediate_key,
                },
                now(),
            )
            .unwrap();
            let chain = ders(&signed.certificate_pem);
            assert_eq!(chain.len(), 2);
            assert_eq!(chain[1], intermediate_der);
            assert!(signed_by(&parse(&chain[0]), &intermediate_cert));
            if bundle.contains(&root) {
                assert_eq!(signed.ca_pem, root);
            } else {
                // Only the intermediate is known: it is the top of the chain.
                assert_eq!(signed.ca_pem, intermediate.certificate_pem);
            }
        }

        // The issuing CA must come first.
        let reversed = format!("{}{}", root, intermediate.certificate_pem);
        let err = sign(
            leaf_csr(&leaf_key).as_bytes(),
            &leaf_request(),
            &Signer::Ca {
                cert_pem: reversed.as_bytes(),
                key: &intermediate_key,
            },
            now(),
        )
        .unwrap_err();
        assert!(matches!(err, SignError::CaKeyMismatch { .. }), "{err}");
    }

    #[test]
    fn validity_and_clamping_table() {
        let ca_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        // CA valid from now() (truncated) for 30 days.
        let ca = ca_cert(&ca_key, "Short CA", now(), 30 * DAY);
        let leaf_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let csr = leaf_csr(&leaf_key);
        let cases = [
            (
                now(),
                10 * DAY,
                "2026-03-01T12:00:00Z",
                "2026-03-11T12:00:00Z",
                false,
            ),
            (
                now(),
                HOUR,
                "2026-03-01T12:00:00Z",
                "2026-03-01T13:00:00Z",
                false,
            ),
            (
                now(),
                30 * DAY,
                "2026-03-01T12:00:00Z",
                "2026-03-31T12:00:00Z",
                false,
            ),
            (
                now(),
                90 * DAY,
                "2026-03-01T12:00:00Z",
                "2026-03-31T12:00:00Z",
                true,
            ),
            (
                ts("2026-03-30T12:00:00Z"),
                90 * DAY,
                "2026-03-30T12:00:00Z",
                "2026-03-31T12:00:00Z",
                true,
            ),
            (
                ts("2026-03-01T12:00:00.999999999Z"),
                Duration::from_millis(1500),
                "2026-03-01T12:00:00Z",
                "2026-03-01T12:00:01Z",
                false,
            ),
        ];
        for (at, duration, not_before, not_after, clamped) in cases {
            let signed = sign(
                csr.as_bytes(),
                &SigningRequest {
                    duration,
                    ..leaf_request()
                },
                &Signer::Ca {
                    cert_pem: ca.as_bytes(),
                    key: &ca_key,
                },
                at,
            )
            .unwrap();
            let name = format!("{at} + {duration:?}");
            assert_eq!(signed.not_before, ts(not_before), "{name}");
            assert_eq!(signed.not_after, ts(not_after), "{name}");
            assert_eq!(signed.clamped_to_ca, clamped, "{name}");
            let der = ders(&signed.certificate_pem).remove(0);
            let cert = parse(&der);
            assert_eq!(
                cert.validity().not_before.timestamp(),
                ts(not_before).as_second()
            );
            assert_eq!(
                cert.validity().not_after.timestamp(),
                ts(not_after).as_second()
            );
        }

        // Dates from 2050 are GeneralizedTime.
        let key = key(PrivateKeyAlgorithm::Ed25519, 256);
        let signed = sign(
            leaf_csr(&key).as_bytes(),
            &SigningRequest {
                duration: 40 * 365 * DAY,
                ..leaf_request()
            },
            &Signer::SelfSigned { key: &key },
            now(),
        )
        .unwrap();
        assert_eq!(signed.not_after, ts("2066-02-19T12:00:00Z"));
        let der = ders(&signed.certificate_pem).remove(0);
        assert_eq!(
            parse(&der).validity().not_after.timestamp(),
            signed.not_after.as_second()
        );
        assert!(asn1_time(ts("2049-12-31T23:59:59Z")).unwrap()[0] == der::UTC_TIME);
        assert!(asn1_time(ts("2050-01-01T00:00:00Z")).unwrap()[0] == der::GENERALIZED_TIME);
        assert_eq!(
            asn1_time(ts("2026-03-01T12:00:00Z")).unwrap(),
            b"\x17\x0d260301120000Z"
        );
    }

    #[test]
    fn usages_come_from_the_request_and_must_agree_with_the_csr() {
        use KeyUsage::*;
        let key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        struct Case {
            name: &'static str,
            csr_usages: Option<Vec<KeyUsage>>,
            csr_is_ca: bool,
            encode: bool,
            request_usages: Vec<KeyUsage>,
            request_is_ca: bool,
            ok: Result<(bool, bool), &'static str>, // (server auth present, is CA)
        }
        let cases = [
            Case {
                name: "defaults on both sides",
                csr_usages: None,
                csr_is_ca: false,
                encode: true,
                request_usages: vec![],
                request_is_ca: false,
                ok: Ok((false, false)),
            },
            Case {
                name: "same usages, other order and synonyms",
                csr_usages: Some(vec![ServerAuth, Signing, KeyEncipherment]),
                csr_is_ca: false,
                encode: true,
                request_usages: vec![KeyEncipherment, DigitalSignature, ServerAuth],
                request_is_ca: false,
                ok: Ok((true, false)),
            },
            Case {
                name: "usages not in the CSR: the request decides",
                csr_usages: Some(vec![ClientAuth]),
                csr_is_ca: false,
                encode: false,
                request_usages: vec![ServerAuth],
                request_is_ca: false,
                ok: Ok((true, false)),
            },
            Case {
                name: "CSR asks for more",
                csr_usages: Some(vec![ServerAuth, CodeSigning]),
                csr_is_ca: false,
                encode: true,
                request_usages: vec![ServerAuth],
                request_is_ca: false,
                ok: Err("usages encoded in the CSR"),
            },
            Case {
                name: "CSR is a CA request, the request is not",
                csr_usages: None,
                csr_is_ca: true,
                encode: false,
                request_usages: vec![],
                request_is_ca: false,
                ok: Err("CA:true but the request says isCA: false"),
            },
            Case {
                name: "request is CA, CSR without basic constraints",
                csr_usages: None,
                csr_is_ca: false,
                encode: false,
                request_usages: vec![],
                request_is_ca: true,
                ok: Ok((false, true)),
            },
        ];
        for case in cases {
            let spec = CertificateSpec {
                common_name: Some("x".into()),
                usages: case.csr_usages.clone(),
                is_ca: Some(case.csr_is_ca),
                encode_usages_in_request: Some(case.encode),
                ..Default::default()
            };
            let csr = build_csr(&spec, &key).unwrap();
            let result = sign(
                csr.as_bytes(),
                &SigningRequest {
                    duration: DAY,
                    is_ca: case.request_is_ca,
                    usages: case.request_usages.clone(),
                    ..Default::default()
                },
                &Signer::SelfSigned { key: &key },
                now(),
            );
            match (result, case.ok) {
                (Ok(signed), Ok((server_auth, is_ca))) => {
                    let der = ders(&signed.certificate_pem).remove(0);
                    let cert = parse(&der);
                    let eku = cert.extended_key_usage().unwrap();
                    assert_eq!(
                        eku.is_some_and(|e| e.value.server_auth),
                        server_auth,
                        "{}",
                        case.name
                    );
                    assert_eq!(cert.is_ca(), is_ca, "{}", case.name);
                    let ku = cert.key_usage().unwrap();
                    assert_eq!(
                        ku.is_some_and(|ku| ku.value.key_cert_sign()),
                        is_ca,
                        "{}",
                        case.name
                    );
                }
                (Err(e), Err(fragment)) => {
                    assert!(e.to_string().contains(fragment), "{}: {e}", case.name)
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
            }
        }
    }

    #[test]
    fn sign_errors_table() {
        let ca_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let ca = ca_cert(&ca_key, "Good CA", now(), 365 * DAY);
        let other_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let not_ca = {
            let csr = build_csr(
                &CertificateSpec {
                    common_name: Some("Leaf".into()),
                    ..Default::default()
                },
                &ca_key,
            )
            .unwrap();
            let request = SigningRequest {
                duration: 365 * DAY,
                ..Default::default()
            };
            sign(
                csr.as_bytes(),
                &request,
                &Signer::SelfSigned { key: &ca_key },
                now(),
            )
            .unwrap()
            .certificate_pem
        };
        let expired = ca_cert(&ca_key, "Old CA", ts("2020-01-01T00:00:00Z"), 365 * DAY);
        let future = ca_cert(&ca_key, "Future CA", ts("2030-01-01T00:00:00Z"), 365 * DAY);
        let stranger = ca_cert(&other_key, "Stranger", now(), 365 * DAY);
        let with_stranger = format!("{ca}{stranger}");
        let leaf_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let csr = build_csr(
            &CertificateSpec {
                common_name: Some("tampered.example".into()),
                ..Default::default()
            },
            &leaf_key,
        )
        .unwrap();
        let tampered = tamper(&csr, b"tampered.example");

        // (name, CSR, request, signer, expected variant, message fragment)
        type Case<'a> = (
            &'a str,
            &'a str,
            SigningRequest,
            Signer<'a>,
            fn(&SignError) -> bool,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                "wrong CA key",
                &csr,
                plain_request(),
                Signer::Ca {
                    cert_pem: ca.as_bytes(),
                    key: &other_key,
                },
                |e| matches!(e, SignError::CaKeyMismatch { .. }),
                "does not belong to the CA certificate \"CN=Good CA\"",
            ),
            (
                "not a CA",
                &csr,
                plain_request(),
                Signer::Ca {
                    cert_pem: not_ca.as_bytes(),
                    key: &ca_key,
                },
                |e| matches!(e, SignError::NotACa { .. }),
                "\"CN=Leaf\" is not a CA",
            ),
            (
                "expired CA",
                &csr,
                plain_request(),
                Signer::Ca {
                    cert_pem: expired.as_bytes(),
                    key: &ca_key,
                },
                |e| matches!(e, SignError::CaExpired { .. }),
                "expired at 2020-12-31T00:00:00Z",
            ),
            (
                "CA not yet valid",
                &csr,
                plain_request(),
                Signer::Ca {
                    cert_pem: future.as_bytes(),
                    key: &ca_key,
                },
                |e| matches!(e, SignError::CaNotYetValid { .. }),
                "not valid before 2030-01-01T00:00:00Z",
            ),
            (
                "tampered CSR",
                &tampered,
                plain_request(),
                Signer::Ca {
                    cert_pem: ca.as_bytes(),
                    key: &ca_key,
                },
                |e| matches!(e, SignError::CsrSignatureInvalid),
                "signature does not verify",
            ),
            (
                "tampered CSR, self-signed",
                &tampered,
                plain_request(),
                Signer::SelfSigned { key: &leaf_key },
                |e| matches!(e, SignError::CsrSignatureInvalid),
                "create a new request",
            ),
            (
                "self-signed with another key",
                &csr,
                plain_request(),
                Signer::SelfSigned { key: &other_key },
                |e| matches!(e, SignError::SelfSignedKeyMismatch),
                "private-key-secret-name",
            ),
            (
                "unrelated certificate in the bundle",
                &csr,
                plain_request(),
                Signer::Ca {
                    cert_pem: with_stranger.as_bytes(),
                    key: &ca_key,
                },
                |e| matches!(e, SignError::BrokenChain(_)),
                "\"CN=Stranger\" did not sign",
            ),
            (
                "garbage CA PEM",
                &csr,
                plain_request(),
                Signer::Ca {
                    cert_pem: b"not a pem",
                    key: &ca_key,
                },
                |e| matches!(e, SignError::InvalidCaCertificate(_)),
                "no PEM block of type \"CERTIFICATE\"",
            ),
            (
                "zero duration",
                &csr,
                SigningRequest {
                    duration: Duration::ZERO,
                    ..plain_request()
                },
                Signer::SelfSigned { key: &leaf_key },
                |e| matches!(e, SignError::InvalidRequest(_)),
                "duration is zero",
            ),
            (
                "absurd duration",
                &csr,
                SigningRequest {
                    duration: 10_000 * 365 * DAY,
                    ..plain_request()
                },
                Signer::SelfSigned { key: &leaf_key },
                |e| matches!(e, SignError::InvalidRequest(_)),
                "past the year 9999",
            ),
            (
                "non-ASCII OCSP URL",
                &csr,
                SigningRequest {
                    ocsp_servers: strings(&["http://öcsp.example"]),
                    ..plain_request()
                },
                Signer::Ca {
                    cert_pem: ca.as_bytes(),
                    key: &ca_key,
                },
                |e| matches!(e, SignError::InvalidRequest(_)),
                "percent-encode",
            ),
            (
                "not a CSR",
                "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n",
                plain_request(),
                Signer::SelfSigned { key: &leaf_key },
                |e| matches!(e, SignError::ParseCsr(_)),
                "the CSR cannot be read",
            ),
        ];
        for (name, csr, request, signer, is_expected, fragment) in cases {
            let err = sign(csr.as_bytes(), &request, &signer, now()).unwrap_err();
            assert!(is_expected(&err), "{name}: {err:?}");
            assert!(err.to_string().contains(fragment), "{name}: {err}");
        }
    }

    #[test]
    fn ca_status_table() {
        let ca_key = key(PrivateKeyAlgorithm::Rsa, 2048);
        let key_pem = ca_key.to_pem(PrivateKeyEncoding::Pkcs1).unwrap();
        let ca = ca_cert(&ca_key, "CA", now(), 30 * DAY);
        let other_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let other_pem = other_key.to_pem(PrivateKeyEncoding::Pkcs8).unwrap();
        let not_ca = {
            let csr = build_csr(
                &CertificateSpec {
                    common_name: Some("Leaf".into()),
                    ..Default::default()
                },
                &ca_key,
            )
            .unwrap();
            let request = SigningRequest {
                duration: 365 * DAY,
                ..Default::default()
            };
            sign(
                csr.as_bytes(),
                &request,
                &Signer::SelfSigned { key: &ca_key },
                now(),
            )
            .unwrap()
            .certificate_pem
        };
        let stranger = ca_cert(&other_key, "Stranger", now(), 30 * DAY);
        let with_stranger = format!("{ca}{stranger}");
        let garbage_cert = pem_encode("CERTIFICATE", b"\x30\x03\x02\x01\x00");
        let later = ts("2026-04-15T00:00:00Z");
        let earlier = ts("2026-02-01T00:00:00Z");
        // (name, tls.crt, tls.key, now, Ok or "Reason: message" prefix)
        type Case<'a> = (
            &'a str,
            Option<&'a [u8]>,
            Option<&'a [u8]>,
            Timestamp,
            Result<(), &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "good",
                Some(ca.as_bytes()),
                Some(key_pem.as_bytes()),
                now(),
                Ok(()),
            ),
            (
                "no certificate",
                None,
                Some(key_pem.as_bytes()),
                now(),
                Err("ErrGetKeyPair: the Secret has no CA certificate (tls.crt)"),
            ),
            (
                "blank certificate",
                Some(b"\n "),
                Some(key_pem.as_bytes()),
                now(),
                Err("ErrGetKeyPair: the Secret has no CA certificate"),
            ),
            (
                "no key",
                Some(ca.as_bytes()),
                None,
                now(),
                Err("ErrGetKeyPair: the Secret has no CA private key (tls.key)"),
            ),
            (
                "empty key",
                Some(ca.as_bytes()),
                Some(b""),
                now(),
                Err("ErrGetKeyPair: the Secret has no CA private key"),
            ),
            (
                "certificate not PEM",
                Some(b"garbage"),
                Some(key_pem.as_bytes()),
                now(),
                Err("ErrGetKeyPair: the CA certificate (tls.crt) cannot be read: no PEM block"),
            ),
            (
                "certificate not X.509",
                Some(garbage_cert.as_bytes()),
                Some(key_pem.as_bytes()),
                now(),
                Err(
                    "ErrGetKeyPair: the CA certificate (tls.crt) cannot be read: certificate 1 is not valid X.509",
                ),
            ),
            (
                "key not a key",
                Some(ca.as_bytes()),
                Some(ca.as_bytes()),
                now(),
                Err(
                    "ErrGetKeyPair: the CA private key (tls.key) cannot be read: no private key found",
                ),
            ),
            (
                "not a CA",
                Some(not_ca.as_bytes()),
                Some(key_pem.as_bytes()),
                now(),
                Err("ErrInvalidKeyPair: the CA certificate \"CN=Leaf\" is not a CA"),
            ),
            (
                "key mismatch",
                Some(ca.as_bytes()),
                Some(other_pem.as_bytes()),
                now(),
                Err("ErrInvalidKeyPair: the CA private key (tls.key) does not belong"),
            ),
            (
                "expired",
                Some(ca.as_bytes()),
                Some(key_pem.as_bytes()),
                later,
                Err(
                    "ErrInvalidKeyPair: the CA certificate \"CN=CA\" expired at 2026-03-31T12:00:00Z",
                ),
            ),
            (
                "not yet valid",
                Some(ca.as_bytes()),
                Some(key_pem.as_bytes()),
                earlier,
                Err(
                    "ErrInvalidKeyPair: the CA certificate \"CN=CA\" is not valid before 2026-03-01T12:00:00Z",
                ),
            ),
            (
                "stray certificate",
                Some(with_stranger.as_bytes()),
                Some(key_pem.as_bytes()),
                now(),
                Err("ErrInvalidKeyPair: the CA certificate bundle is not one chain"),
            ),
        ];
        for (name, cert, key, at, want) in cases {
            let got = ca_status(cert, key, at).map_err(|p| format!("{}: {p}", p.reason()));
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(message), Err(fragment)) => {
                    assert!(message.starts_with(fragment), "{name}: {message}")
                }
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// openssl, when installed, accepts the chain and reads the extensions the same way.
    #[test]
    fn openssl_verifies_the_chain() {
        if Command::new("openssl").arg("version").output().is_err() {
            return;
        }
        let at = Timestamp::now();
        let root_key = key(PrivateKeyAlgorithm::Rsa, 2048);
        let root = ca_cert(&root_key, "Root", at, 30 * DAY);
        let intermediate_key = key(PrivateKeyAlgorithm::Ecdsa, 384);
        let intermediate = sign(
            build_csr(
                &CertificateSpec {
                    literal_subject: Some("CN=Intermediate,O=Example,C=NL".into()),
                    is_ca: Some(true),
                    name_constraints: Some(NameConstraints {
                        critical: Some(true),
                        permitted: Some(NameConstraintItem {
                            dns_domains: Some(strings(&["example.com"])),
                            ip_ranges: Some(strings(&[
                                "10.0.0.0/8",
                                "192.0.2.0/24",
                                "2001:db8::/32",
                            ])),
                            email_addresses: Some(strings(&["example.com"])),
                            uri_domains: Some(strings(&[".local"])),
                        }),
                        excluded: None,
                    }),
                    ..Default::default()
                },
                &intermediate_key,
            )
            .unwrap()
            .as_bytes(),
            &SigningRequest {
                duration: 20 * DAY,
                is_ca: true,
                ..Default::default()
            },
            &Signer::Ca {
                cert_pem: root.as_bytes(),
                key: &root_key,
            },
            at,
        )
        .unwrap();
        let leaf_key = key(PrivateKeyAlgorithm::Ed25519, 256);
        let mut spec = full_spec();
        spec.uris = Some(strings(&["spiffe://cluster.local/ns/a/sa/b"]));
        spec.email_addresses = Some(strings(&["admin@example.com"]));
        let bundle = format!("{}{}", intermediate.certificate_pem, root);
        let leaf = sign(
            build_csr(&spec, &leaf_key).unwrap().as_bytes(),
            &SigningRequest {
                crl_distribution_points: strings(&["http://crl.example.com/ca.crl"]),
                ocsp_servers: strings(&["http://ocsp.example.com"]),
                issuing_certificate_urls: strings(&["http://ca.example.com/ca.crt"]),
                ..leaf_request()
            },
            &Signer::Ca {
                cert_pem: bundle.as_bytes(),
                key: &intermediate_key,
            },
            at,
        )
        .unwrap();
        assert!(leaf.clamped_to_ca);

        let dir = std::env::temp_dir().join(format!("certsmith-sign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("root.pem"), &leaf.ca_pem).unwrap();
        std::fs::write(dir.join("chain.pem"), &leaf.certificate_pem).unwrap();
        let verify = Command::new("openssl")
            .args(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile"])
            .arg(dir.join("root.pem"))
            .arg("-untrusted")
            .arg(dir.join("chain.pem"))
            .arg(dir.join("chain.pem"))
            .output()
            .unwrap();
        let text = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-nameopt", "RFC2253", "-in"])
            .arg(dir.join("chain.pem"))
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let verify = String::from_utf8_lossy(&verify.stdout).to_string()
            + &String::from_utf8_lossy(&verify.stderr);
        assert!(verify.contains(": OK"), "{verify}");
        let text = String::from_utf8_lossy(&text.stdout);
        for want in [
            "Issuer: CN=Intermediate,O=Example,C=NL",
            "OCSP - URI:http://ocsp.example.com",
            "CA Issuers - URI:http://ca.example.com/ca.crt",
            "URI:http://crl.example.com/ca.crl",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "CA:FALSE",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }
}
