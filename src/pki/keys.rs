//! Private keys: the key a Certificate asks for ([`KeySpec`]), generating one ([`generate`]),
//! reading the PEM a Secret holds ([`parse_private_key_pem`]) and writing it back in either
//! encoding cert-manager uses.
//!
//! Encodings follow cert-manager (and Go's `crypto/x509`): `PKCS1` means `RSA PRIVATE KEY`
//! (PKCS#1) for RSA and `EC PRIVATE KEY` (SEC 1) for ECDSA; Ed25519 has no such form and is
//! always `PRIVATE KEY` (PKCS#8), whatever the spec says.
//!
//! Secret bytes live in [`Zeroizing`] buffers and no type here prints key material in its
//! `Debug` output or in an error message.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    self as lc_sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};
use zeroize::Zeroizing;

use super::KeyInfo;
use super::der::{self, pem_encode_secret};
use crate::api::{
    CertificatePrivateKey, PrivateKeyAlgorithm, PrivateKeyEncoding, SignatureAlgorithm,
};

/// RSA key sizes certsmith generates. cert-manager accepts any size from 2048 to 8192; the
/// crypto library (aws-lc) generates only these.
pub const RSA_KEY_SIZES: [u32; 4] = [2048, 3072, 4096, 8192];
/// ECDSA key sizes: the curves P-256, P-384 and P-521.
pub const ECDSA_KEY_SIZES: [u32; 3] = [256, 384, 521];
/// The size [`KeyInfo`] reports for Ed25519 keys.
pub const ED25519_KEY_SIZE: u32 = 256;

/// Errors of key resolution, generation, parsing and encoding. None of them carries key
/// material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("spec.privateKey.size {size} is not supported for {algorithm} keys: {allowed}")]
    UnsupportedKeySize {
        algorithm: &'static str,
        size: i64,
        allowed: &'static str,
    },
    #[error("generating a {algorithm} private key failed in the crypto library")]
    GenerateKey { algorithm: String },
    #[error(
        "no private key found in the PEM data: expected a PEM block of type \"RSA PRIVATE KEY\", \
         \"EC PRIVATE KEY\" or \"PRIVATE KEY\" (encrypted keys are not supported)"
    )]
    NoPrivateKeyPem,
    #[error("the private key PEM is malformed: {0}")]
    MalformedPem(&'static str),
    #[error("the {format} private key could not be read: {reason}")]
    ParseKey {
        format: &'static str,
        reason: String,
    },
    #[error(
        "unsupported private key: {0}; certsmith handles RSA (2048 to 8192 bits), ECDSA P-256, \
         P-384, P-521 and Ed25519 keys"
    )]
    UnsupportedKey(String),
    #[error("encoding the {algorithm} private key as {encoding} failed")]
    EncodeKey {
        algorithm: String,
        encoding: &'static str,
    },
    #[error("the {key} private key cannot sign with {algorithm}: {reason}")]
    SigningAlgorithm {
        key: String,
        algorithm: String,
        reason: String,
    },
}

/// The private key a Certificate asks for, with cert-manager's defaults applied: RSA 2048,
/// ECDSA P-256, PKCS#1 encoding (PKCS#8 for Ed25519, which has no PKCS#1 form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub algorithm: PrivateKeyAlgorithm,
    /// Bits: RSA modulus size; ECDSA curve size; 256 for Ed25519.
    pub size: u32,
    pub encoding: PrivateKeyEncoding,
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec {
            algorithm: PrivateKeyAlgorithm::Rsa,
            size: 2048,
            encoding: PrivateKeyEncoding::Pkcs1,
        }
    }
}

impl KeySpec {
    /// Resolves `spec.privateKey`. A size of 0 counts as unset, as in cert-manager; sizes the
    /// API allows but certsmith cannot generate are refused with a message naming the choices.
    pub fn from_private_key(private_key: Option<&CertificatePrivateKey>) -> Result<Self, KeyError> {
        let algorithm = private_key.and_then(|p| p.algorithm).unwrap_or_default();
        let encoding = private_key.and_then(|p| p.encoding).unwrap_or_default();
        let size = private_key.and_then(|p| p.size).filter(|&s| s != 0);
        match algorithm {
            PrivateKeyAlgorithm::Rsa => {
                let size = i64::from(size.unwrap_or(2048));
                let allowed = if size < 2048 {
                    "RSA keys must have at least 2048 bits; use 2048, 3072, 4096 or 8192"
                } else if size > 8192 {
                    "RSA keys can have at most 8192 bits; use 2048, 3072, 4096 or 8192"
                } else {
                    "certsmith generates RSA keys of 2048, 3072, 4096 or 8192 bits; use one of these"
                };
                let size = RSA_KEY_SIZES
                    .into_iter()
                    .find(|&s| i64::from(s) == size)
                    .ok_or(KeyError::UnsupportedKeySize {
                        algorithm: "RSA",
                        size,
                        allowed,
                    })?;
                Ok(KeySpec {
                    algorithm,
                    size,
                    encoding,
                })
            }
            PrivateKeyAlgorithm::Ecdsa => {
                let size = i64::from(size.unwrap_or(256));
                let size = ECDSA_KEY_SIZES
                    .into_iter()
                    .find(|&s| i64::from(s) == size)
                    .ok_or(KeyError::UnsupportedKeySize {
                        algorithm: "ECDSA",
                        size,
                        allowed: "use 256 (P-256), 384 (P-384) or 521 (P-521)",
                    })?;
                Ok(KeySpec {
                    algorithm,
                    size,
                    encoding,
                })
            }
            // The size is ignored for Ed25519, as in cert-manager.
            PrivateKeyAlgorithm::Ed25519 => Ok(KeySpec {
                algorithm,
                size: ED25519_KEY_SIZE,
                encoding: PrivateKeyEncoding::Pkcs8,
            }),
        }
    }
}

/// A private key in PEM form. Zeroed when dropped; `Debug` does not show it.
#[derive(Clone)]
pub struct PrivateKeyPem(Zeroizing<String>);

impl PrivateKeyPem {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The PEM bytes, still zeroed on drop (for a Secret's `tls.key`).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.as_bytes().to_vec())
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem([redacted])")
    }
}

