//! What a TLS Secret holds, in human terms: the certificates of `tls.crt` and `ca.crt`, the
//! chain order, and whether `tls.key` belongs to the leaf. Pure: the Secret's data in, an
//! [`SecretAnalysis`] out. The private key is parsed only to compare its public half; nothing
//! of it is kept or printed.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::api::{CA_CERT_KEY, PrivateKeyAlgorithm, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY};
use crate::pki::CertificateInfo;
use crate::pki::inspect::parse_certificate_der;
use crate::pki::keys::{encoding_of_pem, parse_private_key_pem, public_keys_equal};

/// One certificate, as `inspect secret` and `status` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<String>,
    pub is_ca: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<String>,
    /// e.g. `ECDSA P-256`, `RSA 2048`, `Ed25519`.
    pub public_key: String,
    pub sha256_fingerprint: String,
    pub sha1_fingerprint: String,
}

impl CertificateView {
    /// Every subject alternative name, typed (`DNS:`, `IP:`, `URI:`, `email:`).
    pub fn sans(&self) -> Vec<String> {
        let typed = |prefix: &str, v: &[String]| {
            v.iter()
                .map(|s| format!("{prefix}:{s}"))
                .collect::<Vec<_>>()
        };
        [
            typed("DNS", &self.dns_names),
            typed("IP", &self.ip_addresses),
            typed("URI", &self.uris),
            typed("email", &self.email_addresses),
        ]
        .concat()
    }
}

/// The private key, described without its secret material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// e.g. `ECDSA P-256`.
    pub algorithm: String,
    /// `PKCS1` or `PKCS8`.
    pub encoding: String,
}

/// A link of the chain that does not hold: certificate `index` is not issued by the next one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainProblem {
    pub index: usize,
    pub message: String,
}

/// Everything `inspect secret` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretAnalysis {
    /// The data keys present, sorted (values never shown).
    pub keys: Vec<String>,
    /// `tls.crt`, leaf first.
    pub certificates: Vec<CertificateView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_error: Option<String>,
    /// `ca.crt`.
    pub ca: Vec<CertificateView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_error: Option<String>,
    /// Whether `tls.key` is the key of the leaf; unknown when either cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_matches: Option<bool>,
    /// Each certificate of `tls.crt` issued by the next; the last one by `ca.crt` when given.
    pub chain_problems: Vec<ChainProblem>,
}

impl SecretAnalysis {
    pub fn leaf(&self) -> Option<&CertificateView> {
        self.certificates.first()
    }
}

/// Analyses a Secret's `data`.
pub fn analyse(data: &BTreeMap<String, Vec<u8>>) -> SecretAnalysis {
    let mut out = SecretAnalysis {
        keys: data.keys().cloned().collect(),
        ..Default::default()
    };
    let chain = data.get(TLS_CERT_KEY).map(|pem| parse_chain(pem));
    let ca = data.get(CA_CERT_KEY).map(|pem| parse_chain(pem));
    match &chain {
        None => out.certificate_error = Some(format!("no {TLS_CERT_KEY}")),
        Some(Err(e)) => out.certificate_error = Some(e.clone()),
        Some(Ok(certs)) => out.certificates = certs.iter().map(|c| c.view.clone()).collect(),
    }
    match &ca {
        None => {}
        Some(Err(e)) => out.ca_error = Some(e.clone()),
        Some(Ok(certs)) => out.ca = certs.iter().map(|c| c.view.clone()).collect(),
    }
    if let Some(Ok(certs)) = &chain {
        let top_issuer = ca
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .and_then(|c| c.first());
        out.chain_problems = chain_problems(certs, top_issuer);
    }
    match data.get(TLS_PRIVATE_KEY_KEY) {
        None => out.key_error = Some(format!("no {TLS_PRIVATE_KEY_KEY}")),
        Some(pem) => match parse_private_key_pem(pem) {
            // The error of a key parser names what is wrong, never key bytes.
            Err(e) => out.key_error = Some(format!("{TLS_PRIVATE_KEY_KEY} cannot be read: {e}")),
            Ok(key) => {
                let info = key.info();
                out.key = Some(KeyView {
                    algorithm: key_name(info.algorithm, info.size),
                    encoding: encoding_of_pem(pem)
                        .ok()
                        .and_then(|e| serde_json::to_value(e).ok())
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "unknown".into()),
                });
                if let Some(Ok(certs)) = &chain
                    && let Some(leaf) = certs.first()
                {
                    out.key_matches = Some(public_keys_equal(
                        &info.public_key_der,
                        &leaf.info.public_key_der,
                    ));
                }
            }
        },
    }
    out
}

