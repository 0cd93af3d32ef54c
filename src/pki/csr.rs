//! Certificate signing requests: [`build_csr`] turns a Certificate spec and its key into a
//! PKCS#10 CSR carrying every identity the spec asks for, as cert-manager's `pki.GenerateCSR`
//! does; [`parse_csr`] reads one back, verifying its signature.
//!
//! What goes into the CSR, following cert-manager:
//! - subject: `literalSubject` (RFC 4514, written in reverse string order, so
//!   `CN=app,O=Example` becomes the DER sequence O, CN), or the fields of `subject` plus
//!   `commonName` in Go's `pkix.Name.ToRDNSequence` order (C, ST, L, STREET, POSTALCODE, O,
//!   OU, CN, SERIALNUMBER), several values of one field forming one multi-valued RDN. Strings are
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
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;

use super::OtherNameValue;
use super::der::{self, pem_encode};
use super::extensions::{
    Usages, basic_constraints_extension, cidr_string, name_constraints_extension,
    subject_alt_name_extension, subject_alt_names_for_spec, usages_vocabulary,
};
use super::keys::{
    KeyError, ParsedKey, key_info_of, sign_der, signature_algorithm_der, verify_signature,
};
use super::names::{attribute_string, rfc4514, subject_for_spec};
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

/// PKCS#9 extensionRequest, the CSR attribute holding the requested extensions.
const OID_EXTENSION_REQUEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 14];

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
        extensions.push(subject_alt_name_extension(san, subject_empty));
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
    parse_csr_der(&csr_pem_to_der(pem)?)
}

/// The DER of the first `CERTIFICATE REQUEST` PEM block (what ACME finalization sends).
pub fn csr_pem_to_der(pem: &[u8]) -> Result<Vec<u8>, CsrError> {
    let der = CertificateSigningRequestDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => CsrError::NoCsrPem,
        other => CsrError::MalformedPem(other.to_string()),
    })?;
    Ok(der.as_ref().to_vec())
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

#[cfg(test)]
pub(crate) mod tests {
    use std::process::Command;

    use x509_parser::x509::X509Name;

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
            "SERIALNUMBER=42,CN=app.example.com,OU=Ops,O=Example+O=Example Holding,\
             POSTALCODE=1012 JS,STREET=Dam 1,L=Amsterdam,ST=Noord-Holland,C=NL"
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
            "Subject: serialNumber=42,CN=app.example.com,OU=Ops,O=Example Holding+O=Example,postalCode=1012 JS,street=Dam 1,L=Amsterdam,ST=Noord-Holland,C=NL",
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
