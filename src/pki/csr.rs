//! Certificate signing requests: [`build_csr`] turns a Certificate spec and its key into a
//! PKCS#10 CSR carrying every identity the spec asks for, as cert-manager's `pki.GenerateCSR`
//! does; [`parse_csr`] reads one back, verifying its signature.
//!
//! What goes into the CSR, following cert-manager:
//! - subject: `literalSubject` (RFC 4514, written in reverse string order, so
//!   `CN=app,O=Example` becomes the DER sequence O, CN), or the fields of `subject` plus
//!   `commonName` in Go's `pkix.Name` order (C, O, OU, L, ST, STREET, POSTALCODE,
//!   SERIALNUMBER, CN), several values of one field forming one multi-valued RDN. Strings are
//!   PrintableString when they fit, UTF8String otherwise, as Go's `encoding/asn1` writes them.
//! - subjectAltName: DNS names, emails, IPs, URIs, then otherNames (UTF8String values), critical
//!   when the subject is empty (RFC 5280 §4.2.1.6).
//! - key usage (critical) and extended key usage unless `encodeUsagesInRequest` is false. With
//!   no `usages`, cert-manager's defaults apply to every key algorithm: digital signature and
//!   key encipherment (`v1.DefaultKeyUsages()`); `isCA` adds cert sign.
//! - basic constraints CA:TRUE (critical) when `isCA`, and name constraints when set.

use std::net::IpAddr;

use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::{self, PemObject};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::der_parser::asn1_rs::{Any, Class, Tag, ToDer};
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use super::OtherNameValue;
use super::keys::{
    KeyError, ParsedKey, der, key_info_of, pem_encode, sign_der, signature_algorithm_der,
    verify_signature,
};
use crate::api::{
    CertificateSpec, KeyUsage, NameConstraintItem, NameConstraints, PrivateKeyAlgorithm,
};

/// Errors of building and parsing CSRs.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    #[error("spec.literalSubject {subject:?} cannot be parsed as an RFC 4514 name: {reason}")]
    ParseLiteralSubject { subject: String, reason: String },
    #[error(
        "the certificate names no identity: set spec.commonName (or a CN in \
         spec.literalSubject), dnsNames, ipAddresses, uris, emailAddresses or otherNames"
    )]
    NoIdentity,
    #[error("spec.ipAddresses: {0:?} is not an IPv4 or IPv6 address")]
    InvalidIpAddress(String),
    #[error(
        "{field}: {value:?} has characters X.509 cannot hold here (IA5String, i.e. ASCII, is \
         required); write internationalised domain names in their xn-- (punycode) form"
    )]
    NotAscii { field: String, value: String },
    #[error("{field}: {value:?} is not a dotted object identifier such as 1.3.6.1.4.1.311.20.2.3")]
    InvalidOid { field: String, value: String },
    #[error("{field}: {value:?} is not an IP range in CIDR notation such as 10.0.0.0/8")]
    InvalidCidr { field: String, value: String },
    #[error("the private key cannot sign the CSR: {0}")]
    SigningKey(#[from] KeyError),
    #[error("signing the CSR failed in the crypto library: {0}")]
    SignCsr(String),
    #[error("no PEM block of type \"CERTIFICATE REQUEST\" found")]
    NoCsrPem,
    #[error("the CSR PEM is malformed: {0}")]
    MalformedPem(String),
    #[error("the CSR is not a valid PKCS#10 request: {0}")]
    ParseCsr(String),
    #[error(
        "the CSR signature does not verify with the CSR's own public key: the request was \
         altered after it was signed, or signed with another key (or an unsupported \
         algorithm); create a new request"
    )]
    SignatureInvalid,
    #[error("the CSR's public key is not supported: {0}; use RSA, ECDSA P-256/384/521 or Ed25519")]
    UnsupportedPublicKey(String),
    #[error("the CSR's {extension} extension cannot be read: {reason}")]
    ParseExtension {
        extension: &'static str,
        reason: String,
    },
}

/// What a CSR asks for, in the terms of a Certificate spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrInfo {
    /// RFC 4514 string of the subject, e.g. `CN=app,O=Example`.
    pub subject: String,
    /// DER of the subject `Name`, copied unchanged into certificates signed from this CSR.
    pub subject_der: Vec<u8>,
    /// The first CN of the subject, in DER order (as cert-manager reads it).
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    /// otherName SANs with UTF8String values (others are kept in the SAN but not listed).
    pub other_names: Vec<OtherNameValue>,
    /// Key usages and extended key usages in cert-manager's vocabulary (`digital signature`,
    /// not `signing`; `email protection`, not `s/mime`), key usages first; `None` when the
    /// CSR carries neither extension.
    pub usages: Option<Vec<KeyUsage>>,
    /// The basic constraints CA flag; `None` when the CSR has no basic constraints.
    pub is_ca: Option<bool>,
    /// Requested name constraints (`critical` is `Some(true)` or `None`).
    pub name_constraints: Option<NameConstraints>,
    /// DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    pub key_algorithm: PrivateKeyAlgorithm,
    pub key_size: u32,
    /// The whole CSR as DER (an ACME Order wants this).
    pub der: Vec<u8>,
    /// Value of the subjectAltName extension, copied into signed certificates.
    pub(crate) subject_alt_name_der: Option<Vec<u8>>,
}

impl CsrInfo {
    /// Whether the CSR asks for a CA certificate.
    pub fn requests_ca(&self) -> bool {
        self.is_ca == Some(true)
    }
}

/// Builds a PEM CSR (`CERTIFICATE REQUEST`) for `spec`, signed with `key` using
/// `spec.signatureAlgorithm` or cert-manager's default for the key.
pub fn build_csr(spec: &CertificateSpec, key: &ParsedKey) -> Result<String, CsrError> {
    let (subject, common_name) = subject_for_spec(spec)?;
    let subject_empty = subject == [der::SEQUENCE, 0];
    let san = subject_alt_names_for_spec(spec)?;
    if common_name.is_none_or(|cn| cn.is_empty()) && san.is_none() {
        return Err(CsrError::NoIdentity);
    }
    let is_ca = spec.is_ca.unwrap_or(false);

    let mut extensions = Vec::new();
    if let Some(san) = &san {
        extensions.push(extension(OID_SUBJECT_ALT_NAME, subject_empty, san));
    }
    if spec.encode_usages_in_request != Some(false) {
        let usages = Usages::for_request(spec.usages.as_deref().unwrap_or_default(), is_ca);
        extensions.extend(usages.extensions());
    }
    if is_ca {
        extensions.push(basic_constraints_extension(true));
    }
    if let Some(constraints) = &spec.name_constraints
        && let Some(ext) = name_constraints_extension(constraints)?
    {
        extensions.push(ext);
    }

    let attributes = if extensions.is_empty() {
        der::tlv(der::context_constructed(0), &[])
    } else {
        let request = der::wrap(der::SEQUENCE, extensions);
        der::tlv(
            der::context_constructed(0),
            &der::wrap(
                der::SEQUENCE,
                [
                    der::oid(OID_EXTENSION_REQUEST),
                    der::tlv(der::SET, &request),
                ],
            ),
        )
    };
    let info = der::wrap(
        der::SEQUENCE,
        [
            der::uint(&[0]),
            subject,
            key.info().public_key_der.clone(),
            attributes,
        ],
    );
    let pair = key.key_pair_for(spec.signature_algorithm)?;
    let algorithm = signature_algorithm_der(pair.algorithm());
    let csr = sign_der(&pair, &algorithm, &info).map_err(|e| CsrError::SignCsr(e.to_string()))?;
    Ok(pem_encode("CERTIFICATE REQUEST", &csr))
}

/// Reads the first `CERTIFICATE REQUEST` PEM block and verifies its signature.
pub fn parse_csr(pem: &[u8]) -> Result<CsrInfo, CsrError> {
    let der = CertificateSigningRequestDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => CsrError::NoCsrPem,
        other => CsrError::MalformedPem(other.to_string()),
    })?;
    parse_csr_der(der.as_ref())
}

