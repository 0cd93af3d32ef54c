//! Signing a CertificateRequest with a SelfSigned or CA issuer: the decision, given the key
//! material the controller fetched. Pure.

use jiff::Timestamp;

use crate::api::{
    CertificateRequestSpec, DEFAULT_DURATION, IssuerSpec, REASON_FAILED, REASON_PENDING,
};
use crate::pki::duration::parse_duration;
use crate::pki::keys::ParsedKey;
use crate::pki::sign::{Signed, Signer, SigningRequest, sign};

/// The key material an in-cluster issuer signs with.
pub enum KeyMaterial<'a> {
    /// SelfSigned: the request's own private key, from the Secret named by the
    /// `cert-manager.io/private-key-secret-name` annotation.
    SelfSigned { key: &'a ParsedKey },
    /// CA: the issuer's key pair (the Secret's tls.crt, then ca.crt, and tls.key).
    Ca {
        cert_pem: &'a [u8],
        key: &'a ParsedKey,
    },
}

/// What happened to a request.
#[derive(Debug)]
pub enum SignOutcome {
    Issued(Signed),
    /// Cannot be signed as written, ever: terminal, with a reason and a message to act on.
    Failed {
        reason: &'static str,
        message: String,
    },
}

/// Why a request waits (not yet signable), for the Ready condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub reason: &'static str,
    pub message: String,
}

impl Waiting {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            reason: REASON_PENDING,
            message: message.into(),
        }
    }
}

/// The certificate template a request asks for, with the issuer's URLs. The duration
/// defaults to 90 days.
pub fn signing_request(
    request: &CertificateRequestSpec,
    issuer: &IssuerSpec,
) -> Result<SigningRequest, String> {
    let duration_text = request.duration.as_deref().unwrap_or(DEFAULT_DURATION);
    let duration = parse_duration(duration_text)
        .map_err(|e| format!("spec.duration {duration_text:?} is not a duration: {e}"))?;
    let (crl, ocsp, issuing) = match (&issuer.ca, &issuer.self_signed) {
        (Some(ca), _) => (
            ca.crl_distribution_points.clone().unwrap_or_default(),
            ca.ocsp_servers.clone().unwrap_or_default(),
            ca.issuing_certificate_urls.clone().unwrap_or_default(),
        ),
        (None, Some(ss)) => (
            ss.crl_distribution_points.clone().unwrap_or_default(),
            vec![],
            vec![],
        ),
        (None, None) => (vec![], vec![], vec![]),
    };
    Ok(SigningRequest {
        duration,
        is_ca: request.is_ca.unwrap_or(false),
        usages: request.usages.clone().unwrap_or_default(),
        crl_distribution_points: crl,
        ocsp_servers: ocsp,
        issuing_certificate_urls: issuing,
        name_constraints: None,
    })
}

/// Signs the request with the issuer's key material at `now`.
pub fn sign_request(
    request: &CertificateRequestSpec,
    issuer: &IssuerSpec,
    material: &KeyMaterial<'_>,
    now: Timestamp,
) -> SignOutcome {
    let template = match signing_request(request, issuer) {
        Ok(t) => t,
        Err(message) => {
            return SignOutcome::Failed {
                reason: REASON_FAILED,
                message,
            };
        }
    };
    let signer = match material {
        KeyMaterial::SelfSigned { key } => Signer::SelfSigned { key },
        KeyMaterial::Ca { cert_pem, key } => Signer::Ca { cert_pem, key },
    };
    match sign(&request.request.0, &template, &signer, now) {
        Ok(signed) => SignOutcome::Issued(signed),
        Err(err) => SignOutcome::Failed {
            reason: REASON_FAILED,
            message: format!("Signing the certificate failed: {err}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CaIssuer, CertificateSpec, IssuerReference, SelfSignedIssuer};
    use crate::pki::csr::build_csr;
    use crate::pki::inspect::parse_certificates_pem;
    use crate::pki::keys::{KeySpec, ParsedKey};
    use k8s_openapi::ByteString;

    fn request_for(key: &ParsedKey, duration: Option<&str>, is_ca: bool) -> CertificateRequestSpec {
        let spec = CertificateSpec {
            common_name: Some("app.example.test".into()),
            dns_names: Some(vec!["app.example.test".into()]),
            is_ca: Some(is_ca),
            ..Default::default()
        };
        CertificateRequestSpec {
            request: ByteString(build_csr(&spec, key).expect("csr").into_bytes()),
            issuer_ref: IssuerReference {
                name: "x".into(),
                ..Default::default()
            },
            duration: duration.map(Into::into),
            is_ca: Some(is_ca),
            ..Default::default()
        }
    }

    #[test]
    fn self_signed_then_ca_signed() {
        let now = Timestamp::from_second(1_800_000_000).expect("now");
        let root_key = ParsedKey::generate(&KeySpec::default()).expect("key");
        let selfsigned = IssuerSpec {
            self_signed: Some(SelfSignedIssuer::default()),
            ..Default::default()
        };
        let root_request = request_for(&root_key, Some("87600h"), true);
        let SignOutcome::Issued(root) = sign_request(
            &root_request,
            &selfsigned,
            &KeyMaterial::SelfSigned { key: &root_key },
            now,
        ) else {
            panic!("self-signed root not issued")
        };
        let root_info = &parse_certificates_pem(root.certificate_pem.as_bytes()).expect("root")[0];
        assert!(root_info.is_ca);
        assert_eq!(
            root_info.not_after.as_second() - now.as_second(),
            87_600 * 3600
        );

        let ca = IssuerSpec {
            ca: Some(CaIssuer {
                secret_name: "root".into(),
                ocsp_servers: Some(vec!["http://ocsp.example.test".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let leaf_key = ParsedKey::generate(&KeySpec::default()).expect("key");
        let leaf_request = request_for(&leaf_key, None, false);
        let material = KeyMaterial::Ca {
            cert_pem: root.certificate_pem.as_bytes(),
            key: &root_key,
        };
        let SignOutcome::Issued(leaf) = sign_request(&leaf_request, &ca, &material, now) else {
            panic!("leaf not issued")
        };
        let leaf_info = &parse_certificates_pem(leaf.certificate_pem.as_bytes()).expect("leaf")[0];
        assert_eq!(leaf_info.dns_names, ["app.example.test"]);
        assert_eq!(leaf_info.issuer, root_info.subject);
        assert_eq!(
            leaf_info.not_after.as_second() - now.as_second(),
            2160 * 3600,
            "90 days by default"
        );
        assert_eq!(leaf.ca_pem, root.certificate_pem, "ca.crt is the root");

        // A CSR made with another key cannot be self-signed: terminal failure.
        let SignOutcome::Failed { reason, message } = sign_request(
            &leaf_request,
            &selfsigned,
            &KeyMaterial::SelfSigned { key: &root_key },
            now,
        ) else {
            panic!("mismatched key must fail")
        };
        assert_eq!(reason, REASON_FAILED);
        assert!(message.contains("private-key-secret-name"), "{message}");

        // A malformed duration is reported, not panicked on.
        let mut bad = leaf_request.clone();
        bad.duration = Some("soon".into());
        assert!(matches!(
            sign_request(&bad, &ca, &material, now),
            SignOutcome::Failed { .. }
        ));
    }
}
