//! From fetched Kubernetes objects to the policy's facts: the Certificate controllers fetch the
//! Certificate, its Secret and its current and next CertificateRequests, and hand them here.
//! Pure: no I/O, no clock; all PEM parsing of the Certificate pipeline happens here (with
//! `crate::pki`), so `policy::trigger` and `policy::readiness` never see raw bytes.
//!
//! - [`secret_facts`]: the Secret's annotations, `tls.key` and the leaf of `tls.crt`.
//! - [`request_facts`]: a CertificateRequest's spec fields and what its CSR asks for.
//! - [`literal_subject_der`]: `spec.literalSubject` encoded as the CSR builder encodes it.
//! - [`trigger_input`]: all of the above as [`GatheredFacts`], lent out as a [`TriggerInput`].
//!
//! No message made here holds key material: unreadable `tls.key` data is described by
//! `pki::keys::KeyError`, which never quotes the key.

use k8s_openapi::api::core::v1::Secret;

use crate::api::{
    CONDITION_READY, Certificate, CertificateRequest, CertificateSpec, ConditionStatus,
    REASON_PENDING, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY, find_condition,
};
use crate::pki::csr::parse_csr;
use crate::pki::inspect::parse_certificates_pem;
use crate::pki::keys::parse_private_key_pem;
use crate::pki::names::subject_for_spec;
use crate::pki::{CertificateInfo, KeyInfo};
use crate::policy::conflicts::SecretConflict;
use crate::policy::facts::{
    CsrFacts, Parsed, RequestFacts, SecretData, SecretFacts, SubjectFacts, TriggerInput,
};

/// What the Secret named by `spec.secretName` holds; [`SecretFacts::Missing`] when it does not
/// exist. Only `data` is read (the API server never returns `stringData`). A key that is
/// absent or empty is [`Parsed::Absent`], as cert-manager's `len(data[key]) == 0`.
pub fn secret_facts(secret: Option<&Secret>) -> SecretFacts {
    let Some(secret) = secret else {
        return SecretFacts::Missing;
    };
    let value = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.as_slice())
            .filter(|b| !b.is_empty())
    };
    SecretFacts::Present(SecretData {
        annotations: secret.metadata.annotations.clone().unwrap_or_default(),
        private_key: private_key_facts(value(TLS_PRIVATE_KEY_KEY)),
        certificate: certificate_facts(value(TLS_CERT_KEY)),
    })
}

/// `tls.key` read as a private key. The parsed key (secret material) is dropped at once; only
/// its [`KeyInfo`] is kept.
fn private_key_facts(pem: Option<&[u8]>) -> Parsed<KeyInfo> {
    match pem.map(parse_private_key_pem) {
        None => Parsed::Absent,
        Some(Ok(key)) => Parsed::Valid(key.info().clone()),
        Some(Err(e)) => Parsed::Invalid(e.to_string()),
    }
}

/// The first (leaf) certificate of `tls.crt`. As cert-manager's
/// `DecodeX509CertificateBytes`, the whole chain must be readable.
fn certificate_facts(pem: Option<&[u8]>) -> Parsed<CertificateInfo> {
    match pem.map(parse_certificates_pem) {
        None => Parsed::Absent,
        Some(Ok(chain)) => match chain.into_iter().next() {
            Some(leaf) => Parsed::Valid(leaf),
            None => Parsed::Invalid("no certificate found in the PEM data".into()),
        },
        Some(Err(e)) => Parsed::Invalid(e.to_string()),
    }
}