/// A private key read from PEM (or freshly generated): what it is ([`KeyInfo`]), the encoding
/// it came in, and the secret itself, kept as PKCS#8 DER in a zeroing buffer.
pub struct ParsedKey {
    info: KeyInfo,
    encoding: PrivateKeyEncoding,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("algorithm", &self.info.algorithm)
            .field("size", &self.info.size)
            .field("encoding", &self.encoding)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Generates a key as `spec` asks and returns it as PEM in `spec.encoding`.
pub fn generate(spec: &KeySpec) -> Result<PrivateKeyPem, KeyError> {
    ParsedKey::generate(spec)?.to_pem(spec.encoding)
}

/// Reads the first private key in `pem`: PKCS#1 (`RSA PRIVATE KEY`), SEC 1 (`EC PRIVATE KEY`)
/// or PKCS#8 (`PRIVATE KEY`). Other PEM blocks before it (certificates, say) are skipped.
pub fn parse_private_key_pem(pem: &[u8]) -> Result<ParsedKey, KeyError> {
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(pem_error)?;
        let der = Zeroizing::new(der);
        match kind {
            SectionKind::RsaPrivateKey => {
                let pair = RsaKeyPair::from_der(&der).map_err(|e| KeyError::ParseKey {
                    format: "PKCS#1 RSA",
                    reason: rejected(&e),
                })?;
                let pkcs8 = der_bytes(pair.as_der(), "RSA", "PKCS#8")?;
                return ParsedKey::from_pkcs8(pkcs8, PrivateKeyEncoding::Pkcs1);
            }
            SectionKind::EcPrivateKey => {
                let mut last = None;
                for (_, alg) in CURVES {
                    match EcdsaKeyPair::from_private_key_der(alg, &der) {
                        Ok(pair) => {
                            let pkcs8 = der_bytes(pair.to_pkcs8v1(), "ECDSA", "PKCS#8")?;
                            return ParsedKey::from_pkcs8(pkcs8, PrivateKeyEncoding::Pkcs1);
                        }
                        Err(e) => last = Some(e),
                    }
                }
                return Err(KeyError::ParseKey {
                    format: "SEC 1 EC",
                    reason: last.map(|e| rejected(&e)).unwrap_or_default()
                        + " (only the curves P-256, P-384 and P-521 are supported)",
                });
            }
            SectionKind::PrivateKey => {
                return ParsedKey::from_pkcs8(der, PrivateKeyEncoding::Pkcs8);
            }
            _ => {}
        }
    }
    Err(KeyError::NoPrivateKeyPem)
}

/// The encoding of the first private key in `pem`: `PKCS1` for `RSA PRIVATE KEY` and
/// `EC PRIVATE KEY`, `PKCS8` for `PRIVATE KEY`. The key itself is not validated.
pub fn encoding_of_pem(pem: &[u8]) -> Result<PrivateKeyEncoding, KeyError> {
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(pem_error)?;
        let _secret = Zeroizing::new(der);
        match kind {
            SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey => {
                return Ok(PrivateKeyEncoding::Pkcs1);
            }
            SectionKind::PrivateKey => return Ok(PrivateKeyEncoding::Pkcs8),
            _ => {}
        }
    }
    Err(KeyError::NoPrivateKeyPem)
}

/// Whether a key is what the spec asks for: same algorithm and size. The encoding is a
/// separate question ([`encoding_of_pem`]).
pub fn key_matches_spec(info: &KeyInfo, spec: &KeySpec) -> bool {
    info.algorithm == spec.algorithm && info.size == spec.size
}

/// Whether two DER SubjectPublicKeyInfos hold the same public key. Compares the key
/// algorithm, the curve (for EC keys) and the key bits, so an RSA key written with or without
/// NULL parameters still matches itself.
pub fn public_keys_equal(a: &[u8], b: &[u8]) -> bool {
    let (Ok((_, a)), Ok((_, b))) = (
        SubjectPublicKeyInfo::from_der(a),
        SubjectPublicKeyInfo::from_der(b),
    ) else {
        return false;
    };
    let curve = |spki: &SubjectPublicKeyInfo| {
        spki.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.clone().oid().ok())
            .map(|o| o.to_id_string())
    };
    a.algorithm.algorithm == b.algorithm.algorithm
        && (a.algorithm.algorithm.to_id_string() != OID_EC_PUBLIC_KEY || curve(&a) == curve(&b))
        && a.subject_public_key.data == b.subject_public_key.data
}

impl ParsedKey {
    /// Generates a new key as `spec` asks. Its [`ParsedKey::encoding`] is `spec.encoding`.
    pub fn generate(spec: &KeySpec) -> Result<ParsedKey, KeyError> {
        let failed = || KeyError::GenerateKey {
            algorithm: describe(spec.algorithm, spec.size),
        };
        let pkcs8 = match spec.algorithm {
            PrivateKeyAlgorithm::Rsa => {
                let size = match spec.size {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    8192 => KeySize::Rsa8192,
                    other => {
                        return Err(KeyError::UnsupportedKeySize {
                            algorithm: "RSA",
                            size: i64::from(other),
                            allowed: "use 2048, 3072, 4096 or 8192",
                        });
                    }
                };
                let pair = RsaKeyPair::generate(size).map_err(|_| failed())?;
                der_bytes(pair.as_der(), "RSA", "PKCS#8")?
            }
            PrivateKeyAlgorithm::Ecdsa => {
                let alg = curve_for_size(spec.size).ok_or(KeyError::UnsupportedKeySize {
                    algorithm: "ECDSA",
                    size: i64::from(spec.size),
                    allowed: "use 256 (P-256), 384 (P-384) or 521 (P-521)",
                })?;
                let pair = EcdsaKeyPair::generate(alg).map_err(|_| failed())?;
                der_bytes(pair.to_pkcs8v1(), "ECDSA", "PKCS#8")?
            }
            PrivateKeyAlgorithm::Ed25519 => {
                let pair = Ed25519KeyPair::generate().map_err(|_| failed())?;
                der_bytes(pair.to_pkcs8v1(), "Ed25519", "PKCS#8")?
            }
        };
        let encoding = match spec.algorithm {
            PrivateKeyAlgorithm::Ed25519 => PrivateKeyEncoding::Pkcs8,
            _ => spec.encoding,
        };
        ParsedKey::from_pkcs8(pkcs8, encoding)
    }

