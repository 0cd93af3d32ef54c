//! The X.509 extensions certsmith writes into CSRs and certificates, encoded as Go's
//! `crypto/x509` writes them: subjectAltName, key usage and extended key usage ([`Usages`]),
//! basic constraints, name constraints, subject and authority key identifiers, authority
//! information access and CRL distribution points.

use std::net::IpAddr;

use aws_lc_rs::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::csr::CsrError;
use super::der;
use crate::api::{CertificateSpec, KeyUsage, NameConstraintItem, NameConstraints};

const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_NAME_CONSTRAINTS: &[u64] = &[2, 5, 29, 30];
const OID_SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
const OID_AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_CRL_DISTRIBUTION_POINTS: &[u64] = &[2, 5, 29, 31];
const OID_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const OID_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];

/// One `Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`.
fn extension(oid: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
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

/// The subjectAltName extension with `san` (a `GeneralNames` SEQUENCE), critical when the
/// subject is empty (RFC 5280 §4.2.1.6).
pub(crate) fn subject_alt_name_extension(san: &[u8], subject_empty: bool) -> Vec<u8> {
    extension(OID_SUBJECT_ALT_NAME, subject_empty, san)
}

/// The subjectAltName value (a `GeneralNames` SEQUENCE) for the spec, or `None` when it names
/// no SAN. Order as cert-manager's `MarshalSANs`: DNS, email, IP, URI, otherName.
pub(crate) fn subject_alt_names_for_spec(
    spec: &CertificateSpec,
) -> Result<Option<Vec<u8>>, CsrError> {
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
pub(crate) fn usages_vocabulary(key_usage: u16, extended: &[&str]) -> Vec<KeyUsage> {
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

/// `address/prefix` from the 8 or 32 bytes of an iPAddress name constraint.
pub(crate) fn cidr_string(bytes: &[u8]) -> Option<String> {
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

/// The subjectKeyIdentifier extension.
pub(crate) fn subject_key_identifier_extension(key_id: &[u8]) -> Vec<u8> {
    extension(
        OID_SUBJECT_KEY_ID,
        false,
        &der::tlv(der::OCTET_STRING, key_id),
    )
}

/// The authorityKeyIdentifier extension, with the `keyIdentifier` field only.
pub(crate) fn authority_key_identifier_extension(key_id: &[u8]) -> Vec<u8> {
    extension(
        OID_AUTHORITY_KEY_ID,
        false,
        &der::tlv(der::SEQUENCE, &der::tlv(der::context(0), key_id)),
    )
}

/// RFC 7093 method 1: the first 160 bits of the SHA-256 of the public key bits (what Go 1.25
/// and rcgen use).
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfo) -> Vec<u8> {
    digest::digest(&digest::SHA256, &spki.subject_public_key.data).as_ref()[..20].to_vec()
}

/// The subjectKeyIdentifier of a certificate, when it has a non-empty one.
pub(crate) fn subject_key_identifier(cert: &X509Certificate) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .filter(|id| !id.is_empty())
}

/// The authorityInfoAccess extension: the OCSP servers, then the CA issuers URLs; `None` when
/// there are neither. The error is a message naming a URL that is not ASCII.
pub(crate) fn authority_info_access_extension(
    ocsp_servers: &[String],
    issuing_certificate_urls: &[String],
) -> Result<Option<Vec<u8>>, String> {
    let mut access = Vec::new();
    for url in ocsp_servers {
        access.push(der::wrap(
            der::SEQUENCE,
            [der::oid(OID_OCSP), uri_name(url, "OCSP server")?],
        ));
    }
    for url in issuing_certificate_urls {
        access.push(der::wrap(
            der::SEQUENCE,
            [
                der::oid(OID_CA_ISSUERS),
                uri_name(url, "issuing certificate")?,
            ],
        ));
    }
    Ok((!access.is_empty()).then(|| {
        extension(
            OID_AUTHORITY_INFO_ACCESS,
            false,
            &der::wrap(der::SEQUENCE, access),
        )
    }))
}

/// The cRLDistributionPoints extension, or `None` without URLs: one DistributionPoint per
/// URL, each `[0] { fullName [0] { URI } }`, as Go writes them. The error is a message naming
/// a URL that is not ASCII.
pub(crate) fn crl_distribution_points_extension(
    urls: &[String],
) -> Result<Option<Vec<u8>>, String> {
    let mut points = Vec::new();
    for url in urls {
        let full_name = der::tlv(
            der::context_constructed(0),
            &uri_name(url, "CRL distribution point")?,
        );
        points.push(der::tlv(
            der::SEQUENCE,
            &der::tlv(der::context_constructed(0), &full_name),
        ));
    }
    Ok((!points.is_empty()).then(|| {
        extension(
            OID_CRL_DISTRIBUTION_POINTS,
            false,
            &der::wrap(der::SEQUENCE, points),
        )
    }))
}

/// A uniformResourceIdentifier GeneralName; `what` names the URL in the error message.
fn uri_name(url: &str, what: &str) -> Result<Vec<u8>, String> {
    if url.is_ascii() {
        Ok(der::tlv(der::context(6), url.as_bytes()))
    } else {
        Err(format!(
            "the {what} URL {url:?} has non-ASCII characters; percent-encode them"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
