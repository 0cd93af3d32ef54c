//! cert-manager's shim annotations (on an Ingress or a Gateway) → the Certificate they ask
//! for: the issuer, and the spec fields the annotations set. Pure, and strict: a value that
//! cannot be used is an error naming the annotation and what to write instead, so the shim
//! reports it instead of creating a Certificate that silently differs from the intent.

use std::collections::BTreeMap;

use crate::api::{
    ANN_CLUSTER_ISSUER, ANN_COMMON_NAME, ANN_DURATION, ANN_EMAIL_SANS, ANN_HTTP01_EDIT_IN_PLACE,
    ANN_HTTP01_INGRESS_CLASS, ANN_HTTP01_OVERRIDE_INGRESS_CLASS, ANN_HTTP01_OVERRIDE_INGRESS_NAME,
    ANN_ISSUER, ANN_ISSUER_GROUP, ANN_ISSUER_KIND, ANN_LEGACY_CLUSTER_ISSUER, ANN_LEGACY_ISSUER,
    ANN_PRIVATE_KEY_ALGORITHM, ANN_PRIVATE_KEY_ENCODING, ANN_PRIVATE_KEY_ROTATION_POLICY,
    ANN_PRIVATE_KEY_SIZE, ANN_RENEW_BEFORE, ANN_RENEW_BEFORE_PERCENTAGE,
    ANN_REVISION_HISTORY_LIMIT, ANN_SUBJECT_COUNTRIES, ANN_SUBJECT_LOCALITIES,
    ANN_SUBJECT_ORGANIZATIONAL_UNITS, ANN_SUBJECT_ORGANIZATIONS, ANN_SUBJECT_POSTAL_CODES,
    ANN_SUBJECT_PROVINCES, ANN_SUBJECT_SERIAL_NUMBER, ANN_SUBJECT_STREET_ADDRESSES, ANN_TLS_ACME,
    CLUSTER_ISSUER_KIND, CertificatePrivateKey, CertificateSpec, GROUP, ISSUER_KIND,
    IssuerReference, KeyUsage, PrivateKeyAlgorithm, PrivateKeyEncoding, PrivateKeyRotationPolicy,
    X509Subject,
};
use crate::pki::duration::parse_duration;

/// The issuer used for `kubernetes.io/tls-acme: "true"` (flags `--default-issuer-*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultIssuer {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub group: Option<String>,
}

/// What the annotations ask for: every Certificate field but `secretName` and `dnsNames`
/// (those come from the TLS entries), plus annotations for the Certificate itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CertificateTemplate {
    pub spec: CertificateSpec,
    /// `acme.cert-manager.io/http01-override-*`, for an ACME issuer's http-01 solver.
    pub annotations: BTreeMap<String, String>,
}

/// Whether the shim should act on an object with these annotations at all.
pub fn is_shim_managed(annotations: &BTreeMap<String, String>) -> bool {
    [
        ANN_ISSUER,
        ANN_CLUSTER_ISSUER,
        ANN_LEGACY_ISSUER,
        ANN_LEGACY_CLUSTER_ISSUER,
    ]
    .iter()
    .any(|a| annotations.contains_key(*a))
        || annotations.get(ANN_TLS_ACME).is_some_and(|v| v == "true")
}