/// Reads a DER CSR and verifies its signature.
pub fn parse_csr_der(der: &[u8]) -> Result<CsrInfo, CsrError> {
    let (rest, csr) =
        X509CertificationRequest::from_der(der).map_err(|e| CsrError::ParseCsr(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::ParseCsr("trailing data after the request".into()));
    }
    let info = &csr.certification_request_info;
    if !verify_signature(
        &info.subject_pki,
        &csr.signature_algorithm,
        &csr.signature_value.data,
        info.raw,
    ) {
        return Err(CsrError::SignatureInvalid);
    }
    let (key_algorithm, key_size) = key_info_of(&info.subject_pki).ok_or_else(|| {
        CsrError::UnsupportedPublicKey(format!(
            "algorithm {}",
            info.subject_pki.algorithm.algorithm.to_id_string()
        ))
    })?;

    let mut out = CsrInfo {
        subject: rfc4514(&info.subject),
        subject_der: info.subject.as_raw().to_vec(),
        common_name: info
            .subject
            .iter_common_name()
            .find_map(|attr| attribute_string(attr.attr_value())),
        dns_names: vec![],
        ip_addresses: vec![],
        uris: vec![],
        email_addresses: vec![],
        other_names: vec![],
        usages: None,
        is_ca: None,
        name_constraints: None,
        public_key_der: info.subject_pki.raw.to_vec(),
        key_algorithm,
        key_size,
        der: csr.as_raw().to_vec(),
        subject_alt_name_der: None,
    };

    let extensions: Vec<&X509Extension> = info
        .iter_attributes()
        .filter_map(|attr| match attr.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(request) => Some(request.extensions.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut key_usage = None;
    let mut extended = None;
    for ext in extensions {
        let unreadable = |extension: &'static str| CsrError::ParseExtension {
            extension,
            reason: match ext.parsed_extension() {
                ParsedExtension::ParseError { error } => error.to_string(),
                _ => "unexpected content".into(),
            },
        };
        match ext.oid.to_id_string().as_str() {
            "2.5.29.17" => {
                let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() else {
                    return Err(unreadable("subjectAltName"));
                };
                for name in &san.general_names {
                    add_general_name(&mut out, name)?;
                }
                out.subject_alt_name_der = Some(ext.value.to_vec());
            }
            "2.5.29.15" => {
                let ParsedExtension::KeyUsage(ku) = ext.parsed_extension() else {
                    return Err(unreadable("keyUsage"));
                };
                key_usage = Some(ku.flags);
            }
            "2.5.29.37" => {
                // Read the OIDs in their written order (x509-parser groups the known ones).
                let Some((der::SEQUENCE, mut list, [])) = der::read(ext.value) else {
                    return Err(unreadable("extendedKeyUsage"));
                };
                let mut oids: Vec<String> = Vec::new();
                while let Some((tag, oid, rest)) = der::read(list) {
                    match (tag, der::oid_to_string(oid)) {
                        (der::OID, Some(oid)) => oids.push(oid),
                        _ => return Err(unreadable("extendedKeyUsage")),
                    }
                    list = rest;
                }
                if !list.is_empty() {
                    return Err(unreadable("extendedKeyUsage"));
                }
                extended = Some(oids);
            }
            "2.5.29.19" => {
                let ParsedExtension::BasicConstraints(bc) = ext.parsed_extension() else {
                    return Err(unreadable("basicConstraints"));
                };
                out.is_ca = Some(bc.ca);
            }
            "2.5.29.30" => {
                let ParsedExtension::NameConstraints(nc) = ext.parsed_extension() else {
                    return Err(unreadable("nameConstraints"));
                };
                let item = |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree>>| {
                    subtrees
                        .as_deref()
                        .map(name_constraint_item)
                        .transpose()
                        .map(|i| i.filter(|i| *i != NameConstraintItem::default()))
                };
                out.name_constraints = Some(NameConstraints {
                    critical: ext.critical.then_some(true),
                    permitted: item(&nc.permitted_subtrees)?,
                    excluded: item(&nc.excluded_subtrees)?,
                });
            }
            _ => {}
        }
    }
    if key_usage.is_some() || extended.is_some() {
        let eku: Vec<&str> = extended.iter().flatten().map(String::as_str).collect();
        out.usages = Some(usages_vocabulary(key_usage.unwrap_or(0), &eku));
    }
    Ok(out)
}

fn add_general_name(out: &mut CsrInfo, name: &GeneralName) -> Result<(), CsrError> {
    let invalid = |reason: String| CsrError::ParseExtension {
        extension: "subjectAltName",
        reason,
    };
    match name {
        GeneralName::DNSName(s) => out.dns_names.push((*s).to_owned()),
        GeneralName::RFC822Name(s) => out.email_addresses.push((*s).to_owned()),
        GeneralName::URI(s) => out.uris.push((*s).to_owned()),
        GeneralName::IPAddress(bytes) => out.ip_addresses.push(match bytes.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("length checked")),
            16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("length checked")),
            n => return Err(invalid(format!("an IP address of {n} bytes"))),
        }),
        GeneralName::OtherName(oid, value) => {
            // value is the `[0] EXPLICIT` wrapper; only UTF8String values have a spec field.
            if let Some((tag, inner, _)) = der::read(value)
                && tag == der::context_constructed(0)
                && let Some((der::UTF8_STRING, text, _)) = der::read(inner)
            {
                let text = std::str::from_utf8(text)
                    .map_err(|_| invalid(format!("otherName {oid} is not valid UTF-8")))?;
                out.other_names.push(OtherNameValue {
                    oid: oid.to_id_string(),
                    utf8_value: text.to_owned(),
                });
            }
        }
        GeneralName::Invalid(tag, _) => {
            return Err(invalid(format!("a malformed name (tag {tag})")));
        }
        _ => {}
    }
    Ok(())
}

fn name_constraint_item(
    subtrees: &[x509_parser::extensions::GeneralSubtree],
) -> Result<NameConstraintItem, CsrError> {
    let invalid = |reason: String| CsrError::ParseExtension {
        extension: "nameConstraints",
        reason,
    };
    let mut item = NameConstraintItem::default();
    for subtree in subtrees {
        match &subtree.base {
            GeneralName::DNSName(s) => item.dns_domains.get_or_insert_default().push(s.to_string()),
            GeneralName::RFC822Name(s) => item
                .email_addresses
                .get_or_insert_default()
                .push(s.to_string()),
            GeneralName::URI(s) => item.uri_domains.get_or_insert_default().push(s.to_string()),
            GeneralName::IPAddress(bytes) => {
                item.ip_ranges
                    .get_or_insert_default()
                    .push(cidr_string(bytes).ok_or_else(|| {
                        invalid(format!(
                            "an IP range of {} bytes or a bad mask",
                            bytes.len()
                        ))
                    })?)
            }
            other => {
                return Err(invalid(format!(
                    "a constraint on {other:?}, which certsmith cannot express"
                )));
            }
        }
    }
    Ok(item)
}

/// `address/prefix` from the 8 or 32 bytes of an iPAddress name constraint.
fn cidr_string(bytes: &[u8]) -> Option<String> {
    let (addr, mask) = bytes.split_at(bytes.len() / 2);
    let ip = match addr.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(addr).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(addr).ok()?),
        _ => return None,
    };
    let prefix: u32 = mask.iter().map(|b| b.count_ones()).sum();
    // Only contiguous masks have a prefix length.
    (mask_bytes(mask.len(), prefix) == mask).then(|| format!("{ip}/{prefix}"))
}

/// A network mask of `len` bytes with `prefix` leading ones.
fn mask_bytes(len: usize, prefix: u32) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let ones = prefix.saturating_sub(8 * i as u32).min(8);
            if ones == 0 { 0 } else { 0xffu8 << (8 - ones) }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Pieces shared with `sign`: extensions, usages, names.

pub(crate) const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
pub(crate) const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
pub(crate) const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
pub(crate) const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
pub(crate) const OID_NAME_CONSTRAINTS: &[u64] = &[2, 5, 29, 30];
const OID_EXTENSION_REQUEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 14];

