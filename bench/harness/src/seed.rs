//! Issued Certificates made by the runner, without a controller: scenario 5 needs 10,000 Ready
//! Certificates to start on, and issuing them through a controller first takes far too long.
//!
//! What is written is what certsmith leaves behind after a Certificate's first issuance, field
//! for field and by the same field managers (so `managedFields` look the same too; see
//! src/controller/certificates/):
//!
//! - the CertificateRequest `<name>-1` (`certsmith-requestmanager`): the Certificate's labels,
//!   its `certificate-name`/`certificate-revision`/`private-key-secret-name` annotations, the
//!   Certificate as controlling owner, the CSR; its status: `Approved` (`certsmith-approver`),
//!   then `Ready=True` reason `Issued` with the certificate and the CA
//!   (`certsmith-certificaterequests`);
//! - the `kubernetes.io/tls` Secret (`certsmith-issuing`): `tls.crt` (the leaf, signed by the CA
//!   with the Certificate's names and duration), `tls.key` (ECDSA P-256, SEC 1 `EC PRIVATE KEY`
//!   as `spec.privateKey` asks by default), `ca.crt`, the label `controller.cert-manager.io/fao`
//!   and the annotations describing the Certificate, its issuer and the names issued;
//! - the Certificate's status, through the status subresource: `revision: 1` and `Issuing=False`
//!   reason `Issued` (`certsmith-issuing`), `Ready=True` reason `Ready` with `notBefore`,
//!   `notAfter` and `renewalTime` (`certsmith-readiness`), the renewal time computed as
//!   certsmith computes it (src/pki/renewal.rs).
//!
//! The CA issuer the scenario uses is a CA Issuer on a CA Secret the runner makes, its Ready
//! status (`certsmith-issuers`) as certsmith writes it. The trigger policy (src/policy/trigger.rs)
//! finds every such Certificate up to date: the Secret exists, holds a key pair, its issuer and
//! certificate-name annotations match, the key is what `spec.privateKey` asks for, the current
//! request carries that key and matches the spec, and the renewal time is ahead.

use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use k8s_openapi::ByteString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use serde_json::{Value, json};

// What certsmith writes: field managers and words (src/controller/, src/api/constants.rs).
pub const MANAGER_REQUESTS: &str = "certsmith-requestmanager";
pub const MANAGER_APPROVER: &str = "certsmith-approver";
pub const MANAGER_CERTIFICATEREQUESTS: &str = "certsmith-certificaterequests";
pub const MANAGER_ISSUING: &str = "certsmith-issuing";
pub const MANAGER_READINESS: &str = "certsmith-readiness";
pub const MANAGER_ISSUERS: &str = "certsmith-issuers";
const ANN_CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
const ANN_CERTIFICATE_REVISION: &str = "cert-manager.io/certificate-revision";
const ANN_PRIVATE_KEY_SECRET_NAME: &str = "cert-manager.io/private-key-secret-name";
const ANN_ISSUER_NAME: &str = "cert-manager.io/issuer-name";
const ANN_ISSUER_KIND: &str = "cert-manager.io/issuer-kind";
const ANN_ISSUER_GROUP: &str = "cert-manager.io/issuer-group";
const ANN_COMMON_NAME: &str = "cert-manager.io/common-name";
const ANN_ALT_NAMES: &str = "cert-manager.io/alt-names";
const ANN_IP_SANS: &str = "cert-manager.io/ip-sans";
const ANN_URI_SANS: &str = "cert-manager.io/uri-sans";
const ANN_EMAIL_SANS: &str = "cert-manager.io/email-sans";
const LABEL_FAO: &str = "controller.cert-manager.io/fao";
const GROUP: &str = "cert-manager.io";
/// `spec.duration` when unset (cert-manager's default, 2160h).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(2160 * 3600);

