//! Distinguished names: the subject a Certificate spec asks for (`subject_for_spec`, from
//! `literalSubject` or the `subject` fields), RFC 4514 strings parsed (`parse_rfc4514`) and
//! written ([`rfc4514`]), and the attribute values of a name read as text (`strings`).
//!
//! The attribute types certsmith names by keyword are cert-manager's set (`KEYWORDS`): Go's
//! `pkix` names plus DC and UID from RFC 4514 itself; others are written as dotted OIDs.

use x509_parser::der_parser::asn1_rs::{Any, Class, Tag, ToDer};
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use super::csr::CsrError;
use super::der;
use crate::api::CertificateSpec;

const OID_CN: &[u64] = &[2, 5, 4, 3];
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
const OID_C: &[u64] = &[2, 5, 4, 6];
const OID_L: &[u64] = &[2, 5, 4, 7];
const OID_ST: &[u64] = &[2, 5, 4, 8];
const OID_STREET: &[u64] = &[2, 5, 4, 9];
const OID_O: &[u64] = &[2, 5, 4, 10];
const OID_OU: &[u64] = &[2, 5, 4, 11];
const OID_POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
const OID_DC: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 25];
const OID_UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];

/// RFC 4514 keywords certsmith reads and writes (cert-manager's set).
const KEYWORDS: [(&str, &[u64]); 11] = [
    ("CN", OID_CN),
    ("SERIALNUMBER", OID_SERIAL_NUMBER),
    ("C", OID_C),
    ("L", OID_L),
    ("ST", OID_ST),
    ("STREET", OID_STREET),
    ("O", OID_O),
    ("OU", OID_OU),
    ("POSTALCODE", OID_POSTAL_CODE),
    ("DC", OID_DC),
    ("UID", OID_UID),
];

/// DER of the subject Name and its common name.
pub(crate) fn subject_for_spec(
    spec: &CertificateSpec,
) -> Result<(Vec<u8>, Option<String>), CsrError> {
    if let Some(literal) = spec.literal_subject.as_deref().filter(|s| !s.is_empty()) {
        let rdns = parse_rfc4514(literal).map_err(|reason| CsrError::ParseLiteralSubject {
            subject: literal.to_owned(),
            reason,
        })?;
        // The string lists the most specific RDN first; DER lists it last.
        let common_name = rdns.iter().rev().flatten().find_map(|atv| match atv {
            (oid, AttributeValue::Text(s)) if oid == OID_CN => Some(s.clone()),
            _ => None,
        });
        let encoded = rdns.iter().rev().map(|rdn| {
            relative_distinguished_name(rdn.iter().map(|(oid, value)| {
                let value = match value {
                    AttributeValue::Text(s) => directory_string(s),
                    AttributeValue::Der(d) => d.clone(),
                };
                der::wrap(der::SEQUENCE, [der::oid(oid), value])
            }))
        });
        return Ok((der::wrap(der::SEQUENCE, encoded), common_name));
    }

    let subject = spec.subject.clone().unwrap_or_default();
    let common_name = spec.common_name.clone().filter(|cn| !cn.is_empty());
    let serial = subject.serial_number.filter(|s| !s.is_empty());
    // Go's pkix.Name.ToRDNSequence, which cert-manager's subjects come from: this order (not
    // the one its doc comment lists), one RDN per field holding all of its values.
    let fields: [(&[u64], Vec<String>); 9] = [
        (OID_C, subject.countries.unwrap_or_default()),
        (OID_ST, subject.provinces.unwrap_or_default()),
        (OID_L, subject.localities.unwrap_or_default()),
        (OID_STREET, subject.street_addresses.unwrap_or_default()),
        (OID_POSTAL_CODE, subject.postal_codes.unwrap_or_default()),
        (OID_O, subject.organizations.unwrap_or_default()),
        (OID_OU, subject.organizational_units.unwrap_or_default()),
        (OID_CN, common_name.clone().into_iter().collect()),
        (OID_SERIAL_NUMBER, serial.into_iter().collect()),
    ];
    let encoded = fields
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(oid, values)| {
            relative_distinguished_name(
                values
                    .iter()
                    .map(|v| der::wrap(der::SEQUENCE, [der::oid(oid), directory_string(v)])),
            )
        });
    Ok((der::wrap(der::SEQUENCE, encoded), common_name))
}

