//! ACME accounts: the account key (what the Issuer's `privateKeySecretRef` Secret holds under
//! `tls.key`), External Account Binding credentials, registering-or-finding the account for a
//! key, and an in-memory cache so reconciles do not repeat that.

use std::collections::HashMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::ServerConfig;
use super::client::{AcmeClient, unusable};
use super::error::AcmeError;
use super::http::{AcmeRequestStats, Action, HttpOptions};
use super::jws::{KeyId, Payload, SigningKey, b64, eab_binding};
use crate::api::{HmacKeyAlgorithm, PrivateKeyAlgorithm, PrivateKeyEncoding};
use crate::pki::keys::{self, KeySpec};

// ------------------------------------------------------------------------------------ the key

/// A new account key: ECDSA P-256 as PKCS#8 PEM (`PRIVATE KEY`), what instant-acme and most
/// ACME CAs expect. (cert-manager generates RSA 2048 account keys; instant-acme signs only with
/// P-256, so certsmith generates and accepts P-256 only.)
pub fn generate_account_key() -> Result<Zeroizing<String>, AcmeError> {
    let spec = KeySpec {
        algorithm: PrivateKeyAlgorithm::Ecdsa,
        size: 256,
        encoding: PrivateKeyEncoding::Pkcs8,
    };
    let pem = keys::generate(&spec)
        .map_err(|e| AcmeError::invalid(Action::NewAccount, format!("account key: {e}")))?;
    Ok(Zeroizing::new(pem.as_str().to_owned()))
}

