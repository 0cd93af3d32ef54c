//! X.509 inspection: PEM certificates in, [`CertificateInfo`] out, in the terms a Certificate
//! spec uses (names, usages, key algorithm and size).
//!
//! Names are rendered as RFC 4514 strings the way Go's `pkix.Name.String` does (and so
//! `cmctl`), with `names::rfc4514_go`: last RDN first, `,` between RDNs, `+` inside one,
//! short names for the well-known attributes, and `OID=#hex` (the DER of the value) otherwise.

use std::fmt::Write as _;
use std::net::IpAddr;

use jiff::Timestamp;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::asn1_rs::{Any, Class, FromDer as _, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::names::{last_string, rfc4514_go, strings};
use crate::api::{KeyUsage, PrivateKeyAlgorithm};
use crate::pki::{CertificateInfo, OtherNameValue};

/// Why certificate data could not be inspected. `index` counts certificates in the PEM data
/// from 0 (the leaf).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("PEM data is malformed: {0}")]
    Pem(String),
    #[error("no CERTIFICATE block found in the PEM data")]
    NoCertificates,
    #[error("certificate {index} is not a valid DER X.509 certificate: {reason}")]
    Der { index: usize, reason: String },
    #[error(
        "certificate {index} is followed by {len} bytes of unexpected data inside its PEM block"
    )]
    TrailingData { index: usize, len: usize },
    #[error("certificate {index} has a {what} extension that cannot be read: {reason}")]
    Extension {
        index: usize,
        what: &'static str,
        reason: String,
    },
    #[error(
        "certificate {index} has a public key certsmith does not handle ({what}); supported are RSA, ECDSA P-256/P-384/P-521 and Ed25519"
    )]
    UnsupportedKey { index: usize, what: String },
    #[error("certificate {index} has a validity time outside the supported range")]
    Validity { index: usize },
}

/// Parses every `CERTIFICATE` block of PEM data (a chain, leaf first) into [`CertificateInfo`]s,
/// in order. Other PEM blocks (such as a private key) are skipped. Fails if there is no
/// certificate, or if any certificate cannot be read.
pub fn parse_certificates_pem(pem: &[u8]) -> Result<Vec<CertificateInfo>, InspectError> {
    let mut infos = Vec::new();
    for (index, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = der.map_err(|e| InspectError::Pem(e.to_string()))?;
        infos.push(inspect_der(index, der.as_ref())?);
    }
    if infos.is_empty() {
        return Err(InspectError::NoCertificates);
    }
    Ok(infos)
}

/// Parses one DER certificate. Errors carry `index` 0.
pub fn parse_certificate_der(der: &[u8]) -> Result<CertificateInfo, InspectError> {
    inspect_der(0, der)
}