/// One `Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`.
pub(crate) fn extension(oid: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![der::oid(oid)];
    if critical {
        parts.push(der::boolean(true));
    }
    parts.push(der::tlv(der::OCTET_STRING, value));
    der::wrap(der::SEQUENCE, parts)
}

/// Basic constraints, critical, as Go writes them (CA:FALSE is an empty SEQUENCE).
pub(crate) fn basic_constraints_extension(is_ca: bool) -> Vec<u8> {
    let value = if is_ca {
        der::tlv(der::SEQUENCE, &der::boolean(true))
    } else {
        der::tlv(der::SEQUENCE, &[])
    };
    extension(OID_BASIC_CONSTRAINTS, true, &value)
}

/// Key usage bits and extended key usage OIDs, as cert-manager's
/// `KeyUsagesForCertificateOrCertificateRequest` derives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usages {
    /// Bit `i` is RFC 5280 KeyUsage bit `i` (0 digitalSignature ... 8 decipherOnly).
    pub key_usage: u16,
    /// Extended key usage OIDs, in the order asked, without repeats.
    pub extended: Vec<&'static [u64]>,
}

const KEY_USAGE_BITS: [(KeyUsage, u16); 10] = [
    (KeyUsage::DigitalSignature, 0),
    (KeyUsage::Signing, 0),
    (KeyUsage::ContentCommitment, 1),
    (KeyUsage::KeyEncipherment, 2),
    (KeyUsage::DataEncipherment, 3),
    (KeyUsage::KeyAgreement, 4),
    (KeyUsage::CertSign, 5),
    (KeyUsage::CrlSign, 6),
    (KeyUsage::EncipherOnly, 7),
    (KeyUsage::DecipherOnly, 8),
];