/// The Certificate template for an object named `object_name` with `annotations`; every
/// problem found, each naming its annotation, when it cannot be made.
pub fn certificate_template(
    object_name: &str,
    annotations: &BTreeMap<String, String>,
    default_issuer: &DefaultIssuer,
) -> Result<CertificateTemplate, Vec<String>> {
    let mut errors = Vec::new();
    let get = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let issuer_ref = issuer_reference(annotations, default_issuer).map_err(|e| vec![e])?;
    let mut spec = CertificateSpec {
        issuer_ref,
        common_name: get(ANN_COMMON_NAME).map(str::to_owned),
        ..Default::default()
    };
    if let Some(v) = get(ANN_DURATION) {
        match parse_duration(v) {
            Ok(_) => spec.duration = Some(v.to_owned()),
            Err(e) => errors.push(format!("{ANN_DURATION}: {e}")),
        }
    }
    if let Some(v) = get(ANN_RENEW_BEFORE) {
        match parse_duration(v) {
            Ok(_) => spec.renew_before = Some(v.to_owned()),
            Err(e) => errors.push(format!("{ANN_RENEW_BEFORE}: {e}")),
        }
    }
    if let Some(v) = get(ANN_RENEW_BEFORE_PERCENTAGE) {
        match v.parse::<i32>() {
            Ok(p) if (1..100).contains(&p) => spec.renew_before_percentage = Some(p),
            _ => errors.push(format!(
                "{ANN_RENEW_BEFORE_PERCENTAGE}: {v:?} is not a whole number from 1 to 99"
            )),
        }
    }
    if spec.renew_before.is_some() && spec.renew_before_percentage.is_some() {
        errors.push(format!(
            "{ANN_RENEW_BEFORE} and {ANN_RENEW_BEFORE_PERCENTAGE} cannot both be set: choose one"
        ));
    }
    if let Some(v) = get(ANN_REVISION_HISTORY_LIMIT) {
        match v.parse::<i32>() {
            Ok(n) if n >= 1 => spec.revision_history_limit = Some(n),
            _ => errors.push(format!(
                "{ANN_REVISION_HISTORY_LIMIT}: {v:?} is not a whole number of at least 1"
            )),
        }
    }
    if let Some(v) = get(crate::api::ANN_USAGES) {
        let mut usages = Vec::new();
        for u in list(v) {
            match serde_json::from_value::<KeyUsage>(serde_json::Value::String(u.clone())) {
                Ok(usage) => usages.push(usage),
                Err(_) => errors.push(format!(
                    "{}: {u:?} is not a key usage (e.g. \"digital signature\", \"key encipherment\", \"server auth\", \"client auth\")",
                    crate::api::ANN_USAGES
                )),
            }
        }
        spec.usages = Some(usages);
    }
    let mut private_key = CertificatePrivateKey::default();
    let mut enum_of = |key: &str, choices: &str| -> Option<String> {
        let v = get(key)?;
        Some(v.to_owned()).filter(|_| {
            let ok = choices.split(", ").any(|c| c == v);
            if !ok {
                errors.push(format!("{key}: {v:?} is not one of {choices}"));
            }
            ok
        })
    };
    private_key.algorithm =
        enum_of(ANN_PRIVATE_KEY_ALGORITHM, "RSA, ECDSA, Ed25519").map(|v| match v.as_str() {
            "ECDSA" => PrivateKeyAlgorithm::Ecdsa,
            "Ed25519" => PrivateKeyAlgorithm::Ed25519,
            _ => PrivateKeyAlgorithm::Rsa,
        });
    private_key.encoding = enum_of(ANN_PRIVATE_KEY_ENCODING, "PKCS1, PKCS8").map(|v| {
        if v == "PKCS8" {
            PrivateKeyEncoding::Pkcs8
        } else {
            PrivateKeyEncoding::Pkcs1
        }
    });
    private_key.rotation_policy =
        enum_of(ANN_PRIVATE_KEY_ROTATION_POLICY, "Always, Never").map(|v| {
            if v == "Never" {
                PrivateKeyRotationPolicy::Never
            } else {
                PrivateKeyRotationPolicy::Always
            }
        });
    if let Some(v) = get(ANN_PRIVATE_KEY_SIZE) {
        match v.parse::<i32>() {
            Ok(n) if n > 0 => private_key.size = Some(n),
            _ => errors.push(format!(
                "{ANN_PRIVATE_KEY_SIZE}: {v:?} is not a key size in bits"
            )),
        }
    }
    if private_key != CertificatePrivateKey::default() {
        spec.private_key = Some(private_key);
    }
    let subject = X509Subject {
        organizations: get(ANN_SUBJECT_ORGANIZATIONS).map(list),
        organizational_units: get(ANN_SUBJECT_ORGANIZATIONAL_UNITS).map(list),
        countries: get(ANN_SUBJECT_COUNTRIES).map(list),
        provinces: get(ANN_SUBJECT_PROVINCES).map(list),
        localities: get(ANN_SUBJECT_LOCALITIES).map(list),
        street_addresses: get(ANN_SUBJECT_STREET_ADDRESSES).map(list),
        postal_codes: get(ANN_SUBJECT_POSTAL_CODES).map(list),
        serial_number: get(ANN_SUBJECT_SERIAL_NUMBER).map(str::to_owned),
    };
    if subject != X509Subject::default() {
        spec.subject = Some(subject);
    }
    spec.email_addresses = get(ANN_EMAIL_SANS).map(list);

    let mut cert_annotations = BTreeMap::new();
    if get(ANN_HTTP01_EDIT_IN_PLACE) == Some("true") {
        cert_annotations.insert(
            ANN_HTTP01_OVERRIDE_INGRESS_NAME.to_owned(),
            object_name.to_owned(),
        );
    }
    if let Some(class) = get(ANN_HTTP01_INGRESS_CLASS) {
        cert_annotations.insert(
            ANN_HTTP01_OVERRIDE_INGRESS_CLASS.to_owned(),
            class.to_owned(),
        );
    }
    if errors.is_empty() {
        Ok(CertificateTemplate {
            spec,
            annotations: cert_annotations,
        })
    } else {
        Err(errors)
    }
}