/// A parsed account key. `Debug` shows its hash only.
pub struct AccountKey {
    signing: SigningKey,
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("hash", &self.hash())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl AccountKey {
    /// Reads an ECDSA P-256 private key from PEM: PKCS#8 (`PRIVATE KEY`) or SEC 1
    /// (`EC PRIVATE KEY`). Errors say what is wrong without quoting the key.
    pub fn from_pem(pem: &[u8]) -> Result<Self, AcmeError> {
        let bad = |why: String| {
            AcmeError::invalid(
                Action::NewAccount,
                format!("the ACME account private key cannot be used: {why}"),
            )
        };
        let parsed = keys::parse_private_key_pem(pem).map_err(|e| bad(e.to_string()))?;
        let info = parsed.info();
        if info.algorithm != PrivateKeyAlgorithm::Ecdsa || info.size != 256 {
            let what = match info.algorithm {
                PrivateKeyAlgorithm::Rsa => format!("it is an RSA {} key", info.size),
                PrivateKeyAlgorithm::Ecdsa => format!("it is an ECDSA P-{} key", info.size),
                PrivateKeyAlgorithm::Ed25519 => "it is an Ed25519 key".to_owned(),
            };
            return Err(bad(format!(
                "{what}, and certsmith signs ACME requests with ECDSA P-256 keys only; delete the \
                 Secret's tls.key to have a new P-256 key generated (this registers a new \
                 account), or store a P-256 key there"
            )));
        }
        let pkcs8 = parsed
            .to_der(PrivateKeyEncoding::Pkcs8)
            .map_err(|e| bad(e.to_string()))?;
        let signing = SigningKey::from_pkcs8(pkcs8)
            .ok_or_else(|| bad("the crypto library rejected the P-256 key".to_owned()))?;
        Ok(AccountKey { signing })
    }

    /// See [`account_key_hash`].
    pub fn hash(&self) -> &str {
        self.signing.thumbprint()
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }
}

/// The value for `status.acme.lastPrivateKeyHash`: the RFC 7638 JWK thumbprint of the public key
/// (base64url SHA-256 of its canonical JWK). It names the key, not its encoding: the same key as
/// PKCS#8 or SEC 1 PEM has the same hash, and it is the account-key identity ACME itself uses.
pub fn account_key_hash(pem: &[u8]) -> Result<String, AcmeError> {
    Ok(AccountKey::from_pem(pem)?.hash().to_owned())
}

// ------------------------------------------------------------------------------------ the EAB

/// External Account Binding credentials (`spec.acme.externalAccountBinding`). `Debug` hides the
/// HMAC key.
///
/// `keyAlgorithm` is honoured when the key is long enough for it (RFC 7518 §3.2: at least the
/// hash size, 48 bytes for HS384, 64 for HS512); with a shorter key the binding is signed with
/// HS256, which is what cert-manager always sends (its field is deprecated, the algorithm
/// hardcoded), so manifests that worked there keep working.
#[derive(Clone)]
pub struct ExternalAccountBinding {
    pub key_id: String,
    hmac_key: Zeroizing<Vec<u8>>,
    /// As configured; see [`Self::effective_algorithm`] for what is sent.
    pub algorithm: HmacKeyAlgorithm,
}

impl fmt::Debug for ExternalAccountBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountBinding")
            .field("key_id", &self.key_id)
            .field("hmac_key", &"[redacted]")
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl ExternalAccountBinding {
    /// `encoded_key` is the Secret's value: base64url as the CA hands it out (cert-manager's
    /// format); standard base64 is accepted too, padded or not, surrounding whitespace ignored.
    pub fn new(
        key_id: impl Into<String>,
        encoded_key: &[u8],
        algorithm: HmacKeyAlgorithm,
    ) -> Result<Self, AcmeError> {
        let key_id = key_id.into();
        let hmac_key = decode_hmac_key(encoded_key).map_err(|why| {
            AcmeError::invalid(
                Action::NewAccount,
                format!("the External Account Binding HMAC key for key ID {key_id:?} {why}"),
            )
        })?;
        Ok(ExternalAccountBinding {
            key_id,
            hmac_key,
            algorithm,
        })
    }

    /// The MAC algorithm the binding is signed with; see the type's documentation.
    pub fn effective_algorithm(&self) -> HmacKeyAlgorithm {
        effective_algorithm(self.algorithm, self.hmac_key.len())
    }
}

/// `algorithm` if a key of `key_len` bytes is long enough for it (RFC 7518 §3.2), else HS256.
pub(crate) fn effective_algorithm(algorithm: HmacKeyAlgorithm, key_len: usize) -> HmacKeyAlgorithm {
    let needed = match algorithm {
        HmacKeyAlgorithm::HS256 => 0,
        HmacKeyAlgorithm::HS384 => 48,
        HmacKeyAlgorithm::HS512 => 64,
    };
    if key_len >= needed {
        algorithm
    } else {
        HmacKeyAlgorithm::HS256
    }
}

/// Decodes an EAB HMAC key; the error completes "the HMAC key ...". Never echoes the input.
pub(crate) fn decode_hmac_key(encoded: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let text = std::str::from_utf8(encoded).map_err(|_| "is not text (expected base64url)")?;
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty");
    }
    let url_alphabet = !text.contains(['+', '/']);
    let engines = if url_alphabet {
        [&URL_SAFE_NO_PAD, &URL_SAFE]
    } else {
        [&STANDARD_NO_PAD, &STANDARD]
    };
    for engine in engines {
        if let Ok(key) = engine.decode(text) {
            return if key.is_empty() {
                Err("is empty")
            } else {
                Ok(Zeroizing::new(key))
            };
        }
    }
    Err("is not valid base64url (nor base64)")
}

// ------------------------------------------------------------------------------- registration

/// What to register or find.
#[derive(Clone, Copy, Debug)]
pub struct Registration<'a> {
    pub server: &'a ServerConfig,
    /// PEM of the account key (the Secret's `tls.key`).
    pub key_pem: &'a [u8],
    pub email: Option<&'a str>,
    pub eab: Option<&'a ExternalAccountBinding>,
    /// `status.acme.uri` when the Issuer already registered: then the account is looked up
    /// (newAccount with `onlyReturnExisting`), and registered again only if the server lost it.
    pub known_account_url: Option<&'a str>,
}

/// A registered ACME account: the key, its URL on the server, the connection, and instant-acme's
/// `Account` for what it offers beyond the order flow (revocation, ARI, key rollover). Cheap to
/// clone.
#[derive(Clone)]
pub struct AcmeAccount {
    pub(crate) inner: Arc<AccountInner>,
}