fn inspect_der(index: usize, der: &[u8]) -> Result<CertificateInfo, InspectError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| InspectError::Der {
        index,
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(InspectError::TrailingData {
            index,
            len: rest.len(),
        });
    }
    let ext_err = |what: &'static str| {
        move |e: x509_parser::error::X509Error| InspectError::Extension {
            index,
            what,
            reason: e.to_string(),
        }
    };

    let subject = cert.subject();
    let issuer = cert.issuer();

    let mut info = CertificateInfo {
        subject: rfc4514_go(subject),
        common_name: last_string(subject, OID_CN),
        organizations: strings(subject, OID_O),
        issuer: rfc4514_go(issuer),
        issuer_common_name: last_string(issuer, OID_CN),
        serial_hex: format!("{:x}", cert.serial),
        not_before: timestamp(cert.validity().not_before)
            .ok_or(InspectError::Validity { index })?,
        not_after: timestamp(cert.validity().not_after).ok_or(InspectError::Validity { index })?,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        email_addresses: Vec::new(),
        other_names: Vec::new(),
        is_ca: false,
        usages: Vec::new(),
        public_key_der: cert.public_key().raw.to_vec(),
        key_algorithm: PrivateKeyAlgorithm::default(),
        key_size: 0,
        sha256_fingerprint: hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref()),
    };

    if let Some(san) = cert
        .subject_alternative_name()
        .map_err(ext_err("subjectAltName"))?
    {
        for name in &san.value.general_names {
            add_san(index, &mut info, name)?;
        }
    }

    if let Some(bc) = cert
        .basic_constraints()
        .map_err(ext_err("basicConstraints"))?
    {
        info.is_ca = bc.value.ca;
    }

    if let Some(ku) = cert.key_usage().map_err(ext_err("keyUsage"))? {
        let ku = ku.value;
        let bits = [
            (ku.digital_signature(), KeyUsage::DigitalSignature),
            (ku.non_repudiation(), KeyUsage::ContentCommitment),
            (ku.key_encipherment(), KeyUsage::KeyEncipherment),
            (ku.data_encipherment(), KeyUsage::DataEncipherment),
            (ku.key_agreement(), KeyUsage::KeyAgreement),
            (ku.key_cert_sign(), KeyUsage::CertSign),
            (ku.crl_sign(), KeyUsage::CrlSign),
            (ku.encipher_only(), KeyUsage::EncipherOnly),
            (ku.decipher_only(), KeyUsage::DecipherOnly),
        ];
        info.usages
            .extend(bits.into_iter().filter(|(set, _)| *set).map(|(_, u)| u));
    }
    if let Some(eku) = cert
        .extended_key_usage()
        .map_err(ext_err("extendedKeyUsage"))?
    {
        let eku = eku.value;
        let flags = [
            (eku.any, KeyUsage::Any),
            (eku.server_auth, KeyUsage::ServerAuth),
            (eku.client_auth, KeyUsage::ClientAuth),
            (eku.code_signing, KeyUsage::CodeSigning),
            (eku.email_protection, KeyUsage::EmailProtection),
            (eku.time_stamping, KeyUsage::Timestamping),
            (eku.ocsp_signing, KeyUsage::OcspSigning),
        ];
        info.usages
            .extend(flags.into_iter().filter(|(set, _)| *set).map(|(_, u)| u));
        for oid in &eku.other {
            let usage = match oid.to_id_string().as_str() {
                "1.3.6.1.5.5.7.3.5" => KeyUsage::IpsecEndSystem,
                "1.3.6.1.5.5.7.3.6" => KeyUsage::IpsecTunnel,
                "1.3.6.1.5.5.7.3.7" => KeyUsage::IpsecUser,
                "1.3.6.1.4.1.311.10.3.3" => KeyUsage::MicrosoftSgc,
                "2.16.840.1.113730.4.1" => KeyUsage::NetscapeSgc,
                // No name for it in cert-manager's vocabulary.
                _ => continue,
            };
            info.usages.push(usage);
        }
    }
    info.usages.sort();
    info.usages.dedup();

    let (algorithm, size) = key_algorithm(index, cert.public_key())?;
    info.key_algorithm = algorithm;
    info.key_size = size;
    Ok(info)
}

fn add_san(
    index: usize,
    info: &mut CertificateInfo,
    name: &GeneralName,
) -> Result<(), InspectError> {
    let invalid = |reason: String| InspectError::Extension {
        index,
        what: "subjectAltName",
        reason,
    };
    match name {
        GeneralName::DNSName(s) => info.dns_names.push((*s).to_owned()),
        GeneralName::RFC822Name(s) => info.email_addresses.push((*s).to_owned()),
        GeneralName::URI(s) => info.uris.push((*s).to_owned()),
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("length checked")),
                16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("length checked")),
                n => return Err(invalid(format!("an IP address of {n} bytes"))),
            };
            info.ip_addresses.push(ip);
        }
        GeneralName::OtherName(oid, value) => {
            // value is `[0] EXPLICIT ANY`; only UTF8String values have a place in the spec.
            let (_, tagged) =
                Any::from_der(value).map_err(|e| invalid(format!("otherName {oid}: {e}")))?;
            if tagged.class() != Class::ContextSpecific || tagged.tag() != Tag(0) {
                return Err(invalid(format!("otherName {oid} value is not [0]-tagged")));
            }
            let (_, inner) =
                Any::from_der(tagged.data).map_err(|e| invalid(format!("otherName {oid}: {e}")))?;
            if inner.tag() == Tag::Utf8String
                && let Ok(s) = std::str::from_utf8(inner.data)
            {
                info.other_names.push(OtherNameValue {
                    oid: oid.to_id_string(),
                    utf8_value: s.to_owned(),
                });
            }
        }
        GeneralName::Invalid(tag, _) => {
            return Err(invalid(format!("a malformed name (tag {tag})")));
        }
        // Directory names, registered IDs, X.400 and EDI party names have no spec field.
        _ => {}
    }
    Ok(())
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

