//! Keeping an issued Secret in line with the spec without a new certificate: when
//! `secretTemplate`, `additionalOutputFormats` or `keystores` change, the issuing controller
//! re-applies the Secret from the certificate and key it already holds (as cert-manager's
//! issuing controller does), instead of waiting for the next issuance.
//!
//! Drift is judged from what this controller's field manager owns (the Secret's
//! `managedFields`): a wanted label, annotation or data key missing or different, or an owned
//! one no longer wanted. Keystore bytes are not compared (they are salted anew on every write);
//! their presence is.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

use super::MANAGER_ISSUING;
use crate::api::{
    AdditionalOutputFormatType, CA_CERT_KEY, COMBINED_PEM_KEY, Certificate, DER_KEY,
    JKS_KEYSTORE_KEY, JKS_TRUSTSTORE_KEY, LABEL_FAO, PKCS12_KEYSTORE_KEY, PKCS12_TRUSTSTORE_KEY,
    TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY,
};

/// What the issuing controller wants in the Secret besides the certificate itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct WantedSecret {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data_keys: BTreeSet<String>,
}

/// The labels, annotations and data keys the spec asks for, given the annotations describing
/// the issued certificate (`secret_annotations`) and whether the Secret has a CA.
pub(super) fn wanted_secret(
    certificate: &Certificate,
    issued_annotations: BTreeMap<String, String>,
    has_ca: bool,
) -> WantedSecret {
    let template = certificate.spec.secret_template.as_ref();
    let mut labels = template.and_then(|t| t.labels.clone()).unwrap_or_default();
    labels.insert(LABEL_FAO.to_owned(), "true".to_owned());
    let mut annotations = template
        .and_then(|t| t.annotations.clone())
        .unwrap_or_default();
    annotations.extend(issued_annotations);
    let mut data_keys: BTreeSet<String> = [TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if has_ca {
        data_keys.insert(CA_CERT_KEY.to_owned());
    }
    for format in certificate
        .spec
        .additional_output_formats
        .as_deref()
        .unwrap_or_default()
    {
        data_keys.insert(
            match format.type_ {
                AdditionalOutputFormatType::Der => DER_KEY,
                AdditionalOutputFormatType::CombinedPEM => COMBINED_PEM_KEY,
            }
            .to_owned(),
        );
    }
    let keystores = certificate.spec.keystores.as_ref();
    let mut stores = |wanted: bool, keystore: &str, truststore: &str| {
        if wanted {
            data_keys.insert(keystore.to_owned());
            if has_ca {
                data_keys.insert(truststore.to_owned());
            }
        }
    };
    stores(
        keystores
            .and_then(|k| k.jks.as_ref())
            .is_some_and(|j| j.create),
        JKS_KEYSTORE_KEY,
        JKS_TRUSTSTORE_KEY,
    );
    stores(
        keystores
            .and_then(|k| k.pkcs12.as_ref())
            .is_some_and(|p| p.create),
        PKCS12_KEYSTORE_KEY,
        PKCS12_TRUSTSTORE_KEY,
    );
    WantedSecret {
        labels,
        annotations,
        data_keys,
    }
}

/// The first difference between `secret` and `wanted`, in words for the log; `None` when the
/// Secret is as wanted.
pub(super) fn secret_drift(secret: &Secret, wanted: &WantedSecret) -> Option<String> {
    let owned = owned_fields(secret, MANAGER_ISSUING);
    let meta = &secret.metadata;
    let maps = [
        ("label", meta.labels.as_ref(), &wanted.labels, &owned.labels),
        (
            "annotation",
            meta.annotations.as_ref(),
            &wanted.annotations,
            &owned.annotations,
        ),
    ];
    for (what, present, wanted, owned) in maps {
        for (key, value) in wanted {
            if present.and_then(|p| p.get(key)) != Some(value) {
                return Some(format!("{what} {key} is not as the spec wants"));
            }
        }
        if let Some(key) = owned.iter().find(|k| !wanted.contains_key(*k)) {
            return Some(format!("{what} {key} is no longer wanted"));
        }
    }
    let data = secret.data.as_ref();
    if let Some(key) = wanted
        .data_keys
        .iter()
        .find(|k| data.is_none_or(|d| d.get(*k).is_none_or(|v| v.0.is_empty())))
    {
        return Some(format!("data key {key} is missing"));
    }
    if let Some(key) = owned.data.iter().find(|k| !wanted.data_keys.contains(*k)) {
        return Some(format!("data key {key} is no longer wanted"));
    }
    None
}

/// Keys a field manager owns in a Secret, read from `managedFields`.
#[derive(Debug, Default, PartialEq, Eq)]
struct OwnedFields {
    labels: BTreeSet<String>,
    annotations: BTreeSet<String>,
    data: BTreeSet<String>,
}

fn owned_fields(secret: &Secret, manager: &str) -> OwnedFields {
    let mut owned = OwnedFields::default();
    for entry in secret.metadata.managed_fields.iter().flatten() {
        if entry.manager.as_deref() != Some(manager) {
            continue;
        }
        let Some(fields) = entry.fields_v1.as_ref().map(|f| &f.0) else {
            continue;
        };
        let keys = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_object)
                .map(|o| {
                    o.keys()
                        .filter_map(|k| k.strip_prefix("f:").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let metadata = fields.get("f:metadata");
        owned
            .labels
            .extend(keys(metadata.and_then(|m| m.get("f:labels"))));
        owned
            .annotations
            .extend(keys(metadata.and_then(|m| m.get("f:annotations"))));
        owned.data.extend(keys(fields.get("f:data")));
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        CertificateAdditionalOutputFormat, CertificateKeystores, CertificateSecretTemplate,
        CertificateSpec, Pkcs12Keystore,
    };
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    use serde_json::json;

    fn certificate() -> Certificate {
        Certificate::new(
            "web",
            CertificateSpec {
                secret_name: "web-tls".into(),
                secret_template: Some(CertificateSecretTemplate {
                    labels: Some([("team".to_owned(), "a".to_owned())].into()),
                    annotations: None,
                }),
                ..Default::default()
            },
        )
    }

    fn issued() -> BTreeMap<String, String> {
        [(
            "cert-manager.io/certificate-name".to_owned(),
            "web".to_owned(),
        )]
        .into()
    }

    /// A Secret exactly as the issuing controller wrote it for `certificate()`.
    fn secret(extra_data: &[&str], owned: Value) -> Secret {
        let mut secret = Secret::default();
        secret.metadata.labels = Some(
            [
                ("team".to_owned(), "a".to_owned()),
                (LABEL_FAO.to_owned(), "true".to_owned()),
            ]
            .into(),
        );
        secret.metadata.annotations = Some(issued());
        let mut data: BTreeMap<String, ByteString> = BTreeMap::new();
        for key in [TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY]
            .iter()
            .chain(extra_data.iter())
        {
            data.insert((*key).to_owned(), ByteString(b"x".to_vec()));
        }
        secret.data = Some(data);
        secret.metadata.managed_fields = Some(vec![
            ManagedFieldsEntry {
                manager: Some(MANAGER_ISSUING.into()),
                operation: Some("Apply".into()),
                fields_v1: Some(FieldsV1(owned)),
                ..Default::default()
            },
            ManagedFieldsEntry {
                manager: Some("someone-else".into()),
                fields_v1: Some(FieldsV1(json!({"f:data": {"f:theirs": {}}}))),
                ..Default::default()
            },
        ]);
        secret
    }

    fn owned(labels: &[&str], data: &[&str]) -> Value {
        let keys = |ks: &[&str]| -> Value {
            ks.iter()
                .map(|k| (format!("f:{k}"), json!({})))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        json!({
            "f:metadata": {
                "f:labels": keys(labels),
                "f:annotations": keys(&["cert-manager.io/certificate-name"]),
            },
            "f:data": keys(data),
        })
    }

    #[test]
    fn drift_table() {
        let base_owned = owned(&["team", LABEL_FAO], &[TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY]);
        fn with_p12(c: &mut Certificate) {
            c.spec.keystores = Some(CertificateKeystores {
                pkcs12: Some(Pkcs12Keystore {
                    create: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        type Spoil = fn(&mut Certificate, &mut Secret);
        let cases: Vec<(&str, Spoil, Option<&str>)> = vec![
            ("as written", |_, _| {}, None),
            (
                "another writer's data key is left alone",
                |_, s| {
                    s.data
                        .as_mut()
                        .unwrap()
                        .insert("theirs".into(), ByteString(b"y".to_vec()));
                },
                None,
            ),
            (
                "a template label added",
                |c, _| {
                    c.spec
                        .secret_template
                        .as_mut()
                        .unwrap()
                        .labels
                        .as_mut()
                        .unwrap()
                        .insert("tier".into(), "web".into());
                },
                Some("label tier is not as the spec wants"),
            ),
            (
                "a template label dropped",
                |c, _| c.spec.secret_template = None,
                Some("label team is no longer wanted"),
            ),
            (
                "a PKCS#12 keystore asked for",
                |c, _| with_p12(c),
                Some("data key keystore.p12 is missing"),
            ),
            (
                "a DER output asked for",
                |c, _| {
                    c.spec.additional_output_formats =
                        Some(vec![CertificateAdditionalOutputFormat {
                            type_: AdditionalOutputFormatType::Der,
                        }])
                },
                Some("data key key.der is missing"),
            ),
            (
                "a keystore no longer wanted",
                |_, s| {
                    s.data
                        .as_mut()
                        .unwrap()
                        .insert(PKCS12_KEYSTORE_KEY.into(), ByteString(b"p".to_vec()));
                    s.metadata.managed_fields.as_mut().unwrap()[0].fields_v1 =
                        Some(FieldsV1(owned(
                            &["team", LABEL_FAO],
                            &[TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY, PKCS12_KEYSTORE_KEY],
                        )));
                },
                Some("data key keystore.p12 is no longer wanted"),
            ),
        ];
        for (case, spoil, want) in cases {
            let mut cert = certificate();
            let mut s = secret(&[], base_owned.clone());
            spoil(&mut cert, &mut s);
            let wanted = wanted_secret(&cert, issued(), false);
            assert_eq!(secret_drift(&s, &wanted).as_deref(), want, "{case}");
        }
    }

    #[test]
    fn truststores_only_with_a_ca() {
        let mut cert = certificate();
        cert.spec.keystores = Some(CertificateKeystores {
            pkcs12: Some(Pkcs12Keystore {
                create: true,
                ..Default::default()
            }),
            ..Default::default()
        });
        let without = wanted_secret(&cert, issued(), false);
        assert!(without.data_keys.contains(PKCS12_KEYSTORE_KEY));
        assert!(!without.data_keys.contains(PKCS12_TRUSTSTORE_KEY));
        let with = wanted_secret(&cert, issued(), true);
        assert!(with.data_keys.contains(PKCS12_TRUSTSTORE_KEY));
        assert!(with.data_keys.contains(CA_CERT_KEY));
    }
}