pub(crate) struct AccountInner {
    pub client: AcmeClient,
    pub key: AccountKey,
    pub url: String,
    pub contact: Vec<String>,
    pub instant: instant_acme::Account,
}

impl fmt::Debug for AcmeAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeAccount")
            .field("url", &self.inner.url)
            .field("directory", &self.inner.client.directory_url)
            .field("key_hash", &self.inner.key.hash())
            .finish()
    }
}

/// The account object of a newAccount / account response (RFC 8555 §7.1.2).
#[derive(Deserialize)]
struct AccountObject {
    status: String,
    #[serde(default)]
    contact: Vec<String>,
}

impl AcmeAccount {
    /// Registers the key's account, or finds it: newAccount is idempotent per key, so a second
    /// registration returns the first account. With [`Registration::known_account_url`] the
    /// account is only looked up (no EAB needed), and registered anew if the server lost it.
    /// If the account's contact differs from `email`, it is updated (one more request).
    ///
    /// Requests: directory, newNonce, newAccount (+1 per badNonce retry, +1 contact update).
    pub async fn register(
        reg: &Registration<'_>,
        stats: &AcmeRequestStats,
    ) -> Result<Self, AcmeError> {
        Self::register_with(reg, stats, HttpOptions::default()).await
    }

    /// [`Self::register`] with other transport timeouts.
    pub async fn register_with(
        reg: &Registration<'_>,
        stats: &AcmeRequestStats,
        options: HttpOptions,
    ) -> Result<Self, AcmeError> {
        let key = AccountKey::from_pem(reg.key_pem)?;
        let client = AcmeClient::connect(reg.server, stats, options).await?;
        let contact: Vec<String> = reg
            .email
            .map(|e| format!("mailto:{e}"))
            .into_iter()
            .collect();

        let mut found = None;
        if reg.known_account_url.is_some() {
            match new_account(&client, &key, &json!({"onlyReturnExisting": true})).await {
                Ok(acct) => found = Some(acct),
                Err(e) if e.is_problem("accountDoesNotExist") => {}
                Err(e) => return Err(e),
            }
        }
        let (url, object) = match found {
            Some(acct) => acct,
            None => {
                let mut payload = json!({"termsOfServiceAgreed": true, "contact": contact});
                if let Some(eab) = reg.eab {
                    payload["externalAccountBinding"] = eab_binding(
                        &eab.key_id,
                        &eab.hmac_key,
                        eab.effective_algorithm(),
                        &key.signing().jwk(),
                        &client.directory.new_account,
                    );
                }
                new_account(&client, &key, &payload)
                    .await
                    .map_err(|e| explain_registration_error(e, reg))?
            }
        };
        if object.status != "valid" {
            return Err(AcmeError::invalid(
                Action::NewAccount,
                format!(
                    "the ACME account {url} of this key is {}; it cannot be used again: delete \
                     the Secret's tls.key to have a new key (and account) made",
                    object.status
                ),
            ));
        }
        let mut contact_now = object.contact;
        if reg.email.is_some() && contact_now != contact {
            // The account existed with another (or no) email: set the one asked for.
            let rsp = client
                .post(
                    key.signing(),
                    &KeyId::Kid(&url),
                    &url,
                    &Payload::Json(&json!({"contact": contact})),
                    Action::Account,
                )
                .await?;
            let updated: AccountObject = serde_json::from_slice(&rsp.body)
                .map_err(|e| unusable(Action::Account, &rsp, format!("account object: {e}")))?;
            contact_now = updated.contact;
        }
        let instant = instant_account(&client, &key, &url).await?;
        Ok(AcmeAccount {
            inner: Arc::new(AccountInner {
                client,
                key,
                url,
                contact: contact_now,
                instant,
            }),
        })
    }

    /// The account URL (`status.acme.uri`).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The account key's hash (`status.acme.lastPrivateKeyHash`); see [`account_key_hash`].
    pub fn key_hash(&self) -> &str {
        self.inner.key.hash()
    }