/// A time as the API server writes it (`metav1.Time`: seconds, UTC).
pub fn time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn bytes(b: &[u8]) -> Value {
    serde_json::to_value(ByteString(b.to_vec())).expect("bytes serialize")
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn err(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// An ECDSA P-256 key: for rcgen, and as certsmith writes it to `tls.key`.
struct Key {
    pair: KeyPair,
    /// SEC 1 `EC PRIVATE KEY` PEM (with the curve and the public key, as Go writes it).
    sec1_pem: String,
}

fn ecdsa_p256() -> Result<Key, String> {
    let lc = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| "generating an ECDSA P-256 key failed")?;
    let pkcs8 = lc.to_pkcs8v1().map_err(|_| "encoding the key (PKCS#8)")?;
    let sec1 = lc
        .private_key()
        .as_der()
        .map_err(|_| "encoding the key (SEC 1)")?;
    let pair = KeyPair::try_from(pkcs8.as_ref()).map_err(err("reading the key"))?;
    Ok(Key {
        pair,
        sec1_pem: pem("EC PRIVATE KEY", sec1.as_ref()),
    })
}

/// 128 random bits, as certsmith's (and cert-manager's) serial numbers.
fn serial(rng: &SystemRandom) -> Result<SerialNumber, String> {
    let mut s = [0u8; 16];
    loop {
        rng.fill(&mut s).map_err(|_| "no random numbers")?;
        if s.iter().any(|&b| b != 0) {
            return Ok(SerialNumber::from_slice(&s));
        }
    }
}

/// Sets a certificate's validity, to the second.
fn validity(
    params: &mut CertificateParams,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<(), String> {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let secs = |t: jiff::Timestamp| {
        u64::try_from(t.as_second()).map_err(|_| format!("{t} is before 1970"))
    };
    params.not_before = epoch + Duration::from_secs(secs(from)?);
    params.not_after = epoch + Duration::from_secs(secs(to)?);
    Ok(())
}

/// The runner's CA: a self-signed ECDSA P-256 root, and the issuer rcgen signs leaves with.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: jiff::Timestamp,
    rng: SystemRandom,
}

impl Ca {
    /// A root named `common_name`, valid from `now` for `lifetime`, with the usages certsmith
    /// gives a CA (keyCertSign, digitalSignature, keyEncipherment).
    pub fn new(common_name: &str, now: jiff::Timestamp, lifetime: Duration) -> Result<Ca, String> {
        let key = ecdsa_p256()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        let rng = SystemRandom::new();
        params.serial_number = Some(serial(&rng)?);
        let not_before =
            jiff::Timestamp::from_second(now.as_second()).map_err(|e| e.to_string())?;
        let not_after = not_before
            .checked_add(jiff::SignedDuration::try_from(lifetime).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        validity(&mut params, not_before, not_after)?;
        let cert = params
            .self_signed(&key.pair)
            .map_err(err("signing the CA"))?;
        Ok(Ca {
            cert_pem: pem("CERTIFICATE", cert.der()),
            key_pem: key.sec1_pem,
            issuer: Issuer::new(params, key.pair),
            not_after,
            rng,
        })
    }
}

/// What a Certificate asks for, of what the seeded ones use.
#[derive(Clone, Debug)]
pub struct Request {
    pub name: String,
    pub secret_name: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    /// `spec.duration`; `None`: the default, 2160h.
    pub duration: Option<Duration>,
    /// `spec.renewBefore`.
    pub renew_before: Option<Duration>,
    /// `spec.issuerRef` of kind Issuer (group cert-manager.io).
    pub issuer: String,
}

/// One issuance's material: what the CertificateRequest and the Secret hold.
pub struct Issued {
    pub csr_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
}

/// A new key, its CSR (subject and names from the spec, the default usages: digitalSignature,
/// keyEncipherment), and the leaf the CA signs for it at `now` as certsmith's CA signer does:
/// valid from `now` (to the second) for the duration, clamped to the CA's notAfter, the usages
/// of the request, `CA:FALSE`, subject and authority key identifiers, the names of the CSR.
pub fn issue(ca: &Ca, r: &Request, now: jiff::Timestamp) -> Result<Issued, String> {
    let key = ecdsa_p256()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = &r.common_name {
        dn.push(DnType::CommonName, cn.as_str());
    }
    params.distinguished_name = dn;
    params.subject_alt_names = r
        .dns_names
        .iter()
        .map(|d| {
            d.clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(err("a DNS name"))
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let csr = params
        .serialize_request(&key.pair)
        .map_err(err("making the CSR"))?;

    let not_before = jiff::Timestamp::from_second(now.as_second()).map_err(|e| e.to_string())?;
    let lifetime = jiff::SignedDuration::try_from(r.duration.unwrap_or(DEFAULT_DURATION))
        .map_err(|e| e.to_string())?;
    let not_after = not_before
        .checked_add(lifetime)
        .map_err(|e| e.to_string())?
        .min(ca.not_after);
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial(&ca.rng)?);
    validity(&mut params, not_before, not_after)?;
    let cert = params
        .signed_by(&key.pair, &ca.issuer)
        .map_err(err("signing the leaf"))?;
    Ok(Issued {
        csr_pem: pem("CERTIFICATE REQUEST", csr.der()),
        cert_pem: pem("CERTIFICATE", cert.der()),
        key_pem: key.sec1_pem,
        not_before,
        not_after,
    })
}

/// cert-manager's renewal time without renewBeforePercentage (src/pki/renewal.rs):
/// `renewBefore` when shorter than the lifetime, else a third of the lifetime before notAfter;
/// truncated to the second.
pub fn renewal_time(
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
    renew_before: Option<Duration>,
) -> jiff::Timestamp {
    let lifetime = not_after.as_nanosecond() - not_before.as_nanosecond();
    let before = match renew_before.map(|d| d.as_nanos() as i128) {
        Some(rb) if rb > 0 && rb < lifetime => rb,
        _ => lifetime / 3,
    };
    let at = (not_after.as_nanosecond() - before).div_euclid(1_000_000_000);
    i64::try_from(at)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(not_after)
}

/// The Certificate itself, as the other scenarios create theirs (`load::certificate`): ECDSA
/// P-256, the CA issuer, the bench's load label.
pub fn certificate(r: &Request) -> Value {
    let mut extra = json!({"secretName": r.secret_name});
    if let Some(cn) = &r.common_name {
        extra["commonName"] = json!(cn);
    }
    if let Some(d) = r.duration {
        extra["duration"] = json!(go_duration(d));
    }
    if let Some(d) = r.renew_before {
        extra["renewBefore"] = json!(go_duration(d));
    }
    let mut c = crate::load::certificate(&r.name, &r.issuer, "", &extra);
    c["spec"]["dnsNames"] = json!(r.dns_names);
    c
}

/// A name suffix as the API server makes for `generateName` (5 characters of its alphabet).
pub fn generated_suffix(rng: &SystemRandom) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut b = [0u8; 5];
    let _ = rng.fill(&mut b);
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

impl Ca {
    /// A suffix for the name of the (long deleted) temporary key Secret a request names.
    pub fn suffix(&self) -> String {
        generated_suffix(&self.rng)
    }
}

/// The CertificateRequest of revision 1, as the request manager creates it: owned by the
/// Certificate (`uid`), its labels, the annotations naming the Certificate, the revision and the
/// temporary Secret that held the key.
pub fn certificate_request(
    r: &Request,
    uid: &str,
    labels: &Value,
    csr_pem: &str,
    key_secret: &str,
) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {
            "name": format!("{}-1", r.name),
            "labels": labels,
            "annotations": {
                ANN_CERTIFICATE_NAME: r.name,
                ANN_CERTIFICATE_REVISION: "1",
                ANN_PRIVATE_KEY_SECRET_NAME: key_secret,
            },
            "ownerReferences": [{
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "name": r.name,
                "uid": uid,
                "controller": true,
            }],
        },
        "spec": spec_request(r, csr_pem),
    })
}