/// The issuer the annotations name: `cluster-issuer` (kind ClusterIssuer), or `issuer` with
/// `issuer-kind` / `issuer-group`, or the legacy `certmanager.k8s.io/*` spellings, or for
/// `kubernetes.io/tls-acme: "true"` the default issuer.
fn issuer_reference(
    annotations: &BTreeMap<String, String>,
    default_issuer: &DefaultIssuer,
) -> Result<IssuerReference, String> {
    let get = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let cluster = get(ANN_CLUSTER_ISSUER).or_else(|| get(ANN_LEGACY_CLUSTER_ISSUER));
    let namespaced = get(ANN_ISSUER).or_else(|| get(ANN_LEGACY_ISSUER));
    let kind = get(ANN_ISSUER_KIND);
    let group = get(ANN_ISSUER_GROUP);
    match (cluster, namespaced) {
        (Some(_), Some(_)) => Err(format!(
            "{ANN_CLUSTER_ISSUER} and {ANN_ISSUER} are both set: keep one"
        )),
        (Some(_), None) if kind.is_some() || group.is_some() => Err(format!(
            "{ANN_CLUSTER_ISSUER} cannot be combined with {ANN_ISSUER_KIND} or {ANN_ISSUER_GROUP}: \
             use {ANN_ISSUER} with them for another kind of issuer"
        )),
        (Some(name), None) => Ok(IssuerReference {
            name: name.to_owned(),
            kind: Some(CLUSTER_ISSUER_KIND.to_owned()),
            group: Some(GROUP.to_owned()),
        }),
        (None, Some(name)) => {
            let group = group.unwrap_or(GROUP);
            let kind = kind.unwrap_or(ISSUER_KIND);
            if group == GROUP && kind != ISSUER_KIND && kind != CLUSTER_ISSUER_KIND {
                return Err(format!(
                    "{ANN_ISSUER_KIND}: {kind:?} is not an issuer kind of {GROUP} (Issuer or \
                     ClusterIssuer); set {ANN_ISSUER_GROUP} for an external issuer"
                ));
            }
            Ok(IssuerReference {
                name: name.to_owned(),
                kind: Some(kind.to_owned()),
                group: Some(group.to_owned()),
            })
        }
        (None, None) => match &default_issuer.name {
            Some(name) if annotations.get(ANN_TLS_ACME).is_some_and(|v| v == "true") => {
                Ok(IssuerReference {
                    name: name.clone(),
                    kind: Some(
                        default_issuer
                            .kind
                            .clone()
                            .unwrap_or_else(|| ISSUER_KIND.into()),
                    ),
                    group: Some(default_issuer.group.clone().unwrap_or_else(|| GROUP.into())),
                })
            }
            _ => Err(format!(
                "{ANN_TLS_ACME} is set but the controller has no default issuer \
                 (--default-issuer-name): name an issuer with {ANN_CLUSTER_ISSUER} or {ANN_ISSUER}"
            )),
        },
    }
}