    /// Reads a PKCS#8 key, finding out its algorithm and size.
    fn from_pkcs8(
        pkcs8: Zeroizing<Vec<u8>>,
        encoding: PrivateKeyEncoding,
    ) -> Result<ParsedKey, KeyError> {
        let (algorithm, size, public_key_der) = if let Ok(pair) = RsaKeyPair::from_pkcs8(&pkcs8) {
            let spki = public_der(pair.public_key().as_der(), "RSA")?;
            let size = key_info_from_spki(&spki)
                .map(|(_, size)| size)
                .ok_or_else(|| KeyError::UnsupportedKey("an unreadable RSA public key".into()))?;
            (PrivateKeyAlgorithm::Rsa, size, spki)
        } else if let Some((size, pair)) = CURVES.iter().find_map(|(size, alg)| {
            EcdsaKeyPair::from_pkcs8(alg, &pkcs8)
                .ok()
                .map(|p| (*size, p))
        }) {
            let spki = public_der(pair.public_key().as_der(), "ECDSA")?;
            (PrivateKeyAlgorithm::Ecdsa, size, spki)
        } else if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8) {
            let spki = public_der(pair.public_key().as_der(), "Ed25519")?;
            (PrivateKeyAlgorithm::Ed25519, ED25519_KEY_SIZE, spki)
        } else {
            return Err(KeyError::UnsupportedKey(describe_pkcs8(&pkcs8)));
        };
        Ok(ParsedKey {
            info: KeyInfo {
                algorithm,
                size,
                public_key_der,
            },
            encoding,
            pkcs8,
        })
    }

    /// What the key is: algorithm, size and public key.
    pub fn info(&self) -> &KeyInfo {
        &self.info
    }

    /// The encoding the key was read in (for a generated key: the one asked for).
    pub fn encoding(&self) -> PrivateKeyEncoding {
        self.encoding
    }

    /// DER of the key in `encoding`: PKCS#1 `RSAPrivateKey` or SEC 1 `ECPrivateKey` (with the
    /// curve and public key, as Go writes it) for `PKCS1`, `PrivateKeyInfo` for `PKCS8`.
    /// Ed25519 is PKCS#8 either way.
    pub fn to_der(&self, encoding: PrivateKeyEncoding) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match (encoding, self.info.algorithm) {
            (PrivateKeyEncoding::Pkcs8, _) | (_, PrivateKeyAlgorithm::Ed25519) => {
                Ok(self.pkcs8.clone())
            }
            (PrivateKeyEncoding::Pkcs1, PrivateKeyAlgorithm::Rsa) => {
                // PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING }
                // and for RSA the OCTET STRING holds the PKCS#1 RSAPrivateKey.
                pkcs8_private_key(&self.pkcs8)
                    .map(|k| Zeroizing::new(k.to_vec()))
                    .ok_or(KeyError::EncodeKey {
                        algorithm: "RSA".into(),
                        encoding: "PKCS#1",
                    })
            }
            (PrivateKeyEncoding::Pkcs1, PrivateKeyAlgorithm::Ecdsa) => {
                let failed = || KeyError::EncodeKey {
                    algorithm: "ECDSA".into(),
                    encoding: "SEC 1",
                };
                let alg = curve_for_size(self.info.size).ok_or_else(failed)?;
                let pair = EcdsaKeyPair::from_pkcs8(alg, &self.pkcs8).map_err(|_| failed())?;
                der_bytes(pair.private_key().as_der(), "ECDSA", "SEC 1")
            }
        }
    }

    /// The key as PEM in `encoding`: `RSA PRIVATE KEY`, `EC PRIVATE KEY` or `PRIVATE KEY`.
    pub fn to_pem(&self, encoding: PrivateKeyEncoding) -> Result<PrivateKeyPem, KeyError> {
        let der = self.to_der(encoding)?;
        let label = match (encoding, self.info.algorithm) {
            (PrivateKeyEncoding::Pkcs1, PrivateKeyAlgorithm::Rsa) => "RSA PRIVATE KEY",
            (PrivateKeyEncoding::Pkcs1, PrivateKeyAlgorithm::Ecdsa) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        Ok(PrivateKeyPem(pem_encode_secret(label, &der)))
    }

    /// An rcgen key pair signing with the algorithm cert-manager picks for this key:
    /// SHA-256/384/512 with RSA for keys of 2048/3072/4096+ bits, ECDSA with the hash matching
    /// the curve, Ed25519. Zeroed when dropped.
    pub fn key_pair(&self) -> Result<Zeroizing<rcgen::KeyPair>, KeyError> {
        self.key_pair_for(None)
    }

    /// An rcgen key pair signing with `algorithm` (a Certificate's `signatureAlgorithm`), or
    /// with the default of [`ParsedKey::key_pair`] when `None`. Refuses algorithms that do not
    /// fit the key.
    pub fn key_pair_for(
        &self,
        algorithm: Option<SignatureAlgorithm>,
    ) -> Result<Zeroizing<rcgen::KeyPair>, KeyError> {
        let alg = rcgen_algorithm(&self.info, algorithm)?;
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(self.pkcs8.as_slice()),
            alg,
        )
        .map_err(|e| KeyError::SigningAlgorithm {
            key: describe(self.info.algorithm, self.info.size),
            algorithm: format!("{alg:?}"),
            reason: e.to_string(),
        })?;
        Ok(Zeroizing::new(pair))
    }
}

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

static CURVES: [(u32, &EcdsaSigningAlgorithm); 3] = [
    (256, &lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING),
    (384, &lc_sig::ECDSA_P384_SHA384_ASN1_SIGNING),
    (521, &lc_sig::ECDSA_P521_SHA512_ASN1_SIGNING),
];

fn curve_for_size(size: u32) -> Option<&'static EcdsaSigningAlgorithm> {
    CURVES.iter().find(|(s, _)| *s == size).map(|(_, alg)| *alg)
}

fn describe(algorithm: PrivateKeyAlgorithm, size: u32) -> String {
    match algorithm {
        PrivateKeyAlgorithm::Rsa => format!("RSA {size}"),
        PrivateKeyAlgorithm::Ecdsa => format!("ECDSA P-{size}"),
        PrivateKeyAlgorithm::Ed25519 => "Ed25519".into(),
    }
}

fn rejected(e: &aws_lc_rs::error::KeyRejected) -> String {
    format!("the key was rejected ({})", e.description_())
}