/// One parsed certificate: its DER (for signature checks), facts and view.
struct Parsed {
    der: Vec<u8>,
    info: CertificateInfo,
    view: CertificateView,
}

fn parse_chain(pem: &[u8]) -> Result<Vec<Parsed>, String> {
    let mut out = Vec::new();
    for (index, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = der.map_err(|e| format!("PEM data is malformed: {e}"))?;
        let info =
            parse_certificate_der(der.as_ref()).map_err(|e| format!("certificate {index}: {e}"))?;
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref());
        let view = view_of(&info, &colon_hex(sha1.as_ref()));
        out.push(Parsed {
            der: der.as_ref().to_vec(),
            info,
            view,
        });
    }
    if out.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    Ok(out)
}

fn view_of(info: &CertificateInfo, sha1: &str) -> CertificateView {
    let name = |u: &crate::api::KeyUsage| {
        serde_json::to_value(u)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    CertificateView {
        subject: info.subject.clone(),
        issuer: info.issuer.clone(),
        serial: info.serial_hex.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        dns_names: info.dns_names.clone(),
        ip_addresses: info.ip_addresses.iter().map(ToString::to_string).collect(),
        uris: info.uris.clone(),
        email_addresses: info.email_addresses.clone(),
        is_ca: info.is_ca,
        usages: info.usages.iter().map(name).collect(),
        public_key: key_name(info.key_algorithm, info.key_size),
        sha256_fingerprint: colon_hex(&unhex(&info.sha256_fingerprint)),
        sha1_fingerprint: sha1.to_owned(),
    }
}

/// `ECDSA P-256`, `RSA 2048`, `Ed25519`.
pub fn key_name(algorithm: PrivateKeyAlgorithm, size: u32) -> String {
    match algorithm {
        PrivateKeyAlgorithm::Rsa => format!("RSA {size}"),
        PrivateKeyAlgorithm::Ecdsa => format!("ECDSA P-{size}"),
        PrivateKeyAlgorithm::Ed25519 => "Ed25519".into(),
    }
}

/// Each certificate must be signed by the next; the last by `ca` when given (unless it is
/// self-signed, i.e. the root itself is in tls.crt).
fn chain_problems(certs: &[Parsed], ca: Option<&Parsed>) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    for (index, pair) in certs.windows(2).enumerate() {
        if let Err(why) = issued_by(&pair[0], &pair[1]) {
            problems.push(ChainProblem {
                index,
                message: format!(
                    "certificate {index} ({}) is not issued by certificate {} ({}): {why}; \
                     tls.crt must list the leaf first, then each issuer in turn",
                    pair[0].view.subject,
                    index + 1,
                    pair[1].view.subject
                ),
            });
        }
    }
    if let (Some(last), Some(ca)) = (certs.last(), ca) {
        let self_signed = issued_by(last, last).is_ok();
        if !self_signed && let Err(why) = issued_by(last, ca) {
            problems.push(ChainProblem {
                index: certs.len() - 1,
                message: format!(
                    "the last certificate of tls.crt ({}) is not issued by ca.crt ({}): {why}",
                    last.view.subject, ca.view.subject
                ),
            });
        }
    }
    problems
}

