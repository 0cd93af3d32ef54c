//! Reading a CA issuer's key pair from its Secret into facts for the Ready decision. Pure:
//! the controller fetches the Secret.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::readiness::CaSecretFacts;
use crate::api::{TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY};
use crate::pki::inspect::parse_certificates_pem;
use crate::pki::sign::{CaProblem, ca_status};

/// What a CA Secret holds: a usable CA key pair or the first problem found (missing or
/// unreadable data, key mismatch, not a CA, expired). Texts never include key material.
pub fn inspect_ca_secret(secret: &Secret, now: Timestamp) -> CaSecretFacts {
    let data = secret.data.as_ref();
    let cert = data
        .and_then(|d| d.get(TLS_CERT_KEY))
        .map(|b| b.0.as_slice());
    let key = data
        .and_then(|d| d.get(TLS_PRIVATE_KEY_KEY))
        .map(|b| b.0.as_slice());
    if let Err(problem) = ca_status(cert, key, now) {
        return CaSecretFacts::Problem {
            name: secret.name_any(),
            problem,
        };
    }
    // ca_status read the certificate; its leaf's expiry is when Ready must be looked at again.
    match cert.map(parse_certificates_pem) {
        Some(Ok(chain)) => CaSecretFacts::Valid {
            not_after: chain[0].not_after,
        },
        _ => CaSecretFacts::Problem {
            name: secret.name_any(),
            problem: CaProblem::InvalidCertificate("unreadable".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    fn secret(data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("root".into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    fn cert(ca: bool) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["ca.example.test".into()]).expect("params");
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        (
            params.self_signed(&key).expect("cert").pem(),
            key.serialize_pem(),
        )
    }

    #[test]
    fn ca_secret_facts_table() {
        let now = Timestamp::now();
        let (ca, ca_key) = cert(true);
        let (leaf, leaf_key) = cert(false);
        let table: Vec<(Secret, &str)> = vec![
            (secret(&[("tls.crt", &ca), ("tls.key", &ca_key)]), "Valid"),
            (secret(&[("tls.key", &ca_key)]), "MissingCertificate"),
            (secret(&[("tls.crt", &ca)]), "MissingPrivateKey"),
            (
                secret(&[("tls.crt", "garbage"), ("tls.key", &ca_key)]),
                "InvalidCertificate",
            ),
            (
                secret(&[("tls.crt", &ca), ("tls.key", "garbage")]),
                "InvalidPrivateKey",
            ),
            (
                secret(&[("tls.crt", &ca), ("tls.key", &leaf_key)]),
                "KeyMismatch",
            ),
            (
                secret(&[("tls.crt", &leaf), ("tls.key", &leaf_key)]),
                "NotCa",
            ),
        ];
        for (s, want) in table {
            let facts = inspect_ca_secret(&s, now);
            let text = format!("{facts:?}");
            assert!(text.contains(want), "want {want}, got {text}");
            assert!(!text.contains("-----BEGIN"), "key material in {text}");
        }
        let no_data = Secret {
            data: None,
            ..secret(&[])
        };
        assert!(matches!(
            inspect_ca_secret(&no_data, now),
            CaSecretFacts::Problem { .. }
        ));
    }
}
