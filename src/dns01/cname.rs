//! Which name gets the TXT record: `_acme-challenge.<domain>.`, or with `cnameStrategy: Follow`
//! wherever a CNAME chain from there leads (a zone the solver may update standing in for one
//! it may not, "delegated DNS-01").

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

pub use crate::api::acme_issuer::CnameStrategy;

use super::Dns01Error;
use super::propagation::lookup_servers;
use super::rfc2136::DEFAULT_TIMEOUT;
use super::wire;
use super::zone::rcode_name;

/// Longest CNAME chain followed; real delegations use one hop.
pub const MAX_CNAME_HOPS: usize = 8;

/// `_acme-challenge.<domain>.` for a Challenge's `dnsName`: a wildcard's `*.` dropped (a
/// wildcard and its apex share the record), the trailing dot added, IDN labels in punycode.
pub fn challenge_record_name(domain: &str) -> Result<String, Dns01Error> {
    let trimmed = domain.trim();
    let base = trimmed.strip_prefix("*.").unwrap_or(trimmed);
    let name = parse_fqdn(base)?;
    Ok(name
        .prepend_label("_acme-challenge")
        .map_err(|e| invalid(domain, &e.to_string()))?
        .to_ascii())
}

/// The name whose TXT must be set for `domain` under `strategy`; `resolvers` as in
/// [`follow_cname`].
pub async fn resolve_record_name(
    domain: &str,
    strategy: CnameStrategy,
    resolvers: &[SocketAddr],
) -> Result<String, Dns01Error> {
    let name = challenge_record_name(domain)?;
    match strategy {
        CnameStrategy::None => Ok(name),
        CnameStrategy::Follow => follow_cname(&name, resolvers).await,
    }
}