/// A SET OF AttributeTypeAndValue, sorted as DER requires.
fn relative_distinguished_name(atvs: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut atvs: Vec<Vec<u8>> = atvs.collect();
    atvs.sort();
    der::wrap(der::SET, atvs)
}

/// PrintableString when every character allows it, UTF8String otherwise (Go's rule).
fn directory_string(s: &str) -> Vec<u8> {
    let printable = s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    });
    let tag = if printable {
        der::PRINTABLE_STRING
    } else {
        der::UTF8_STRING
    };
    der::tlv(tag, s.as_bytes())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum AttributeValue {
    Text(String),
    /// `#`-hex form: the DER of the value as written.
    Der(Vec<u8>),
}

type Rdn = Vec<(Vec<u64>, AttributeValue)>;

/// Parses an RFC 4514 distinguished name into RDNs in string order. Accepts `;` as well as
/// `,` between RDNs (RFC 2253), `+` inside multi-valued RDNs, `\`-escapes of special
/// characters and of hex pairs, `#`-hex values, keywords in any case, and dotted OIDs (with
/// or without an `OID.` prefix).
fn parse_rfc4514(input: &str) -> Result<Vec<Rdn>, String> {
    let chars: Vec<char> = input.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut rdns = Vec::new();
    let mut rdn: Rdn = Vec::new();
    if input.trim().is_empty() {
        return Err("it is empty".into());
    }
    loop {
        while i < n && chars[i] == ' ' {
            i += 1;
        }
        if i == n {
            return Err("it ends with a separator (',', ';' or '+')".into());
        }
        let start = i;
        while i < n && !matches!(chars[i], '=' | ',' | ';' | '+') {
            i += 1;
        }
        let keyword: String = chars[start..i].iter().collect();
        let keyword = keyword.trim();
        if i == n || chars[i] != '=' {
            return Err(format!(
                "{keyword:?} is not of the form TYPE=value (such as CN=app)"
            ));
        }
        if keyword.is_empty() {
            return Err("an attribute type is missing before '='".into());
        }
        i += 1;
        let oid = attribute_type(keyword)?;

        while i < n && chars[i] == ' ' {
            i += 1;
        }
        let value = if i < n && chars[i] == '#' {
            i += 1;
            let start = i;
            while i < n && !matches!(chars[i], ',' | ';' | '+') {
                i += 1;
            }
            let hex: String = chars[start..i].iter().collect();
            let bytes = decode_hex(hex.trim_end())
                .filter(|b| matches!(der::read(b), Some((_, _, rest)) if rest.is_empty()))
                .ok_or_else(|| {
                    format!("the value of {keyword} after '#' is not the hex DER of one value")
                })?;
            AttributeValue::Der(bytes)
        } else {
            let mut bytes: Vec<u8> = Vec::new();
            let mut keep = 0;
            while i < n && !matches!(chars[i], ',' | ';' | '+') {
                let c = chars[i];
                if c == '\\' {
                    let hex_pair = chars
                        .get(i + 1..i + 3)
                        .and_then(|p| decode_hex(&p.iter().collect::<String>()));
                    match (chars.get(i + 1), hex_pair) {
                        (_, Some(byte)) => {
                            bytes.extend(byte);
                            i += 3;
                        }
                        (
                            Some(
                                &special @ (',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | ' '
                                | '#'),
                            ),
                            None,
                        ) => {
                            let mut buf = [0; 4];
                            bytes.extend(special.encode_utf8(&mut buf).as_bytes());
                            i += 2;
                        }
                        (Some(other), None) => {
                            return Err(format!(
                                "\\{other} in the value of {keyword} is not a valid escape; escape only , + \" \\ < > ; = # and space, or write \\XX hex"
                            ));
                        }
                        (None, None) => {
                            return Err(format!("the value of {keyword} ends with a lone '\\'"));
                        }
                    }
                    keep = bytes.len();
                } else {
                    let mut buf = [0; 4];
                    bytes.extend(c.encode_utf8(&mut buf).as_bytes());
                    if c != ' ' {
                        keep = bytes.len();
                    }
                    i += 1;
                }
            }
            bytes.truncate(keep);
            AttributeValue::Text(
                String::from_utf8(bytes)
                    .map_err(|_| format!("the escaped value of {keyword} is not valid UTF-8"))?,
            )
        };
        rdn.push((oid, value));
        if i == n {
            rdns.push(rdn);
            return Ok(rdns);
        }
        if chars[i] != '+' {
            rdns.push(std::mem::take(&mut rdn));
        }
        i += 1;
    }
}

