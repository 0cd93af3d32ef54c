//! Test fixtures for the policies: a Certificate whose Secret and current request are up to
//! date at [`now`], to be spoiled one fact at a time.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::api::{
    ANN_CERTIFICATE_NAME, ANN_ISSUER_GROUP, ANN_ISSUER_KIND, ANN_ISSUER_NAME, CONDITION_ISSUING,
    CertificateSpec, CertificateStatus, Condition, ConditionStatus, IssuerReference,
    PrivateKeyAlgorithm,
};
use crate::pki::{CertificateInfo, KeyInfo};
use crate::policy::conflicts::SecretConflict;
use crate::policy::facts::{
    CsrFacts, Parsed, RequestFacts, SecretData, SecretFacts, SubjectFacts, TriggerInput,
};

pub const NAME: &str = "app";
pub const KEY_A: &[u8] = b"spki of key A";
pub const KEY_B: &[u8] = b"spki of key B";

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The fixed clock: a month into the certificate's 90 days (renewal on 2026-03-02).
pub fn now() -> Timestamp {
    ts("2026-02-01T00:00:00Z")
}

pub fn spec() -> CertificateSpec {
    CertificateSpec {
        secret_name: "app-tls".into(),
        common_name: Some("app.example.com".into()),
        dns_names: Some(vec!["app.example.com".into(), "www.example.com".into()]),
        issuer_ref: IssuerReference {
            name: "ca".into(),
            kind: Some("ClusterIssuer".into()),
            group: None,
        },
        ..Default::default()
    }
}

pub fn key() -> KeyInfo {
    KeyInfo {
        algorithm: PrivateKeyAlgorithm::Rsa,
        size: 2048,
        public_key_der: KEY_A.to_vec(),
    }
}

pub fn cert() -> CertificateInfo {
    CertificateInfo {
        subject: "CN=app.example.com".into(),
        common_name: Some("app.example.com".into()),
        organizations: vec![],
        issuer: "CN=Example CA".into(),
        issuer_common_name: Some("Example CA".into()),
        serial_hex: "1".into(),
        not_before: ts("2026-01-01T00:00:00Z"),
        not_after: ts("2026-04-01T00:00:00Z"),
        dns_names: vec!["app.example.com".into(), "www.example.com".into()],
        ip_addresses: vec![],
        uris: vec![],
        email_addresses: vec![],
        other_names: vec![],
        is_ca: false,
        usages: vec![],
        public_key_der: KEY_A.to_vec(),
        key_algorithm: PrivateKeyAlgorithm::Rsa,
        key_size: 2048,
        sha256_fingerprint: "00".into(),
    }
}

pub fn annotations() -> BTreeMap<String, String> {
    [
        (ANN_CERTIFICATE_NAME, NAME),
        (ANN_ISSUER_NAME, "ca"),
        (ANN_ISSUER_KIND, "ClusterIssuer"),
        (ANN_ISSUER_GROUP, "cert-manager.io"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub fn secret() -> SecretData {
    SecretData {
        annotations: annotations(),
        private_key: Parsed::Valid(key()),
        certificate: Parsed::Valid(cert()),
    }
}

/// The request a certsmith request manager would have made for [`spec`].
pub fn request() -> RequestFacts {
    RequestFacts {
        name: format!("{NAME}-1"),
        pending_message: None,
        issuer_ref: spec().issuer_ref,
        duration: None,
        is_ca: false,
        usages: vec![],
        csr: Ok(CsrFacts {
            public_key_der: KEY_A.to_vec(),
            subject: SubjectFacts {
                common_name: Some("app.example.com".into()),
                der: b"subject DER".to_vec(),
                ..Default::default()
            },
            dns_names: vec!["www.example.com".into(), "app.example.com".into()],
            ..Default::default()
        }),
    }
}

/// A status with only an `Issuing` condition of `status`.
pub fn issuing_status(status: ConditionStatus) -> CertificateStatus {
    CertificateStatus {
        conditions: Some(vec![Condition {
            type_: CONDITION_ISSUING.into(),
            status,
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// Owned facts; [`Facts::input`] borrows them as a [`TriggerInput`].
#[derive(Clone, Debug)]
pub struct Facts {
    pub spec: CertificateSpec,
    pub status: Option<CertificateStatus>,
    pub secret: SecretFacts,
    pub current_request: Option<RequestFacts>,
    pub next_request: Option<RequestFacts>,
    pub literal_subject_der: Option<Vec<u8>>,
    pub secret_conflict: Option<SecretConflict>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts {
            spec: spec(),
            status: None,
            secret: SecretFacts::Present(secret()),
            current_request: Some(request()),
            next_request: None,
            literal_subject_der: None,
            secret_conflict: None,
        }
    }
}

impl Facts {
    pub fn input(&self) -> TriggerInput<'_> {
        TriggerInput {
            certificate_name: NAME,
            spec: &self.spec,
            status: self.status.as_ref(),
            secret: self.secret.clone(),
            current_request: self.current_request.clone(),
            next_request: self.next_request.clone(),
            literal_subject_der: self.literal_subject_der.clone(),
            secret_conflict: self.secret_conflict.clone(),
        }
    }

    pub fn secret_mut(&mut self) -> &mut SecretData {
        match &mut self.secret {
            SecretFacts::Present(data) => data,
            SecretFacts::Missing => panic!("no Secret in these facts"),
        }
    }

    pub fn cert_mut(&mut self) -> &mut CertificateInfo {
        match &mut self.secret_mut().certificate {
            Parsed::Valid(c) => c,
            _ => panic!("no certificate in these facts"),
        }
    }

    pub fn key_mut(&mut self) -> &mut KeyInfo {
        match &mut self.secret_mut().private_key {
            Parsed::Valid(k) => k,
            _ => panic!("no key in these facts"),
        }
    }

    pub fn request_mut(&mut self) -> &mut RequestFacts {
        self.current_request.as_mut().expect("a current request")
    }

    pub fn csr_mut(&mut self) -> &mut CsrFacts {
        self.request_mut().csr.as_mut().expect("a parsed CSR")
    }
}