fn issued_by(child: &Parsed, parent: &Parsed) -> Result<(), String> {
    if child.info.issuer != parent.info.subject {
        return Err(format!("its issuer is {}", child.info.issuer));
    }
    let (_, c) = X509Certificate::from_der(&child.der).map_err(|e| e.to_string())?;
    let (_, p) = X509Certificate::from_der(&parent.der).map_err(|e| e.to_string())?;
    c.verify_signature(Some(p.public_key()))
        .map_err(|_| "the signature does not verify".to_owned())
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// `AB:CD:...`, as openssl prints fingerprints.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, IsCa, KeyPair};

    struct Pki {
        root_pem: String,
        inter_pem: String,
        leaf_pem: String,
        leaf_key_pem: String,
        other_key_pem: String,
    }

    fn pki() -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, "root");
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let root = p.self_signed(&root_key).unwrap();
        let root_issuer = rcgen::Issuer::new(p, &root_key);
        let inter_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "inter");
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let inter = p.signed_by(&inter_key, &root_issuer).unwrap();
        let inter_issuer = rcgen::Issuer::new(p, &inter_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["web.example.test".to_owned()]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, "web");
        let leaf = p.signed_by(&leaf_key, &inter_issuer).unwrap();
        Pki {
            root_pem: root.pem(),
            inter_pem: inter.pem(),
            leaf_pem: leaf.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
            other_key_pem: KeyPair::generate().unwrap().serialize_pem(),
        }
    }

    fn data(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn table() {
        let p = pki();
        let good_chain = format!("{}{}", p.leaf_pem, p.inter_pem);
        let bad_order = format!("{}{}", p.inter_pem, p.leaf_pem);
        struct Case<'a> {
            name: &'a str,
            data: BTreeMap<String, Vec<u8>>,
            key_matches: Option<bool>,
            chain_ok: bool,
            cert_error: bool,
            key_error: bool,
        }
        let cases = [
            Case {
                name: "good",
                data: data(&[
                    ("tls.crt", &good_chain),
                    ("tls.key", &p.leaf_key_pem),
                    ("ca.crt", &p.root_pem),
                ]),
                key_matches: Some(true),
                chain_ok: true,
                cert_error: false,
                key_error: false,
            },
            Case {
                name: "wrong key",
                data: data(&[("tls.crt", &good_chain), ("tls.key", &p.other_key_pem)]),
                key_matches: Some(false),
                chain_ok: true,
                cert_error: false,
                key_error: false,
            },
            Case {
                name: "chain out of order",
                data: data(&[("tls.crt", &bad_order), ("tls.key", &p.leaf_key_pem)]),
                key_matches: Some(false),
                chain_ok: false,
                cert_error: false,
                key_error: false,
            },
            Case {
                name: "wrong ca",
                data: data(&[
                    ("tls.crt", &p.leaf_pem),
                    ("tls.key", &p.leaf_key_pem),
                    ("ca.crt", &p.root_pem),
                ]),
                key_matches: Some(true),
                chain_ok: false,
                cert_error: false,
                key_error: false,
            },
            Case {
                name: "garbage",
                data: data(&[("tls.crt", "nope"), ("tls.key", "nope")]),
                key_matches: None,
                chain_ok: true,
                cert_error: true,
                key_error: true,
            },
            Case {
                name: "empty",
                data: data(&[]),
                key_matches: None,
                chain_ok: true,
                cert_error: true,
                key_error: true,
            },
        ];
        for c in cases {
            let a = analyse(&c.data);
            assert_eq!(a.key_matches, c.key_matches, "{}", c.name);
            assert_eq!(a.chain_problems.is_empty(), c.chain_ok, "{}: {a:?}", c.name);
            assert_eq!(a.certificate_error.is_some(), c.cert_error, "{}", c.name);
            assert_eq!(a.key_error.is_some(), c.key_error, "{}", c.name);
            let json = serde_json::to_string(&a).unwrap();
            assert!(
                !json.contains("-----BEGIN"),
                "{}: no PEM in the report",
                c.name
            );
            for key in [&p.leaf_key_pem, &p.other_key_pem] {
                let body = key.lines().nth(1).unwrap();
                assert!(!json.contains(body), "{}: no key material", c.name);
            }
        }
        let a = analyse(&data(&[
            ("tls.crt", &good_chain),
            ("tls.key", &p.leaf_key_pem),
        ]));
        let leaf = a.leaf().unwrap();
        assert_eq!(leaf.subject, "CN=web");
        assert_eq!(leaf.issuer, "CN=inter");
        assert_eq!(leaf.sans(), ["DNS:web.example.test"]);
        assert_eq!(leaf.public_key, "ECDSA P-256");
        assert_eq!(leaf.sha256_fingerprint.len(), 32 * 3 - 1);
        assert_eq!(leaf.sha1_fingerprint.len(), 20 * 3 - 1);
        assert_eq!(a.key.as_ref().unwrap().algorithm, "ECDSA P-256");
        assert_eq!(a.key.as_ref().unwrap().encoding, "PKCS8");
    }
}
