//! Extra Secret outputs, as cert-manager writes them: `key.der`, `tls-combined.pem`, PKCS#12
//! (`keystore.p12`, `truststore.p12`) and Java KeyStore (`keystore.jks`, `truststore.jks`).
//!
//! Pure functions over PEM/DER bytes. Private key material never appears in an error.
//!
//! JKS is written here from the public format description: magic `0xFEEDFEED`, version 2,
//! the entries (tag 1 = private key, 2 = trusted certificate; alias in Java's modified UTF-8,
//! creation time in milliseconds), then a SHA-1 over the password as UTF-16BE, the ASCII
//! string `Mighty Aphrodite` and every byte before it. Private keys are PKCS#8 protected by
//! Sun's JKS key protector (OID 1.3.6.1.4.1.42.2.17.1.1): a random 20-byte salt, a SHA-1
//! keystream (`d0 = salt`, `d(i+1) = SHA1(password || d(i))`) XORed with the key, and a
//! SHA-1 check over password and plain key.

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use jiff::Timestamp;
use p12_keystore::{
    Certificate as P12Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm,
    PrivateKey as P12PrivateKey, PrivateKeyChain,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::api::Pkcs12Profile;

/// Alias of the key entry of `keystore.p12`.
pub const PKCS12_KEY_ALIAS: &str = "certificate";
/// Alias of the first CA certificate in the stores; the others are `ca-1`, `ca-2`, ...
pub const CA_ALIAS: &str = "ca";

/// Iterations of the PKCS#12 key derivations (go-pkcs12's profiles use 2048).
const PKCS12_ITERATIONS: u32 = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The private key PEM could not be read (its content is never included).
    #[error("the private key is not a readable PEM block")]
    KeyPem,
    #[error("the {what} holds no readable PEM certificate")]
    CertificatePem { what: &'static str },
    #[error("encoding the PKCS#12 file failed: {0}")]
    Pkcs12(String),
    #[error("encoding the JKS file failed: {0}")]
    Jks(String),
}

/// `key.der`: the DER inside the private key PEM (`tls.key`), in whatever encoding the
/// Certificate asked for (PKCS#1/SEC 1 or PKCS#8), as cert-manager does.
pub fn der_private_key(key_pem: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| KeystoreError::KeyPem)?;
    Ok(Zeroizing::new(key.secret_der().to_vec()))
}

/// `tls-combined.pem`: the private key PEM, a newline, then the certificate chain PEM
/// (cert-manager joins `tls.key` and `tls.crt` with `\n`).
pub fn combined_pem(key_pem: &[u8], chain_pem: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(key_pem.len() + 1 + chain_pem.len()));
    out.extend_from_slice(key_pem);
    out.push(b'\n');
    out.extend_from_slice(chain_pem);
    out
}

fn certificates_der(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, KeystoreError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| KeystoreError::CertificatePem { what })?;
    if certs.is_empty() {
        return Err(KeystoreError::CertificatePem { what });
    }
    Ok(certs)
}

fn p12_err(e: p12_keystore::error::Error) -> KeystoreError {
    KeystoreError::Pkcs12(e.to_string())
}

fn ca_alias(index: usize) -> String {
    if index == 0 {
        CA_ALIAS.to_owned()
    } else {
        format!("{CA_ALIAS}-{index}")
    }
}

fn write_pkcs12(
    store: &KeyStore,
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Vec<u8>, KeystoreError> {
    let (encryption, mac) = match profile {
        Pkcs12Profile::Modern2023 => (
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        ),
        Pkcs12Profile::LegacyDES => (
            EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
            MacAlgorithm::HmacSha1,
        ),
        // pbeWithSHAAnd40BitRC2-CBC (the crate's variant is misnamed "Rc4").
        Pkcs12Profile::LegacyRC2 => (
            EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc,
            MacAlgorithm::HmacSha1,
        ),
    };
    store
        .writer(password)
        .encryption_algorithm(encryption)
        .encryption_iterations(PKCS12_ITERATIONS)
        .mac_algorithm(mac)
        .mac_iterations(PKCS12_ITERATIONS)
        .write()
        .map_err(p12_err)
}

/// `keystore.p12`: the key (PKCS#8 DER) under the alias `certificate`, with the chain (leaf
/// first) and then the CA certificates, all with the key entry (as go-pkcs12 writes them:
/// not marked trusted).
pub fn pkcs12(
    key_pkcs8_der: &[u8],
    chain_pem: &[u8],
    ca_pem: Option<&[u8]>,
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Vec<u8>, KeystoreError> {
    let mut certs = certificates_der(chain_pem, "certificate chain")?;
    if let Some(ca) = ca_pem.filter(|c| !c.is_empty()) {
        certs.extend(certificates_der(ca, "CA")?);
    }
    let local_key_id = digest(&SHA1_FOR_LEGACY_USE_ONLY, &certs[0])
        .as_ref()
        .to_vec();
    let certs = certs
        .iter()
        .map(|c| P12Certificate::from_der(c).map_err(p12_err))
        .collect::<Result<Vec<_>, _>>()?;
    let key = P12PrivateKey::from_der(key_pkcs8_der)
        .map_err(|_| KeystoreError::Pkcs12("the private key is not PKCS#8 DER".into()))?;
    let mut store = KeyStore::new();
    store.add_entry(
        PKCS12_KEY_ALIAS,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, certs)),
    );
    write_pkcs12(&store, password, profile)
}

