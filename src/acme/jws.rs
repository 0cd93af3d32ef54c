//! RFC 8555 §6.2 request signing: flattened JWS with ES256 over the account key, the JWK and its
//! RFC 7638 thumbprint, and the External Account Binding's inner HMAC JWS (§7.3.4). Pure: bytes
//! in, bytes out.
//!
//! instant-acme 0.8 signs internally but does not expose it for the requests it lacks (newAccount
//! with our own key, contact and EAB; POST-as-GET to an authorization, challenge or certificate
//! URL); this module signs those.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::api::HmacKeyAlgorithm;

pub(crate) fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// An ECDSA P-256 account key, ready to sign.
pub(crate) struct SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    x: String,
    y: String,
    thumbprint: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("thumbprint", &self.thumbprint)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    /// From PKCS#8 DER of a P-256 key; `None` if it is not one.
    pub fn from_pkcs8(pkcs8: Zeroizing<Vec<u8>>) -> Option<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).ok()?;
        // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return None;
        }
        let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
        // RFC 7638: the required members, lexicographically ordered, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = b64(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical.as_bytes(),
        ));
        Some(SigningKey {
            pair,
            pkcs8,
            x,
            y,
            thumbprint,
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({"crv": "P-256", "kty": "EC", "x": self.x, "y": self.y})
    }

    /// The RFC 7638 thumbprint (base64url of SHA-256 over the canonical JWK).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    fn sign(&self, data: &[u8]) -> Option<Vec<u8>> {
        let sig = self.pair.sign(&SystemRandom::new(), data).ok()?;
        Some(sig.as_ref().to_vec())
    }
}

/// How the signed request names its key: the whole JWK (newAccount) or the account URL.
pub(crate) enum KeyId<'a> {
    Jwk,
    Kid(&'a str),
}

/// The payload of a signed request.
pub(crate) enum Payload<'a> {
    /// POST-as-GET (RFC 8555 §6.3): an empty payload.
    Empty,
    Json(&'a Value),
}

/// The flattened JWS JSON body of a signed ACME request.
pub(crate) fn sign_request(
    key: &SigningKey,
    key_id: &KeyId<'_>,
    nonce: &str,
    url: &str,
    payload: &Payload<'_>,
) -> Option<Vec<u8>> {
    let mut protected = json!({"alg": "ES256", "nonce": nonce, "url": url});
    match key_id {
        KeyId::Jwk => protected["jwk"] = key.jwk(),
        KeyId::Kid(kid) => protected["kid"] = json!(kid),
    }
    let protected = b64(serde_json::to_vec(&protected).ok()?);
    let payload = match payload {
        Payload::Empty => String::new(),
        Payload::Json(v) => b64(serde_json::to_vec(v).ok()?),
    };
    let signature = key.sign(format!("{protected}.{payload}").as_bytes())?;
    serde_json::to_vec(&json!({
        "protected": protected,
        "payload": payload,
        "signature": b64(signature),
    }))
    .ok()
}