fn spec_request(r: &Request, csr_pem: &str) -> Value {
    let mut spec = json!({
        "request": bytes(csr_pem.as_bytes()),
        "issuerRef": {"name": r.issuer, "kind": "Issuer"},
    });
    if let Some(d) = r.duration {
        spec["duration"] = json!(go_duration(d));
    }
    spec
}

/// A whole number of seconds as Go prints a duration: `2160h0m0s`, `1h30m0s`, `45s`.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// A condition as certsmith writes it.
fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: i64,
    at: &str,
) -> Value {
    json!({
        "type": type_,
        "status": status,
        "lastTransitionTime": at,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    })
}

/// The approver's status apply on a request: `Approved=True`.
pub fn request_approved(generation: i64, at: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "status": {"conditions": [condition(
            "Approved", "True", "cert-manager.io",
            "Certificate request has been approved by certsmith", generation, at,
        )]},
    })
}

/// The CA signer's status apply on a request: `Ready=True` reason `Issued`, the certificate
/// and the CA.
pub fn request_issued(generation: i64, at: &str, issued: &Issued, ca_pem: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "status": {
            "conditions": [condition(
                "Ready", "True", "Issued",
                "Certificate fetched from issuer successfully", generation, at,
            )],
            "certificate": bytes(issued.cert_pem.as_bytes()),
            "ca": bytes(ca_pem.as_bytes()),
        },
    })
}