fn attribute_type(keyword: &str) -> Result<Vec<u64>, String> {
    let upper = keyword.to_ascii_uppercase();
    if let Some((_, oid)) = KEYWORDS.iter().find(|(k, _)| *k == upper) {
        return Ok(oid.to_vec());
    }
    let dotted = upper.strip_prefix("OID.").unwrap_or(keyword);
    der::parse_oid(dotted).ok_or_else(|| {
        format!(
            "unknown attribute type {keyword:?}: use CN, O, OU, C, L, ST, STREET, POSTALCODE, \
             SERIALNUMBER, DC, UID or a dotted OID such as 2.5.4.12"
        )
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// RFC 4514 string of a name, as `openssl -nameopt RFC2253` prints it: RDNs most specific
/// first, `+` inside multi-valued RDNs (in DER order), keywords for cert-manager's attribute
/// set and `OID=#HEX` (the DER of the value, uppercase hex) for the others.
pub fn rfc4514(name: &X509Name) -> String {
    format_rfc4514(name, HexDigits::Upper)
}

/// RFC 4514 string of a name as Go's `pkix.Name.String` (and so `cmctl`) prints it: the same
/// as [`rfc4514`] except that `OID=#hex` values are written in lowercase hex.
pub(crate) fn rfc4514_go(name: &X509Name) -> String {
    format_rfc4514(name, HexDigits::Lower)
}

/// RFC 4514 string of a DER `Name` (as [`rfc4514`]), or `None` when it is not one.
pub fn rfc4514_der(name_der: &[u8]) -> Option<String> {
    X509Name::from_der(name_der)
        .ok()
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, name)| rfc4514(&name))
}

/// The case of the hex digits in `OID=#hex` values, the one way the two renderings differ.
#[derive(Clone, Copy)]
enum HexDigits {
    Upper,
    Lower,
}

fn format_rfc4514(name: &X509Name, digits: HexDigits) -> String {
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| attribute_rfc4514(attr, digits))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

fn attribute_rfc4514(attr: &AttributeTypeAndValue, digits: HexDigits) -> String {
    let oid = attr.attr_type().to_id_string();
    if let Some(keyword) = keyword_of(&oid)
        && let Some(value) = attribute_string(attr.attr_value())
    {
        return format!("{keyword}={}", escape_rfc4514(&value));
    }
    let der = attr.attr_value().to_der_vec().unwrap_or_default();
    let hex: String = der
        .iter()
        .map(|b| match digits {
            HexDigits::Upper => format!("{b:02X}"),
            HexDigits::Lower => format!("{b:02x}"),
        })
        .collect();
    format!("{oid}=#{hex}")
}

/// The RFC 4514 keyword of a dotted attribute type, for the types in [`KEYWORDS`].
fn keyword_of(oid: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(_, arcs)| {
            arcs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(".")
                == oid
        })
        .map(|(keyword, _)| *keyword)
}

/// The string values of every attribute of type `oid` (dotted) in `name`, in DER order.
pub(crate) fn strings(name: &X509Name, oid: &str) -> Vec<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == oid)
        .filter_map(|a| attribute_string(a.attr_value()))
        .collect()
}

/// The last value, as Go's `pkix.Name` keeps it for single-valued fields.
pub(crate) fn last_string(name: &X509Name, oid: &str) -> Option<String> {
    strings(name, oid).pop()
}

