//! A minimal DER writer and reader for the structures certsmith builds itself (CSRs,
//! certificates, extensions) and the few it takes apart (PKCS#8), and PEM writing with
//! 64-character lines, as Go's `encoding/pem` writes it.

use zeroize::Zeroizing;

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// Context-specific tag `[n]`, primitive.
pub(crate) const fn context(n: u8) -> u8 {
    0x80 | n
}

/// Context-specific tag `[n]`, constructed.
pub(crate) const fn context_constructed(n: u8) -> u8 {
    0xa0 | n
}

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(content);
    out
}

/// `tag` around the concatenation of `parts`.
pub(crate) fn wrap<I: IntoIterator<Item = Vec<u8>>>(tag: u8, parts: I) -> Vec<u8> {
    let body: Vec<u8> = parts.into_iter().flatten().collect();
    tlv(tag, &body)
}

pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(OID, &body)
}

/// Arcs of a dotted OID such as `1.3.6.1.4.1.311.20.2.3`, validated as X.660 requires.
pub(crate) fn parse_oid(dotted: &str) -> Option<Vec<u64>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| {
            if a.is_empty() || (a.len() > 1 && a.starts_with('0')) {
                None
            } else {
                a.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    let valid = arcs.len() >= 2
        && arcs[0] <= 2
        && (arcs[0] == 2 || arcs[1] < 40)
        && arcs[1] <= u64::MAX / 2 - 80;
    valid.then_some(arcs)
}

/// Dotted form of an OID's content octets.
pub(crate) fn oid_to_string(content: &[u8]) -> Option<String> {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in content.iter().enumerate() {
        value = value.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i == content.len() - 1 {
            return None;
        }
    }
    (!arcs.is_empty()).then(|| {
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".")
    })
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let first = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let mut body = Vec::with_capacity(magnitude.len() + 1);
    let m = &magnitude[first..];
    if m.is_empty() || m[0] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(m);
    tlv(INTEGER, &body)
}

pub(crate) fn boolean(value: bool) -> Vec<u8> {
    tlv(BOOLEAN, &[if value { 0xff } else { 0 }])
}

/// A BIT STRING of whole bytes.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 1);
    body.push(0);
    body.extend_from_slice(bytes);
    tlv(BIT_STRING, &body)
}

/// One TLV: (tag, content, rest). Single-byte tags and definite lengths only, as DER has.
pub(crate) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// PEM with 64-character lines, as Go's `encoding/pem` writes it.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let mut out = String::with_capacity(der.len() * 4 / 3 + 2 * label.len() + 40);
    write_pem(&mut out, label, der);
    out
}

/// [`pem_encode`] into a buffer that is zeroed when dropped, for private keys.
pub(crate) fn pem_encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(
        der.len() * 4 / 3 + 2 * label.len() + 40,
    ));
    write_pem(&mut out, label, der);
    out
}

/// Writes into `out` without reallocating when `out` has the capacity `pem_encode` reserves,
/// so no copy of a secret is left behind in freed memory.
fn write_pem(out: &mut String, label: &str, der: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut line = 0;
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        line += 4;
        if line == 64 {
            out.push('\n');
            line = 0;
        }
    }
    if line != 0 {
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject as _;

    use super::*;

    #[test]
    fn der_helpers() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        assert_eq!(&tlv(0x04, &[0; 200])[..3], &[0x04, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[..4], &[0x04, 0x82, 1, 44]);
        // 1.2.840.113549 is 2a 86 48 86 f7 0d
        assert_eq!(
            oid(&[1, 2, 840, 113549]),
            vec![0x06, 6, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]
        );
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]).as_deref(),
            Some("1.2.840.113549")
        );
        assert_eq!(
            parse_oid("1.3.6.1.4.1.311.20.2.3"),
            Some(vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3])
        );
        for bad in ["", "1", "3.1", "1.40", "1..2", "1.02", "a.b", "1.2."] {
            assert_eq!(parse_oid(bad), None, "{bad}");
        }
        assert_eq!(uint(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![0x02, 1, 5]);
        assert_eq!(uint(&[]), vec![0x02, 1, 0]);
        let (tag, body, rest) = read(&[0x30, 0x81, 2, 1, 2, 9]).unwrap();
        assert_eq!((tag, body, rest), (0x30, &[1u8, 2][..], &[9u8][..]));
        assert_eq!(read(&[0x30, 5, 1]), None);
        // PEM lines are 64 characters, as Go writes them.
        let pem = pem_encode("X", &[0xab; 100]);
        assert!(pem.lines().skip(1).take(2).all(|l| l.len() <= 64));
        assert_eq!(
            rustls_pki_types::CertificateDer::from_pem_slice(
                pem.replace(" X-", " CERTIFICATE-").as_bytes()
            )
            .unwrap()
            .as_ref(),
            &[0xab; 100][..]
        );
    }
}