fn pem_error(e: pem::Error) -> KeyError {
    match e {
        pem::Error::NoItemsFound => KeyError::NoPrivateKeyPem,
        pem::Error::MissingSectionEnd { .. } => {
            KeyError::MalformedPem("a PEM block has no matching END line")
        }
        pem::Error::IllegalSectionStart { .. } => {
            KeyError::MalformedPem("a PEM BEGIN line is malformed")
        }
        pem::Error::Base64Decode(_) => KeyError::MalformedPem("a PEM body is not valid base64"),
        pem::Error::SectionTooLarge => KeyError::MalformedPem("a PEM block is too large"),
        _ => KeyError::MalformedPem("the PEM data cannot be read"),
    }
}

fn der_bytes<T: DerBytes>(
    r: Result<T, aws_lc_rs::error::Unspecified>,
    algorithm: &str,
    encoding: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    r.map(|d| Zeroizing::new(d.der_bytes().to_vec()))
        .map_err(|_| KeyError::EncodeKey {
            algorithm: algorithm.into(),
            encoding,
        })
}

/// The bytes of the DER containers aws-lc returns.
trait DerBytes {
    fn der_bytes(&self) -> &[u8];
}

impl DerBytes for aws_lc_rs::encoding::Pkcs8V1Der<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.as_ref()
    }
}

impl DerBytes for aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.as_ref()
    }
}

impl DerBytes for aws_lc_rs::pkcs8::Document {
    fn der_bytes(&self) -> &[u8] {
        self.as_ref()
    }
}

fn public_der(
    r: Result<PublicKeyX509Der<'static>, aws_lc_rs::error::Unspecified>,
    algorithm: &str,
) -> Result<Vec<u8>, KeyError> {
    r.map(|d| d.as_ref().to_vec())
        .map_err(|_| KeyError::EncodeKey {
            algorithm: algorithm.into(),
            encoding: "SubjectPublicKeyInfo",
        })
}

/// The `privateKey` OCTET STRING content of a PKCS#8 `PrivateKeyInfo`.
fn pkcs8_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der::read(pkcs8)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (tag, _version, rest) = der::read(body)?;
    if tag != der::INTEGER {
        return None;
    }
    let (tag, _algorithm, rest) = der::read(rest)?;
    if tag != der::SEQUENCE {
        return None;
    }
    let (tag, key, _) = der::read(rest)?;
    (tag == der::OCTET_STRING).then_some(key)
}

/// Names the algorithm of a PKCS#8 key certsmith cannot use, without showing the key.
fn describe_pkcs8(pkcs8: &[u8]) -> String {
    let oid = der::read(pkcs8)
        .and_then(|(_, body, _)| der::read(body))
        .and_then(|(_, _, rest)| der::read(rest))
        .and_then(|(_, alg, _)| der::read(alg))
        .filter(|(tag, _, _)| *tag == der::OID)
        .and_then(|(_, oid, _)| der::oid_to_string(oid));
    match oid.as_deref() {
        Some(OID_RSA_ENCRYPTION) => "an RSA key outside 2048 to 8192 bits".into(),
        Some(OID_EC_PUBLIC_KEY) => "an EC key on a curve other than P-256, P-384, P-521".into(),
        Some(oid) => format!("a PKCS#8 key of algorithm {oid}"),
        None => "a malformed PKCS#8 key".into(),
    }
}

/// Algorithm and size of a DER SubjectPublicKeyInfo, for the key types certsmith handles.
pub(crate) fn key_info_from_spki(spki_der: &[u8]) -> Option<(PrivateKeyAlgorithm, u32)> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    key_info_of(&spki)
}

pub(crate) fn key_info_of(spki: &SubjectPublicKeyInfo) -> Option<(PrivateKeyAlgorithm, u32)> {
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_RSA_ENCRYPTION => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Some((PrivateKeyAlgorithm::Rsa, bit_length(rsa.modulus))),
            _ => None,
        },
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.clone().oid().ok())
                .map(|o| o.to_id_string());
            let size = match curve.as_deref()? {
                OID_P256 => 256,
                OID_P384 => 384,
                OID_P521 => 521,
                _ => return None,
            };
            Some((PrivateKeyAlgorithm::Ecdsa, size))
        }
        OID_ED25519 => Some((PrivateKeyAlgorithm::Ed25519, ED25519_KEY_SIZE)),
        _ => None,
    }
}

fn bit_length(be: &[u8]) -> u32 {
    match be.iter().position(|&b| b != 0) {
        Some(first) => (be.len() - first - 1) as u32 * 8 + (8 - be[first].leading_zeros()),
        None => 0,
    }
}

/// cert-manager's choice of signature algorithm (`pki.SignatureAlgorithm` and
/// `signatureAlgorithmFromPublicKey`), or the spec's `signatureAlgorithm` when it fits.
fn rcgen_algorithm(
    info: &KeyInfo,
    requested: Option<SignatureAlgorithm>,
) -> Result<&'static rcgen::SignatureAlgorithm, KeyError> {
    use PrivateKeyAlgorithm as K;
    use SignatureAlgorithm as S;
    let alg = match (info.algorithm, info.size, requested) {
        (K::Rsa, size, None) if size >= 4096 => &rcgen::PKCS_RSA_SHA512,
        (K::Rsa, size, None) if size >= 3072 => &rcgen::PKCS_RSA_SHA384,
        (K::Rsa, _, None | Some(S::SHA256WithRSA)) => &rcgen::PKCS_RSA_SHA256,
        (K::Rsa, _, Some(S::SHA384WithRSA)) => &rcgen::PKCS_RSA_SHA384,
        (K::Rsa, _, Some(S::SHA512WithRSA)) => &rcgen::PKCS_RSA_SHA512,
        (K::Ecdsa, 256, None | Some(S::ECDSAWithSHA256)) => &rcgen::PKCS_ECDSA_P256_SHA256,
        (K::Ecdsa, 384, None | Some(S::ECDSAWithSHA384)) => &rcgen::PKCS_ECDSA_P384_SHA384,
        (K::Ecdsa, 521, None | Some(S::ECDSAWithSHA512)) => &rcgen::PKCS_ECDSA_P521_SHA512,
        (K::Ecdsa, 521, Some(S::ECDSAWithSHA256)) => &rcgen::PKCS_ECDSA_P521_SHA256,
        (K::Ecdsa, 521, Some(S::ECDSAWithSHA384)) => &rcgen::PKCS_ECDSA_P521_SHA384,
        (K::Ed25519, _, None | Some(S::PureEd25519)) => &rcgen::PKCS_ED25519,
        (_, _, Some(requested)) => {
            return Err(KeyError::SigningAlgorithm {
                key: describe(info.algorithm, info.size),
                algorithm: format!("{requested:?}"),
                reason: "the algorithm does not fit this key (certsmith signs P-256 keys only \
                         with SHA-256 and P-384 keys only with SHA-384); remove \
                         spec.signatureAlgorithm or pick one that matches the key"
                    .into(),
            });
        }
        (_, _, None) => {
            return Err(KeyError::UnsupportedKey(describe(
                info.algorithm,
                info.size,
            )));
        }
    };
    Ok(alg)
}