    /// The account's contact URIs as the server reports them (`mailto:...`).
    pub fn contact(&self) -> &[String] {
        &self.inner.contact
    }

    /// The directory URL this account lives on.
    pub fn directory_url(&self) -> &str {
        &self.inner.client.directory_url
    }

    /// Whether the server's directory says accounts need External Account Binding.
    pub fn external_account_required(&self) -> bool {
        self.inner.client.directory.meta.external_account_required
    }

    /// Profiles the server offers (name -> description), if it supports profiles.
    pub fn profiles(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.inner.client.directory.meta.profiles.as_ref()
    }

    /// The request counters this account's requests go to.
    pub fn stats(&self) -> &AcmeRequestStats {
        self.inner.client.http.stats()
    }

    /// instant-acme's view of the same account, over the same transport (for revocation, ARI,
    /// key rollover, deactivation). Building it cost no request.
    pub fn instant_acme(&self) -> &instant_acme::Account {
        &self.inner.instant
    }
}

/// One newAccount request; returns the account URL and object.
async fn new_account(
    client: &AcmeClient,
    key: &AccountKey,
    payload: &serde_json::Value,
) -> Result<(String, AccountObject), AcmeError> {
    let url = &client.directory.new_account;
    let rsp = client
        .post(
            key.signing(),
            &KeyId::Jwk,
            url,
            &Payload::Json(payload),
            Action::NewAccount,
        )
        .await?;
    let location = rsp
        .header(http::header::LOCATION)
        .map(str::to_owned)
        .ok_or_else(|| unusable(Action::NewAccount, &rsp, "no Location header".to_owned()))?;
    let object: AccountObject = serde_json::from_slice(&rsp.body)
        .map_err(|e| unusable(Action::NewAccount, &rsp, format!("account object: {e}")))?;
    Ok((location, object))
}

/// Rewrites registration failures caused by External Account Binding into what the user must
/// change.
fn explain_registration_error(mut e: AcmeError, reg: &Registration<'_>) -> AcmeError {
    let server = &reg.server.directory_url;
    let Some(problem) = e.problem().cloned() else {
        return e;
    };
    let message = match (reg.eab, problem.short_type()) {
        (None, "externalAccountRequired") => format!(
            "the ACME server {server} requires External Account Binding: set \
             spec.acme.externalAccountBinding (keyID and keySecretRef with the HMAC key your CA \
             gave you); server said: {problem}"
        ),
        (Some(eab), "unauthorized" | "malformed" | "badPublicKey" | "badSignatureAlgorithm") => {
            format!(
                "the ACME server {server} rejected the External Account Binding with key ID \
                 {:?}: check spec.acme.externalAccountBinding.keyID, the HMAC key in its Secret \
                 and keyAlgorithm (sent {:?}); server said: {problem}",
                eab.key_id,
                eab.effective_algorithm()
            )
        }
        _ => return e,
    };
    e.failure_mut().message = message;
    e
}

/// instant-acme's `Account` for the same key and URL, from the directory we already read: its
/// credentials format takes the directory object itself (`urls`), so no request is made.
async fn instant_account(
    client: &AcmeClient,
    key: &AccountKey,
    url: &str,
) -> Result<instant_acme::Account, AcmeError> {
    let credentials = Zeroizing::new(
        json!({
            "id": url,
            "key_pkcs8": b64(key.signing().pkcs8()),
            "directory": null,
            "urls": client.directory.raw,
        })
        .to_string(),
    );
    let fail = |what: String| {
        AcmeError::invalid(
            Action::NewAccount,
            format!("building instant-acme's account failed: {what}"),
        )
    };
    let credentials: instant_acme::AccountCredentials =
        serde_json::from_str(&credentials).map_err(|e| fail(e.to_string()))?;
    instant_acme::Account::builder_with_http(Box::new(client.http.clone()))
        .from_credentials(credentials)
        .await
        .map_err(|e| fail(e.to_string()))
}

// -------------------------------------------------------------------------------------- cache