/// What a CertificateRequest asked for. An unreadable CSR (bad PEM, bad signature, unsupported
/// key...) gives `csr: Err(reason)`.
pub fn request_facts(request: &CertificateRequest) -> RequestFacts {
    let spec = &request.spec;
    let ready = request
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_READY));
    RequestFacts {
        name: request.metadata.name.clone().unwrap_or_default(),
        pending_message: ready
            .filter(|c| {
                c.status == ConditionStatus::False && c.reason.as_deref() == Some(REASON_PENDING)
            })
            .and_then(|c| c.message.clone())
            .filter(|m| !m.is_empty()),
        issuer_ref: spec.issuer_ref.clone(),
        duration: spec.duration.clone(),
        is_ca: spec.is_ca.unwrap_or(false),
        usages: spec.usages.clone().unwrap_or_default(),
        csr: csr_facts(&spec.request.0),
    }
}

fn csr_facts(pem: &[u8]) -> Result<CsrFacts, String> {
    let info = parse_csr(pem).map_err(|e| e.to_string())?;
    // Not `info.common_name` (the first CN): the subject is read as Go reads it (the last CN).
    let subject = SubjectFacts::from_der(&info.subject_der)
        .ok_or_else(|| "the CSR's subject is not a valid X.509 name".to_owned())?;
    Ok(CsrFacts {
        public_key_der: info.public_key_der,
        subject,
        dns_names: info.dns_names,
        ip_addresses: info.ip_addresses,
        uris: info.uris,
        email_addresses: info.email_addresses,
        other_names: info.other_names,
    })
}

/// The subject DER the CSR builder writes for `spec`, when `spec.literalSubject` is set;
/// `None` when it is unset or cannot be parsed (then the policy does not compare subjects, as
/// cert-manager does on a parse error). A set but empty `literalSubject` (the schema forbids
/// it) gives the subject the builder writes instead: the one made from the `subject` fields.
pub fn literal_subject_der(spec: &CertificateSpec) -> Option<Vec<u8>> {
    spec.literal_subject.as_ref()?;
    subject_for_spec(spec).ok().map(|(der, _)| der)
}

/// The owned facts of one Certificate; [`GatheredFacts::input`] lends them, with the
/// Certificate's name, spec and status, as the policies' [`TriggerInput`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatheredFacts {
    pub secret: SecretFacts,
    pub current_request: Option<RequestFacts>,
    pub next_request: Option<RequestFacts>,
    pub literal_subject_der: Option<Vec<u8>>,
    pub secret_conflict: Option<SecretConflict>,
}

impl GatheredFacts {
    /// The policies' input for `certificate`, which must be the Certificate these facts were
    /// gathered for. Clones the facts; see [`GatheredFacts::into_input`].
    pub fn input<'a>(&self, certificate: &'a Certificate) -> TriggerInput<'a> {
        self.clone().into_input(certificate)
    }

    /// As [`GatheredFacts::input`], without cloning.
    pub fn into_input(self, certificate: &Certificate) -> TriggerInput<'_> {
        TriggerInput {
            certificate_name: certificate.metadata.name.as_deref().unwrap_or_default(),
            spec: &certificate.spec,
            status: certificate.status.as_ref(),
            secret: self.secret,
            current_request: self.current_request,
            next_request: self.next_request,
            literal_subject_der: self.literal_subject_der,
            secret_conflict: self.secret_conflict,
        }
    }
}