/// The `externalAccountBinding` member of a newAccount payload: the account's JWK, MACed with
/// the CA's key under the CA's key ID, bound to the newAccount URL (no nonce).
pub(crate) fn eab_binding(
    key_id: &str,
    hmac_key: &[u8],
    algorithm: HmacKeyAlgorithm,
    account_jwk: &Value,
    new_account_url: &str,
) -> Value {
    let (alg, name) = match algorithm {
        HmacKeyAlgorithm::HS256 => (hmac::HMAC_SHA256, "HS256"),
        HmacKeyAlgorithm::HS384 => (hmac::HMAC_SHA384, "HS384"),
        HmacKeyAlgorithm::HS512 => (hmac::HMAC_SHA512, "HS512"),
    };
    let protected = b64(json!({"alg": name, "kid": key_id, "url": new_account_url}).to_string());
    let payload = b64(account_jwk.to_string());
    let tag = hmac::sign(
        &hmac::Key::new(alg, hmac_key),
        format!("{protected}.{payload}").as_bytes(),
    );
    json!({"protected": protected, "payload": payload, "signature": b64(tag.as_ref())})
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    use base64::Engine as _;

    use super::*;

    fn key() -> SigningKey {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        SigningKey::from_pkcs8(Zeroizing::new(pkcs8.as_ref().to_vec())).unwrap()
    }

    fn decode(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    #[test]
    fn signed_request_verifies_and_names_its_key() {
        let k = key();
        for (key_id, payload, want_payload) in [
            (
                KeyId::Jwk,
                Payload::Json(&json!({"termsOfServiceAgreed": true})),
                true,
            ),
            (KeyId::Kid("https://ca/acct/1"), Payload::Empty, false),
        ] {
            let body = sign_request(&k, &key_id, "n0nce", "https://ca/x", &payload).unwrap();
            let jws: Value = serde_json::from_slice(&body).unwrap();
            let (p, pl, sig) = (
                jws["protected"].as_str().unwrap(),
                jws["payload"].as_str().unwrap(),
                jws["signature"].as_str().unwrap(),
            );
            let header: Value = serde_json::from_slice(&decode(p)).unwrap();
            assert_eq!(header["alg"], "ES256");
            assert_eq!(header["nonce"], "n0nce");
            assert_eq!(header["url"], "https://ca/x");
            match key_id {
                KeyId::Jwk => {
                    assert_eq!(header["jwk"], k.jwk());
                    assert!(header.get("kid").is_none());
                }
                KeyId::Kid(kid) => {
                    assert_eq!(header["kid"], kid);
                    assert!(header.get("jwk").is_none());
                }
            }
            assert_eq!(!pl.is_empty(), want_payload);
            let public =
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, k.pair.public_key().as_ref());
            public
                .verify(format!("{p}.{pl}").as_bytes(), &decode(sig))
                .expect("signature verifies with the account's public key");
        }
    }

    #[test]
    fn thumbprint_is_rfc7638() {
        // The canonical JWK is what serde_json prints (it orders keys); instant-acme's own
        // thumbprint of the same key is compared in account.rs.
        let k = key();
        assert_eq!(k.thumbprint().len(), 43);
        let canonical = serde_json::to_string(&k.jwk()).unwrap();
        // serde_json orders object keys; the canonical form is the same text.
        assert_eq!(
            k.thumbprint(),
            b64(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                canonical.as_bytes()
            ))
        );
    }

    #[test]
    fn eab_binding_is_an_hmac_over_the_jwk() {
        let k = key();
        let secret = b"0123456789abcdef0123456789abcdef";
        for (alg, name, hmac_alg) in [
            (HmacKeyAlgorithm::HS256, "HS256", hmac::HMAC_SHA256),
            (HmacKeyAlgorithm::HS384, "HS384", hmac::HMAC_SHA384),
            (HmacKeyAlgorithm::HS512, "HS512", hmac::HMAC_SHA512),
        ] {
            let eab = eab_binding("kid-1", secret, alg, &k.jwk(), "https://ca/new-acct");
            let (p, pl, sig) = (
                eab["protected"].as_str().unwrap(),
                eab["payload"].as_str().unwrap(),
                eab["signature"].as_str().unwrap(),
            );
            let header: Value = serde_json::from_slice(&decode(p)).unwrap();
            assert_eq!(
                header,
                json!({"alg": name, "kid": "kid-1", "url": "https://ca/new-acct"})
            );
            let payload: Value = serde_json::from_slice(&decode(pl)).unwrap();
            assert_eq!(payload, k.jwk());
            hmac::verify(
                &hmac::Key::new(hmac_alg, secret),
                format!("{p}.{pl}").as_bytes(),
                &decode(sig),
            )
            .expect("the MAC verifies with the EAB key");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let k = key();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("[redacted]"));
        assert!(!dbg.contains(&b64(k.pkcs8())));
    }
}