/// The issuing controller's apply of the Secret (src/controller/certificates/issuing.rs,
/// `secret_apply` and `secret_annotations`): type, the fao label, the annotations, and
/// `tls.crt`, `tls.key`, `ca.crt`.
pub fn secret(namespace: &str, r: &Request, issued: &Issued, ca_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": r.secret_name,
            "namespace": namespace,
            "labels": {LABEL_FAO: "true"},
            "annotations": {
                ANN_CERTIFICATE_NAME: r.name,
                ANN_ISSUER_NAME: r.issuer,
                ANN_ISSUER_KIND: "Issuer",
                ANN_ISSUER_GROUP: GROUP,
                ANN_COMMON_NAME: r.common_name.clone().unwrap_or_default(),
                ANN_ALT_NAMES: r.dns_names.join(","),
                ANN_IP_SANS: "",
                ANN_URI_SANS: "",
                ANN_EMAIL_SANS: "",
            },
        },
        "data": {
            "tls.crt": bytes(issued.cert_pem.as_bytes()),
            "tls.key": bytes(issued.key_pem.as_bytes()),
            "ca.crt": bytes(ca_pem.as_bytes()),
        },
        "type": "kubernetes.io/tls",
    })
}

/// The issuing controller's status apply after the first issuance: revision 1, `Issuing=False`
/// reason `Issued`.
pub fn certificate_issued(generation: i64, at: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "status": {
            "revision": 1,
            "conditions": [condition(
                "Issuing", "False", "Issued",
                "The certificate has been successfully issued", generation, at,
            )],
        },
    })
}

/// The readiness controller's status apply: `Ready=True` and the validity of the certificate.
pub fn certificate_ready(generation: i64, at: &str, r: &Request, issued: &Issued) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "status": {
            "conditions": [condition(
                "Ready", "True", "Ready",
                "Certificate is up to date and has not expired", generation, at,
            )],
            "notBefore": time(issued.not_before),
            "notAfter": time(issued.not_after),
            "renewalTime": time(renewal_time(issued.not_before, issued.not_after, r.renew_before)),
        },
    })
}

