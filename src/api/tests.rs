//! Serialization of the API types: cert-manager's field names and value spellings.

use serde_json::json;

use super::*;

#[test]
fn certificate_uses_cert_manager_field_names() {
    let cert: Certificate = serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": { "name": "web", "namespace": "default" },
        "spec": {
            "secretName": "web-tls", "isCA": false, "ipAddresses": ["10.0.0.1"],
            "emailAddresses": ["a@example.test"], "otherNames": [{ "oid": "1.2.3", "utf8Value": "v" }],
            "usages": ["digital signature", "s/mime", "server auth"],
            "privateKey": { "algorithm": "ECDSA", "encoding": "PKCS8", "rotationPolicy": "Never", "size": 384 },
            "additionalOutputFormats": [{ "type": "DER" }, { "type": "CombinedPEM" }],
            "keystores": { "pkcs12": { "create": true, "password": "p", "profile": "Modern2023" } },
            "issuerRef": { "name": "ca" }
        }
    }))
    .expect("a cert-manager Certificate parses");
    let key = cert.spec.private_key.clone().expect("privateKey");
    assert_eq!(key.algorithm, Some(PrivateKeyAlgorithm::Ecdsa));
    assert_eq!(key.encoding, Some(PrivateKeyEncoding::Pkcs8));
    assert_eq!(key.rotation_policy, Some(PrivateKeyRotationPolicy::Never));
    assert_eq!(
        cert.spec.usages.as_deref(),
        Some(
            &[
                KeyUsage::DigitalSignature,
                KeyUsage::SMime,
                KeyUsage::ServerAuth
            ][..]
        )
    );
    // And it writes back what it read: unset fields stay absent (no nulls for server-side apply).
    let back = serde_json::to_value(&cert).expect("serializes");
    assert_eq!(back["spec"]["isCA"], false);
    assert_eq!(back["spec"]["additionalOutputFormats"][0]["type"], "DER");
    assert!(back["spec"].get("commonName").is_none());
    assert!(back.get("status").is_none());
}

#[test]
fn cluster_issuer_serializes_with_type_meta() {
    let ci = ClusterIssuer::new(
        "selfsigned",
        IssuerSpec {
            self_signed: Some(SelfSignedIssuer::default()),
            ..Default::default()
        },
    );
    let v = serde_json::to_value(&ci).expect("serializes");
    assert_eq!(v["apiVersion"], "cert-manager.io/v1");
    assert_eq!(v["kind"], "ClusterIssuer");
    assert_eq!(v["spec"], json!({ "selfSigned": {} }));
    let back: ClusterIssuer = serde_json::from_value(v).expect("parses back");
    assert_eq!(back, ci);
}

#[test]
fn acme_state_finality() {
    let table = [
        ("pending", false),
        ("ready", false),
        ("processing", false),
        ("valid", true),
        ("invalid", true),
        ("expired", true),
        ("errored", true),
    ];
    for (text, is_final) in table {
        let state: AcmeState = serde_json::from_value(json!(text)).expect("a state");
        assert_eq!(state.is_final(), is_final, "{text}");
        assert_eq!(
            serde_json::to_value(state).expect("serializes"),
            json!(text)
        );
    }
}

#[test]
fn challenge_types_use_cert_manager_spelling() {
    assert_eq!(
        serde_json::to_value(ChallengeType::Http01).expect("json"),
        json!("HTTP-01")
    );
    assert_eq!(
        serde_json::to_value(ChallengeType::Dns01).expect("json"),
        json!("DNS-01")
    );
}

#[test]
fn acme_issuer_field_names() {
    let spec: IssuerSpec = serde_json::from_value(json!({ "acme": {
        "server": "https://acme.example/dir", "skipTLSVerify": true,
        "privateKeySecretRef": { "name": "k" },
        "externalAccountBinding": { "keyID": "kid", "keySecretRef": { "name": "eab" }, "keyAlgorithm": "HS512" },
        "solvers": [
            { "dns01": { "cnameStrategy": "Follow", "rfc2136": { "nameserver": "1.2.3.4", "tsigAlgorithm": "HMACSHA256", "protocol": "TCP" } } },
            { "http01": { "gatewayHTTPRoute": { "parentRefs": [{ "name": "gw" }] } } },
            { "dns01": { "cloudDNS": { "project": "p" }, "azureDNS": { "subscriptionID": "s", "resourceGroupName": "r" }, "acmeDNS": { "host": "h", "accountSecretRef": { "name": "a" } } } }
        ]
    }}))
    .expect("an ACME issuer parses");
    let acme = spec.acme.expect("acme");
    assert_eq!(acme.skip_tls_verify, Some(true));
    let eab = acme.external_account_binding.expect("eab");
    assert_eq!(
        (eab.key_id.as_str(), eab.key_algorithm),
        ("kid", Some(HmacKeyAlgorithm::HS512))
    );
    let solvers = acme.solvers.expect("solvers");
    let rfc = solvers[0]
        .dns01
        .as_ref()
        .and_then(|d| d.rfc2136.as_ref())
        .expect("rfc2136");
    assert_eq!(
        (rfc.tsig_algorithm, rfc.protocol),
        (Some(TsigAlgorithm::HMACSHA256), Some(DnsProtocol::Tcp))
    );
    assert!(
        solvers[1]
            .http01
            .as_ref()
            .and_then(|h| h.gateway_http_route.as_ref())
            .is_some()
    );
    let dns = solvers[2].dns01.as_ref().expect("dns01");
    assert!(dns.cloud_dns.is_some() && dns.azure_dns.is_some() && dns.acme_dns.is_some());
}
