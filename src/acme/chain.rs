//! Choosing among a certificate's chains (`spec.acme.preferredChain`) and finding the alternate
//! chains a server offers (`Link: <url>;rel="alternate"`, RFC 8555 §7.4.2). Pure.
//!
//! cert-manager's rule: among the default chain and the alternates, in that order, take the
//! first whose top-most certificate was issued by a CA with the preferred Common Name, or whose
//! top-most certificate itself has that Common Name (a chain that ends with the root); if none
//! does, keep the default.

use crate::pki::inspect::parse_certificates_pem;

/// The Common Names of a chain's top-most certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainTop {
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
}

impl ChainTop {
    /// The top of a PEM chain (leaf first); `None` if it holds no readable certificate.
    pub fn of_pem(pem: &str) -> Option<Self> {
        let infos = parse_certificates_pem(pem.as_bytes()).ok()?;
        let top = infos.last()?;
        Some(ChainTop {
            subject_cn: top.common_name.clone(),
            issuer_cn: top.issuer_common_name.clone(),
        })
    }

    pub fn matches(&self, preferred: &str) -> bool {
        self.issuer_cn.as_deref() == Some(preferred)
            || self.subject_cn.as_deref() == Some(preferred)
    }
}

/// The index of the chain to use: `chains[0]` is the default, the rest are the alternates in
/// the server's order; `None` entries are chains that could not be read.
pub fn choose_chain(chains: &[Option<ChainTop>], preferred: Option<&str>) -> usize {
    let Some(preferred) = preferred.map(str::trim).filter(|p| !p.is_empty()) else {
        return 0;
    };
    chains
        .iter()
        .position(|c| c.as_ref().is_some_and(|c| c.matches(preferred)))
        .unwrap_or(0)
}

/// The `rel="alternate"` targets of `Link` header values, resolved against `base` (the URL the
/// response came from), in order.
pub fn alternate_links<'a>(values: impl IntoIterator<Item = &'a str>, base: &str) -> Vec<String> {
    let mut out = Vec::new();
    for value in values {
        let mut rest = value;
        // Each link is `<target>; param=value; ...`, links separated by commas.
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            let target = &rest[start + 1..start + len];
            rest = &rest[start + len + 1..];
            let params_end = rest.find('<').unwrap_or(rest.len());
            let params = &rest[..params_end];
            if is_alternate(params) {
                out.push(resolve(target.trim(), base));
            }
        }
    }
    out
}

fn is_alternate(params: &str) -> bool {
    params.split(';').any(|p| {
        let Some((name, value)) = p.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_end_matches(',')
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case("alternate"))
    })
}

