//! The Order a CertificateRequest needs, and the Challenges an Order needs: names, specs and
//! ownership, decided from the objects alone so a restarted controller finds what it made.
//!
//! Names are deterministic (`<request>-<hash of the Order spec>`, `<order>-<hash of the
//! challenge URL>`): after a crash the controller GETs the same name instead of placing a
//! second ACME order, and a changed spec (the issuer's profile, say) gets a new Order.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::api::{
    ANN_HTTP01_OVERRIDE_INGRESS_CLASS, ANN_HTTP01_OVERRIDE_INGRESS_CLASS_NAME,
    ANN_HTTP01_OVERRIDE_INGRESS_NAME, HTTP01_OVERRIDE_PREFIX,
};
use crate::api::{
    AcmeAuthorization, AcmeChallengeSolver, AcmeIssuer, CertificateRequest, Challenge,
    ChallengeSpec, ChallengeType, Order, OrderSpec,
};
use crate::pki::csr::{CsrError, parse_csr};

/// The ACME challenge type string (`http-01`, `dns-01`).
pub fn acme_type(t: ChallengeType) -> &'static str {
    match t {
        ChallengeType::Http01 => "http-01",
        ChallengeType::Dns01 => "dns-01",
    }
}

/// The challenge type for an ACME type string, when certsmith solves it.
pub fn challenge_type(acme: &str) -> Option<ChallengeType> {
    match acme {
        "http-01" => Some(ChallengeType::Http01),
        "dns-01" => Some(ChallengeType::Dns01),
        _ => None,
    }
}