/// The issuers controller's status apply on a CA Issuer whose Secret holds a valid CA.
pub fn issuer_ready(generation: i64, at: &str) -> Value {
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "status": {"conditions": [condition(
            "Ready", "True", "KeyPairVerified", "Signing CA verified", generation, at,
        )]},
    })
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::KeyPair as _;
    use x509_parser::prelude::*;

    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn unpem(text: &str, label: &str) -> Vec<u8> {
        let begin = format!("-----BEGIN {label}-----\n");
        let end = format!("-----END {label}-----\n");
        assert!(text.starts_with(&begin) && text.ends_with(&end), "{text}");
        let body: String = text[begin.len()..text.len() - end.len()]
            .lines()
            .inspect(|l| assert!(l.len() <= 64))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    fn request() -> Request {
        Request {
            name: "s7".into(),
            secret_name: "s7-tls".into(),
            common_name: None,
            dns_names: vec!["s7.example.test".into()],
            duration: None,
            renew_before: None,
            issuer: "ca".into(),
        }
    }

    #[test]
    fn renewal_times_as_certsmith_computes_them() {
        // src/policy/readiness.rs's table: a third of the lifetime before notAfter, or
        // renewBefore.
        let (nb, na) = (ts("2026-01-01T00:00:00Z"), ts("2026-04-01T00:00:00Z"));
        assert_eq!(renewal_time(nb, na, None), ts("2026-03-02T00:00:00Z"));
        let ten_days = Duration::from_secs(240 * 3600);
        assert_eq!(
            renewal_time(nb, na, Some(ten_days)),
            ts("2026-03-22T00:00:00Z")
        );
        // renewBefore not shorter than the lifetime falls back to a third; truncated to the
        // second.
        let (nb, na) = (ts("2026-01-01T00:00:00Z"), ts("2026-01-01T00:00:10Z"));
        assert_eq!(
            renewal_time(nb, na, Some(Duration::from_secs(10))),
            ts("2026-01-01T00:00:06Z")
        );
    }

    #[test]
    fn go_durations() {
        for (secs, want) in [
            (2160 * 3600, "2160h0m0s"),
            (5400, "1h30m0s"),
            (90, "1m30s"),
            (45, "45s"),
        ] {
            assert_eq!(go_duration(Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn issued_material_is_what_certsmith_issues() {
        let now = ts("2026-11-21T12:00:00.750Z");
        let ca = Ca::new("bench root", now, Duration::from_secs(365 * 24 * 3600)).unwrap();
        let r = request();
        let issued = issue(&ca, &r, now).unwrap();

        let ca_der = unpem(&ca.cert_pem, "CERTIFICATE");
        let (_, ca_cert) = X509Certificate::from_der(&ca_der).unwrap();
        assert!(ca_cert.is_ca());
        let leaf_der = unpem(&issued.cert_pem, "CERTIFICATE");
        let (_, leaf) = X509Certificate::from_der(&leaf_der).unwrap();
        leaf.verify_signature(Some(ca_cert.public_key())).unwrap();
        assert_eq!(leaf.issuer(), ca_cert.subject());
        assert!(leaf.subject().as_raw() == [0x30, 0x00], "an empty subject");
        let sans: Vec<String> = leaf
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(sans, ["DNSName(s7.example.test)"]);
        let ku = leaf.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.digital_signature() && ku.value.key_encipherment());
        assert!(!ku.value.key_cert_sign());
        assert!(!leaf.is_ca());
        // From now, to the second, for the default 2160h.
        assert_eq!(issued.not_before, ts("2026-11-21T12:00:00Z"));
        assert_eq!(issued.not_after, ts("2027-02-19T12:00:00Z"));
        assert_eq!(
            leaf.validity().not_before.timestamp(),
            issued.not_before.as_second()
        );
        assert_eq!(
            leaf.validity().not_after.timestamp(),
            issued.not_after.as_second()
        );

        // tls.key: SEC 1, the leaf's key.
        let sec1 = unpem(&issued.key_pem, "EC PRIVATE KEY");
        let key =
            EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &sec1).unwrap();
        assert_eq!(
            key.public_key().as_ref(),
            leaf.public_key().subject_public_key.data.as_ref()
        );

        // The CSR: signed by that key, the same names, no subject.
        let csr_der = unpem(&issued.csr_pem, "CERTIFICATE REQUEST");
        let (_, csr) = X509CertificationRequest::from_der(&csr_der).unwrap();
        csr.verify_signature().unwrap();
        assert_eq!(
            csr.certification_request_info.subject_pki.raw,
            leaf.public_key().raw
        );
        assert!(csr.certification_request_info.subject.as_raw() == [0x30, 0x00]);

        // A CA that ends first clamps the leaf.
        let short = Ca::new("short", now, Duration::from_secs(3600)).unwrap();
        let clamped = issue(&short, &r, now).unwrap();
        assert_eq!(clamped.not_after, ts("2026-11-21T13:00:00Z"));
    }

    #[test]
    fn objects_carry_what_certsmith_writes() {
        let now = ts("2026-11-21T12:00:00Z");
        let ca = Ca::new("bench root", now, Duration::from_secs(365 * 24 * 3600)).unwrap();
        let mut r = request();
        r.duration = Some(Duration::from_secs(3600));
        let issued = issue(&ca, &r, now).unwrap();

        let s = secret("ns", &r, &issued, &ca.cert_pem);
        assert_eq!(s["type"], "kubernetes.io/tls");
        assert_eq!(s["metadata"]["labels"], json!({LABEL_FAO: "true"}));
        assert_eq!(
            s["metadata"]["annotations"],
            json!({
                "cert-manager.io/alt-names": "s7.example.test",
                "cert-manager.io/certificate-name": "s7",
                "cert-manager.io/common-name": "",
                "cert-manager.io/email-sans": "",
                "cert-manager.io/ip-sans": "",
                "cert-manager.io/issuer-group": "cert-manager.io",
                "cert-manager.io/issuer-kind": "Issuer",
                "cert-manager.io/issuer-name": "ca",
                "cert-manager.io/uri-sans": "",
            })
        );
        let keys: Vec<&String> = s["data"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"]);

        let c = certificate(&r);
        assert_eq!(c["spec"]["dnsNames"], json!(["s7.example.test"]));
        assert_eq!(c["spec"]["secretName"], "s7-tls");
        assert_eq!(c["spec"]["duration"], "1h0m0s");
        let req = certificate_request(&r, "uid-1", &json!({"a": "b"}), &issued.csr_pem, "s7-abcde");
        assert_eq!(req["metadata"]["name"], "s7-1");
        assert_eq!(req["spec"]["duration"], c["spec"]["duration"]);
        assert_eq!(req["spec"]["issuerRef"], c["spec"]["issuerRef"]);
        assert_eq!(req["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(
            req["metadata"]["annotations"][ANN_CERTIFICATE_REVISION],
            "1"
        );

        let ready = certificate_ready(1, &time(now), &r, &issued);
        let st = &ready["status"];
        assert_eq!(st["notBefore"], "2026-11-21T12:00:00Z");
        assert_eq!(st["notAfter"], "2026-11-21T13:00:00Z");
        assert_eq!(st["renewalTime"], "2026-11-21T12:40:00Z");
        assert_eq!(st["conditions"][0]["reason"], "Ready");
        assert_eq!(st["conditions"][0]["observedGeneration"], 1);
        assert_eq!(certificate_issued(1, &time(now))["status"]["revision"], 1);
    }
}
