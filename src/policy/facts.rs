//! The facts the Certificate policies decide on, gathered (and parsed) by the controllers.
//! Nothing here does I/O or parsing of PEM: the controller reads the Secret and the
//! CertificateRequest, parses them with `crate::pki`, and hands over the results.

use std::collections::BTreeMap;
use std::net::IpAddr;

use x509_parser::prelude::FromDer as _;
use x509_parser::x509::X509Name;

use crate::api::{CertificateSpec, CertificateStatus, IssuerReference, KeyUsage};
use crate::pki::names::strings;
use crate::pki::{CertificateInfo, KeyInfo, OtherNameValue};
use crate::policy::conflicts::SecretConflict;

/// Everything the trigger and readiness policies look at for one Certificate.
#[derive(Clone, Debug)]
pub struct TriggerInput<'a> {
    /// `metadata.name` of the Certificate, compared with the Secret's
    /// `cert-manager.io/certificate-name` annotation.
    pub certificate_name: &'a str,
    pub spec: &'a CertificateSpec,
    pub status: Option<&'a CertificateStatus>,
    /// The Secret named by `spec.secretName`.
    pub secret: SecretFacts,
    /// The CertificateRequest that produced the current revision (`status.revision`), when it
    /// still exists. When it does not, the certificate itself is compared with the spec.
    pub current_request: Option<RequestFacts>,
    /// The CertificateRequest of the next revision (`status.revision + 1`), when it exists.
    /// Only the backoff decision looks at it: a failed request that no longer matches the spec
    /// means the spec changed, and the new spec is tried at once.
    pub next_request: Option<RequestFacts>,
    /// DER encoding of `spec.literalSubject`, made by the same code that builds CSRs, to compare
    /// with the request's subject. `None` when `spec.literalSubject` is unset or could not be
    /// encoded (then the request is not compared, as cert-manager does on a parse error).
    pub literal_subject_der: Option<Vec<u8>>,
    /// Another Certificate names the same Secret and keeps it (see `policy::conflicts`).
    pub secret_conflict: Option<SecretConflict>,
}

/// What the Certificate's Secret holds.
// One value per reconcile: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretFacts {
    /// There is no Secret named `spec.secretName`.
    Missing,
    Present(SecretData),
}

/// The parts of an existing Secret the policies look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretData {
    pub annotations: BTreeMap<String, String>,
    /// `tls.key`.
    pub private_key: Parsed<KeyInfo>,
    /// `tls.crt`: its first (leaf) certificate.
    pub certificate: Parsed<CertificateInfo>,
}

/// A Secret key's value: absent (or empty), present but unreadable, or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    Absent,
    /// Why it could not be read, in words for a person.
    Invalid(String),
    Valid(T),
}

impl<T> Parsed<T> {
    pub fn valid(&self) -> Option<&T> {
        match self {
            Parsed::Valid(v) => Some(v),
            _ => None,
        }
    }
}

/// What a CertificateRequest asked for: its spec fields and what its CSR says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFacts {
    /// `metadata.name`.
    pub name: String,
    /// `Ready=False` with reason `Pending`: the signer's message saying what it waits for.
    pub pending_message: Option<String>,
    pub issuer_ref: IssuerReference,
    /// `spec.duration` as written.
    pub duration: Option<String>,
    pub is_ca: bool,
    /// `spec.usages` (empty when unset).
    pub usages: Vec<KeyUsage>,
    /// The parsed `spec.request`, or why it could not be parsed.
    pub csr: Result<CsrFacts, String>,
}

/// What a CSR asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsrFacts {
    /// DER SubjectPublicKeyInfo of the CSR's key.
    pub public_key_der: Vec<u8>,
    pub subject: SubjectFacts,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    /// otherName SANs with UTF8String values (others left out).
    pub other_names: Vec<OtherNameValue>,
}

/// The subject of a CSR, field by field as a Certificate spec names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectFacts {
    pub common_name: Option<String>,
    pub serial_number: Option<String>,
    pub organizations: Vec<String>,
    pub countries: Vec<String>,
    pub organizational_units: Vec<String>,
    pub localities: Vec<String>,
    pub provinces: Vec<String>,
    pub street_addresses: Vec<String>,
    pub postal_codes: Vec<String>,
    /// DER of the whole subject Name, compared with [`TriggerInput::literal_subject_der`].
    pub der: Vec<u8>,
}

impl SubjectFacts {
    /// Reads the fields of a DER subject `Name` (a CSR's), as Go's `pkix.Name` does: the last
    /// CN and serialNumber, every value of the list attributes in order. `None` when `der` is
    /// not a Name.
    pub fn from_der(der: &[u8]) -> Option<SubjectFacts> {
        let (rest, name) = X509Name::from_der(der).ok()?;
        if !rest.is_empty() {
            return None;
        }
        let all = |oid| strings(&name, oid);
        Some(SubjectFacts {
            common_name: all("2.5.4.3").pop(),
            serial_number: all("2.5.4.5").pop(),
            countries: all("2.5.4.6"),
            localities: all("2.5.4.7"),
            provinces: all("2.5.4.8"),
            street_addresses: all("2.5.4.9"),
            organizations: all("2.5.4.10"),
            organizational_units: all("2.5.4.11"),
            postal_codes: all("2.5.4.17"),
            der: der.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    #[test]
    fn subject_facts_from_a_csr_subject() {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "NL");
        dn.push(DnType::StateOrProvinceName, "Noord-Holland");
        dn.push(DnType::LocalityName, "Amsterdam");
        dn.push(DnType::OrganizationName, "Example");
        dn.push(DnType::OrganizationalUnitName, "Ops");
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 9]), "Dam 1");
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 17]), "1012 JS");
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), "42");
        dn.push(DnType::CommonName, "app.example.com");
        params.distinguished_name = dn;
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let csr = params.serialize_request(&key).unwrap();
        let (_, req) =
            x509_parser::certification_request::X509CertificationRequest::from_der(csr.der())
                .unwrap();
        let der = req.certification_request_info.subject.as_raw().to_vec();

        let one = |s: &str| vec![s.to_owned()];
        assert_eq!(
            SubjectFacts::from_der(&der),
            Some(SubjectFacts {
                common_name: Some("app.example.com".into()),
                serial_number: Some("42".into()),
                organizations: one("Example"),
                countries: one("NL"),
                organizational_units: one("Ops"),
                localities: one("Amsterdam"),
                provinces: one("Noord-Holland"),
                street_addresses: one("Dam 1"),
                postal_codes: one("1012 JS"),
                der: der.clone(),
            })
        );
        assert_eq!(SubjectFacts::from_der(b"not DER"), None);
        let mut trailing = der;
        trailing.push(0);
        assert_eq!(SubjectFacts::from_der(&trailing), None);
    }
}
