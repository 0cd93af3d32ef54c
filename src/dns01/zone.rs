//! Finding the zone a name lives in: SOA queries from the name upwards until a server says
//! "this is my zone apex". An update's zone section must be that apex, and the authoritative
//! propagation check asks that zone's NS.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use super::Dns01Error;
use super::wire::{self, Server};

/// What one SOA answer tells about the walk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SoaStep {
    /// The apex of the zone holding the name.
    Zone(Name),
    /// The asked server hands the name's zone (this child) to other servers.
    Delegated(Name),
    /// Nothing here: ask about the parent. Holds what was seen, for the error.
    Up(String),
}

/// Reads the answer to `SOA? candidate`, where `name` is the name whose zone we look for.
pub(crate) fn soa_step(name: &Name, candidate: &Name, answer: &Message) -> SoaStep {
    let rcode = answer.metadata.response_code;
    if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        return SoaStep::Up(format!("{} for {candidate}", rcode_name(rcode)));
    }
    let soa_owner = |records: &[hickory_proto::rr::Record]| {
        records
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA && !r.name.is_root())
            .map(|r| r.name.clone())
            .find(|owner| owner.zone_of(name))
    };
    // A positive answer names the apex; a negative one (NXDOMAIN or no data) carries the
    // enclosing zone's SOA in the authority section, which saves walking up label by label.
    if let Some(owner) = soa_owner(&answer.answers).or_else(|| soa_owner(&answer.authorities)) {
        return SoaStep::Zone(owner);
    }
    // A non-authoritative answer with NS records for a parent of the name is a referral.
    if rcode == ResponseCode::NoError
        && !answer.metadata.authoritative
        && let Some(ns_owner) = answer
            .authorities
            .iter()
            .filter(|r| r.record_type() == RecordType::NS && !r.name.is_root())
            .map(|r| r.name.clone())
            .find(|owner| owner.zone_of(name))
    {
        return SoaStep::Delegated(ns_owner);
    }
    SoaStep::Up(format!("{} without SOA for {candidate}", rcode_name(rcode)))
}

/// Walks up from `name` asking `servers` (the first that answers, per label) for SOA records.
/// `recursion_desired` is off for an authoritative server (the RFC 2136 primary), on for
/// resolvers.
pub(crate) async fn find_zone(
    name: &Name,
    servers: &[Server],
    recursion_desired: bool,
) -> Result<Name, Dns01Error> {
    let mut candidate = name.clone();
    let mut last_seen = String::new();
    while !candidate.is_root() {
        let (server, answer) = ask_first(servers, &candidate, recursion_desired).await?;
        match soa_step(name, &candidate, &answer) {
            SoaStep::Zone(apex) => return Ok(apex),
            SoaStep::Delegated(child) => {
                return Err(Dns01Error::Delegated {
                    name: name.to_string(),
                    child: child.to_string(),
                    server: server.addr,
                });
            }
            SoaStep::Up(seen) => last_seen = seen,
        }
        candidate = candidate.base_name();
    }
    Err(Dns01Error::NoZone {
        name: name.to_string(),
        servers: server_list(servers),
        detail: if last_seen.is_empty() {
            String::new()
        } else {
            format!(" (last answer: {last_seen})")
        },
    })
}

/// The first server's answer; the next server only when one does not answer at all.
async fn ask_first(
    servers: &[Server],
    candidate: &Name,
    recursion_desired: bool,
) -> Result<(Server, Message), Dns01Error> {
    let mut last_err = None;
    for server in servers {
        match wire::query(*server, candidate, RecordType::SOA, recursion_desired).await {
            Ok(answer) => return Ok((*server, answer.into_message())),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| Dns01Error::InvalidConfig("no nameserver to ask".into())))
}

pub(crate) fn server_list(servers: &[Server]) -> String {
    let list: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
    list.join(", ")
}

/// dig's spelling of a response code, as users read it in logs and docs.
pub(crate) fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