/// Resolves an absolute URL, an absolute path or a relative path against `base`.
fn resolve(target: &str, base: &str) -> String {
    if target.contains("://") {
        return target.to_owned();
    }
    let origin_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    if target.starts_with('/') {
        return format!("{}{}", &base[..origin_end], target);
    }
    let dir_end = base
        .rfind('/')
        .filter(|&i| i >= origin_end)
        .map_or(base.len(), |i| i + 1);
    let mut dir = base[..dir_end].to_owned();
    if !dir.ends_with('/') {
        dir.push('/');
    }
    format!("{dir}{target}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(issuer: &str, subject: &str) -> Option<ChainTop> {
        Some(ChainTop {
            subject_cn: Some(subject.into()),
            issuer_cn: Some(issuer.into()),
        })
    }

    #[test]
    fn chain_choice_table() {
        let default = top("ISRG Root X1", "R11");
        let cross = top("DST Root CA X3", "ISRG Root X1");
        let root_ending = top("ISRG Root X2", "ISRG Root X2");
        type Case<'a> = (&'a str, Vec<Option<ChainTop>>, Option<&'a str>, usize);
        let cases: &[Case<'_>] = &[
            (
                "no preference: default",
                vec![default.clone(), cross.clone()],
                None,
                0,
            ),
            (
                "empty preference: default",
                vec![default.clone(), cross.clone()],
                Some(" "),
                0,
            ),
            (
                "default matches by issuer",
                vec![default.clone(), cross.clone()],
                Some("ISRG Root X1"),
                0,
            ),
            (
                "alternate matches by issuer",
                vec![default.clone(), cross.clone()],
                Some("DST Root CA X3"),
                1,
            ),
            (
                "top cert's own CN",
                vec![default.clone(), cross.clone(), root_ending.clone()],
                Some("ISRG Root X2"),
                2,
            ),
            (
                "first match wins",
                vec![default.clone(), cross.clone(), cross.clone()],
                Some("DST Root CA X3"),
                1,
            ),
            (
                "no match: default",
                vec![default.clone(), cross.clone()],
                Some("Unknown Root"),
                0,
            ),
            (
                "case matters, as in cert-manager",
                vec![default.clone(), cross.clone()],
                Some("dst root ca x3"),
                0,
            ),
            (
                "unreadable chains are skipped",
                vec![default.clone(), None, cross.clone()],
                Some("DST Root CA X3"),
                2,
            ),
            (
                "only the default",
                vec![default.clone()],
                Some("DST Root CA X3"),
                0,
            ),
            (
                "trimmed preference",
                vec![default.clone(), cross.clone()],
                Some(" DST Root CA X3 "),
                1,
            ),
        ];
        for (name, chains, preferred, want) in cases {
            assert_eq!(choose_chain(chains, *preferred), *want, "{name}");
        }
    }

    #[test]
    fn chain_top_of_a_real_chain() {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "Test Root");
        let root = ca.clone().self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut mid = CertificateParams::new(Vec::<String>::new()).unwrap();
        mid.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        mid.distinguished_name
            .push(DnType::CommonName, "Test Intermediate");
        let mid_key = KeyPair::generate().unwrap();
        let mid_cert = mid.signed_by(&mid_key, &issuer).unwrap();
        let leaf = CertificateParams::new(vec!["a.example".to_owned()])
            .unwrap()
            .signed_by(&KeyPair::generate().unwrap(), &Issuer::new(mid, mid_key))
            .unwrap();
        let chain = format!("{}{}", leaf.pem(), mid_cert.pem());
        assert_eq!(
            ChainTop::of_pem(&chain),
            Some(ChainTop {
                subject_cn: Some("Test Intermediate".into()),
                issuer_cn: Some("Test Root".into())
            })
        );
        let with_root = format!("{chain}{}", root.pem());
        let t = ChainTop::of_pem(&with_root).unwrap();
        assert!(t.matches("Test Root"));
        assert!(!t.matches("Test Intermediate"));
        assert_eq!(ChainTop::of_pem("not a chain"), None);
    }

    #[test]
    fn link_header_table() {
        let base = "https://ca.example:14000/certZ/abc";
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            // Pebble's form, one header per link.
            (
                &[
                    r#"<https://ca.example:14000/certZ/abc/alternate/1>;rel="alternate""#,
                    r#"<https://ca.example:14000/certZ/abc/alternate/2>;rel="alternate""#,
                ],
                &[
                    "https://ca.example:14000/certZ/abc/alternate/1",
                    "https://ca.example:14000/certZ/abc/alternate/2",
                ],
            ),
            // Several links in one header, other relations ignored, spacing and case vary.
            (
                &[
                    r#"<https://ca.example/dir>;rel="index", <https://ca.example/alt/1>; REL=alternate, <https://ca.example/x>; rel="up""#,
                ],
                &["https://ca.example/alt/1"],
            ),
            // Relation lists.
            (
                &[r#"<https://ca.example/alt/2>; rel="alternate up""#],
                &["https://ca.example/alt/2"],
            ),
            // Relative targets.
            (
                &[r#"</certZ/abc/alternate/1>;rel="alternate""#],
                &["https://ca.example:14000/certZ/abc/alternate/1"],
            ),
            (
                &[r#"<abc/alternate/1>;rel="alternate""#],
                &["https://ca.example:14000/certZ/abc/alternate/1"],
            ),
            // Malformed.
            (&[r#"<https://ca.example/alt/1;rel="alternate""#], &[]),
            (&["rel=alternate"], &[]),
        ];
        for (values, want) in cases {
            let got = alternate_links(values.iter().copied(), base);
            assert_eq!(got, *want, "{values:?}");
        }
    }
}
