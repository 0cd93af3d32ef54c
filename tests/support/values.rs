//! Values tests make up: random names and tokens, base64, the self-check pointed at the bed.

use std::net::SocketAddr;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;

use super::TestBed;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).expect("random");
    b
}

/// A random DNS label (10 hex digits), so names never collide across runs on a shared bed.
pub fn random_label() -> String {
    random_bytes::<5>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A token as ACME servers make them: 32 random bytes, base64url.
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Standard base64, as Secret `data` and `caBundle` fields hold bytes.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The http-01 self-check as the controller runs it on the bed: Pebble's port, the bed's BIND.
pub fn bed_self_check(bed: &TestBed) -> certsmith::http01::SelfCheckConfig {
    let ns: SocketAddr = bed
        .var("RFC2136_NAMESERVER")
        .parse()
        .expect("RFC2136_NAMESERVER");
    certsmith::http01::SelfCheckConfig {
        port: bed.var("HTTP01_PORT").parse().expect("HTTP01_PORT"),
        nameservers: Some(vec![ns]),
        timeout: Duration::from_secs(5),
    }
}