/// A comma-separated annotation value as a list, entries trimmed, empty ones dropped.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn issuer(name: &str, kind: &str, group: &str) -> IssuerReference {
        IssuerReference {
            name: name.into(),
            kind: Some(kind.into()),
            group: Some(group.into()),
        }
    }

    #[test]
    fn issuer_table() {
        let default = DefaultIssuer {
            name: Some("letsencrypt".into()),
            kind: Some("ClusterIssuer".into()),
            group: None,
        };
        /// Case, annotations, the issuer or a piece of the error.
        type Case<'a> = (
            &'a str,
            BTreeMap<String, String>,
            Result<IssuerReference, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "cluster-issuer",
                ann(&[(ANN_CLUSTER_ISSUER, "le")]),
                Ok(issuer("le", "ClusterIssuer", GROUP)),
            ),
            (
                "issuer",
                ann(&[(ANN_ISSUER, "ca")]),
                Ok(issuer("ca", "Issuer", GROUP)),
            ),
            (
                "legacy cluster-issuer",
                ann(&[(ANN_LEGACY_CLUSTER_ISSUER, "old")]),
                Ok(issuer("old", "ClusterIssuer", GROUP)),
            ),
            (
                "legacy issuer",
                ann(&[(ANN_LEGACY_ISSUER, "old")]),
                Ok(issuer("old", "Issuer", GROUP)),
            ),
            (
                "external issuer",
                ann(&[
                    (ANN_ISSUER, "vault"),
                    (ANN_ISSUER_KIND, "VaultIssuer"),
                    (ANN_ISSUER_GROUP, "example.com"),
                ]),
                Ok(issuer("vault", "VaultIssuer", "example.com")),
            ),
            (
                "issuer with kind ClusterIssuer",
                ann(&[(ANN_ISSUER, "x"), (ANN_ISSUER_KIND, "ClusterIssuer")]),
                Ok(issuer("x", "ClusterIssuer", GROUP)),
            ),
            (
                "unknown kind of cert-manager.io",
                ann(&[(ANN_ISSUER, "x"), (ANN_ISSUER_KIND, "Foo")]),
                Err("is not an issuer kind"),
            ),
            (
                "both",
                ann(&[(ANN_ISSUER, "a"), (ANN_CLUSTER_ISSUER, "b")]),
                Err("are both set"),
            ),
            (
                "cluster-issuer with issuer-kind",
                ann(&[(ANN_CLUSTER_ISSUER, "b"), (ANN_ISSUER_KIND, "Issuer")]),
                Err("cannot be combined"),
            ),
            (
                "tls-acme with a default",
                ann(&[(ANN_TLS_ACME, "true")]),
                Ok(issuer("letsencrypt", "ClusterIssuer", GROUP)),
            ),
        ];
        for (case, annotations, want) in cases {
            let got = issuer_reference(&annotations, &default);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{case}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{case}: {g}"),
                (g, w) => panic!("{case}: got {g:?}, want {w:?}"),
            }
        }
        let err = issuer_reference(&ann(&[(ANN_TLS_ACME, "true")]), &DefaultIssuer::default())
            .unwrap_err();
        assert!(err.contains("--default-issuer-name"), "{err}");
    }

    #[test]
    fn template_fields() {
        let t = certificate_template(
            "web",
            &ann(&[
                (ANN_CLUSTER_ISSUER, "le"),
                (ANN_COMMON_NAME, "web.example.com"),
                (ANN_DURATION, "2160h"),
                (ANN_RENEW_BEFORE, "360h"),
                (
                    crate::api::ANN_USAGES,
                    "digital signature, key encipherment, server auth",
                ),
                (ANN_PRIVATE_KEY_ALGORITHM, "ECDSA"),
                (ANN_PRIVATE_KEY_SIZE, "384"),
                (ANN_PRIVATE_KEY_ENCODING, "PKCS8"),
                (ANN_PRIVATE_KEY_ROTATION_POLICY, "Never"),
                (ANN_REVISION_HISTORY_LIMIT, "3"),
                (ANN_SUBJECT_ORGANIZATIONS, "Example, Example Two"),
                (ANN_SUBJECT_COUNTRIES, "NL"),
                (ANN_SUBJECT_SERIAL_NUMBER, "42"),
                (ANN_EMAIL_SANS, "ops@example.com"),
                (ANN_HTTP01_EDIT_IN_PLACE, "true"),
                (ANN_HTTP01_INGRESS_CLASS, "nginx"),
            ]),
            &DefaultIssuer::default(),
        )
        .unwrap();
        let s = &t.spec;
        assert_eq!(s.common_name.as_deref(), Some("web.example.com"));
        assert_eq!(s.duration.as_deref(), Some("2160h"));
        assert_eq!(s.renew_before.as_deref(), Some("360h"));
        assert_eq!(s.usages.as_ref().unwrap().len(), 3);
        let pk = s.private_key.as_ref().unwrap();
        assert_eq!(pk.algorithm, Some(PrivateKeyAlgorithm::Ecdsa));
        assert_eq!(pk.size, Some(384));
        assert_eq!(pk.encoding, Some(PrivateKeyEncoding::Pkcs8));
        assert_eq!(pk.rotation_policy, Some(PrivateKeyRotationPolicy::Never));
        assert_eq!(s.revision_history_limit, Some(3));
        let subject = s.subject.as_ref().unwrap();
        assert_eq!(
            subject.organizations.as_deref(),
            Some(&["Example".to_owned(), "Example Two".to_owned()][..])
        );
        assert_eq!(subject.serial_number.as_deref(), Some("42"));
        assert_eq!(
            s.email_addresses.as_deref(),
            Some(&["ops@example.com".to_owned()][..])
        );
        assert_eq!(
            t.annotations
                .get(ANN_HTTP01_OVERRIDE_INGRESS_NAME)
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(
            t.annotations
                .get(ANN_HTTP01_OVERRIDE_INGRESS_CLASS)
                .map(String::as_str),
            Some("nginx")
        );
    }

    #[test]
    fn bad_values_each_name_their_annotation() {
        let errors = certificate_template(
            "web",
            &ann(&[
                (ANN_CLUSTER_ISSUER, "le"),
                (ANN_DURATION, "90d"),
                (ANN_RENEW_BEFORE_PERCENTAGE, "150"),
                (crate::api::ANN_USAGES, "server auth, teleport"),
                (ANN_PRIVATE_KEY_ALGORITHM, "DSA"),
                (ANN_PRIVATE_KEY_SIZE, "big"),
                (ANN_REVISION_HISTORY_LIMIT, "0"),
            ]),
            &DefaultIssuer::default(),
        )
        .unwrap_err();
        for key in [
            ANN_DURATION,
            ANN_RENEW_BEFORE_PERCENTAGE,
            crate::api::ANN_USAGES,
            ANN_PRIVATE_KEY_ALGORITHM,
            ANN_PRIVATE_KEY_SIZE,
            ANN_REVISION_HISTORY_LIMIT,
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(key)),
                "{key} in {errors:?}"
            );
        }
        assert_eq!(errors.len(), 6, "{errors:?}");
    }

    #[test]
    fn managed_table() {
        assert!(is_shim_managed(&ann(&[(ANN_CLUSTER_ISSUER, "x")])));
        assert!(is_shim_managed(&ann(&[(ANN_LEGACY_ISSUER, "x")])));
        assert!(is_shim_managed(&ann(&[(ANN_TLS_ACME, "true")])));
        assert!(!is_shim_managed(&ann(&[(ANN_TLS_ACME, "false")])));
        assert!(!is_shim_managed(&ann(&[("other", "x")])));
    }
}