/// Text of a string-typed attribute value.
pub(crate) fn attribute_string(value: &Any) -> Option<String> {
    if value.class() != Class::Universal {
        return None;
    }
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
        // T.61 in practice carries Latin-1.
        Tag::T61String => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString if data.len().is_multiple_of(2) => char::decode_utf16(
            data.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        Tag::UniversalString if data.len().is_multiple_of(4) => data
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

/// Escapes an attribute value as RFC 4514 section 2.4 requires.
fn escape_rfc4514(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '#' if i == 0 => out.push_str("\\#"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4514_escaping() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "a\\,b"),
            (" lead", "\\ lead"),
            ("trail ", "trail\\ "),
            ("#first", "\\#first"),
            ("mid#dle", "mid#dle"),
            ("q\"<>;+\\", "q\\\"\\<\\>\\;\\+\\\\"),
        ];
        for (value, want) in cases {
            assert_eq!(escape_rfc4514(value), want);
            let parsed = parse_rfc4514(&format!("CN={want}")).unwrap();
            assert_eq!(
                parsed,
                vec![vec![(OID_CN.to_vec(), AttributeValue::Text(value.into()))]],
                "{want}"
            );
        }
        assert_eq!(rfc4514_der(&[0x30, 0]).as_deref(), Some(""), "empty name");
        assert_eq!(rfc4514_der(b"\x30\x05"), None);
    }

    /// The subject fields in the order Go's `pkix.Name.ToRDNSequence` writes them (C, ST, L,
    /// STREET, POSTALCODE, O, OU, CN, SERIALNUMBER), so a certificate has the subject
    /// cert-manager would give it. RFC 4514 strings list the RDNs in reverse.
    #[test]
    fn subject_fields_in_go_order() {
        use crate::api::X509Subject;
        let some = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect());
        let every = X509Subject {
            organizations: some(&["Example", "Example Holding"]),
            countries: some(&["NL"]),
            organizational_units: some(&["Ops"]),
            localities: some(&["Amsterdam"]),
            provinces: some(&["Noord-Holland"]),
            street_addresses: some(&["Dam 1"]),
            postal_codes: some(&["1012 JS"]),
            serial_number: Some("42".into()),
        };
        let cases = [
            (
                "every field",
                Some("app"),
                every,
                "SERIALNUMBER=42,CN=app,OU=Ops,O=Example+O=Example Holding,\
                 POSTALCODE=1012 JS,STREET=Dam 1,L=Amsterdam,ST=Noord-Holland,C=NL",
            ),
            (
                "common name and serial number",
                Some("app"),
                X509Subject {
                    serial_number: Some("7".into()),
                    ..Default::default()
                },
                "SERIALNUMBER=7,CN=app",
            ),
            (
                "organization, unit and locality",
                None,
                X509Subject {
                    organizations: some(&["Example"]),
                    organizational_units: some(&["Ops"]),
                    localities: some(&["Amsterdam"]),
                    ..Default::default()
                },
                "OU=Ops,O=Example,L=Amsterdam",
            ),
            (
                "common name only",
                Some("app"),
                X509Subject::default(),
                "CN=app",
            ),
        ];
        for (name, common_name, subject, want) in cases {
            let spec = CertificateSpec {
                common_name: common_name.map(str::to_owned),
                subject: Some(subject),
                ..Default::default()
            };
            let (der, cn) = subject_for_spec(&spec).unwrap();
            assert_eq!(rfc4514_der(&der).as_deref(), Some(want), "{name}");
            assert_eq!(cn.as_deref(), common_name, "{name}");
        }
    }

    #[test]
    fn strings_use_printable_or_utf8_like_go() {
        assert_eq!(directory_string("Example Org"), b"\x13\x0bExample Org");
        // '*', '@', '&' and non-ASCII are outside PrintableString.
        assert_eq!(directory_string("*.example")[0], der::UTF8_STRING);
        assert_eq!(directory_string("a@b")[0], der::UTF8_STRING);
        assert_eq!(directory_string("A&B")[0], der::UTF8_STRING);
        assert_eq!(directory_string("Zürich")[0], der::UTF8_STRING);
    }
}