/// `truststore.p12`: every certificate of `ca.crt` as a trusted entry (`ca`, `ca-1`, ...).
pub fn pkcs12_truststore(
    ca_pem: &[u8],
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Vec<u8>, KeystoreError> {
    let mut store = KeyStore::new();
    for (i, ca) in certificates_der(ca_pem, "CA")?.iter().enumerate() {
        store.add_entry(
            &ca_alias(i),
            KeyStoreEntry::Certificate(P12Certificate::from_der(ca).map_err(p12_err)?),
        );
    }
    write_pkcs12(&store, password, profile)
}

// --- JKS -----------------------------------------------------------------------------------------

const JKS_MAGIC: u32 = 0xFEED_FEED;
const JKS_VERSION: u32 = 2;
const JKS_TAG_PRIVATE_KEY: u32 = 1;
const JKS_TAG_TRUSTED_CERT: u32 = 2;
const JKS_CERT_TYPE: &str = "X.509";
const JKS_WHITENER: &[u8] = b"Mighty Aphrodite";
/// DER of the OID 1.3.6.1.4.1.42.2.17.1.1 (Sun's JKS key protector).
const JKS_KEY_PROTECTOR_OID: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01,
];
const SHA1_LEN: usize = 20;

/// The password as Java hands it to the digests: each UTF-16 code unit, big-endian.
fn password_bytes(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(password.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

fn sha1(parts: &[&[u8]]) -> [u8; SHA1_LEN] {
    let mut ctx = aws_lc_rs::digest::Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; SHA1_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// DER length octets.
fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// Sun's JKS key protection of a PKCS#8 key, as an `EncryptedPrivateKeyInfo` DER.
fn jks_protect(key_pkcs8_der: &[u8], password: &[u8], salt: [u8; SHA1_LEN]) -> Vec<u8> {
    let mut protected = Vec::with_capacity(2 * SHA1_LEN + key_pkcs8_der.len());
    protected.extend_from_slice(&salt);
    let mut block = salt;
    for chunk in key_pkcs8_der.chunks(SHA1_LEN) {
        block = sha1(&[password, &block]);
        protected.extend(chunk.iter().zip(block).map(|(k, x)| k ^ x));
    }
    protected.extend_from_slice(&sha1(&[password, key_pkcs8_der]));
    let mut algorithm = JKS_KEY_PROTECTOR_OID.to_vec();
    algorithm.extend_from_slice(&[0x05, 0x00]); // NULL parameters
    let mut info = der_tlv(0x30, &algorithm);
    info.extend(der_tlv(0x04, &protected));
    der_tlv(0x30, &info)
}

/// Java's modified UTF-8 with its 2-byte length, as `DataOutputStream.writeUTF` writes it.
fn write_utf(out: &mut Vec<u8>, s: &str) -> Result<(), KeystoreError> {
    let mut bytes = Vec::with_capacity(s.len());
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007f => bytes.push(unit as u8),
            0x0000 | 0x0080..=0x07ff => {
                bytes.push(0xc0 | (unit >> 6) as u8);
                bytes.push(0x80 | (unit & 0x3f) as u8);
            }
            _ => {
                bytes.push(0xe0 | (unit >> 12) as u8);
                bytes.push(0x80 | ((unit >> 6) & 0x3f) as u8);
                bytes.push(0x80 | (unit & 0x3f) as u8);
            }
        }
    }
    let len = u16::try_from(bytes.len())
        .map_err(|_| KeystoreError::Jks(format!("the alias {s:?} is too long")))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(bytes);
    Ok(())
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), KeystoreError> {
    let len =
        u32::try_from(bytes.len()).map_err(|_| KeystoreError::Jks("entry too long".into()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

enum JksEntry<'a> {
    PrivateKey {
        protected_key: Vec<u8>,
        chain: &'a [CertificateDer<'static>],
    },
    TrustedCertificate(&'a CertificateDer<'static>),
}

fn write_jks(
    entries: &[(String, JksEntry)],
    password: &[u8],
    now: Timestamp,
) -> Result<Vec<u8>, KeystoreError> {
    let mut out = Vec::new();
    out.extend_from_slice(&JKS_MAGIC.to_be_bytes());
    out.extend_from_slice(&JKS_VERSION.to_be_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    let millis = now.as_millisecond().to_be_bytes();
    for (alias, entry) in entries {
        match entry {
            JksEntry::PrivateKey {
                protected_key,
                chain,
            } => {
                out.extend_from_slice(&JKS_TAG_PRIVATE_KEY.to_be_bytes());
                write_utf(&mut out, alias)?;
                out.extend_from_slice(&millis);
                write_bytes(&mut out, protected_key)?;
                out.extend_from_slice(&(chain.len() as u32).to_be_bytes());
                for cert in chain.iter() {
                    write_utf(&mut out, JKS_CERT_TYPE)?;
                    write_bytes(&mut out, cert)?;
                }
            }
            JksEntry::TrustedCertificate(cert) => {
                out.extend_from_slice(&JKS_TAG_TRUSTED_CERT.to_be_bytes());
                write_utf(&mut out, alias)?;
                out.extend_from_slice(&millis);
                write_utf(&mut out, JKS_CERT_TYPE)?;
                write_bytes(&mut out, cert)?;
            }
        }
    }
    let check = sha1(&[password, JKS_WHITENER, &out]);
    out.extend_from_slice(&check);
    Ok(out)
}

/// Java lower-cases aliases when it stores entries; an upper-case alias read from a file
/// could not be looked up.
fn jks_alias(alias: &str) -> String {
    alias.to_lowercase()
}

fn ca_entries<'a>(cas: &'a [CertificateDer<'static>]) -> Vec<(String, JksEntry<'a>)> {
    cas.iter()
        .enumerate()
        .map(|(i, c)| (ca_alias(i), JksEntry::TrustedCertificate(c)))
        .collect()
}

/// `keystore.jks`: the key (PKCS#8 DER) with its chain under `alias`, plus each CA
/// certificate as a trusted entry (`ca`, `ca-1`, ...). Key and store share `password`.
pub fn jks_keystore(
    key_pkcs8_der: &[u8],
    chain_pem: &[u8],
    ca_pem: Option<&[u8]>,
    alias: &str,
    password: &str,
    now: Timestamp,
) -> Result<Vec<u8>, KeystoreError> {
    let chain = certificates_der(chain_pem, "certificate chain")?;
    let cas = match ca_pem.filter(|c| !c.is_empty()) {
        Some(ca) => certificates_der(ca, "CA")?,
        None => Vec::new(),
    };
    let password = password_bytes(password);
    let mut salt = [0u8; SHA1_LEN];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| KeystoreError::Jks("no randomness for the key salt".into()))?;
    let mut entries = vec![(
        jks_alias(alias),
        JksEntry::PrivateKey {
            protected_key: jks_protect(key_pkcs8_der, &password, salt),
            chain: &chain,
        },
    )];
    entries.extend(ca_entries(&cas));
    write_jks(&entries, &password, now)
}

/// `truststore.jks`: each CA certificate as a trusted entry (`ca`, `ca-1`, ...).
pub fn jks_truststore(
    ca_pem: &[u8],
    password: &str,
    now: Timestamp,
) -> Result<Vec<u8>, KeystoreError> {
    let cas = certificates_der(ca_pem, "CA")?;
    write_jks(&ca_entries(&cas), &password_bytes(password), now)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::*;
    use crate::api::{PrivateKeyAlgorithm, PrivateKeyEncoding};
    use crate::pki::csr::tests::key;
    use crate::pki::duration::parse_duration;
    use crate::pki::sign::{Signer, SigningRequest, sign};

    fn now() -> Timestamp {
        "2026-01-01T00:01:00Z".parse().unwrap()
    }

    struct Material {
        key_pem: String,
        key_pkcs8: Vec<u8>,
        chain_pem: String,
        ca_pem: String,
    }

    /// A self-signed CA and a leaf it signed (chain = leaf + CA), ECDSA keys.
    fn material() -> Material {
        let csr_for = |k: &crate::pki::keys::ParsedKey, cn: &str| {
            let spec = crate::api::CertificateSpec {
                common_name: Some(cn.into()),
                is_ca: Some(cn == "Test CA"),
                ..Default::default()
            };
            crate::pki::csr::build_csr(&spec, k).unwrap()
        };
        let ca_key = key(PrivateKeyAlgorithm::Ecdsa, 256);
        let leaf_key = key(PrivateKeyAlgorithm::Rsa, 2048);
        let req = |is_ca| SigningRequest {
            duration: parse_duration("24h").unwrap(),
            is_ca,
            ..Default::default()
        };
        let ca = sign(
            csr_for(&ca_key, "Test CA").as_bytes(),
            &req(true),
            &Signer::SelfSigned { key: &ca_key },
            now(),
        )
        .unwrap();
        let leaf = sign(
            csr_for(&leaf_key, "leaf.example.com").as_bytes(),
            &req(false),
            &Signer::Ca {
                key: &ca_key,
                cert_pem: ca.certificate_pem.as_bytes(),
            },
            now(),
        )
        .unwrap();
        Material {
            key_pem: leaf_key
                .to_pem(PrivateKeyEncoding::Pkcs1)
                .unwrap()
                .as_str()
                .to_owned(),
            key_pkcs8: leaf_key.to_der(PrivateKeyEncoding::Pkcs8).unwrap().to_vec(),
            chain_pem: format!("{}{}", leaf.certificate_pem, ca.certificate_pem),
            ca_pem: ca.certificate_pem,
        }
    }

    fn tool(name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("certsmith-keystore-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn run(cmd: &mut Command) -> String {
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{cmd:?} failed:\n{text}");
        text
    }

    fn openssl_pkcs12_info(path: &Path, password: &str, legacy: bool) -> String {
        let mut cmd = Command::new("openssl");
        cmd.args(["pkcs12", "-info", "-nodes", "-passin"])
            .arg(format!("pass:{password}"))
            .arg("-in")
            .arg(path);
        if legacy {
            cmd.arg("-legacy");
        }
        run(&mut cmd)
    }

    fn keytool_list(path: &Path, password: &str) -> String {
        run(Command::new("keytool")
            .args(["-list", "-v", "-keystore"])
            .arg(path)
            .args(["-storetype", "JKS", "-storepass", password]))
    }

    #[test]
    fn der_and_combined_pem() {
        let m = material();
        let der = der_private_key(m.key_pem.as_bytes()).unwrap();
        let parsed = PrivateKeyDer::from_pem_slice(m.key_pem.as_bytes()).unwrap();
        assert_eq!(der.as_slice(), parsed.secret_der());
        assert_eq!(der[0], 0x30);
        let combined = combined_pem(m.key_pem.as_bytes(), m.chain_pem.as_bytes());
        assert_eq!(
            combined.as_slice(),
            format!("{}\n{}", m.key_pem, m.chain_pem).as_bytes()
        );
        let err = der_private_key(b"not a key").unwrap_err().to_string();
        assert!(!err.contains("not a key"));
    }

    #[test]
    fn pkcs12_profiles_read_by_openssl() {
        let m = material();
        if tool("openssl").is_none() {
            println!("note: openssl not installed, PKCS#12 files not checked by it");
            return;
        }
        for (profile, legacy, expect) in [
            (Pkcs12Profile::LegacyRC2, true, "pbeWithSHA1And40BitRC2-CBC"),
            (
                Pkcs12Profile::LegacyDES,
                false,
                "pbeWithSHA1And3-KeyTripleDES-CBC",
            ),
            (Pkcs12Profile::Modern2023, false, "AES-256-CBC"),
        ] {
            let p12 = pkcs12(
                &m.key_pkcs8,
                m.chain_pem.as_bytes(),
                Some(m.ca_pem.as_bytes()),
                "s3cret pw",
                profile,
            )
            .unwrap();
            let path = temp_file(&format!("keystore-{profile:?}.p12"), &p12);
            let info = openssl_pkcs12_info(&path, "s3cret pw", legacy);
            assert!(info.contains(expect), "{profile:?}:\n{info}");
            let mac = if profile == Pkcs12Profile::Modern2023 {
                "MAC: sha256"
            } else {
                "MAC: sha1"
            };
            assert!(info.contains(mac), "{profile:?}:\n{info}");
            assert!(info.contains("friendlyName: certificate"), "{info}");
            assert!(info.contains("leaf.example.com"), "{info}");
            assert_eq!(info.matches("BEGIN CERTIFICATE").count(), 3, "{info}");
            assert!(info.contains("BEGIN PRIVATE KEY"), "{info}");
            // the wrong password is refused
            let out = Command::new("openssl")
                .args(["pkcs12", "-info", "-noout", "-passin", "pass:wrong", "-in"])
                .arg(&path)
                .args(if legacy { &["-legacy"][..] } else { &[][..] })
                .output()
                .unwrap();
            assert!(!out.status.success());

            let trust = pkcs12_truststore(m.ca_pem.as_bytes(), "s3cret pw", profile).unwrap();
            let path = temp_file(&format!("truststore-{profile:?}.p12"), &trust);
            let info = openssl_pkcs12_info(&path, "s3cret pw", legacy);
            assert_eq!(info.matches("BEGIN CERTIFICATE").count(), 1, "{info}");
            assert!(info.contains("Test CA"), "{info}");
            assert!(!info.contains("PRIVATE KEY"), "{info}");
        }
    }

    #[test]
    fn jks_read_by_keytool() {
        let m = material();
        let ks = jks_keystore(
            &m.key_pkcs8,
            m.chain_pem.as_bytes(),
            Some(m.ca_pem.as_bytes()),
            "MyAlias",
            "changeit-é",
            now(),
        )
        .unwrap();
        assert_eq!(&ks[..8], &[0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]);
        let ts = jks_truststore(m.ca_pem.as_bytes(), "changeit-é", now()).unwrap();
        if tool("keytool").is_none() {
            println!("note: keytool not installed, JKS files not checked by it");
            return;
        }
        let path = temp_file("keystore.jks", &ks);
        let list = keytool_list(&path, "changeit-é");
        assert!(list.contains("Your keystore contains 2 entries"), "{list}");
        assert!(list.contains("Alias name: myalias"), "{list}");
        assert!(list.contains("Entry type: PrivateKeyEntry"), "{list}");
        assert!(list.contains("Certificate chain length: 2"), "{list}");
        assert!(list.contains("Alias name: ca"), "{list}");
        assert!(list.contains("Entry type: trustedCertEntry"), "{list}");
        let out = Command::new("keytool")
            .args(["-list", "-keystore"])
            .arg(&path)
            .args(["-storetype", "JKS", "-storepass", "wrong-pw"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "the integrity check must fail");

        // the key itself decrypts: export it to PKCS#12 through keytool and compare
        let p12 = path.with_extension("export.p12");
        let _ = std::fs::remove_file(&p12);
        run(Command::new("keytool")
            .args(["-importkeystore", "-noprompt", "-srckeystore"])
            .arg(&path)
            .args(["-srcstoretype", "JKS", "-srcstorepass", "changeit-é"])
            .args(["-srcalias", "myalias", "-destkeystore"])
            .arg(&p12)
            .args(["-deststoretype", "PKCS12", "-deststorepass", "exportpw"]));
        let out = run(Command::new("openssl")
            .args([
                "pkcs12",
                "-nocerts",
                "-nodes",
                "-passin",
                "pass:exportpw",
                "-in",
            ])
            .arg(&p12));
        let exported = PrivateKeyDer::from_pem_slice(out.as_bytes()).unwrap();
        assert_eq!(exported.secret_der(), m.key_pkcs8.as_slice());

        let path = temp_file("truststore.jks", &ts);
        let list = keytool_list(&path, "changeit-é");
        assert!(list.contains("Your keystore contains 1 entry"), "{list}");
        assert!(list.contains("Alias name: ca"), "{list}");
        assert!(list.contains("Entry type: trustedCertEntry"), "{list}");
        assert!(list.contains("Test CA"), "{list}");
    }

    #[test]
    fn jks_protector_round_trips() {
        let pw = password_bytes("pw");
        let key = (0u8..77).collect::<Vec<_>>();
        let info = jks_protect(&key, &pw, [7; SHA1_LEN]);
        // the protected bytes are the last OCTET STRING: salt, xored key, check
        let protected = &info[info.len() - (2 * SHA1_LEN + key.len())..];
        assert_eq!(&protected[..SHA1_LEN], &[7; SHA1_LEN]);
        let mut block = [7u8; SHA1_LEN];
        let mut plain = Vec::new();
        for chunk in protected[SHA1_LEN..SHA1_LEN + key.len()].chunks(SHA1_LEN) {
            block = sha1(&[&pw, &block]);
            plain.extend(chunk.iter().zip(block).map(|(c, x)| c ^ x));
        }
        assert_eq!(plain, key);
        assert_eq!(&protected[SHA1_LEN + key.len()..], &sha1(&[&pw, &key])[..]);
    }
}