/// DER `AlgorithmIdentifier` of the signatures `alg` makes.
pub(crate) fn signature_algorithm_der(alg: &rcgen::SignatureAlgorithm) -> Vec<u8> {
    let (oid, null): (&[u64], bool) = if alg == &rcgen::PKCS_RSA_SHA256 {
        (&[1, 2, 840, 113549, 1, 1, 11], true)
    } else if alg == &rcgen::PKCS_RSA_SHA384 {
        (&[1, 2, 840, 113549, 1, 1, 12], true)
    } else if alg == &rcgen::PKCS_RSA_SHA512 {
        (&[1, 2, 840, 113549, 1, 1, 13], true)
    } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ECDSA_P521_SHA256 {
        (&[1, 2, 840, 10045, 4, 3, 2], false)
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 || alg == &rcgen::PKCS_ECDSA_P521_SHA384 {
        (&[1, 2, 840, 10045, 4, 3, 3], false)
    } else if alg == &rcgen::PKCS_ECDSA_P521_SHA512 {
        (&[1, 2, 840, 10045, 4, 3, 4], false)
    } else {
        (&[1, 3, 101, 112], false)
    };
    let mut body = der::oid(oid);
    if null {
        body.extend_from_slice(&[der::NULL, 0]);
    }
    der::tlv(der::SEQUENCE, &body)
}

/// Signs `tbs` (a TBSCertificate or CertificationRequestInfo) with `key` and wraps it as
/// `SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING }`.
pub(crate) fn sign_der(
    key: &rcgen::KeyPair,
    algorithm_der: &[u8],
    tbs: &[u8],
) -> Result<Vec<u8>, rcgen::Error> {
    use rcgen::SigningKey as _;
    let signature = key.sign(tbs)?;
    let mut body = tbs.to_vec();
    body.extend_from_slice(algorithm_der);
    body.extend(der::bit_string(&signature));
    Ok(der::tlv(der::SEQUENCE, &body))
}

/// Verifies `signature` over `message` with the public key `spki`, for the algorithms
/// certsmith and cert-manager produce (PKCS#1 v1.5 RSA, ECDSA on P-256/384/521, Ed25519) and
/// SHA-1 variants found in old roots.
pub(crate) fn verify_signature(
    spki: &SubjectPublicKeyInfo,
    algorithm: &AlgorithmIdentifier,
    signature: &[u8],
    message: &[u8],
) -> bool {
    use aws_lc_rs::signature as s;
    let key_type = spki.algorithm.algorithm.to_id_string();
    let sig = algorithm.algorithm.to_id_string();
    let curve = key_info_of(spki).map(|(_, size)| size);
    let alg: &dyn s::VerificationAlgorithm = match (key_type.as_str(), sig.as_str(), curve) {
        (OID_RSA_ENCRYPTION, "1.2.840.113549.1.1.5", _) => {
            &s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        (OID_RSA_ENCRYPTION, "1.2.840.113549.1.1.11", _) => &s::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA_ENCRYPTION, "1.2.840.113549.1.1.12", _) => &s::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA_ENCRYPTION, "1.2.840.113549.1.1.13", _) => &s::RSA_PKCS1_2048_8192_SHA512,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.1", Some(256)) => &s::ECDSA_P256_SHA1_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.2", Some(256)) => &s::ECDSA_P256_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.3", Some(256)) => &s::ECDSA_P256_SHA384_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.4", Some(256)) => &s::ECDSA_P256_SHA512_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.2", Some(384)) => &s::ECDSA_P384_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.3", Some(384)) => &s::ECDSA_P384_SHA384_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.4", Some(384)) => &s::ECDSA_P384_SHA512_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.1", Some(521)) => &s::ECDSA_P521_SHA1_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.2", Some(521)) => &s::ECDSA_P521_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.3", Some(521)) => &s::ECDSA_P521_SHA384_ASN1,
        (OID_EC_PUBLIC_KEY, "1.2.840.10045.4.3.4", Some(521)) => &s::ECDSA_P521_SHA512_ASN1,
        (OID_ED25519, OID_ED25519, _) => &s::ED25519,
        _ => return false,
    };
    s::UnparsedPublicKey::new(alg, &spki.subject_public_key.data)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::process::Command;
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;
    use crate::pki::der::pem_encode;

    /// `generate(spec)`, except that RSA keys of 3072 and 4096 bits, slow to make in a debug
    /// build, are made once per test run and shared.
    pub(crate) fn generated(spec: &KeySpec) -> PrivateKeyPem {
        static RSA_3072: OnceLock<PrivateKeyPem> = OnceLock::new();
        static RSA_4096: OnceLock<PrivateKeyPem> = OnceLock::new();
        let cell = match (spec.algorithm, spec.size) {
            (PrivateKeyAlgorithm::Rsa, 3072) => &RSA_3072,
            (PrivateKeyAlgorithm::Rsa, 4096) => &RSA_4096,
            _ => return generate(spec).unwrap(),
        };
        let pem = cell.get_or_init(|| generate(spec).unwrap());
        parse_private_key_pem(pem.as_bytes())
            .unwrap()
            .to_pem(spec.encoding)
            .unwrap()
    }

    fn private_key(
        algorithm: Option<PrivateKeyAlgorithm>,
        size: Option<i32>,
        encoding: Option<PrivateKeyEncoding>,
    ) -> CertificatePrivateKey {
        CertificatePrivateKey {
            algorithm,
            size,
            encoding,
            ..Default::default()
        }
    }

    #[test]
    fn key_spec_defaults_and_validation() {
        use PrivateKeyAlgorithm::*;
        use PrivateKeyEncoding::*;
        struct Case {
            name: &'static str,
            input: Option<CertificatePrivateKey>,
            want: Result<(PrivateKeyAlgorithm, u32, PrivateKeyEncoding), &'static str>,
        }
        let cases = [
            Case {
                name: "no privateKey: RSA 2048 PKCS1",
                input: None,
                want: Ok((Rsa, 2048, Pkcs1)),
            },
            Case {
                name: "empty privateKey",
                input: Some(CertificatePrivateKey::default()),
                want: Ok((Rsa, 2048, Pkcs1)),
            },
            Case {
                name: "size 0 counts as unset",
                input: Some(private_key(Some(Rsa), Some(0), None)),
                want: Ok((Rsa, 2048, Pkcs1)),
            },
            Case {
                name: "RSA 3072 PKCS8",
                input: Some(private_key(Some(Rsa), Some(3072), Some(Pkcs8))),
                want: Ok((Rsa, 3072, Pkcs8)),
            },
            Case {
                name: "RSA 4096",
                input: Some(private_key(None, Some(4096), None)),
                want: Ok((Rsa, 4096, Pkcs1)),
            },
            Case {
                name: "RSA 8192",
                input: Some(private_key(Some(Rsa), Some(8192), None)),
                want: Ok((Rsa, 8192, Pkcs1)),
            },
            Case {
                name: "RSA 1024 too small",
                input: Some(private_key(Some(Rsa), Some(1024), None)),
                want: Err("at least 2048"),
            },
            Case {
                name: "RSA 16384 too big",
                input: Some(private_key(Some(Rsa), Some(16384), None)),
                want: Err("at most 8192"),
            },
            Case {
                name: "RSA 2500 in range but not generated",
                input: Some(private_key(Some(Rsa), Some(2500), None)),
                want: Err("2048, 3072, 4096 or 8192"),
            },
            Case {
                name: "negative size",
                input: Some(private_key(Some(Rsa), Some(-1), None)),
                want: Err("at least 2048"),
            },
            Case {
                name: "ECDSA default P-256",
                input: Some(private_key(Some(Ecdsa), None, None)),
                want: Ok((Ecdsa, 256, Pkcs1)),
            },
            Case {
                name: "ECDSA 384 PKCS8",
                input: Some(private_key(Some(Ecdsa), Some(384), Some(Pkcs8))),
                want: Ok((Ecdsa, 384, Pkcs8)),
            },
            Case {
                name: "ECDSA 521",
                input: Some(private_key(Some(Ecdsa), Some(521), None)),
                want: Ok((Ecdsa, 521, Pkcs1)),
            },
            Case {
                name: "ECDSA 512 is not a curve",
                input: Some(private_key(Some(Ecdsa), Some(512), None)),
                want: Err("256 (P-256), 384 (P-384) or 521 (P-521)"),
            },
            Case {
                name: "ECDSA 2048",
                input: Some(private_key(Some(Ecdsa), Some(2048), None)),
                want: Err("ECDSA"),
            },
            Case {
                name: "Ed25519 always PKCS8",
                input: Some(private_key(Some(Ed25519), None, Some(Pkcs1))),
                want: Ok((Ed25519, 256, Pkcs8)),
            },
            Case {
                name: "Ed25519 ignores size",
                input: Some(private_key(Some(Ed25519), Some(4096), None)),
                want: Ok((Ed25519, 256, Pkcs8)),
            },
        ];
        for case in cases {
            let got = KeySpec::from_private_key(case.input.as_ref());
            match (got, case.want) {
                (Ok(spec), Ok((algorithm, size, encoding))) => assert_eq!(
                    spec,
                    KeySpec {
                        algorithm,
                        size,
                        encoding
                    },
                    "{}",
                    case.name
                ),
                (Err(e), Err(fragment)) => {
                    let message = e.to_string();
                    assert!(
                        message.contains(fragment) && message.contains("spec.privateKey.size"),
                        "{}: {message}",
                        case.name
                    );
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
            }
        }
        assert_eq!(KeySpec::default(), KeySpec::from_private_key(None).unwrap());
    }

    fn spec(algorithm: PrivateKeyAlgorithm, size: u32, encoding: PrivateKeyEncoding) -> KeySpec {
        KeySpec {
            algorithm,
            size,
            encoding,
        }
    }

    #[test]
    fn generate_parse_reencode_every_kind() {
        use PrivateKeyAlgorithm::*;
        use PrivateKeyEncoding::*;
        // (spec, PEM label written, label of the other encoding)
        let cases = [
            (spec(Rsa, 2048, Pkcs1), "RSA PRIVATE KEY", "PRIVATE KEY"),
            (spec(Rsa, 2048, Pkcs8), "PRIVATE KEY", "RSA PRIVATE KEY"),
            (spec(Rsa, 3072, Pkcs1), "RSA PRIVATE KEY", "PRIVATE KEY"),
            (spec(Rsa, 4096, Pkcs8), "PRIVATE KEY", "RSA PRIVATE KEY"),
            (spec(Ecdsa, 256, Pkcs1), "EC PRIVATE KEY", "PRIVATE KEY"),
            (spec(Ecdsa, 256, Pkcs8), "PRIVATE KEY", "EC PRIVATE KEY"),
            (spec(Ecdsa, 384, Pkcs1), "EC PRIVATE KEY", "PRIVATE KEY"),
            (spec(Ecdsa, 384, Pkcs8), "PRIVATE KEY", "EC PRIVATE KEY"),
            (spec(Ecdsa, 521, Pkcs1), "EC PRIVATE KEY", "PRIVATE KEY"),
            (spec(Ecdsa, 521, Pkcs8), "PRIVATE KEY", "EC PRIVATE KEY"),
            (spec(Ed25519, 256, Pkcs8), "PRIVATE KEY", "PRIVATE KEY"),
            // A spec built by hand with PKCS1 for Ed25519 still gets PKCS#8.
            (spec(Ed25519, 256, Pkcs1), "PRIVATE KEY", "PRIVATE KEY"),
        ];
        for (spec, label, other_label) in cases {
            let name = format!("{spec:?}");
            let pem = generated(&spec);
            assert!(
                pem.as_str()
                    .starts_with(&format!("-----BEGIN {label}-----\n")),
                "{name}: {}",
                &pem.as_str()[..40]
            );
            let want_encoding = if spec.algorithm == Ed25519 {
                Pkcs8
            } else {
                spec.encoding
            };
            assert_eq!(
                encoding_of_pem(pem.as_bytes()).unwrap(),
                want_encoding,
                "{name}"
            );

            let parsed = parse_private_key_pem(pem.as_bytes()).unwrap();
            assert!(key_matches_spec(parsed.info(), &spec), "{name}");
            assert_eq!(parsed.info().algorithm, spec.algorithm, "{name}");
            assert_eq!(parsed.info().size, spec.size, "{name}");
            assert_eq!(parsed.encoding(), want_encoding, "{name}");
            assert_eq!(
                key_info_from_spki(&parsed.info().public_key_der),
                Some((spec.algorithm, spec.size)),
                "{name}"
            );

            // Same encoding again gives the same bytes; the other encoding parses to the same key.
            assert_eq!(
                parsed.to_pem(want_encoding).unwrap().as_str(),
                pem.as_str(),
                "{name}"
            );
            let other = if want_encoding == Pkcs1 { Pkcs8 } else { Pkcs1 };
            let reencoded = parsed.to_pem(other).unwrap();
            assert!(
                reencoded
                    .as_str()
                    .starts_with(&format!("-----BEGIN {other_label}-----\n")),
                "{name}"
            );
            let back = parse_private_key_pem(reencoded.as_bytes()).unwrap();
            assert_eq!(back.info(), parsed.info(), "{name}");

            // And it signs.
            let pair = parsed.key_pair().unwrap();
            assert!(public_keys_equal(
                &rcgen::PublicKeyData::subject_public_key_info(&*pair),
                &parsed.info().public_key_der
            ));
        }
    }

    #[test]
    fn rsa_8192_generates() {
        let started = Instant::now();
        let spec = spec(PrivateKeyAlgorithm::Rsa, 8192, PrivateKeyEncoding::Pkcs1);
        let parsed = ParsedKey::generate(&spec).unwrap();
        assert_eq!(parsed.info().size, 8192);
        let back =
            parse_private_key_pem(parsed.to_pem(PrivateKeyEncoding::Pkcs1).unwrap().as_bytes())
                .unwrap();
        assert_eq!(back.info(), parsed.info());
        eprintln!("RSA 8192 generation and parse took {:?}", started.elapsed());
    }

    #[test]
    fn generated_keys_are_distinct() {
        let spec = spec(PrivateKeyAlgorithm::Ecdsa, 256, PrivateKeyEncoding::Pkcs1);
        let a = ParsedKey::generate(&spec).unwrap();
        let b = ParsedKey::generate(&spec).unwrap();
        assert_ne!(a.info().public_key_der, b.info().public_key_der);
        assert!(!public_keys_equal(
            &a.info().public_key_der,
            &b.info().public_key_der
        ));
        assert!(public_keys_equal(
            &a.info().public_key_der,
            &a.info().public_key_der
        ));
    }

    #[test]
    fn debug_never_shows_key_material() {
        for spec in [
            spec(PrivateKeyAlgorithm::Rsa, 2048, PrivateKeyEncoding::Pkcs1),
            spec(PrivateKeyAlgorithm::Ecdsa, 256, PrivateKeyEncoding::Pkcs8),
            spec(PrivateKeyAlgorithm::Ed25519, 256, PrivateKeyEncoding::Pkcs8),
        ] {
            let parsed = ParsedKey::generate(&spec).unwrap();
            let pem = parsed.to_pem(spec.encoding).unwrap();
            let body_line = pem.as_str().lines().nth(1).unwrap().to_owned();
            let pair = parsed.key_pair().unwrap();
            for shown in [
                format!("{parsed:?}"),
                format!("{pem:?}"),
                format!("{:?}", *pair),
            ] {
                assert!(!shown.contains(&body_line[..16]), "{shown}");
                assert!(!shown.contains("BEGIN"), "{shown}");
            }
            assert!(format!("{parsed:?}").contains("redacted"));
            assert_eq!(format!("{pem:?}"), "PrivateKeyPem([redacted])");
        }
    }

    #[test]
    fn key_matches_spec_table() {
        use PrivateKeyAlgorithm::*;
        let info = |algorithm, size| KeyInfo {
            algorithm,
            size,
            public_key_der: vec![],
        };
        let cases = [
            (
                info(Rsa, 2048),
                spec(Rsa, 2048, PrivateKeyEncoding::Pkcs8),
                true,
            ),
            (
                info(Rsa, 2048),
                spec(Rsa, 4096, PrivateKeyEncoding::Pkcs1),
                false,
            ),
            (
                info(Rsa, 256),
                spec(Ecdsa, 256, PrivateKeyEncoding::Pkcs1),
                false,
            ),
            (
                info(Ecdsa, 384),
                spec(Ecdsa, 384, PrivateKeyEncoding::Pkcs1),
                true,
            ),
            (
                info(Ecdsa, 384),
                spec(Ecdsa, 521, PrivateKeyEncoding::Pkcs1),
                false,
            ),
            (
                info(Ed25519, 256),
                spec(Ed25519, 256, PrivateKeyEncoding::Pkcs8),
                true,
            ),
            (
                info(Ecdsa, 256),
                spec(Ed25519, 256, PrivateKeyEncoding::Pkcs8),
                false,
            ),
        ];
        for (info, spec, want) in cases {
            assert_eq!(key_matches_spec(&info, &spec), want, "{info:?} {spec:?}");
        }
    }

    #[test]
    fn parse_errors_name_the_problem_without_key_material() {
        let rsa = generate(&KeySpec::default()).unwrap();
        let body: Vec<&str> = rsa.as_str().lines().collect();
        let truncated = body[..body.len() - 1].join("\n");
        let mut corrupt_body = body.clone();
        corrupt_body[3] = "!!!!not base64!!!!";
        let corrupt_base64 = corrupt_body.join("\n");
        let garbage_der = pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00");
        let garbage_rsa = pem_encode("RSA PRIVATE KEY", b"\x30\x03\x02\x01\x00");
        let cert_only = pem_encode("CERTIFICATE", b"\x30\x00");
        let cases: [(&str, &[u8], &str); 6] = [
            ("empty", b"", "no private key found"),
            (
                "certificate only",
                cert_only.as_bytes(),
                "no private key found",
            ),
            ("no END line", truncated.as_bytes(), "no matching END line"),
            ("bad base64", corrupt_base64.as_bytes(), "not valid base64"),
            ("garbage PKCS8", garbage_der.as_bytes(), "malformed PKCS#8"),
            (
                "garbage PKCS1",
                garbage_rsa.as_bytes(),
                "PKCS#1 RSA private key",
            ),
        ];
        for (name, input, fragment) in cases {
            let message = parse_private_key_pem(input).unwrap_err().to_string();
            assert!(message.contains(fragment), "{name}: {message}");
            assert!(!message.contains(&body[2][..20]), "{name}: {message}");
        }
        assert!(matches!(
            encoding_of_pem(cert_only.as_bytes()),
            Err(KeyError::NoPrivateKeyPem)
        ));
    }

    #[test]
    fn parse_skips_other_blocks_and_reads_foreign_keys() {
        // A key after a certificate block, as some tools write a combined PEM.
        let key = generate(&spec(
            PrivateKeyAlgorithm::Ecdsa,
            384,
            PrivateKeyEncoding::Pkcs1,
        ))
        .unwrap();
        let combined = format!("{}{}", pem_encode("CERTIFICATE", b"\x30\x00"), key.as_str());
        let parsed = parse_private_key_pem(combined.as_bytes()).unwrap();
        assert_eq!(parsed.info().size, 384);

        // Keys written by OpenSSL, when it is installed: an unsupported curve is refused with
        // a message naming the supported ones.
        let Ok(out) = Command::new("openssl")
            .args(["ecparam", "-name", "secp256k1", "-genkey", "-noout"])
            .output()
        else {
            return;
        };
        let message = parse_private_key_pem(&out.stdout).unwrap_err().to_string();
        assert!(message.contains("P-256, P-384 and P-521"), "{message}");
        let out = Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519"])
            .output()
            .unwrap();
        let parsed = parse_private_key_pem(&out.stdout).unwrap();
        assert_eq!(parsed.info().algorithm, PrivateKeyAlgorithm::Ed25519);
    }

    /// OpenSSL, when installed, reads every key certsmith writes; SEC 1 keys carry their
    /// curve, as Go's `x509.MarshalECPrivateKey` writes them.
    #[test]
    fn openssl_reads_our_keys() {
        use PrivateKeyAlgorithm::*;
        use PrivateKeyEncoding::*;
        if Command::new("openssl").arg("version").output().is_err() {
            return;
        }
        let cases = [
            (spec(Rsa, 2048, Pkcs1), "Private-Key: (2048 bit"),
            (spec(Rsa, 3072, Pkcs8), "Private-Key: (3072 bit"),
            (spec(Ecdsa, 256, Pkcs1), "ASN1 OID: prime256v1"),
            (spec(Ecdsa, 384, Pkcs1), "ASN1 OID: secp384r1"),
            (spec(Ecdsa, 521, Pkcs8), "ASN1 OID: secp521r1"),
            (spec(Ed25519, 256, Pkcs8), "ED25519 Private-Key"),
        ];
        let dir = std::env::temp_dir().join(format!("certsmith-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (spec, want) in cases {
            let pem = generated(&spec);
            let path = dir.join("key.pem");
            std::fs::write(&path, pem.as_bytes()).unwrap();
            let out = Command::new("openssl")
                .args(["pkey", "-noout", "-text", "-in"])
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains(want),
                "{spec:?}: {text}"
            );
            if spec.algorithm == Ecdsa && spec.encoding == Pkcs1 {
                // ECPrivateKey ::= SEQUENCE { version, privateKey, [0] parameters, [1] publicKey }
                let der = ParsedKey::generate(&spec).unwrap().to_der(Pkcs1).unwrap();
                let (_, body, _) = der::read(&der).unwrap();
                let (_, _, rest) = der::read(body).unwrap();
                let (_, _, rest) = der::read(rest).unwrap();
                let (params, _, rest) = der::read(rest).unwrap();
                let (public, _, _) = der::read(rest).unwrap();
                assert_eq!((params, public), (0xa0, 0xa1), "{spec:?}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signature_algorithm_choice() {
        use PrivateKeyAlgorithm::*;
        use SignatureAlgorithm as S;
        let info = |algorithm, size| KeyInfo {
            algorithm,
            size,
            public_key_der: vec![],
        };
        let cases: [(KeyInfo, Option<S>, Option<&rcgen::SignatureAlgorithm>); 12] = [
            (info(Rsa, 2048), None, Some(&rcgen::PKCS_RSA_SHA256)),
            (info(Rsa, 3072), None, Some(&rcgen::PKCS_RSA_SHA384)),
            (info(Rsa, 4096), None, Some(&rcgen::PKCS_RSA_SHA512)),
            (info(Rsa, 8192), None, Some(&rcgen::PKCS_RSA_SHA512)),
            (
                info(Rsa, 4096),
                Some(S::SHA256WithRSA),
                Some(&rcgen::PKCS_RSA_SHA256),
            ),
            (info(Ecdsa, 256), None, Some(&rcgen::PKCS_ECDSA_P256_SHA256)),
            (info(Ecdsa, 384), None, Some(&rcgen::PKCS_ECDSA_P384_SHA384)),
            (info(Ecdsa, 521), None, Some(&rcgen::PKCS_ECDSA_P521_SHA512)),
            (info(Ed25519, 256), None, Some(&rcgen::PKCS_ED25519)),
            (info(Ecdsa, 256), Some(S::ECDSAWithSHA384), None),
            (info(Rsa, 2048), Some(S::PureEd25519), None),
            (info(Ed25519, 256), Some(S::SHA256WithRSA), None),
        ];
        for (info, requested, want) in cases {
            let got = rcgen_algorithm(&info, requested);
            match want {
                Some(want) => assert_eq!(got.unwrap(), want, "{info:?} {requested:?}"),
                None => assert!(
                    got.unwrap_err()
                        .to_string()
                        .contains("spec.signatureAlgorithm"),
                    "{info:?} {requested:?}"
                ),
            }
        }
    }
}