const EXTENDED_KEY_USAGES: [(KeyUsage, &[u64]); 13] = [
    (KeyUsage::Any, &[2, 5, 29, 37, 0]),
    (KeyUsage::ServerAuth, &[1, 3, 6, 1, 5, 5, 7, 3, 1]),
    (KeyUsage::ClientAuth, &[1, 3, 6, 1, 5, 5, 7, 3, 2]),
    (KeyUsage::CodeSigning, &[1, 3, 6, 1, 5, 5, 7, 3, 3]),
    (KeyUsage::EmailProtection, &[1, 3, 6, 1, 5, 5, 7, 3, 4]),
    (KeyUsage::SMime, &[1, 3, 6, 1, 5, 5, 7, 3, 4]),
    (KeyUsage::IpsecEndSystem, &[1, 3, 6, 1, 5, 5, 7, 3, 5]),
    (KeyUsage::IpsecTunnel, &[1, 3, 6, 1, 5, 5, 7, 3, 6]),
    (KeyUsage::IpsecUser, &[1, 3, 6, 1, 5, 5, 7, 3, 7]),
    (KeyUsage::Timestamping, &[1, 3, 6, 1, 5, 5, 7, 3, 8]),
    (KeyUsage::OcspSigning, &[1, 3, 6, 1, 5, 5, 7, 3, 9]),
    (KeyUsage::MicrosoftSgc, &[1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
    (KeyUsage::NetscapeSgc, &[2, 16, 840, 1, 113730, 4, 1]),
];

impl Usages {
    /// The usages of a request: `usages`, or cert-manager's defaults (digital signature, key
    /// encipherment) when empty, plus cert sign for a CA.
    pub fn for_request(usages: &[KeyUsage], is_ca: bool) -> Usages {
        const DEFAULTS: [KeyUsage; 2] = [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment];
        let usages = if usages.is_empty() {
            &DEFAULTS[..]
        } else {
            usages
        };
        let mut out = Usages {
            key_usage: if is_ca { 1 << 5 } else { 0 },
            extended: vec![],
        };
        for usage in usages {
            if let Some((_, bit)) = KEY_USAGE_BITS.iter().find(|(u, _)| u == usage) {
                out.key_usage |= 1 << bit;
            } else if let Some((_, oid)) = EXTENDED_KEY_USAGES.iter().find(|(u, _)| u == usage)
                && !out.extended.contains(oid)
            {
                out.extended.push(oid);
            }
        }
        out
    }

    /// The same usages in cert-manager's vocabulary.
    pub fn vocabulary(&self) -> Vec<KeyUsage> {
        let eku: Vec<String> = self
            .extended
            .iter()
            .map(|oid| oid.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
            .collect();
        let eku: Vec<&str> = eku.iter().map(String::as_str).collect();
        usages_vocabulary(self.key_usage, &eku)
    }

    /// keyUsage (critical, when any bit is set) and extendedKeyUsage (when any) extensions.
    pub fn extensions(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if self.key_usage != 0 {
            out.push(extension(
                OID_KEY_USAGE,
                true,
                &key_usage_bit_string(self.key_usage),
            ));
        }
        if !self.extended.is_empty() {
            let oids = self.extended.iter().map(|oid| der::oid(oid));
            out.push(extension(
                OID_EXT_KEY_USAGE,
                false,
                &der::wrap(der::SEQUENCE, oids),
            ));
        }
        out
    }
}

/// Usages in cert-manager's vocabulary from key usage bits and dotted EKU OIDs (unknown EKUs
/// are left out): key usages in bit order, then EKUs in the order given.
fn usages_vocabulary(key_usage: u16, extended: &[&str]) -> Vec<KeyUsage> {
    let mut out: Vec<KeyUsage> = Vec::new();
    for (usage, bit) in KEY_USAGE_BITS {
        if usage != KeyUsage::Signing && key_usage & (1 << bit) != 0 {
            out.push(usage);
        }
    }
    for oid in extended {
        let found = EXTENDED_KEY_USAGES.iter().find(|(usage, known)| {
            *usage != KeyUsage::SMime
                && known
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
                    == *oid
        });
        if let Some((usage, _)) = found
            && !out.contains(usage)
        {
            out.push(*usage);
        }
    }
    out
}

/// The KeyUsage BIT STRING: named bits, trailing zero bits dropped as DER requires.
fn key_usage_bit_string(bits: u16) -> Vec<u8> {
    let mut bytes = [0u8; 2];
    for i in 0..9 {
        if bits & (1 << i) != 0 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let len = if bytes[1] != 0 { 2 } else { 1 };
    let unused = bytes[len - 1].trailing_zeros().min(7) as u8;
    let mut body = vec![unused];
    body.extend_from_slice(&bytes[..len]);
    der::tlv(der::BIT_STRING, &body)
}

/// The nameConstraints extension for `constraints`, or `None` when it names nothing.
pub(crate) fn name_constraints_extension(
    constraints: &NameConstraints,
) -> Result<Option<Vec<u8>>, CsrError> {
    let subtrees = |item: Option<&NameConstraintItem>, which: &str| -> Result<Vec<u8>, CsrError> {
        let Some(item) = item else {
            return Ok(vec![]);
        };
        let field = |f: &str| format!("spec.nameConstraints.{which}.{f}");
        let mut out = Vec::new();
        let subtree = |tag: u8, content: &[u8]| {
            der::tlv(der::SEQUENCE, &der::tlv(der::context(tag), content))
        };
        for dns in item.dns_domains.iter().flatten() {
            out.extend(subtree(2, ia5(dns, &field("dnsDomains"))?));
        }
        for range in item.ip_ranges.iter().flatten() {
            let bytes = parse_cidr(range).ok_or_else(|| CsrError::InvalidCidr {
                field: field("ipRanges"),
                value: range.clone(),
            })?;
            out.extend(subtree(7, &bytes));
        }
        for email in item.email_addresses.iter().flatten() {
            out.extend(subtree(1, ia5(email, &field("emailAddresses"))?));
        }
        for uri in item.uri_domains.iter().flatten() {
            out.extend(subtree(6, ia5(uri, &field("uriDomains"))?));
        }
        Ok(out)
    };
    let permitted = subtrees(constraints.permitted.as_ref(), "permitted")?;
    let excluded = subtrees(constraints.excluded.as_ref(), "excluded")?;
    if permitted.is_empty() && excluded.is_empty() {
        return Ok(None);
    }
    let mut body = Vec::new();
    if !permitted.is_empty() {
        body.extend(der::tlv(der::context_constructed(0), &permitted));
    }
    if !excluded.is_empty() {
        body.extend(der::tlv(der::context_constructed(1), &excluded));
    }
    Ok(Some(extension(
        OID_NAME_CONSTRAINTS,
        constraints.critical.unwrap_or(false),
        &der::tlv(der::SEQUENCE, &body),
    )))
}

/// Address then mask, 8 bytes for IPv4 and 32 for IPv6, with the host bits cleared as Go's
/// `net.ParseCIDR` does.
fn parse_cidr(cidr: &str) -> Option<Vec<u8>> {
    let (addr, prefix) = cidr.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u32 = prefix.parse().ok()?;
    let addr = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    if prefix as usize > addr.len() * 8 {
        return None;
    }
    let mask = mask_bytes(addr.len(), prefix);
    let mut out: Vec<u8> = addr.iter().zip(&mask).map(|(a, m)| a & m).collect();
    out.extend(mask);
    Some(out)
}

fn ia5<'a>(value: &'a str, field: &str) -> Result<&'a [u8], CsrError> {
    if value.is_ascii() {
        Ok(value.as_bytes())
    } else {
        Err(CsrError::NotAscii {
            field: field.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// The subjectAltName value (a `GeneralNames` SEQUENCE) for the spec, or `None` when it names
/// no SAN. Order as cert-manager's `MarshalSANs`: DNS, email, IP, URI, otherName.
fn subject_alt_names_for_spec(spec: &CertificateSpec) -> Result<Option<Vec<u8>>, CsrError> {
    let mut names = Vec::new();
    for dns in spec.dns_names.iter().flatten() {
        names.extend(der::tlv(der::context(2), ia5(dns, "spec.dnsNames")?));
    }
    for email in spec.email_addresses.iter().flatten() {
        names.extend(der::tlv(
            der::context(1),
            ia5(email, "spec.emailAddresses")?,
        ));
    }
    for ip in spec.ip_addresses.iter().flatten() {
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| CsrError::InvalidIpAddress(ip.clone()))?;
        // IPv4 in 4 bytes, also when written as an IPv4-mapped IPv6 address (Go's To4).
        let bytes = match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => a.octets().to_vec(),
            },
        };
        names.extend(der::tlv(der::context(7), &bytes));
    }
    for uri in spec.uris.iter().flatten() {
        names.extend(der::tlv(der::context(6), ia5(uri, "spec.uris")?));
    }
    for other in spec.other_names.iter().flatten() {
        let arcs = der::parse_oid(&other.oid).ok_or_else(|| CsrError::InvalidOid {
            field: "spec.otherNames.oid".into(),
            value: other.oid.clone(),
        })?;
        let value = der::tlv(
            der::context_constructed(0),
            &der::tlv(der::UTF8_STRING, other.utf8_value.as_bytes()),
        );
        names.extend(der::tlv(
            der::context_constructed(0),
            &[der::oid(&arcs), value].concat(),
        ));
    }
    Ok((!names.is_empty()).then(|| der::tlv(der::SEQUENCE, &names)))
}

const OID_CN: &[u64] = &[2, 5, 4, 3];
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
const OID_C: &[u64] = &[2, 5, 4, 6];
const OID_L: &[u64] = &[2, 5, 4, 7];
const OID_ST: &[u64] = &[2, 5, 4, 8];
const OID_STREET: &[u64] = &[2, 5, 4, 9];
const OID_O: &[u64] = &[2, 5, 4, 10];
const OID_OU: &[u64] = &[2, 5, 4, 11];
const OID_POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
const OID_DC: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 25];
const OID_UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];

/// RFC 4514 keywords certsmith reads and writes (cert-manager's set).
const KEYWORDS: [(&str, &[u64]); 11] = [
    ("CN", OID_CN),
    ("SERIALNUMBER", OID_SERIAL_NUMBER),
    ("C", OID_C),
    ("L", OID_L),
    ("ST", OID_ST),
    ("STREET", OID_STREET),
    ("O", OID_O),
    ("OU", OID_OU),
    ("POSTALCODE", OID_POSTAL_CODE),
    ("DC", OID_DC),
    ("UID", OID_UID),
];

/// DER of the subject Name and its common name.
fn subject_for_spec(spec: &CertificateSpec) -> Result<(Vec<u8>, Option<String>), CsrError> {
    if let Some(literal) = spec.literal_subject.as_deref().filter(|s| !s.is_empty()) {
        let rdns = parse_rfc4514(literal).map_err(|reason| CsrError::ParseLiteralSubject {
            subject: literal.to_owned(),
            reason,
        })?;
        // The string lists the most specific RDN first; DER lists it last.
        let common_name = rdns.iter().rev().flatten().find_map(|atv| match atv {
            (oid, AttributeValue::Text(s)) if oid == OID_CN => Some(s.clone()),
            _ => None,
        });
        let encoded = rdns.iter().rev().map(|rdn| {
            relative_distinguished_name(rdn.iter().map(|(oid, value)| {
                let value = match value {
                    AttributeValue::Text(s) => directory_string(s),
                    AttributeValue::Der(d) => d.clone(),
                };
                der::wrap(der::SEQUENCE, [der::oid(oid), value])
            }))
        });
        return Ok((der::wrap(der::SEQUENCE, encoded), common_name));
    }

    let subject = spec.subject.clone().unwrap_or_default();
    let common_name = spec.common_name.clone().filter(|cn| !cn.is_empty());
    let serial = subject.serial_number.filter(|s| !s.is_empty());
    let fields: [(&[u64], Vec<String>); 9] = [
        (OID_C, subject.countries.unwrap_or_default()),
        (OID_O, subject.organizations.unwrap_or_default()),
        (OID_OU, subject.organizational_units.unwrap_or_default()),
        (OID_L, subject.localities.unwrap_or_default()),
        (OID_ST, subject.provinces.unwrap_or_default()),
        (OID_STREET, subject.street_addresses.unwrap_or_default()),
        (OID_POSTAL_CODE, subject.postal_codes.unwrap_or_default()),
        (OID_SERIAL_NUMBER, serial.into_iter().collect()),
        (OID_CN, common_name.clone().into_iter().collect()),
    ];
    // Go's pkix.Name.ToRDNSequence: one RDN per field, holding all of its values.
    let encoded = fields
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(oid, values)| {
            relative_distinguished_name(
                values
                    .iter()
                    .map(|v| der::wrap(der::SEQUENCE, [der::oid(oid), directory_string(v)])),
            )
        });
    Ok((der::wrap(der::SEQUENCE, encoded), common_name))
}

/// A SET OF AttributeTypeAndValue, sorted as DER requires.
fn relative_distinguished_name(atvs: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut atvs: Vec<Vec<u8>> = atvs.collect();
    atvs.sort();
    der::wrap(der::SET, atvs)
}

/// PrintableString when every character allows it, UTF8String otherwise (Go's rule).
fn directory_string(s: &str) -> Vec<u8> {
    let printable = s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    });
    let tag = if printable {
        der::PRINTABLE_STRING
    } else {
        der::UTF8_STRING
    };
    der::tlv(tag, s.as_bytes())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum AttributeValue {
    Text(String),
    /// `#`-hex form: the DER of the value as written.
    Der(Vec<u8>),
}

type Rdn = Vec<(Vec<u64>, AttributeValue)>;

