//! The host a challenge is validated at: the ASCII form of a Challenge's `dnsName` (or an IP
//! address), as it appears in Host headers, Ingress rules and URLs.
//!
//! ACME servers send the A-label form (`xn--bcher-kva.example`), lowercase and without a final
//! dot; Ingress rules accept only that form. A Challenge made from a hand-written manifest may
//! carry `Bücher.Example.` instead, so every place that compares or publishes the name goes
//! through [`Host::parse`] and agrees on one spelling.

use std::fmt;
use std::net::IpAddr;

/// The host part of `http://<host>/.well-known/acme-challenge/<token>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A DNS name: lowercase ASCII (IDNs as `xn--` A-labels), no trailing dot.
    Dns(String),
    /// An IP address identifier (RFC 8738).
    Ip(IpAddr),
}

/// Why a name cannot be validated over HTTP.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the name is empty")]
    Empty,
    #[error("{0:?} is a wildcard name; wildcards can only be validated with DNS-01")]
    Wildcard(String),
    #[error("{0:?} is not a valid DNS name")]
    Invalid(String),
}

impl Host {
    /// Normalises a Challenge's `dnsName` (or a request's Host without its port).
    pub fn parse(name: &str) -> Result<Self, HostError> {
        let name = name.trim();
        if name.starts_with("*.") || name == "*" {
            return Err(HostError::Wildcard(name.to_owned()));
        }
        let bare = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return Err(HostError::Empty);
        }
        // UTS 46 with STD3 rules and DNS length limits: lowercases, maps and punycodes.
        match idna::domain_to_ascii_strict(name) {
            Ok(ascii) if !ascii.is_empty() => Ok(Self::Dns(ascii)),
            _ => Err(HostError::Invalid(name.to_owned())),
        }
    }

    /// The value of an Ingress rule's `host`: the name, or `None` for an IP address (Ingress
    /// hosts cannot be IPs, so the rule must match every host, as cert-manager does).
    pub fn ingress_host(&self) -> Option<&str> {
        match self {
            Self::Dns(name) => Some(name),
            Self::Ip(_) => None,
        }
    }

    /// Whether a request's Host header (port already stripped) names this host.
    pub fn matches_request_host(&self, request_host: &str) -> bool {
        match (self, Self::parse(request_host)) {
            (Self::Dns(a), Ok(Self::Dns(b))) => *a == b,
            (Self::Ip(a), Ok(Self::Ip(b))) => *a == b,
            _ => false,
        }
    }
}

/// The host as written in a URL authority (`[::1]` for IPv6).
impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
        }
    }
}

/// The host of a Host header value: the port and IPv6 brackets removed.
pub fn strip_port(header: &str) -> &str {
    let header = header.trim();
    if let Some(rest) = header.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match header.split_once(':') {
        // exactly one colon: host:port (a bare IPv6 address has several)
        Some((host, port)) if !port.contains(':') => host,
        _ => header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let dns = |s: &str| Ok(Host::Dns(s.to_owned()));
        let cases: &[(&str, Result<Host, HostError>)] = &[
            ("example.com", dns("example.com")),
            ("WWW.Example.COM", dns("www.example.com")),
            ("example.com.", dns("example.com")),
            (" example.com ", dns("example.com")),
            ("bücher.example", dns("xn--bcher-kva.example")),
            ("BÜCHER.example", dns("xn--bcher-kva.example")),
            ("xn--bcher-kva.example", dns("xn--bcher-kva.example")),
            ("münchen.de.", dns("xn--mnchen-3ya.de")),
            ("10.0.0.1", Ok(Host::Ip("10.0.0.1".parse().unwrap()))),
            ("2001:db8::1", Ok(Host::Ip("2001:db8::1".parse().unwrap()))),
            (
                "[2001:db8::1]",
                Ok(Host::Ip("2001:db8::1".parse().unwrap())),
            ),
            (
                "*.example.com",
                Err(HostError::Wildcard("*.example.com".into())),
            ),
            ("", Err(HostError::Empty)),
            (".", Err(HostError::Empty)),
            (
                "exa mple.com",
                Err(HostError::Invalid("exa mple.com".into())),
            ),
            (
                "under_score.com",
                Err(HostError::Invalid("under_score.com".into())),
            ),
            (
                "-lead.example",
                Err(HostError::Invalid("-lead.example".into())),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(&Host::parse(input), want, "input {input:?}");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        assert!(matches!(
            Host::parse(&long_label),
            Err(HostError::Invalid(_))
        ));
    }

    #[test]
    fn request_hosts() {
        let h = Host::parse("Bücher.example").unwrap();
        for ok in [
            "xn--bcher-kva.example",
            "XN--BCHER-KVA.EXAMPLE",
            "bücher.example.",
        ] {
            assert!(h.matches_request_host(ok), "{ok}");
        }
        for bad in ["example", "www.xn--bcher-kva.example", "", "10.0.0.1"] {
            assert!(!h.matches_request_host(bad), "{bad}");
        }
        let ip = Host::parse("2001:db8::1").unwrap();
        assert!(ip.matches_request_host("2001:DB8:0::1"));
        assert!(!ip.matches_request_host("2001:db8::2"));
    }

    #[test]
    fn strip_port_table() {
        for (header, want) in [
            ("example.com", "example.com"),
            ("example.com:5002", "example.com"),
            ("[2001:db8::1]:80", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("10.0.0.1:8089", "10.0.0.1"),
        ] {
            assert_eq!(strip_port(header), want, "{header}");
        }
    }

    #[test]
    fn display_is_a_url_authority() {
        assert_eq!(
            Host::parse("2001:db8::1").unwrap().to_string(),
            "[2001:db8::1]"
        );
        assert_eq!(Host::parse("10.0.0.1").unwrap().to_string(), "10.0.0.1");
        assert_eq!(Host::parse("A.example").unwrap().to_string(), "a.example");
    }
}