/// The zone apex of `fqdn`, found by asking `resolvers` (the system's when empty) for SOA
/// records up the name: what a DNS-01 webhook solver is told as `resolvedZone`.
pub async fn zone_via_resolvers(
    fqdn: &str,
    resolvers: &[std::net::SocketAddr],
) -> Result<String, Dns01Error> {
    let name = super::cname::parse_fqdn(fqdn)?;
    let servers = super::propagation::lookup_servers(resolvers, super::rfc2136::DEFAULT_TIMEOUT)?;
    Ok(find_zone(&name, &servers, true).await?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::MessageType;
    use hickory_proto::rr::rdata::{NS, SOA};
    use hickory_proto::rr::{RData, Record};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn soa(owner: &str) -> Record {
        let data = SOA::new(
            n("ns1.example.test."),
            n("hostmaster.example.test."),
            1,
            60,
            60,
            3600,
            5,
        );
        Record::from_rdata(n(owner), 60, RData::SOA(data))
    }

    fn ns(owner: &str) -> Record {
        Record::from_rdata(n(owner), 60, RData::NS(NS(n("ns.elsewhere.test."))))
    }

    fn answer(rcode: ResponseCode, aa: bool, answers: Vec<Record>, auth: Vec<Record>) -> Message {
        let mut m = Message::new(1, MessageType::Response, hickory_proto::op::OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.authoritative = aa;
        m.answers = answers;
        m.authorities = auth;
        m
    }

    #[test]
    fn soa_answers_decide_the_walk() {
        let name = n("_acme-challenge.a.b.example.test.");
        let cases = [
            (
                "SOA at the asked name",
                n("example.test."),
                answer(
                    ResponseCode::NoError,
                    true,
                    vec![soa("example.test.")],
                    vec![],
                ),
                SoaStep::Zone(n("example.test.")),
            ),
            (
                "NXDOMAIN carries the zone's SOA",
                name.clone(),
                answer(
                    ResponseCode::NXDomain,
                    true,
                    vec![],
                    vec![soa("example.test.")],
                ),
                SoaStep::Zone(n("example.test.")),
            ),
            (
                "no data (wildcard) carries the zone's SOA",
                name.clone(),
                answer(
                    ResponseCode::NoError,
                    true,
                    vec![],
                    vec![soa("Example.Test.")],
                ),
                SoaStep::Zone(n("example.test.")),
            ),
            (
                "an SOA of an unrelated zone (CNAME target) is ignored",
                name.clone(),
                answer(
                    ResponseCode::NoError,
                    false,
                    vec![],
                    vec![soa("other.test.")],
                ),
                SoaStep::Up("NOERROR without SOA for _acme-challenge.a.b.example.test.".into()),
            ),
            (
                "REFUSED: not this server's zone",
                n("test."),
                answer(ResponseCode::Refused, false, vec![], vec![]),
                SoaStep::Up("REFUSED for test.".into()),
            ),
            (
                "referral to a child zone",
                name.clone(),
                answer(
                    ResponseCode::NoError,
                    false,
                    vec![],
                    vec![ns("b.example.test.")],
                ),
                SoaStep::Delegated(n("b.example.test.")),
            ),
            (
                "upward referral to the root is not a delegation",
                name.clone(),
                answer(ResponseCode::NoError, false, vec![], vec![ns(".")]),
                SoaStep::Up("NOERROR without SOA for _acme-challenge.a.b.example.test.".into()),
            ),
            (
                "NS in an authoritative answer is not a referral",
                n("b.example.test."),
                answer(
                    ResponseCode::NoError,
                    true,
                    vec![],
                    vec![ns("b.example.test.")],
                ),
                SoaStep::Up("NOERROR without SOA for b.example.test.".into()),
            ),
        ];
        for (what, candidate, msg, want) in cases {
            assert_eq!(soa_step(&name, &candidate, &msg), want, "{what}");
        }
    }

    #[test]
    fn rcodes_read_like_dig() {
        for (code, want) in [
            (ResponseCode::NoError, "NOERROR"),
            (ResponseCode::NotAuth, "NOTAUTH"),
            (ResponseCode::Refused, "REFUSED"),
            (ResponseCode::Unknown(3841), "RCODE3841"),
        ] {
            assert_eq!(rcode_name(code), want);
        }
    }
}
