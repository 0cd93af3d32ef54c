//! Keys, CSRs, signing, X.509 inspection and renewal-time maths. Pure functions: no kube
//! client and no clock of its own (callers pass `now`).
//!
//! The types in this file are the facts other modules (policy, controllers) reason about; the
//! submodules produce them from PEM/DER and from the API types.

pub mod csr;
mod der;
pub mod duration;
mod extensions;
pub mod inspect;
pub mod keys;
pub mod keystore;
pub mod names;
pub mod renewal;
pub mod sign;

use std::net::IpAddr;

use jiff::Timestamp;

use crate::api::{KeyUsage, PrivateKeyAlgorithm};

/// What a private key is, without its secret material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub algorithm: PrivateKeyAlgorithm,
    /// Bits: RSA modulus size; ECDSA curve size (256, 384, 521); 256 for Ed25519.
    pub size: u32,
    /// DER SubjectPublicKeyInfo of the key's public half, to compare with certificates and CSRs.
    pub public_key_der: Vec<u8>,
}

/// An otherName subject alternative name with a UTF-8 string value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherNameValue {
    pub oid: String,
    pub utf8_value: String,
}

/// What an X.509 certificate says, in the terms a Certificate spec uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// RFC 4514 string of the subject, e.g. `CN=app,O=Example`.
    pub subject: String,
    pub common_name: Option<String>,
    pub organizations: Vec<String>,
    /// RFC 4514 string of the issuer.
    pub issuer: String,
    pub issuer_common_name: Option<String>,
    pub serial_hex: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    pub other_names: Vec<OtherNameValue>,
    pub is_ca: bool,
    /// Key usages and extended key usages, in cert-manager's vocabulary.
    pub usages: Vec<KeyUsage>,
    /// DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    pub key_algorithm: PrivateKeyAlgorithm,
    pub key_size: u32,
    /// SHA-256 fingerprint of the DER certificate, lowercase hex.
    pub sha256_fingerprint: String,
}