/// Parses an RFC 4514 distinguished name into RDNs in string order. Accepts `;` as well as
/// `,` between RDNs (RFC 2253), `+` inside multi-valued RDNs, `\`-escapes of special
/// characters and of hex pairs, `#`-hex values, keywords in any case, and dotted OIDs (with
/// or without an `OID.` prefix).
fn parse_rfc4514(input: &str) -> Result<Vec<Rdn>, String> {
    let chars: Vec<char> = input.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut rdns = Vec::new();
    let mut rdn: Rdn = Vec::new();
    if input.trim().is_empty() {
        return Err("it is empty".into());
    }
    loop {
        while i < n && chars[i] == ' ' {
            i += 1;
        }
        if i == n {
            return Err("it ends with a separator (',', ';' or '+')".into());
        }
        let start = i;
        while i < n && !matches!(chars[i], '=' | ',' | ';' | '+') {
            i += 1;
        }
        let keyword: String = chars[start..i].iter().collect();
        let keyword = keyword.trim();
        if i == n || chars[i] != '=' {
            return Err(format!(
                "{keyword:?} is not of the form TYPE=value (such as CN=app)"
            ));
        }
        if keyword.is_empty() {
            return Err("an attribute type is missing before '='".into());
        }
        i += 1;
        let oid = attribute_type(keyword)?;

        while i < n && chars[i] == ' ' {
            i += 1;
        }
        let value = if i < n && chars[i] == '#' {
            i += 1;
            let start = i;
            while i < n && !matches!(chars[i], ',' | ';' | '+') {
                i += 1;
            }
            let hex: String = chars[start..i].iter().collect();
            let bytes = decode_hex(hex.trim_end())
                .filter(|b| matches!(der::read(b), Some((_, _, rest)) if rest.is_empty()))
                .ok_or_else(|| {
                    format!("the value of {keyword} after '#' is not the hex DER of one value")
                })?;
            AttributeValue::Der(bytes)
        } else {
            let mut bytes: Vec<u8> = Vec::new();
            let mut keep = 0;
            while i < n && !matches!(chars[i], ',' | ';' | '+') {
                let c = chars[i];
                if c == '\\' {
                    let hex_pair = chars
                        .get(i + 1..i + 3)
                        .and_then(|p| decode_hex(&p.iter().collect::<String>()));
                    match (chars.get(i + 1), hex_pair) {
                        (_, Some(byte)) => {
                            bytes.extend(byte);
                            i += 3;
                        }
                        (
                            Some(
                                &special @ (',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | ' '
                                | '#'),
                            ),
                            None,
                        ) => {
                            let mut buf = [0; 4];
                            bytes.extend(special.encode_utf8(&mut buf).as_bytes());
                            i += 2;
                        }
                        (Some(other), None) => {
                            return Err(format!(
                                "\\{other} in the value of {keyword} is not a valid escape; escape only , + \" \\ < > ; = # and space, or write \\XX hex"
                            ));
                        }
                        (None, None) => {
                            return Err(format!("the value of {keyword} ends with a lone '\\'"));
                        }
                    }
                    keep = bytes.len();
                } else {
                    let mut buf = [0; 4];
                    bytes.extend(c.encode_utf8(&mut buf).as_bytes());
                    if c != ' ' {
                        keep = bytes.len();
                    }
                    i += 1;
                }
            }
            bytes.truncate(keep);
            AttributeValue::Text(
                String::from_utf8(bytes)
                    .map_err(|_| format!("the escaped value of {keyword} is not valid UTF-8"))?,
            )
        };
        rdn.push((oid, value));
        if i == n {
            rdns.push(rdn);
            return Ok(rdns);
        }
        if chars[i] != '+' {
            rdns.push(std::mem::take(&mut rdn));
        }
        i += 1;
    }
}