/// The Order for `request` signed by an ACME issuer: named `<request>-<hash>`, labelled as the
/// request, owned (controller) by it. `spec.request` is the request's PEM CSR: kube-apiserver
/// (1.35) cannot evaluate the spec's immutability rule on a `format: byte` value holding `+`
/// or `/` (kube-openapi#633), which base64 of DER often does and base64 of PEM text never. The
/// common name is an identifier too (ACME certificates carry every name as a SAN).
pub fn order_for_request(
    request: &CertificateRequest,
    acme: &AcmeIssuer,
) -> Result<Order, CsrError> {
    let csr = parse_csr(&request.spec.request.0)?;
    let mut dns_names = csr.dns_names.clone();
    if let Some(cn) = csr.common_name.as_ref().filter(|cn| !cn.is_empty())
        && cn.parse::<std::net::IpAddr>().is_err()
        && !dns_names.iter().any(|n| n.eq_ignore_ascii_case(cn))
    {
        dns_names.push(cn.clone());
    }
    let ip_addresses: Vec<String> = csr.ip_addresses.iter().map(|ip| ip.to_string()).collect();
    let spec = OrderSpec {
        request: request.spec.request.clone(),
        issuer_ref: request.spec.issuer_ref.clone(),
        common_name: csr.common_name.clone().filter(|cn| !cn.is_empty()),
        dns_names: (!dns_names.is_empty()).then_some(dns_names),
        ip_addresses: (!ip_addresses.is_empty()).then_some(ip_addresses),
        duration: acme
            .enable_duration_feature
            .unwrap_or(false)
            .then(|| request.spec.duration.clone())
            .flatten(),
        profile: acme.profile.clone().filter(|p| !p.is_empty()),
    };
    let hash = fnv1a32(serde_json::to_string(&spec).unwrap_or_default().as_bytes());
    let mut order = Order::new(&child_name(&request.name_any(), hash), spec);
    order.metadata = ObjectMeta {
        name: order.metadata.name.take(),
        namespace: request.namespace(),
        labels: request.metadata.labels.clone(),
        annotations: Some(
            request
                .annotations()
                .iter()
                .filter(|(k, _)| k.starts_with(HTTP01_OVERRIDE_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
        .filter(|a: &std::collections::BTreeMap<String, String>| !a.is_empty()),
        owner_references: owner(request).map(|o| vec![o]),
        ..Default::default()
    };
    Ok(order)
}

/// What one pending authorization needs: the chosen challenge of the chosen solver, with the
/// key the solver publishes (`key`: the key authorization for HTTP-01, its TXT value for DNS-01).
pub struct ChallengeRequest<'a> {
    pub authorization: &'a AcmeAuthorization,
    pub challenge_url: &'a str,
    pub token: &'a str,
    pub challenge_type: ChallengeType,
    pub key: String,
    pub solver: &'a AcmeChallengeSolver,
}

/// The Challenge for one authorization of `order`: named `<order>-<hash of the challenge URL>`,
/// labelled as the order, owned (controller) by it.
pub fn challenge_for_order(order: &Order, request: ChallengeRequest) -> Challenge {
    let authorization = request.authorization;
    let spec = ChallengeSpec {
        url: request.challenge_url.to_owned(),
        authorization_url: authorization.url.clone(),
        dns_name: authorization.identifier.clone().unwrap_or_default(),
        wildcard: authorization.wildcard.filter(|w| *w),
        type_: request.challenge_type,
        token: request.token.to_owned(),
        key: request.key,
        solver: request.solver.clone(),
        issuer_ref: order.spec.issuer_ref.clone(),
    };
    let hash = fnv1a32(request.challenge_url.as_bytes());
    let mut challenge = Challenge::new(&child_name(&order.name_any(), hash), spec);
    challenge.metadata.namespace = order.namespace();
    challenge.metadata.labels = order.metadata.labels.clone();
    challenge.metadata.owner_references = owner(order).map(|o| vec![o]);
    // Born with the clean-up finalizer: the Challenge controller need not add it (one write
    // and one watch round trip less per challenge).
    challenge.metadata.finalizers = Some(vec![crate::api::ACME_FINALIZER.to_owned()]);
    challenge
}

/// `<parent>-<hash>`, the parent cut so the whole stays a valid object name (253 characters).
fn child_name(parent: &str, hash: u32) -> String {
    let suffix = format!("-{hash}");
    let keep = parent.len().min(253 - suffix.len());
    let mut cut = parent[..keep].trim_end_matches(['-', '.']).to_owned();
    cut.push_str(&suffix);
    cut
}

fn owner<K: Resource<DynamicType = ()>>(parent: &K) -> Option<OwnerReference> {
    let mut reference = parent.controller_owner_ref(&())?;
    reference.block_owner_deletion = Some(true);
    Some(reference)
}

/// 32-bit FNV-1a: short, stable names (not a security property).
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The solver as the Order's http-01 override annotations (set through the Ingress shim's
/// `acme.cert-manager.io/http01-edit-in-place` and `http01-ingress-class`) change it: route
/// through the named Ingress, or through a temporary Ingress of the named class. Pure.
pub fn with_http01_overrides(solver: &AcmeChallengeSolver, order: &Order) -> AcmeChallengeSolver {
    let mut solver = solver.clone();
    let annotations = order.annotations();
    let Some(ingress) = solver.http01.as_mut().and_then(|h| h.ingress.as_mut()) else {
        return solver;
    };
    if let Some(name) = annotations.get(ANN_HTTP01_OVERRIDE_INGRESS_NAME) {
        ingress.name = Some(name.clone());
        ingress.class = None;
        ingress.ingress_class_name = None;
    } else if let Some(class) = annotations.get(ANN_HTTP01_OVERRIDE_INGRESS_CLASS) {
        ingress.class = Some(class.clone());
        ingress.ingress_class_name = None;
        ingress.name = None;
    } else if let Some(class) = annotations.get(ANN_HTTP01_OVERRIDE_INGRESS_CLASS_NAME) {
        ingress.ingress_class_name = Some(class.clone());
        ingress.class = None;
        ingress.name = None;
    }
    solver
}

/// The labels of `order`, for solver selection.
pub fn order_labels(order: &Order) -> BTreeMap<String, String> {
    order.metadata.labels.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertificateRequestSpec, CertificateSpec, IssuerReference};
    use crate::pki::csr::build_csr;
    use crate::pki::keys::{KeySpec, ParsedKey};
    use k8s_openapi::ByteString;

    fn request(common_name: Option<&str>, dns: &[&str], ips: &[&str]) -> CertificateRequest {
        let spec = CertificateSpec {
            common_name: common_name.map(str::to_owned),
            dns_names: Some(dns.iter().map(|s| s.to_string()).collect()),
            ip_addresses: Some(ips.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        let key = ParsedKey::generate(&KeySpec::from_private_key(None).unwrap()).unwrap();
        let csr = build_csr(&spec, &key).unwrap();
        let mut request = CertificateRequest::new(
            "web-3",
            CertificateRequestSpec {
                request: ByteString(csr.into_bytes()),
                issuer_ref: IssuerReference {
                    name: "le".into(),
                    kind: Some("ClusterIssuer".into()),
                    group: None,
                },
                duration: Some("48h".into()),
                ..Default::default()
            },
        );
        request.metadata.namespace = Some("apps".into());
        request.metadata.uid = Some("uid-1".into());
        request.metadata.labels = Some([("team".to_owned(), "web".to_owned())].into());
        request
    }

    #[test]
    fn order_from_request() {
        let acme = AcmeIssuer {
            enable_duration_feature: Some(true),
            profile: Some("shortlived".into()),
            ..Default::default()
        };
        let req = request(Some("www.example.com"), &["example.com"], &["192.0.2.1"]);
        let order = order_for_request(&req, &acme).unwrap();
        assert_eq!(
            order.spec.dns_names.as_deref(),
            Some(&["example.com".to_owned(), "www.example.com".to_owned()][..]),
            "the common name becomes an identifier"
        );
        assert_eq!(
            order.spec.ip_addresses.as_deref(),
            Some(&["192.0.2.1".to_owned()][..])
        );
        assert_eq!(order.spec.common_name.as_deref(), Some("www.example.com"));
        assert_eq!(order.spec.duration.as_deref(), Some("48h"));
        assert_eq!(order.spec.profile.as_deref(), Some("shortlived"));
        assert_eq!(order.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
        // The CSR is sent as it is: its CN counts as an identifier for the ACME server.
        assert_eq!(parse_csr_der_ok(&order.spec.request.0), ["example.com"]);
        let name = order.metadata.name.clone().unwrap();
        assert!(name.starts_with("web-3-"), "{name}");
        assert_eq!(order.metadata.namespace.as_deref(), Some("apps"));
        assert_eq!(order.metadata.labels, req.metadata.labels);
        let owner = &order.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("CertificateRequest", "uid-1", Some(true))
        );

        // Deterministic: the same request gives the same name; another spec another name.
        assert_eq!(
            order_for_request(&req, &acme).unwrap().metadata.name,
            Some(name.clone())
        );
        let plain = AcmeIssuer::default();
        let other = order_for_request(&req, &plain).unwrap();
        assert_ne!(other.metadata.name, Some(name));
        assert_eq!(
            other.spec.duration, None,
            "duration only with enableDurationFeature"
        );
        assert_eq!(other.spec.profile, None);
    }

    #[test]
    fn challenge_is_born_owned_labelled_and_with_its_finalizer() {
        let acme = AcmeIssuer::default();
        let mut order = order_for_request(&request(None, &["example.com"], &[]), &acme).unwrap();
        order.metadata.uid = Some("order-uid".into()); // as the API server gives it
        let authorization = crate::api::AcmeAuthorization {
            url: "https://acme.test/authz/1".into(),
            identifier: Some("example.com".into()),
            ..Default::default()
        };
        let solver = crate::api::AcmeChallengeSolver::default();
        let challenge = challenge_for_order(
            &order,
            ChallengeRequest {
                authorization: &authorization,
                challenge_url: "https://acme.test/chall/1",
                token: "tok",
                challenge_type: crate::api::ChallengeType::Http01,
                key: "tok.thumbprint".into(),
                solver: &solver,
            },
        );
        // The Challenge controller relies on this: it adds no finalizer of its own, and
        // clean-up (solver objects, the DNS record) runs only behind it.
        assert_eq!(
            challenge.metadata.finalizers.as_deref(),
            Some(&[crate::api::ACME_FINALIZER.to_owned()][..])
        );
        let owner = &challenge.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Order", "order-uid", Some(true))
        );
        assert_eq!(challenge.metadata.labels, order.metadata.labels);
        assert_eq!(challenge.metadata.namespace, order.metadata.namespace);
        assert_eq!(challenge.spec.dns_name, "example.com");
        assert_eq!(challenge.spec.key, "tok.thumbprint");
        assert!(
            challenge
                .metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with(order.metadata.name.as_deref().unwrap())
        );
    }

    #[test]
    fn cn_already_a_name_or_an_ip_is_not_added() {
        let acme = AcmeIssuer::default();
        let order =
            order_for_request(&request(Some("Example.com"), &["example.com"], &[]), &acme).unwrap();
        assert_eq!(
            order.spec.dns_names.as_deref(),
            Some(&["example.com".to_owned()][..])
        );
        let order =
            order_for_request(&request(Some("192.0.2.7"), &[], &["192.0.2.7"]), &acme).unwrap();
        assert_eq!(order.spec.dns_names, None);
    }

    fn parse_csr_der_ok(der: &[u8]) -> Vec<String> {
        crate::pki::csr::parse_csr(der).unwrap().dns_names
    }

    #[test]
    fn fnv1a32_known_values() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a32(b""), 0x811c9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn child_names_stay_valid() {
        assert_eq!(child_name("web-1", 42), "web-1-42");
        let long = "a".repeat(300);
        let name = child_name(&long, 4_294_967_295);
        assert_eq!(name.len(), 253);
        assert!(name.ends_with("-4294967295"));
        assert_eq!(
            challenge_type(acme_type(ChallengeType::Dns01)),
            Some(ChallengeType::Dns01)
        );
        assert_eq!(challenge_type("tls-alpn-01"), None);
    }
}