fn key_algorithm(
    index: usize,
    spki: &SubjectPublicKeyInfo,
) -> Result<(PrivateKeyAlgorithm, u32), InspectError> {
    let unsupported = |what: String| InspectError::UnsupportedKey { index, what };
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_RSA => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok((PrivateKeyAlgorithm::Rsa, bit_length(rsa.modulus))),
            _ => Err(unsupported("an RSA key that cannot be read".into())),
        },
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag() == Tag::Oid)
                .and_then(|p| p.clone().oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some(OID_P256) => Ok((PrivateKeyAlgorithm::Ecdsa, 256)),
                Some(OID_P384) => Ok((PrivateKeyAlgorithm::Ecdsa, 384)),
                Some(OID_P521) => Ok((PrivateKeyAlgorithm::Ecdsa, 521)),
                Some(other) => Err(unsupported(format!("an EC key on curve {other}"))),
                None => Err(unsupported("an EC key without a named curve".into())),
            }
        }
        OID_ED25519 => Ok((PrivateKeyAlgorithm::Ed25519, 256)),
        other => Err(unsupported(format!("key algorithm {other}"))),
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes and bits ignored).
fn bit_length(be: &[u8]) -> u32 {
    let be = match be.iter().position(|&b| b != 0) {
        Some(first) => &be[first..],
        None => return 0,
    };
    (be.len() as u32 - 1) * 8 + (8 - be[0].leading_zeros())
}