/// What identifies a cached account. Any change to one of these makes a different entry, so
/// the old one is no longer used: the directory URL, the account key, the email, the EAB key
/// ID, and the TLS trust (caBundle, skipTLSVerify).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountCacheKey {
    pub directory_url: String,
    pub key_hash: String,
    pub email: Option<String>,
    pub eab_key_id: Option<String>,
    tls: u64,
}

impl AccountCacheKey {
    pub fn new(reg: &Registration<'_>, key_hash: &str) -> Self {
        let mut h = DefaultHasher::new();
        reg.server.ca_bundle.hash(&mut h);
        reg.server.skip_tls_verify.hash(&mut h);
        AccountCacheKey {
            directory_url: reg.server.directory_url.trim().to_owned(),
            key_hash: key_hash.to_owned(),
            email: reg.email.map(str::to_owned),
            eab_key_id: reg.eab.map(|e| e.key_id.clone()),
            tls: h.finish(),
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<AcmeAccount>>>;

/// Registered accounts, kept across reconciles so an issuer's account costs its three requests
/// (directory, nonce, newAccount) once per process, not once per reconcile. Cheap to clone.
///
/// An entry is used while its [`AccountCacheKey`] matches. The controllers should [`forget`]
/// an entry when its Issuer is deleted, and when a call fails with
/// [`AcmeError::is_account_problem`] (the account was deactivated or is unknown to the server),
/// so the next reconcile registers again. Concurrent lookups of one key register once.
///
/// [`forget`]: AccountCache::forget
#[derive(Clone, Default)]
pub struct AccountCache {
    slots: Arc<Mutex<HashMap<AccountCacheKey, Slot>>>,
}

impl fmt::Debug for AccountCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountCache")
            .field("entries", &self.len())
            .finish()
    }
}

impl AccountCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached account for `reg`, or a new registration (then cached). A failed
    /// registration is not cached.
    pub async fn get_or_register(
        &self,
        reg: &Registration<'_>,
        stats: &AcmeRequestStats,
    ) -> Result<AcmeAccount, AcmeError> {
        let key_hash = account_key_hash(reg.key_pem)?;
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots
                .entry(AccountCacheKey::new(reg, &key_hash))
                .or_default()
                .clone()
        };
        let mut slot = slot.lock().await;
        if let Some(account) = slot.as_ref() {
            return Ok(account.clone());
        }
        let account = AcmeAccount::register(reg, stats).await?;
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Drops every entry of this directory and key (whatever email, EAB or TLS settings).
    pub fn forget(&self, directory_url: &str, key_hash: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|k, _| !(k.directory_url == directory_url.trim() && k.key_hash == key_hash));
    }

    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PrivateKeyAlgorithm as Alg;

    fn pem_of(algorithm: Alg, size: u32, encoding: PrivateKeyEncoding) -> String {
        keys::generate(&KeySpec {
            algorithm,
            size,
            encoding,
        })
        .unwrap()
        .as_str()
        .to_owned()
    }

    #[test]
    fn generated_key_is_pkcs8_p256_and_parses() {
        let pem = generate_account_key().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let key = AccountKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(key.hash().len(), 43);
        assert!(!format!("{key:?}").contains("BEGIN"));
    }

    #[test]
    fn key_parsing_table() {
        let sec1 = pem_of(Alg::Ecdsa, 256, PrivateKeyEncoding::Pkcs1);
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let cases: Vec<(&str, String, Result<(), &str>)> =
            vec![
            ("PKCS#8 P-256", pem_of(Alg::Ecdsa, 256, PrivateKeyEncoding::Pkcs8), Ok(())),
            ("SEC 1 P-256", sec1, Ok(())),
            ("RSA PKCS#1", pem_of(Alg::Rsa, 2048, PrivateKeyEncoding::Pkcs1), Err("RSA 2048 key")),
            ("RSA PKCS#8", pem_of(Alg::Rsa, 2048, PrivateKeyEncoding::Pkcs8), Err("RSA 2048 key")),
            ("P-384", pem_of(Alg::Ecdsa, 384, PrivateKeyEncoding::Pkcs8), Err("ECDSA P-384")),
            ("Ed25519", pem_of(Alg::Ed25519, 256, PrivateKeyEncoding::Pkcs8), Err("Ed25519")),
            ("garbage", "hello".to_owned(), Err("no private key found")),
            (
                "broken body",
                "-----BEGIN PRIVATE KEY-----\nMIIBsecretsecretsecret\n-----END PRIVATE KEY-----\n"
                    .to_owned(),
                Err("cannot be used"),
            ),
        ];
        for (name, pem, want) in cases {
            let got = AccountKey::from_pem(pem.as_bytes());
            match (got, want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(needle)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(needle), "{name}: {msg}");
                    assert!(matches!(e, AcmeError::Terminal(_)), "{name}");
                    // Never echo key material.
                    assert!(!msg.contains("secretsecret"), "{name}: {msg}");
                    for line in pem
                        .lines()
                        .filter(|l| !l.starts_with("-----") && l.len() > 8)
                    {
                        assert!(!msg.contains(line), "{name} echoes the key: {msg}");
                    }
                }
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn key_hash_is_stable_across_encodings() {
        let sec1 = pem_of(Alg::Ecdsa, 256, PrivateKeyEncoding::Pkcs1);
        let parsed = keys::parse_private_key_pem(sec1.as_bytes()).unwrap();
        let pkcs8 = parsed.to_pem(PrivateKeyEncoding::Pkcs8).unwrap();
        let a = account_key_hash(sec1.as_bytes()).unwrap();
        assert_eq!(a, account_key_hash(pkcs8.as_bytes()).unwrap());
        assert_eq!(a, account_key_hash(sec1.as_bytes()).unwrap());
        let other = generate_account_key().unwrap();
        assert_ne!(a, account_key_hash(other.as_bytes()).unwrap());
    }

    #[test]
    fn hmac_key_decoding_table() {
        let raw: Vec<u8> = (0u8..=40)
            .map(|i| i.wrapping_mul(37).wrapping_add(250))
            .collect();
        let url_np = URL_SAFE_NO_PAD.encode(&raw);
        let std_p = STANDARD.encode(&raw);
        assert!(
            std_p.contains(['+', '/']),
            "the sample should use the standard alphabet"
        );
        let cases: Vec<(String, Result<&[u8], &str>)> = vec![
            (url_np.clone(), Ok(&raw)),
            (URL_SAFE.encode(&raw), Ok(&raw)),
            (std_p.clone(), Ok(&raw)),
            (STANDARD_NO_PAD.encode(&raw), Ok(&raw)),
            (format!("  {url_np}\n"), Ok(&raw)),
            (String::new(), Err("is empty")),
            ("\n".into(), Err("is empty")),
            (
                "not*base64!".into(),
                Err("is not valid base64url (nor base64)"),
            ),
            ("abc".into(), Ok(&[0x69, 0xb7][..])),
            ("a".into(), Err("is not valid base64url (nor base64)")),
        ];
        for (input, want) in cases {
            let got = decode_hmac_key(input.as_bytes());
            match (got, want) {
                (Ok(k), Ok(w)) => assert_eq!(&k[..], w, "{input:?}"),
                (Err(e), Err(w)) => assert_eq!(e, w, "{input:?}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
        assert!(
            decode_hmac_key(&[0xff, 0xfe])
                .unwrap_err()
                .contains("not text")
        );
    }

    #[test]
    fn eab_algorithm_table() {
        use HmacKeyAlgorithm::*;
        let cases = [
            (HS256, 16, HS256),
            (HS256, 64, HS256),
            (HS384, 32, HS256),
            (HS384, 47, HS256),
            (HS384, 48, HS384),
            (HS512, 48, HS256),
            (HS512, 63, HS256),
            (HS512, 64, HS512),
            (HS512, 100, HS512),
        ];
        for (asked, len, sent) in cases {
            assert_eq!(
                effective_algorithm(asked, len),
                sent,
                "{asked:?} with {len} bytes"
            );
        }
    }

    #[test]
    fn eab_errors_and_debug_hide_the_key() {
        let eab =
            ExternalAccountBinding::new("kid-1", b"c2VjcmV0LWhtYWMta2V5", HmacKeyAlgorithm::HS256)
                .unwrap();
        let dbg = format!("{eab:?}");
        assert!(dbg.contains("kid-1") && dbg.contains("[redacted]"));
        assert!(!dbg.contains("secret") && !dbg.contains("c2VjcmV0"));
        let err = ExternalAccountBinding::new("kid-1", b"%%secret%%", HmacKeyAlgorithm::HS256)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"kid-1\"") && err.contains("base64"), "{err}");
        assert!(!err.contains("secret%%"), "{err}");
    }

    #[test]
    fn cache_key_changes_with_every_input() {
        let server = ServerConfig::new("https://ca/dir");
        let eab = ExternalAccountBinding::new("kid", b"a2V5", HmacKeyAlgorithm::HS256).unwrap();
        let base = Registration {
            server: &server,
            key_pem: b"",
            email: Some("a@example.com"),
            eab: None,
            known_account_url: None,
        };
        let k = |r: &Registration<'_>, hash: &str| AccountCacheKey::new(r, hash);
        let k0 = k(&base, "h1");
        assert_eq!(k0, k(&base, "h1"));
        // A known URL does not change which account it is.
        assert_eq!(
            k0,
            k(
                &Registration {
                    known_account_url: Some("https://ca/acct/1"),
                    ..base
                },
                "h1"
            )
        );
        assert_ne!(k0, k(&base, "h2"));
        assert_ne!(
            k0,
            k(
                &Registration {
                    email: None,
                    ..base
                },
                "h1"
            )
        );
        assert_ne!(
            k0,
            k(
                &Registration {
                    eab: Some(&eab),
                    ..base
                },
                "h1"
            )
        );
        let other_dir = ServerConfig::new("https://other/dir");
        assert_ne!(
            k0,
            k(
                &Registration {
                    server: &other_dir,
                    ..base
                },
                "h1"
            )
        );
        let skip = ServerConfig {
            skip_tls_verify: true,
            ..ServerConfig::new("https://ca/dir")
        };
        assert_ne!(
            k0,
            k(
                &Registration {
                    server: &skip,
                    ..base
                },
                "h1"
            )
        );
        let bundle = ServerConfig {
            ca_bundle: Some(b"pem".to_vec()),
            ..ServerConfig::new("https://ca/dir")
        };
        assert_ne!(
            k0,
            k(
                &Registration {
                    server: &bundle,
                    ..base
                },
                "h1"
            )
        );
    }

    #[tokio::test]
    async fn instant_acme_account_has_our_thumbprint_without_requests() {
        // The directory object alone (what `urls` takes); nothing is fetched.
        let directory: crate::acme::client::Directory = serde_json::from_value(json!({
            "newNonce": "https://127.0.0.1:1/nonce",
            "newAccount": "https://127.0.0.1:1/acct",
            "newOrder": "https://127.0.0.1:1/order",
        }))
        .unwrap();
        let stats = AcmeRequestStats::new();
        let server = ServerConfig::new("https://127.0.0.1:1/dir");
        let http =
            super::super::http::AcmeHttpClient::new(&server, stats.clone(), HttpOptions::default())
                .unwrap();
        let mut directory = directory;
        directory.raw = json!({
            "newNonce": "https://127.0.0.1:1/nonce",
            "newAccount": "https://127.0.0.1:1/acct",
            "newOrder": "https://127.0.0.1:1/order",
        });
        let client = AcmeClient {
            http,
            directory: Arc::new(directory),
            directory_url: server.directory_url.clone(),
        };
        let pem = generate_account_key().unwrap();
        let key = AccountKey::from_pem(pem.as_bytes()).unwrap();
        let account = instant_account(&client, &key, "https://127.0.0.1:1/acct/7")
            .await
            .unwrap();
        assert_eq!(account.id(), "https://127.0.0.1:1/acct/7");
        assert_eq!(account.key_thumbprint(), key.hash());
        assert_eq!(stats.total(), 0);
    }
}