/// Follows CNAMEs from `fqdn` (at most [`MAX_CNAME_HOPS`], circles refused) and returns the last
/// name, which is `fqdn` itself when it has no CNAME. Asks `resolvers` with recursion (empty:
/// the system's resolvers from /etc/resolv.conf).
pub async fn follow_cname(fqdn: &str, resolvers: &[SocketAddr]) -> Result<String, Dns01Error> {
    let servers = lookup_servers(resolvers, DEFAULT_TIMEOUT)?;
    let start = parse_fqdn(fqdn)?;
    let mut chain = vec![start.clone()];
    loop {
        let current = chain.last().expect("chain starts non-empty").clone();
        let mut answer = None;
        let mut last_err = None;
        for server in &servers {
            match wire::query(*server, &current, RecordType::CNAME, true).await {
                Ok(a) => {
                    answer = Some(a.into_message());
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let answer = match answer {
            Some(a) => a,
            None => return Err(last_err.expect("at least one resolver")),
        };
        let target = cname_target(&current, &answer).map_err(|reason| Dns01Error::Lookup {
            what: format!("CNAME of {current}"),
            reason,
        })?;
        match next_hop(&chain, target.clone()) {
            Hop::Done => return Ok(current.to_ascii()),
            Hop::Next(next) => chain.push(next),
            Hop::Refused(reason) => {
                let shown: Vec<String> = chain.iter().chain(&target).map(Name::to_ascii).collect();
                return Err(Dns01Error::Cname {
                    start: start.to_ascii(),
                    chain: shown.join(" -> "),
                    reason,
                });
            }
        }
    }
}

/// The CNAME target of `name` in an answer to `CNAME? name`; `None` when it has none.
pub(crate) fn cname_target(name: &Name, answer: &Message) -> Result<Option<Name>, String> {
    match answer.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => return Err(rcode_name(other)),
    }
    Ok(answer.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(target) if r.name == *name => Some(target.0.clone()),
        _ => None,
    }))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hop {
    Done,
    Next(Name),
    Refused(String),
}

/// Whether to go on from the end of `chain` to `target`.
pub(crate) fn next_hop(chain: &[Name], target: Option<Name>) -> Hop {
    match target {
        None => Hop::Done,
        Some(t) if chain.contains(&t) => Hop::Refused(format!("CNAME loop back to {t}")),
        Some(_) if chain.len() > MAX_CNAME_HOPS => {
            Hop::Refused(format!("more than {MAX_CNAME_HOPS} CNAMEs"))
        }
        Some(t) => Hop::Next(t),
    }
}

/// A fully qualified, non-wildcard name; a missing trailing dot is added.
pub(crate) fn parse_fqdn(s: &str) -> Result<Name, Dns01Error> {
    let trimmed = s.trim();
    let bare = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if bare.is_empty() {
        return Err(invalid(s, "empty"));
    }
    if bare.split('.').any(|label| label.is_empty()) {
        return Err(invalid(s, "empty label"));
    }
    if bare.split('.').any(|label| label == "*") {
        return Err(invalid(s, "a wildcard label is not allowed here"));
    }
    let mut name = Name::from_utf8(bare).map_err(|e| invalid(s, &e.to_string()))?;
    name.set_fqdn(true);
    if name.len() > 254 {
        return Err(invalid(s, "longer than 253 characters"));
    }
    Ok(name)
}

fn invalid(name: &str, reason: &str) -> Dns01Error {
    Dns01Error::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::CNAME;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn record_names() {
        let cases = [
            ("example.com", Some("_acme-challenge.example.com.")),
            ("example.com.", Some("_acme-challenge.example.com.")),
            ("*.example.com", Some("_acme-challenge.example.com.")),
            (
                "*.sub.example.com.",
                Some("_acme-challenge.sub.example.com."),
            ),
            (
                " www.Example.COM ",
                Some("_acme-challenge.www.example.com."),
            ),
            (
                "bücher.example",
                Some("_acme-challenge.xn--bcher-kva.example."),
            ),
            (
                "a.b.c.example.test",
                Some("_acme-challenge.a.b.c.example.test."),
            ),
            ("", None),
            ("*.", None),
            ("*", None),
            ("a.*.example.com", None),
            ("**.example.com", None),
            ("a..example.com", None),
            ("has space.example.com", None),
        ];
        for (domain, want) in cases {
            let got = challenge_record_name(domain).ok();
            assert_eq!(got.as_deref(), want, "{domain:?}");
        }
        // 63-character labels are fine, 64 are not; whole names stop at 253 characters.
        let l63 = "a".repeat(63);
        assert!(challenge_record_name(&format!("{l63}.example.com")).is_ok());
        assert!(challenge_record_name(&format!("a{l63}.example.com")).is_err());
        let long = [l63.as_str(); 4].join(".");
        assert!(
            challenge_record_name(&long).is_err(),
            "{} chars with the prefix",
            long.len() + 16
        );
    }

    fn cname_answer(rcode: ResponseCode, records: Vec<Record>) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.answers = records;
        m
    }

    #[test]
    fn cname_answers() {
        let name = n("_acme-challenge.x.example.test.");
        let to_y = Record::from_rdata(name.clone(), 60, RData::CNAME(CNAME(n("y.example.test."))));
        let other = Record::from_rdata(n("other.test."), 60, RData::CNAME(CNAME(n("z.test."))));
        assert_eq!(
            cname_target(&name, &cname_answer(ResponseCode::NoError, vec![to_y])),
            Ok(Some(n("y.example.test.")))
        );
        assert_eq!(
            cname_target(&name, &cname_answer(ResponseCode::NoError, vec![other])),
            Ok(None)
        );
        assert_eq!(
            cname_target(&name, &cname_answer(ResponseCode::NXDomain, vec![])),
            Ok(None)
        );
        assert_eq!(
            cname_target(&name, &cname_answer(ResponseCode::ServFail, vec![])),
            Err("SERVFAIL".into())
        );
    }

    #[test]
    fn hops_stop_at_the_end_at_loops_and_at_depth() {
        let a = n("a.test.");
        let b = n("b.test.");
        assert_eq!(next_hop(std::slice::from_ref(&a), None), Hop::Done);
        assert_eq!(
            next_hop(std::slice::from_ref(&a), Some(b.clone())),
            Hop::Next(b.clone())
        );
        assert_eq!(
            next_hop(&[a.clone(), b.clone()], Some(n("A.test."))),
            Hop::Refused("CNAME loop back to A.test.".into())
        );
        assert_eq!(
            next_hop(std::slice::from_ref(&a), Some(a.clone())),
            Hop::Refused("CNAME loop back to a.test.".into())
        );
        let long: Vec<Name> = (0..=MAX_CNAME_HOPS)
            .map(|i| n(&format!("h{i}.test.")))
            .collect();
        assert_eq!(
            next_hop(&long, Some(b)),
            Hop::Refused(format!("more than {MAX_CNAME_HOPS} CNAMEs"))
        );
    }
}