fn timestamp(t: ASN1Time) -> Option<Timestamp> {
    Timestamp::from_second(t.timestamp()).ok()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

const OID_CN: &str = "2.5.4.3";
const OID_O: &str = "2.5.4.10";

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _,
        SanType, SerialNumber, date_time_ymd,
    };

    struct Issued {
        pem: String,
        der: Vec<u8>,
        spki: Vec<u8>,
    }

    fn ca() -> (CertificateParams, KeyPair, Issued) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example CA");
        params
            .distinguished_name
            .push(DnType::CommonName, "Example Root");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2026, 1, 1);
        params.not_after = date_time_ymd(2036, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let issued = Issued {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
        };
        (params, key, issued)
    }

    fn leaf_params() -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "app.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example, Inc.");
        params.serial_number = Some(SerialNumber::from_slice(&[0x01, 0xab, 0xcd]));
        params.not_before = date_time_ymd(2026, 1, 1);
        params.not_after = date_time_ymd(2026, 4, 1);
        params.subject_alt_names = vec![
            SanType::DnsName("app.example.com".try_into().unwrap()),
            SanType::DnsName("*.app.example.com".try_into().unwrap()),
            SanType::IpAddress("10.0.0.1".parse().unwrap()),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
            SanType::URI("spiffe://cluster.local/ns/a/sa/b".try_into().unwrap()),
            SanType::Rfc822Name("admin@example.com".try_into().unwrap()),
            SanType::OtherName((
                vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
                "user@example.com".into(),
            )),
        ];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 5]),
            ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
            // Not in cert-manager's vocabulary: ignored.
            ExtendedKeyUsagePurpose::Other(vec![1, 2, 3, 4]),
        ];
        params
    }

    fn sign(params: &CertificateParams, key: &KeyPair) -> Issued {
        let (ca_params, ca_key, _) = ca();
        let issuer = Issuer::new(ca_params, ca_key);
        let cert = params.signed_by(key, &issuer).unwrap();
        Issued {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
        }
    }

    fn self_signed(params: &CertificateParams, key: &KeyPair) -> Issued {
        let cert = params.self_signed(key).unwrap();
        Issued {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
        }
    }

    fn sha256_hex(der: &[u8]) -> String {
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
    }

    #[test]
    fn reads_every_field_of_a_chain() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let (ca_params, ca_key, ca) = ca();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_cert = leaf_params().signed_by(&key, &issuer).unwrap();
        let chain = format!("{}{}", leaf_cert.pem(), ca.pem);

        let infos = parse_certificates_pem(chain.as_bytes()).unwrap();
        assert_eq!(infos.len(), 2);
        let leaf = &infos[0];
        assert_eq!(
            leaf,
            &CertificateInfo {
                subject: r"O=Example\, Inc.,CN=app.example.com".into(),
                common_name: Some("app.example.com".into()),
                organizations: vec!["Example, Inc.".into()],
                issuer: "CN=Example Root,O=Example CA".into(),
                issuer_common_name: Some("Example Root".into()),
                serial_hex: "1abcd".into(),
                not_before: "2026-01-01T00:00:00Z".parse().unwrap(),
                not_after: "2026-04-01T00:00:00Z".parse().unwrap(),
                dns_names: vec!["app.example.com".into(), "*.app.example.com".into()],
                ip_addresses: vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
                uris: vec!["spiffe://cluster.local/ns/a/sa/b".into()],
                email_addresses: vec!["admin@example.com".into()],
                other_names: vec![OtherNameValue {
                    oid: "1.3.6.1.4.1.311.20.2.3".into(),
                    utf8_value: "user@example.com".into(),
                }],
                is_ca: false,
                usages: vec![
                    KeyUsage::DigitalSignature,
                    KeyUsage::KeyEncipherment,
                    KeyUsage::ServerAuth,
                    KeyUsage::ClientAuth,
                    KeyUsage::IpsecEndSystem,
                    KeyUsage::MicrosoftSgc,
                ],
                public_key_der: key.subject_public_key_info(),
                key_algorithm: PrivateKeyAlgorithm::Ecdsa,
                key_size: 256,
                sha256_fingerprint: sha256_hex(leaf_cert.der()),
            }
        );
        assert_eq!(leaf.sha256_fingerprint.len(), 64);

        let root = &infos[1];
        assert_eq!(root.subject, "CN=Example Root,O=Example CA");
        assert_eq!(root.subject, root.issuer);
        assert!(root.is_ca);
        assert_eq!(root.usages, vec![KeyUsage::CertSign, KeyUsage::CrlSign]);
        assert_eq!(
            (root.key_algorithm, root.key_size),
            (PrivateKeyAlgorithm::Ecdsa, 384)
        );
        assert_eq!(root.public_key_der, ca.spki);
        assert_eq!(root.sha256_fingerprint, sha256_hex(&ca.der));
        assert!(root.dns_names.is_empty() && root.other_names.is_empty());
    }

    #[test]
    fn key_algorithms_and_sizes() {
        use rcgen::RsaKeySize;
        let keys: Vec<(KeyPair, PrivateKeyAlgorithm, u32)> = vec![
            (
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap(),
                PrivateKeyAlgorithm::Rsa,
                2048,
            ),
            (
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072).unwrap(),
                PrivateKeyAlgorithm::Rsa,
                3072,
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
                PrivateKeyAlgorithm::Ecdsa,
                256,
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
                PrivateKeyAlgorithm::Ecdsa,
                384,
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap(),
                PrivateKeyAlgorithm::Ecdsa,
                521,
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
                PrivateKeyAlgorithm::Ed25519,
                256,
            ),
        ];
        for (key, algorithm, size) in keys {
            let issued = self_signed(&leaf_params(), &key);
            let info = parse_certificate_der(&issued.der).unwrap();
            assert_eq!((info.key_algorithm, info.key_size), (algorithm, size));
            assert_eq!(info.public_key_der, issued.spki, "{algorithm:?} {size}");
            // Self-signed: subject and issuer agree.
            assert_eq!(info.subject, info.issuer);
        }
    }

    #[test]
    fn ca_certificate_without_extensions_of_a_leaf() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let issued = self_signed(&params, &key);
        let info = parse_certificate_der(&issued.der).unwrap();
        assert!(info.is_ca);
        assert_eq!(info.subject, "");
        assert_eq!(info.common_name, None);
        assert!(info.organizations.is_empty());
        assert!(info.usages.is_empty());
    }

    #[test]
    fn rfc4514_names() {
        let table: &[(&[(DnType, &str)], &str)] = &[
            (&[(DnType::CommonName, "a")], "CN=a"),
            (
                &[
                    (DnType::CountryName, "NL"),
                    (DnType::StateOrProvinceName, "Noord-Holland"),
                    (DnType::LocalityName, "Amsterdam"),
                    (DnType::OrganizationName, "Example"),
                    (DnType::OrganizationalUnitName, "Ops"),
                    (DnType::CommonName, "app"),
                ],
                "CN=app,OU=Ops,O=Example,L=Amsterdam,ST=Noord-Holland,C=NL",
            ),
            (
                &[(DnType::CommonName, r#" #a,b+c"d\e<f>g;h "#)],
                r#"CN=\ #a\,b\+c\"d\\e\<f\>g\;h\ "#,
            ),
            (&[(DnType::CommonName, "#x")], r"CN=\#x"),
            (&[(DnType::CommonName, "a=b")], "CN=a=b"),
            (&[(DnType::CommonName, "ünïcødé")], "CN=ünïcødé"),
            (
                &[(
                    DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
                    "example",
                )],
                "DC=example",
            ),
            (
                &[(DnType::CustomDnType(vec![2, 5, 4, 5]), "1234")],
                "SERIALNUMBER=1234",
            ),
            (
                &[(DnType::CustomDnType(vec![2, 5, 4, 17]), "1011AB")],
                "POSTALCODE=1011AB",
            ),
            (
                &[(DnType::CustomDnType(vec![2, 5, 4, 9]), "Dam 1")],
                "STREET=Dam 1",
            ),
            // Unknown types print the DER of the value in hex (a UTF8String "hi": 0c 02 68 69).
            (
                &[(DnType::CustomDnType(vec![1, 2, 3, 4]), "hi")],
                "1.2.3.4=#0c026869",
            ),
        ];
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        for (attrs, want) in table {
            let mut params = CertificateParams::default();
            params.distinguished_name = DistinguishedName::new();
            for (ty, value) in attrs.iter() {
                params.distinguished_name.push(ty.clone(), *value);
            }
            let info = parse_certificate_der(&self_signed(&params, &key).der).unwrap();
            assert_eq!(&info.subject, want);
        }
    }

    #[test]
    fn string_types_of_attribute_values() {
        use rcgen::DnValue;
        let table: Vec<(DnValue, &str)> = vec![
            (DnValue::PrintableString("abc".try_into().unwrap()), "abc"),
            (DnValue::Ia5String("abc".try_into().unwrap()), "abc"),
            (DnValue::BmpString("añ€".try_into().unwrap()), "añ€"),
            (DnValue::UniversalString("añ€".try_into().unwrap()), "añ€"),
            (DnValue::TeletexString("abc".try_into().unwrap()), "abc"),
        ];
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        for (value, want) in table {
            let mut params = CertificateParams::default();
            params.distinguished_name = DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, value);
            let info = parse_certificate_der(&self_signed(&params, &key).der).unwrap();
            assert_eq!(info.common_name.as_deref(), Some(want));
            assert_eq!(info.subject, format!("CN={want}"));
        }
    }

    #[test]
    fn pem_with_other_blocks_and_errors() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let issued = sign(&leaf_params(), &key);

        // A private key block before the certificate is skipped.
        let with_key = format!("{}{}", key.serialize_pem(), issued.pem);
        let infos = parse_certificates_pem(with_key.as_bytes()).unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].public_key_der, issued.spki);

        assert_eq!(
            parse_certificates_pem(b""),
            Err(InspectError::NoCertificates)
        );
        assert_eq!(
            parse_certificates_pem(key.serialize_pem().as_bytes()),
            Err(InspectError::NoCertificates)
        );
        assert_eq!(
            parse_certificates_pem(b"not pem at all"),
            Err(InspectError::NoCertificates)
        );
        let truncated = &issued.pem[..issued.pem.len() - 30];
        assert!(matches!(
            parse_certificates_pem(truncated.as_bytes()),
            Err(InspectError::Pem(_))
        ));

        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let chain = format!("{}{garbage}", issued.pem);
        assert!(matches!(
            parse_certificates_pem(chain.as_bytes()),
            Err(InspectError::Der { index: 1, .. })
        ));

        let mut trailing = issued.der.clone();
        trailing.extend_from_slice(&[0, 0]);
        assert_eq!(
            parse_certificate_der(&trailing),
            Err(InspectError::TrailingData { index: 0, len: 2 })
        );
        let err = parse_certificate_der(&issued.der[..40]).unwrap_err();
        assert!(matches!(err, InspectError::Der { index: 0, .. }), "{err}");
    }

    /// A subjectAltName extension built by hand: SEQUENCE of the given GeneralNames.
    fn san_extension(names: &[u8]) -> CustomExtension {
        let mut der = vec![0x30, names.len() as u8];
        der.extend_from_slice(names);
        CustomExtension::from_oid_content(&[2, 5, 29, 17], der)
    }

    #[test]
    fn malformed_and_unusual_sans() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let with_san = |names: &[u8]| {
            let mut params = CertificateParams::default();
            params.custom_extensions = vec![san_extension(names)];
            parse_certificate_der(&self_signed(&params, &key).der)
        };

        // An IP address of 8 bytes (the name-constraint form) is not a valid SAN.
        let err = with_san(&[0x87, 8, 10, 0, 0, 0, 255, 0, 0, 0]).unwrap_err();
        assert!(
            matches!(
                err,
                InspectError::Extension {
                    what: "subjectAltName",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("8 bytes"), "{err}");

        // otherName with an IA5String value: not representable as a spec otherName, skipped.
        // [0] { OID 1.2.3.4, [0] { IA5String "x" } }
        let info = with_san(&[
            0xa0, 0x0a, 0x06, 0x03, 0x2a, 0x03, 0x04, 0xa0, 0x03, 0x16, 0x01, b'x',
        ])
        .unwrap();
        assert!(info.other_names.is_empty());

        // otherName with a UTF8String value.
        let info = with_san(&[
            0xa0, 0x0a, 0x06, 0x03, 0x2a, 0x03, 0x04, 0xa0, 0x03, 0x0c, 0x01, b'y',
        ])
        .unwrap();
        assert_eq!(
            info.other_names,
            vec![OtherNameValue {
                oid: "1.2.3.4".into(),
                utf8_value: "y".into()
            }]
        );

        // A registeredID has no spec field and is ignored.
        let info = with_san(&[0x88, 0x03, 0x2a, 0x03, 0x04, 0x82, 0x01, b'a']).unwrap();
        assert_eq!(info.dns_names, vec!["a".to_string()]);
    }

    #[test]
    fn bit_lengths() {
        let table: &[(&[u8], u32)] = &[
            (&[], 0),
            (&[0], 0),
            (&[1], 1),
            (&[0x80], 8),
            (&[0x00, 0x80, 0x00], 16),
            (&[0x00, 0x01, 0xff], 9),
            (&[0x7f, 0xff], 15),
        ];
        for &(bytes, want) in table {
            assert_eq!(bit_length(bytes), want, "{bytes:?}");
        }
    }
}