/// Everything the trigger and readiness policies need about `certificate`, from its Secret
/// (`spec.secretName`; `None` when it does not exist), the CertificateRequest of its current
/// revision (`status.revision`) and of the next one (`status.revision + 1`), each `None` when
/// it does not exist. Finding those objects is the caller's job.
pub fn trigger_input(
    certificate: &Certificate,
    secret: Option<&Secret>,
    current_request: Option<&CertificateRequest>,
    next_request: Option<&CertificateRequest>,
) -> GatheredFacts {
    GatheredFacts {
        secret: secret_facts(secret),
        current_request: current_request.map(request_facts),
        next_request: next_request.map(request_facts),
        literal_subject_der: literal_subject_der(&certificate.spec),
        secret_conflict: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::IpAddr;
    use std::sync::OnceLock;

    use jiff::Timestamp;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::api::{
        ANN_CERTIFICATE_NAME, ANN_ISSUER_GROUP, ANN_ISSUER_KIND, ANN_ISSUER_NAME,
        CertificatePrivateKey, CertificateRequestSpec, IssuerReference, KeyUsage, OtherName,
        PrivateKeyAlgorithm, REASON_DOES_NOT_EXIST, X509Subject,
    };
    use crate::pki::OtherNameValue;
    use crate::pki::csr::build_csr;
    use crate::pki::duration::parse_duration;
    use crate::pki::keys::{KeySpec, ParsedKey};
    use crate::pki::sign::{Signer, SigningRequest, sign};
    use crate::policy::trigger::issuance_needed;

    const NAME: &str = "app";

    fn now() -> Timestamp {
        "2026-02-01T00:00:00Z".parse().unwrap()
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    /// A spec asking for every kind of identity, with an ECDSA key (quick to make).
    fn spec() -> CertificateSpec {
        CertificateSpec {
            secret_name: "app-tls".into(),
            common_name: Some("app.example.com".into()),
            subject: Some(X509Subject {
                organizations: strings(&["Example", "Example Holding"]),
                countries: strings(&["NL"]),
                serial_number: Some("42".into()),
                ..Default::default()
            }),
            dns_names: strings(&["app.example.com", "www.example.com"]),
            ip_addresses: strings(&["10.0.0.1", "2001:db8::1"]),
            uris: strings(&["spiffe://cluster.local/ns/a/sa/b"]),
            email_addresses: strings(&["admin@example.com"]),
            other_names: Some(vec![OtherName {
                oid: "1.3.6.1.4.1.311.20.2.3".into(),
                utf8_value: "app@example.com".into(),
            }]),
            usages: Some(vec![KeyUsage::DigitalSignature, KeyUsage::ServerAuth]),
            duration: Some("720h".into()),
            private_key: Some(CertificatePrivateKey {
                algorithm: Some(PrivateKeyAlgorithm::Ecdsa),
                ..Default::default()
            }),
            issuer_ref: IssuerReference {
                name: "selfsigned".into(),
                kind: Some("ClusterIssuer".into()),
                group: None,
            },
            ..Default::default()
        }
    }

    fn certificate(spec: CertificateSpec) -> Certificate {
        let mut cert = Certificate::new(NAME, spec);
        cert.metadata.namespace = Some("default".into());
        cert
    }

    fn key_for(spec: &CertificateSpec) -> ParsedKey {
        ParsedKey::generate(&KeySpec::from_private_key(spec.private_key.as_ref()).unwrap()).unwrap()
    }

    /// What the request manager, the issuer and the issuing controller would make for `spec`:
    /// the key, the CertificateRequest and the Secret.
    struct Issued {
        key: ParsedKey,
        request: CertificateRequest,
        secret: Secret,
    }

    fn issue(spec: &CertificateSpec) -> Issued {
        let key = key_for(spec);
        let csr = build_csr(spec, &key).unwrap();
        let request = CertificateRequest::new(
            &format!("{NAME}-1"),
            CertificateRequestSpec {
                request: ByteString(csr.clone().into_bytes()),
                issuer_ref: spec.issuer_ref.clone(),
                duration: spec.duration.clone(),
                is_ca: spec.is_ca,
                usages: spec.usages.clone(),
                ..Default::default()
            },
        );
        let signed = sign(
            csr.as_bytes(),
            &SigningRequest {
                duration: parse_duration(spec.duration.as_deref().unwrap_or("2160h")).unwrap(),
                is_ca: spec.is_ca.unwrap_or(false),
                usages: spec.usages.clone().unwrap_or_default(),
                ..Default::default()
            },
            &Signer::SelfSigned { key: &key },
            now(),
        )
        .unwrap();
        let annotations = [
            (ANN_CERTIFICATE_NAME, NAME),
            (ANN_ISSUER_NAME, spec.issuer_ref.name.as_str()),
            (
                ANN_ISSUER_KIND,
                spec.issuer_ref.kind.as_deref().unwrap_or("Issuer"),
            ),
            (
                ANN_ISSUER_GROUP,
                spec.issuer_ref
                    .group
                    .as_deref()
                    .unwrap_or("cert-manager.io"),
            ),
        ];
        let secret = secret(
            Some(
                annotations
                    .iter()
                    .map(|(k, v)| (*k, v.as_bytes()))
                    .collect(),
            ),
            &[
                (
                    TLS_PRIVATE_KEY_KEY,
                    key.to_pem(key.encoding()).unwrap().as_bytes(),
                ),
                (TLS_CERT_KEY, signed.certificate_pem.as_bytes()),
            ],
        );
        Issued {
            key,
            request,
            secret,
        }
    }

    /// One issued set, shared by the tests that only read it.
    fn issued() -> &'static Issued {
        static ISSUED: OnceLock<Issued> = OnceLock::new();
        ISSUED.get_or_init(|| issue(&spec()))
    }

    fn secret(annotations: Option<Vec<(&str, &[u8])>>, data: &[(&str, &[u8])]) -> Secret {
        let to_string = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Secret {
            metadata: ObjectMeta {
                name: Some("app-tls".into()),
                annotations: annotations.map(|a| {
                    a.into_iter()
                        .map(|(k, v)| (k.to_owned(), to_string(v)))
                        .collect()
                }),
                ..Default::default()
            },
            data: (!data.is_empty()).then(|| {
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect()
            }),
            type_: Some("kubernetes.io/tls".into()),
            ..Default::default()
        }
    }

    /// What a Secret's fact should be, loosely.
    #[derive(Debug, PartialEq)]
    enum Want {
        Absent,
        /// Invalid, with a message containing this.
        Invalid(&'static str),
        Valid,
    }

    fn kind<T>(p: &Parsed<T>) -> &'static str {
        match p {
            Parsed::Absent => "Absent",
            Parsed::Invalid(_) => "Invalid",
            Parsed::Valid(_) => "Valid",
        }
    }

    #[test]
    fn secret_facts_table() {
        let issued = issued();
        let data = issued.secret.data.as_ref().unwrap();
        let key_pem = data[TLS_PRIVATE_KEY_KEY].0.as_slice();
        let cert_pem = data[TLS_CERT_KEY].0.as_slice();
        // A key PEM block whose body is not a key: the message must not quote it.
        let garbage_key = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAAAAAAAAAAAAAAAAAAAAAAA\n-----END EC PRIVATE KEY-----\n";
        let garbage_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let mut key_then_cert = key_pem.to_vec();
        key_then_cert.extend_from_slice(cert_pem);

        struct Case {
            name: &'static str,
            secret: Option<Secret>,
            key: Want,
            cert: Want,
        }
        let cases = [
            Case {
                name: "a Secret without data",
                secret: Some(secret(None, &[])),
                key: Want::Absent,
                cert: Want::Absent,
            },
            Case {
                name: "empty values count as absent",
                secret: Some(secret(
                    None,
                    &[(TLS_PRIVATE_KEY_KEY, b""), (TLS_CERT_KEY, b"")],
                )),
                key: Want::Absent,
                cert: Want::Absent,
            },
            Case {
                name: "only a key",
                secret: Some(secret(None, &[(TLS_PRIVATE_KEY_KEY, key_pem)])),
                key: Want::Valid,
                cert: Want::Absent,
            },
            Case {
                name: "only a certificate",
                secret: Some(secret(None, &[(TLS_CERT_KEY, cert_pem)])),
                key: Want::Absent,
                cert: Want::Valid,
            },
            Case {
                name: "garbage certificate",
                secret: Some(secret(
                    None,
                    &[(TLS_PRIVATE_KEY_KEY, key_pem), (TLS_CERT_KEY, garbage_cert)],
                )),
                key: Want::Valid,
                cert: Want::Invalid("certificate 0"),
            },
            Case {
                name: "no certificate block",
                secret: Some(secret(None, &[(TLS_CERT_KEY, b"hello")])),
                key: Want::Absent,
                cert: Want::Invalid("no CERTIFICATE block"),
            },
            Case {
                name: "a chain whose second certificate is garbage",
                secret: Some(secret(
                    None,
                    &[(TLS_CERT_KEY, &{
                        let mut chain = cert_pem.to_vec();
                        chain.extend_from_slice(garbage_cert);
                        chain
                    })],
                )),
                key: Want::Absent,
                cert: Want::Invalid("certificate 1"),
            },
            Case {
                name: "garbage key",
                secret: Some(secret(
                    None,
                    &[(TLS_PRIVATE_KEY_KEY, garbage_key), (TLS_CERT_KEY, cert_pem)],
                )),
                key: Want::Invalid("EC private key could not be read"),
                cert: Want::Valid,
            },
            Case {
                name: "not PEM at all as the key",
                secret: Some(secret(None, &[(TLS_PRIVATE_KEY_KEY, b"secret bytes")])),
                key: Want::Invalid("no private key found"),
                cert: Want::Absent,
            },
            Case {
                name: "a matching pair",
                secret: Some(issued.secret.clone()),
                key: Want::Valid,
                cert: Want::Valid,
            },
            Case {
                name: "key and certificate both in tls.key and tls.crt",
                secret: Some(secret(
                    None,
                    &[
                        (TLS_PRIVATE_KEY_KEY, &key_then_cert),
                        (TLS_CERT_KEY, &key_then_cert),
                    ],
                )),
                key: Want::Valid,
                cert: Want::Valid,
            },
        ];

        assert_eq!(secret_facts(None), SecretFacts::Missing, "no Secret");
        for case in cases {
            let SecretFacts::Present(facts) = secret_facts(case.secret.as_ref()) else {
                panic!("{}: the Secret exists", case.name);
            };
            for (what, got, want) in [
                ("key", kind(&facts.private_key), &case.key),
                ("cert", kind(&facts.certificate), &case.cert),
            ] {
                let want_kind = match want {
                    Want::Absent => "Absent",
                    Want::Invalid(_) => "Invalid",
                    Want::Valid => "Valid",
                };
                assert_eq!(got, want_kind, "{}: {what}", case.name);
            }
            if let (Want::Invalid(part), Parsed::Invalid(msg)) = (&case.key, &facts.private_key) {
                assert!(msg.contains(part), "{}: {msg}", case.name);
                assert!(!msg.contains("-----BEGIN"), "{}: {msg}", case.name);
                assert!(!msg.contains("MHcCAQEE"), "{}: {msg}", case.name);
                assert!(!msg.contains("secret bytes"), "{}: {msg}", case.name);
            }
            if let (Want::Invalid(part), Parsed::Invalid(msg)) = (&case.cert, &facts.certificate) {
                assert!(msg.contains(part), "{}: {msg}", case.name);
            }
            if let Parsed::Valid(key) = &facts.private_key {
                assert_eq!(key, issued.key.info(), "{}", case.name);
            }
            if let Parsed::Valid(cert) = &facts.certificate {
                assert_eq!(
                    cert.public_key_der,
                    issued.key.info().public_key_der,
                    "{}: the leaf",
                    case.name
                );
            }
        }
    }

    #[test]
    fn secret_facts_keep_annotations() {
        let SecretFacts::Present(facts) = secret_facts(Some(&issued().secret)) else {
            panic!("the Secret exists");
        };
        let want: BTreeMap<String, String> = [
            (ANN_CERTIFICATE_NAME, NAME),
            (ANN_ISSUER_NAME, "selfsigned"),
            (ANN_ISSUER_KIND, "ClusterIssuer"),
            (ANN_ISSUER_GROUP, "cert-manager.io"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(facts.annotations, want);
        let SecretFacts::Present(bare) = secret_facts(Some(&secret(None, &[]))) else {
            panic!("the Secret exists");
        };
        assert!(bare.annotations.is_empty());
    }

    #[test]
    fn request_facts_round_trip() {
        let issued = issued();
        let spec = spec();
        let subject_der = subject_for_spec(&spec).unwrap().0;
        let facts = request_facts(&issued.request);
        assert_eq!(facts.issuer_ref, spec.issuer_ref);
        assert_eq!(facts.duration.as_deref(), Some("720h"));
        assert!(!facts.is_ca);
        assert_eq!(
            facts.usages,
            vec![KeyUsage::DigitalSignature, KeyUsage::ServerAuth]
        );
        let csr = facts.csr.expect("the CSR parses");
        assert_eq!(csr.public_key_der, issued.key.info().public_key_der);
        assert_eq!(csr.dns_names, spec.dns_names.unwrap());
        let ips: Vec<IpAddr> = spec
            .ip_addresses
            .unwrap()
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(csr.ip_addresses, ips);
        assert_eq!(csr.uris, spec.uris.unwrap());
        assert_eq!(csr.email_addresses, spec.email_addresses.unwrap());
        assert_eq!(
            csr.other_names,
            vec![OtherNameValue {
                oid: "1.3.6.1.4.1.311.20.2.3".into(),
                utf8_value: "app@example.com".into(),
            }]
        );
        let subject = spec.subject.unwrap();
        assert_eq!(csr.subject.common_name, spec.common_name);
        assert_eq!(csr.subject.serial_number, subject.serial_number);
        assert_eq!(csr.subject.organizations, subject.organizations.unwrap());
        assert_eq!(csr.subject.countries, subject.countries.unwrap());
        assert!(csr.subject.localities.is_empty());
        assert_eq!(csr.subject.der, subject_der);

        // Unset optional fields of the request.
        let mut bare = issued.request.clone();
        bare.spec.duration = None;
        bare.spec.is_ca = None;
        bare.spec.usages = None;
        let facts = request_facts(&bare);
        assert_eq!(
            (facts.duration, facts.is_ca, facts.usages),
            (None, false, vec![])
        );
    }

    #[test]
    fn request_facts_read_the_subject_as_go_does() {
        // The string lists the last DER RDN first: Go keeps the last CN in DER order, "first".
        let spec = CertificateSpec {
            literal_subject: Some("CN=first,O=Example,CN=second".into()),
            private_key: spec().private_key,
            ..Default::default()
        };
        let key = key_for(&spec);
        let request = CertificateRequest::new(
            "r",
            CertificateRequestSpec {
                request: ByteString(build_csr(&spec, &key).unwrap().into_bytes()),
                ..Default::default()
            },
        );
        let csr = request_facts(&request).csr.unwrap();
        assert_eq!(csr.subject.common_name.as_deref(), Some("first"));
        assert_eq!(csr.subject.organizations, vec!["Example".to_owned()]);
        assert_eq!(Some(csr.subject.der), literal_subject_der(&spec));
    }

    #[test]
    fn unreadable_csrs_give_errors() {
        let pem = String::from_utf8(issued().request.spec.request.0.clone()).unwrap();
        // Flip one character in the middle of the body: the signature no longer verifies (or
        // the DER no longer parses).
        let mut tampered = pem.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let cases: [(&str, Vec<u8>, &str); 4] = [
            ("empty", vec![], "no PEM block"),
            ("not PEM", b"hello".to_vec(), "no PEM block"),
            (
                "a certificate instead",
                issued().secret.data.as_ref().unwrap()[TLS_CERT_KEY]
                    .0
                    .clone(),
                "no PEM block",
            ),
            ("tampered", tampered, "CSR"),
        ];
        for (name, bytes, part) in cases {
            let mut request = issued().request.clone();
            request.spec.request = ByteString(bytes);
            let facts = request_facts(&request);
            let err = facts.csr.expect_err(name);
            assert!(err.contains(part), "{name}: {err}");
            // The spec fields are still read.
            assert_eq!(facts.issuer_ref, issued().request.spec.issuer_ref, "{name}");
        }
    }

    #[test]
    fn literal_subject_der_table() {
        let with = |literal: Option<&str>| CertificateSpec {
            literal_subject: literal.map(str::to_owned),
            common_name: Some("fields.example.com".into()),
            ..Default::default()
        };
        let fields_der = subject_for_spec(&with(None)).unwrap().0;
        let cases = [
            ("unset", None, None),
            (
                "valid",
                Some("CN=app,O=Example,C=NL"),
                Some(
                    subject_for_spec(&CertificateSpec {
                        literal_subject: Some("CN=app,O=Example,C=NL".into()),
                        ..Default::default()
                    })
                    .unwrap()
                    .0,
                ),
            ),
            ("unparseable", Some("not a name"), None),
            ("unknown keyword", Some("NOPE=x"), None),
            (
                "empty: the builder uses the fields",
                Some(""),
                Some(fields_der),
            ),
        ];
        for (name, literal, want) in cases {
            assert_eq!(literal_subject_der(&with(literal)), want, "{name}");
        }
        // It is the subject the CSR carries.
        let der = literal_subject_der(&with(Some("CN=app,O=Example,C=NL"))).unwrap();
        assert_eq!(
            SubjectFacts::from_der(&der).unwrap().countries,
            vec!["NL".to_owned()]
        );
    }

    #[test]
    fn end_to_end_with_the_trigger_policy() {
        let literal = CertificateSpec {
            literal_subject: Some("CN=app.example.com,O=Example".into()),
            common_name: None,
            subject: None,
            ..spec()
        };
        for (name, spec) in [("subject fields", spec()), ("literal subject", literal)] {
            let cert = certificate(spec.clone());
            let issued = issue(&spec);
            let at = now()
                .checked_add(jiff::SignedDuration::from_hours(1))
                .unwrap();

            let facts = trigger_input(&cert, Some(&issued.secret), Some(&issued.request), None);
            assert_eq!(
                facts.literal_subject_der.is_some(),
                spec.literal_subject.is_some(),
                "{name}"
            );
            assert_eq!(
                issuance_needed(&facts.input(&cert), at),
                None,
                "{name}: freshly issued"
            );
            let input = facts.clone().into_input(&cert);
            assert_eq!(input.certificate_name, NAME);
            assert_eq!(input.spec, &cert.spec);
            assert_eq!(issuance_needed(&input, at), None, "{name}: into_input");

            // Without the current request the certificate itself is compared with the spec.
            let facts = trigger_input(&cert, Some(&issued.secret), None, None);
            assert_eq!(
                issuance_needed(&facts.input(&cert), at),
                None,
                "{name}: no request"
            );

            let facts = trigger_input(&cert, None, Some(&issued.request), None);
            assert_eq!(facts.secret, SecretFacts::Missing);
            let verdict = issuance_needed(&facts.input(&cert), at).expect("must issue");
            assert_eq!(verdict.reason, REASON_DOES_NOT_EXIST, "{name}");

            // A changed spec shows through the request.
            let mut changed = cert.clone();
            changed.spec.dns_names = strings(&["other.example.com"]);
            let facts = trigger_input(&changed, Some(&issued.secret), Some(&issued.request), None);
            let verdict = issuance_needed(&facts.input(&changed), at).expect("must reissue");
            assert_eq!(verdict.reason, "RequestChanged", "{name}: {verdict:?}");
        }

        // The next request is gathered too.
        let cert = certificate(spec());
        let issued = issued();
        let facts = trigger_input(&cert, None, None, Some(&issued.request));
        assert_eq!(facts.current_request, None);
        assert_eq!(facts.next_request, Some(request_facts(&issued.request)));
    }
}