fn attribute_type(keyword: &str) -> Result<Vec<u64>, String> {
    let upper = keyword.to_ascii_uppercase();
    if let Some((_, oid)) = KEYWORDS.iter().find(|(k, _)| *k == upper) {
        return Ok(oid.to_vec());
    }
    let dotted = upper.strip_prefix("OID.").unwrap_or(keyword);
    der::parse_oid(dotted).ok_or_else(|| {
        format!(
            "unknown attribute type {keyword:?}: use CN, O, OU, C, L, ST, STREET, POSTALCODE, \
             SERIALNUMBER, DC, UID or a dotted OID such as 2.5.4.12"
        )
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// RFC 4514 string of a name: RDNs most specific first, `+` inside multi-valued RDNs,
/// keywords for cert-manager's attribute set and `OID=#hex` for the others.
pub fn rfc4514(name: &X509Name) -> String {
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(attribute_rfc4514)
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

/// RFC 4514 string of a DER `Name`, or `None` when it is not one.
pub fn rfc4514_der(name_der: &[u8]) -> Option<String> {
    X509Name::from_der(name_der)
        .ok()
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, name)| rfc4514(&name))
}

fn attribute_rfc4514(attr: &AttributeTypeAndValue) -> String {
    let oid = attr.attr_type().to_id_string();
    let keyword = KEYWORDS.iter().find(|(_, arcs)| {
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".")
            == oid
    });
    if let Some((keyword, _)) = keyword
        && let Some(value) = attribute_string(attr.attr_value())
    {
        return format!("{keyword}={}", escape_rfc4514(&value));
    }
    let der = attr.attr_value().to_der_vec().unwrap_or_default();
    let hex: String = der.iter().map(|b| format!("{b:02X}")).collect();
    format!("{oid}=#{hex}")
}

/// Text of a string-typed attribute value.
fn attribute_string(value: &Any) -> Option<String> {
    if value.class() != Class::Universal {
        return None;
    }
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
        Tag::T61String => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString if data.len().is_multiple_of(2) => char::decode_utf16(
            data.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        Tag::UniversalString if data.len().is_multiple_of(4) => data
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

fn escape_rfc4514(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::process::Command;

    use super::*;
    use crate::api::{OtherName, PrivateKeyEncoding, SignatureAlgorithm, X509Subject};
    use crate::pki::keys::tests::generated;
    use crate::pki::keys::{KeySpec, parse_private_key_pem};

    pub(crate) fn key(algorithm: PrivateKeyAlgorithm, size: u32) -> ParsedKey {
        let spec = KeySpec {
            algorithm,
            size,
            encoding: PrivateKeyEncoding::Pkcs1,
        };
        parse_private_key_pem(generated(&spec).as_bytes()).unwrap()
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    /// A spec asking for every kind of identity.
    pub(crate) fn full_spec() -> CertificateSpec {
        CertificateSpec {
            common_name: Some("app.example.com".into()),
            subject: Some(X509Subject {
                organizations: strings(&["Example", "Example Holding"]),
                countries: strings(&["NL"]),
                organizational_units: strings(&["Ops"]),
                localities: strings(&["Amsterdam"]),
                provinces: strings(&["Noord-Holland"]),
                street_addresses: strings(&["Dam 1"]),
                postal_codes: strings(&["1012 JS"]),
                serial_number: Some("42".into()),
            }),
            dns_names: strings(&["app.example.com", "*.app.example.com"]),
            ip_addresses: strings(&["10.0.0.1", "2001:db8::1", "::ffff:192.0.2.7"]),
            uris: strings(&["spiffe://cluster.local/ns/a/sa/b"]),
            email_addresses: strings(&["admin@example.com"]),
            other_names: Some(vec![OtherName {
                oid: "1.3.6.1.4.1.311.20.2.3".into(),
                utf8_value: "user@EXAMPLE.COM".into(),
            }]),
            usages: Some(vec![
                KeyUsage::Signing,
                KeyUsage::KeyEncipherment,
                KeyUsage::ServerAuth,
                KeyUsage::ClientAuth,
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn every_identity_round_trips() {
        let key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let csr = build_csr(&full_spec(), &key).unwrap();
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        let info = parse_csr(csr.as_bytes()).unwrap();
        assert_eq!(
            info.subject,
            "CN=app.example.com,SERIALNUMBER=42,POSTALCODE=1012 JS,STREET=Dam 1,\
             ST=Noord-Holland,L=Amsterdam,OU=Ops,O=Example+O=Example Holding,C=NL"
        );
        assert_eq!(info.common_name.as_deref(), Some("app.example.com"));
        assert_eq!(info.dns_names, ["app.example.com", "*.app.example.com"]);
        assert_eq!(
            info.ip_addresses,
            [
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap(),
                "192.0.2.7".parse().unwrap(),
            ]
        );
        assert_eq!(info.uris, ["spiffe://cluster.local/ns/a/sa/b"]);
        assert_eq!(info.email_addresses, ["admin@example.com"]);
        assert_eq!(
            info.other_names,
            [OtherNameValue {
                oid: "1.3.6.1.4.1.311.20.2.3".into(),
                utf8_value: "user@EXAMPLE.COM".into()
            }]
        );
        assert_eq!(
            info.usages,
            Some(vec![
                KeyUsage::DigitalSignature,
                KeyUsage::KeyEncipherment,
                KeyUsage::ServerAuth,
                KeyUsage::ClientAuth
            ])
        );
        assert_eq!(info.is_ca, None);
        assert!(!info.requests_ca());
        assert_eq!(info.name_constraints, None);
        assert_eq!(info.public_key_der, key.info().public_key_der);
        assert_eq!(
            (info.key_algorithm, info.key_size),
            (PrivateKeyAlgorithm::Ecdsa, 256)
        );
        assert_eq!(parse_csr_der(&info.der).unwrap(), info);
    }

    #[test]
    fn usages_table() {
        use KeyUsage::*;
        struct Case {
            name: &'static str,
            usages: Option<Vec<KeyUsage>>,
            is_ca: Option<bool>,
            encode: Option<bool>,
            want_usages: Option<Vec<KeyUsage>>,
            want_ca: Option<bool>,
        }
        let cases = [
            Case {
                name: "defaults",
                usages: None,
                is_ca: None,
                encode: None,
                want_usages: Some(vec![DigitalSignature, KeyEncipherment]),
                want_ca: None,
            },
            Case {
                name: "empty list means defaults",
                usages: Some(vec![]),
                is_ca: None,
                encode: Some(true),
                want_usages: Some(vec![DigitalSignature, KeyEncipherment]),
                want_ca: None,
            },
            Case {
                name: "CA adds cert sign and basic constraints",
                usages: None,
                is_ca: Some(true),
                encode: None,
                want_usages: Some(vec![DigitalSignature, KeyEncipherment, CertSign]),
                want_ca: Some(true),
            },
            Case {
                name: "CA with explicit usages",
                usages: Some(vec![CrlSign]),
                is_ca: Some(true),
                encode: None,
                want_usages: Some(vec![CertSign, CrlSign]),
                want_ca: Some(true),
            },
            Case {
                name: "not encoded",
                usages: Some(vec![ServerAuth]),
                is_ca: None,
                encode: Some(false),
                want_usages: None,
                want_ca: None,
            },
            Case {
                name: "not encoded, CA still gets basic constraints",
                usages: None,
                is_ca: Some(true),
                encode: Some(false),
                want_usages: None,
                want_ca: Some(true),
            },
            Case {
                name: "only extended usages",
                usages: Some(vec![ServerAuth, ClientAuth, CodeSigning]),
                is_ca: Some(false),
                encode: None,
                want_usages: Some(vec![ServerAuth, ClientAuth, CodeSigning]),
                want_ca: None,
            },
            Case {
                name: "every key usage bit, including decipher only (second byte)",
                usages: Some(vec![
                    DigitalSignature,
                    ContentCommitment,
                    KeyEncipherment,
                    DataEncipherment,
                    KeyAgreement,
                    CertSign,
                    CrlSign,
                    EncipherOnly,
                    DecipherOnly,
                ]),
                is_ca: None,
                encode: None,
                want_usages: Some(vec![
                    DigitalSignature,
                    ContentCommitment,
                    KeyEncipherment,
                    DataEncipherment,
                    KeyAgreement,
                    CertSign,
                    CrlSign,
                    EncipherOnly,
                    DecipherOnly,
                ]),
                want_ca: None,
            },
            Case {
                name: "every extended usage; s/mime is email protection",
                usages: Some(vec![
                    Any,
                    ServerAuth,
                    ClientAuth,
                    CodeSigning,
                    EmailProtection,
                    SMime,
                    IpsecEndSystem,
                    IpsecTunnel,
                    IpsecUser,
                    Timestamping,
                    OcspSigning,
                    MicrosoftSgc,
                    NetscapeSgc,
                ]),
                is_ca: None,
                encode: None,
                want_usages: Some(vec![
                    Any,
                    ServerAuth,
                    ClientAuth,
                    CodeSigning,
                    EmailProtection,
                    IpsecEndSystem,
                    IpsecTunnel,
                    IpsecUser,
                    Timestamping,
                    OcspSigning,
                    MicrosoftSgc,
                    NetscapeSgc,
                ]),
                want_ca: None,
            },
        ];
        let key = key(PrivateKeyAlgorithm::Ed25519, 256);
        for case in cases {
            let spec = CertificateSpec {
                dns_names: strings(&["a.example"]),
                usages: case.usages.clone(),
                is_ca: case.is_ca,
                encode_usages_in_request: case.encode,
                ..Default::default()
            };
            let info = parse_csr(build_csr(&spec, &key).unwrap().as_bytes()).unwrap();
            assert_eq!(info.usages, case.want_usages, "{}", case.name);
            assert_eq!(info.is_ca, case.want_ca, "{}", case.name);
            let computed = Usages::for_request(
                case.usages.as_deref().unwrap_or_default(),
                case.is_ca.unwrap_or(false),
            );
            if case.encode != Some(false) {
                assert_eq!(
                    Some(computed.vocabulary()),
                    case.want_usages,
                    "{}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn key_usage_bit_string_encoding() {
        // digitalSignature + keyEncipherment = 1010 0000, five unused bits (Go: 03 02 05 a0).
        assert_eq!(key_usage_bit_string(0b101), vec![0x03, 0x02, 0x05, 0xa0]);
        // keyCertSign alone: 0000 0100, two unused bits.
        assert_eq!(key_usage_bit_string(1 << 5), vec![0x03, 0x02, 0x02, 0x04]);
        // decipherOnly spills into a second byte: 1000 0000 1000 0000, seven unused bits.
        assert_eq!(
            key_usage_bit_string(1 | 1 << 8),
            vec![0x03, 0x03, 0x07, 0x80, 0x80]
        );
    }

    #[test]
    fn literal_subject_table() {
        struct Case {
            literal: &'static str,
            // Expected RFC 4514 string read back (None: same as the input).
            back: Option<&'static str>,
            common_name: Option<&'static str>,
            // Attribute types in DER order.
            der_order: &'static [&'static str],
        }
        let cases = [
            Case {
                literal: "CN=app,O=Example,C=NL",
                back: None,
                common_name: Some("app"),
                der_order: &["2.5.4.6", "2.5.4.10", "2.5.4.3"],
            },
            Case {
                literal: "CN=app,OU=a,OU=b,DC=example,DC=com",
                back: None,
                common_name: Some("app"),
                der_order: &[
                    "0.9.2342.19200300.100.1.25",
                    "0.9.2342.19200300.100.1.25",
                    "2.5.4.11",
                    "2.5.4.11",
                    "2.5.4.3",
                ],
            },
            Case {
                literal: "UID=jdoe,STREET=Main 1,POSTALCODE=1234,SERIALNUMBER=7,L=Town,ST=Prov",
                back: None,
                common_name: None,
                der_order: &[
                    "2.5.4.8",
                    "2.5.4.7",
                    "2.5.4.5",
                    "2.5.4.17",
                    "2.5.4.9",
                    "0.9.2342.19200300.100.1.1",
                ],
            },
            Case {
                literal: "cn = spaced ; o=Lower",
                back: Some("CN=spaced,O=Lower"),
                common_name: Some("spaced"),
                der_order: &["2.5.4.10", "2.5.4.3"],
            },
            Case {
                literal: "CN=a\\,b\\+c\\\\d\\\"e\\<f\\>g\\;h,O=x",
                back: None,
                common_name: Some("a,b+c\\d\"e<f>g;h"),
                der_order: &["2.5.4.10", "2.5.4.3"],
            },
            Case {
                literal: "CN=\\ lead and trail\\ ,O=\\#hash",
                back: None,
                common_name: Some(" lead and trail "),
                der_order: &["2.5.4.10", "2.5.4.3"],
            },
            Case {
                literal: "CN=caf\\C3\\A9,O=\u{00e9}t\u{00e9}",
                back: Some("CN=caf\u{00e9},O=\u{00e9}t\u{00e9}"),
                common_name: Some("caf\u{00e9}"),
                der_order: &["2.5.4.10", "2.5.4.3"],
            },
            Case {
                literal: "CN=multi+O=valued,C=NL",
                back: None,
                common_name: Some("multi"),
                der_order: &["2.5.4.6", "2.5.4.3", "2.5.4.10"],
            },
            Case {
                literal: "2.5.4.3=by-oid,OID.2.5.4.10=prefixed",
                back: Some("CN=by-oid,O=prefixed"),
                common_name: Some("by-oid"),
                der_order: &["2.5.4.10", "2.5.4.3"],
            },
            Case {
                literal: "CN=x,2.5.4.12=Engineer",
                back: Some("CN=x,2.5.4.12=#1308456E67696E656572"),
                common_name: Some("x"),
                der_order: &["2.5.4.12", "2.5.4.3"],
            },
            Case {
                literal: "CN=x,1.2.3.4=#0C03616263",
                back: Some("CN=x,1.2.3.4=#0C03616263"),
                common_name: Some("x"),
                der_order: &["1.2.3.4", "2.5.4.3"],
            },
            Case {
                literal: "CN=a=b",
                back: None,
                common_name: Some("a=b"),
                der_order: &["2.5.4.3"],
            },
        ];
        let key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        for case in cases {
            let spec = CertificateSpec {
                literal_subject: Some(case.literal.into()),
                dns_names: strings(&["a.example"]),
                ..Default::default()
            };
            let info = parse_csr(build_csr(&spec, &key).unwrap().as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", case.literal));
            assert_eq!(
                info.subject,
                case.back.unwrap_or(case.literal),
                "{}",
                case.literal
            );
            assert_eq!(
                info.common_name.as_deref(),
                case.common_name,
                "{}",
                case.literal
            );
            let (_, name) = X509Name::from_der(&info.subject_der).unwrap();
            let order: Vec<String> = name
                .iter_attributes()
                .map(|a| a.attr_type().to_id_string())
                .collect();
            assert_eq!(order, case.der_order, "{}", case.literal);
        }
    }

    #[test]
    fn literal_subject_errors() {
        let cases = [
            ("", None),
            ("   ", Some("it is empty")),
            ("CN", Some("TYPE=value")),
            ("CN=a,", Some("ends with a separator")),
            ("CN=a,,O=b", Some("TYPE=value")),
            ("=a", Some("attribute type is missing")),
            ("FOO=a", Some("unknown attribute type \"FOO\"")),
            ("1.2.x=a", Some("unknown attribute type")),
            ("CN=a\\", Some("lone '\\'")),
            ("CN=a\\q", Some("\\q")),
            ("CN=\\FF\\FE", Some("not valid UTF-8")),
            ("CN=#zz", Some("after '#'")),
            ("CN=#0C05ab", Some("after '#'")),
        ];
        let key = key(PrivateKeyAlgorithm::Ed25519, 256);
        for (literal, fragment) in cases {
            let spec = CertificateSpec {
                literal_subject: Some(literal.into()),
                dns_names: strings(&["a.example"]),
                ..Default::default()
            };
            match (build_csr(&spec, &key), fragment) {
                // An empty literalSubject is treated as unset.
                (Ok(_), None) => {}
                (Err(e @ CsrError::ParseLiteralSubject { .. }), Some(fragment)) => {
                    let message = e.to_string();
                    assert!(message.contains(fragment), "{literal:?}: {message}");
                    assert!(message.contains("spec.literalSubject"), "{message}");
                }
                (got, _) => panic!("{literal:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn build_errors_table() {
        let key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let base = CertificateSpec {
            dns_names: strings(&["a.example"]),
            ..Default::default()
        };
        let cases: Vec<(&str, CertificateSpec, &str)> = vec![
            (
                "no identity",
                CertificateSpec::default(),
                "names no identity",
            ),
            (
                "literal subject without CN and no SAN",
                CertificateSpec {
                    literal_subject: Some("O=Example".into()),
                    ..Default::default()
                },
                "names no identity",
            ),
            (
                "bad IP",
                CertificateSpec {
                    ip_addresses: strings(&["10.0.0.300"]),
                    ..base.clone()
                },
                "\"10.0.0.300\" is not an IPv4 or IPv6 address",
            ),
            (
                "IP with zone",
                CertificateSpec {
                    ip_addresses: strings(&["fe80::1%eth0"]),
                    ..base.clone()
                },
                "is not an IPv4 or IPv6 address",
            ),
            (
                "unicode DNS name",
                CertificateSpec {
                    dns_names: strings(&["bücher.example"]),
                    ..Default::default()
                },
                "spec.dnsNames: \"bücher.example\"",
            ),
            (
                "unicode email",
                CertificateSpec {
                    email_addresses: strings(&["jörg@example.com"]),
                    ..base.clone()
                },
                "spec.emailAddresses",
            ),
            (
                "bad otherName OID",
                CertificateSpec {
                    other_names: Some(vec![OtherName {
                        oid: "1.3.6.x".into(),
                        utf8_value: "v".into(),
                    }]),
                    ..base.clone()
                },
                "spec.otherNames.oid: \"1.3.6.x\"",
            ),
            (
                "bad CIDR",
                CertificateSpec {
                    is_ca: Some(true),
                    name_constraints: Some(NameConstraints {
                        permitted: Some(NameConstraintItem {
                            ip_ranges: strings(&["10.0.0.0/33"]),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..base.clone()
                },
                "spec.nameConstraints.permitted.ipRanges: \"10.0.0.0/33\"",
            ),
            (
                "signature algorithm that does not fit the key",
                CertificateSpec {
                    signature_algorithm: Some(SignatureAlgorithm::SHA256WithRSA),
                    ..base.clone()
                },
                "spec.signatureAlgorithm",
            ),
        ];
        for (name, spec, fragment) in cases {
            let message = build_csr(&spec, &key).unwrap_err().to_string();
            assert!(message.contains(fragment), "{name}: {message}");
        }
    }

    #[test]
    fn only_sans_make_the_san_critical_and_subject_empty() {
        let key = key(PrivateKeyAlgorithm::Ecdsa, 384);
        let spec = CertificateSpec {
            uris: strings(&["spiffe://example/ns/x"]),
            ..Default::default()
        };
        let csr = build_csr(&spec, &key).unwrap();
        let info = parse_csr(csr.as_bytes()).unwrap();
        assert_eq!(info.subject, "");
        assert_eq!(info.subject_der, [0x30, 0]);
        assert_eq!(info.common_name, None);
        let (_, request) = X509CertificationRequest::from_der(&info.der).unwrap();
        let san_critical = request
            .certification_request_info
            .iter_attributes()
            .find_map(|a| match a.parsed_attribute() {
                ParsedCriAttribute::ExtensionRequest(r) => Some(
                    r.extensions
                        .iter()
                        .find(|e| e.oid.to_id_string() == "2.5.29.17")
                        .unwrap()
                        .critical,
                ),
                _ => None,
            });
        assert_eq!(san_critical, Some(true));
    }

    #[test]
    fn name_constraints_round_trip() {
        let key = key(PrivateKeyAlgorithm::Rsa, 2048);
        let constraints = NameConstraints {
            critical: Some(true),
            permitted: Some(NameConstraintItem {
                dns_domains: strings(&["example.com", ".internal"]),
                ip_ranges: strings(&["10.0.0.0/8", "192.168.1.77/24", "2001:db8::/32"]),
                email_addresses: strings(&["example.com"]),
                uri_domains: strings(&[".example.com"]),
            }),
            excluded: Some(NameConstraintItem {
                dns_domains: strings(&["bad.example.com"]),
                ..Default::default()
            }),
        };
        let spec = CertificateSpec {
            common_name: Some("Example CA".into()),
            is_ca: Some(true),
            name_constraints: Some(constraints.clone()),
            ..Default::default()
        };
        let info = parse_csr(build_csr(&spec, &key).unwrap().as_bytes()).unwrap();
        let mut want = constraints;
        // Host bits are cleared, as Go's net.ParseCIDR does.
        want.permitted.as_mut().unwrap().ip_ranges =
            strings(&["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"]);
        assert_eq!(info.name_constraints, Some(want));
        assert!(info.requests_ca());
        assert_eq!(
            (info.key_algorithm, info.key_size),
            (PrivateKeyAlgorithm::Rsa, 2048)
        );

        // Not critical unless asked; empty constraints leave the extension out.
        let spec = CertificateSpec {
            name_constraints: Some(NameConstraints {
                permitted: Some(NameConstraintItem {
                    dns_domains: strings(&["example.com"]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..spec
        };
        let info = parse_csr(build_csr(&spec, &key).unwrap().as_bytes()).unwrap();
        assert_eq!(info.name_constraints.unwrap().critical, None);
        let spec = CertificateSpec {
            name_constraints: Some(NameConstraints::default()),
            ..spec
        };
        let info = parse_csr(build_csr(&spec, &key).unwrap().as_bytes()).unwrap();
        assert_eq!(info.name_constraints, None);
    }

    #[test]
    fn every_key_kind_signs_with_the_expected_algorithm() {
        use PrivateKeyAlgorithm::*;
        let cases = [
            (Rsa, 2048, None, "1.2.840.113549.1.1.11"),
            (Rsa, 3072, None, "1.2.840.113549.1.1.12"),
            (Rsa, 4096, None, "1.2.840.113549.1.1.13"),
            (
                Rsa,
                4096,
                Some(SignatureAlgorithm::SHA256WithRSA),
                "1.2.840.113549.1.1.11",
            ),
            (Ecdsa, 256, None, "1.2.840.10045.4.3.2"),
            (Ecdsa, 384, None, "1.2.840.10045.4.3.3"),
            (Ecdsa, 521, None, "1.2.840.10045.4.3.4"),
            (
                Ecdsa,
                521,
                Some(SignatureAlgorithm::ECDSAWithSHA256),
                "1.2.840.10045.4.3.2",
            ),
            (Ed25519, 256, None, "1.3.101.112"),
        ];
        for (algorithm, size, signature_algorithm, want) in cases {
            let key = key(algorithm, size);
            let spec = CertificateSpec {
                common_name: Some("x".into()),
                signature_algorithm,
                ..Default::default()
            };
            let info = parse_csr(build_csr(&spec, &key).unwrap().as_bytes()).unwrap();
            let (_, csr) = X509CertificationRequest::from_der(&info.der).unwrap();
            assert_eq!(
                csr.signature_algorithm.algorithm.to_id_string(),
                want,
                "{algorithm:?} {size}"
            );
            assert_eq!((info.key_algorithm, info.key_size), (algorithm, size));
        }
    }

    /// Flips one character inside the CSR's common name.
    pub(crate) fn tamper(csr_pem: &str, needle: &[u8]) -> String {
        let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes()).unwrap();
        let mut der = der.as_ref().to_vec();
        let at = der
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("needle in CSR");
        der[at] ^= 0x01;
        pem_encode("CERTIFICATE REQUEST", &der)
    }

    #[test]
    fn tampered_and_malformed_csrs_are_refused() {
        let key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let spec = CertificateSpec {
            common_name: Some("tampered.example".into()),
            ..Default::default()
        };
        let csr = build_csr(&spec, &key).unwrap();
        assert!(parse_csr(csr.as_bytes()).is_ok());
        let tampered = tamper(&csr, b"tampered.example");
        assert!(matches!(
            parse_csr(tampered.as_bytes()),
            Err(CsrError::SignatureInvalid)
        ));
        assert!(matches!(parse_csr(b""), Err(CsrError::NoCsrPem)));
        assert!(matches!(
            parse_csr(pem_encode("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x00").as_bytes()),
            Err(CsrError::ParseCsr(_))
        ));
        assert!(matches!(
            parse_csr(pem_encode("CERTIFICATE", b"\x30\x00").as_bytes()),
            Err(CsrError::NoCsrPem)
        ));
    }

    #[test]
    fn rfc4514_escaping() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "a\\,b"),
            (" lead", "\\ lead"),
            ("trail ", "trail\\ "),
            ("#first", "\\#first"),
            ("mid#dle", "mid#dle"),
            ("q\"<>;+\\", "q\\\"\\<\\>\\;\\+\\\\"),
        ];
        for (value, want) in cases {
            assert_eq!(escape_rfc4514(value), want);
            let parsed = parse_rfc4514(&format!("CN={want}")).unwrap();
            assert_eq!(
                parsed,
                vec![vec![(OID_CN.to_vec(), AttributeValue::Text(value.into()))]],
                "{want}"
            );
        }
        assert_eq!(rfc4514_der(&[0x30, 0]).as_deref(), Some(""), "empty name");
        assert_eq!(rfc4514_der(b"\x30\x05"), None);
    }

    #[test]
    fn strings_use_printable_or_utf8_like_go() {
        assert_eq!(directory_string("Example Org"), b"\x13\x0bExample Org");
        // '*', '@', '&' and non-ASCII are outside PrintableString.
        assert_eq!(directory_string("*.example")[0], der::UTF8_STRING);
        assert_eq!(directory_string("a@b")[0], der::UTF8_STRING);
        assert_eq!(directory_string("A&B")[0], der::UTF8_STRING);
        assert_eq!(directory_string("Zürich")[0], der::UTF8_STRING);
    }

    /// openssl, when installed, reads the CSR the same way: subject in DER order, otherName,
    /// and a valid signature.
    #[test]
    fn openssl_reads_the_csr() {
        if Command::new("openssl").arg("version").output().is_err() {
            return;
        }
        let key = key(PrivateKeyAlgorithm::Rsa, 2048);
        let mut spec = full_spec();
        spec.is_ca = Some(true);
        spec.name_constraints = Some(NameConstraints {
            critical: Some(true),
            permitted: Some(NameConstraintItem {
                dns_domains: strings(&["example.com"]),
                uri_domains: strings(&[".example.com"]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let csr = build_csr(&spec, &key).unwrap();
        let dir = std::env::temp_dir().join(format!("certsmith-csr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("req.pem");
        std::fs::write(&path, &csr).unwrap();
        let out = Command::new("openssl")
            .args([
                "req", "-noout", "-text", "-verify", "-nameopt", "RFC2253", "-in",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        std::fs::remove_dir_all(&dir).unwrap();
        for want in [
            "verify OK",
            "Subject: CN=app.example.com,serialNumber=42,postalCode=1012 JS,street=Dam 1,ST=Noord-Holland,L=Amsterdam,OU=Ops,O=Example Holding+O=Example,C=NL",
            "DNS:app.example.com, DNS:*.app.example.com, email:admin@example.com, IP Address:10.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:192.0.2.7, URI:spiffe://cluster.local/ns/a/sa/b, othername: UPN:",
            ":user@EXAMPLE.COM",
            "X509v3 Key Usage: critical",
            "Digital Signature, Key Encipherment, Certificate Sign",
            "TLS Web Server Authentication, TLS Web Client Authentication",
            "X509v3 Basic Constraints: critical",
            "CA:TRUE",
            "X509v3 Name Constraints: critical",
            "DNS:example.com",
            "URI:.example.com",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }

    #[test]
    fn csr_of_a_parsed_pkcs8_key() {
        let generated = key(PrivateKeyAlgorithm::Ecdsa, 521);
        let pem = generated.to_pem(PrivateKeyEncoding::Pkcs8).unwrap();
        let parsed = parse_private_key_pem(pem.as_bytes()).unwrap();
        let spec = CertificateSpec {
            common_name: Some("x".into()),
            ..Default::default()
        };
        let info = parse_csr(build_csr(&spec, &parsed).unwrap().as_bytes()).unwrap();
        assert_eq!(info.public_key_der, generated.info().public_key_der);
    }
}
