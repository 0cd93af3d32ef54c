//! "Is the challenge value among the TXT records of the name yet?", asked once. The controller
//! calls [`check`] again with backoff until it says [`PropagationState::Propagated`]; nothing
//! here sleeps.
//!
//! Two ways to ask, as in cert-manager:
//!
//! - [`Nameservers::Authoritative`] (the default): find the zone (SOA walk through the lookup
//!   resolvers), its NS records and their addresses, and ask every authoritative server directly,
//!   without recursion. All must have the value: the CA may ask any of them. Where the
//!   authoritative servers cannot be reached as their NS records say (a non-standard port, split
//!   horizon, a hidden primary, the test bed's BIND on 127.0.0.1:25353), set
//!   [`Authoritative::port`] or list them in [`Authoritative::reachable_at`].
//! - [`Nameservers::Recursive`]: ask the given resolvers, with recursion, each of them
//!   (cert-manager's `--dns01-recursive-nameservers-only` with `--dns01-recursive-nameservers`).
//!   Their caches may hold an older negative answer for up to the zone's SOA minimum TTL.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use futures::future::join_all;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use tracing::debug;

use super::Dns01Error;
use super::cname::parse_fqdn;
use super::rfc2136::{DEFAULT_PORT, DEFAULT_TIMEOUT, Protocol};
use super::wire::{self, Server};
use super::zone::{self, rcode_name};

/// Whom to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nameservers {
    Authoritative(Authoritative),
    /// These resolvers, each of them, with recursion; empty: the system's (/etc/resolv.conf).
    Recursive(Vec<SocketAddr>),
}

impl Default for Nameservers {
    fn default() -> Self {
        Nameservers::Authoritative(Authoritative::default())
    }
}

/// How to find and reach the zone's authoritative servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authoritative {
    /// Resolvers used to find the zone, its NS records and their addresses; empty: the system's.
    pub resolvers: Vec<SocketAddr>,
    /// Port the authoritative servers listen on (53). The NS records give host names only.
    pub port: u16,
    /// Override: ask exactly these addresses as the zone's authoritative servers, and skip the
    /// NS lookup. For servers that cannot be reached as their NS records say.
    pub reachable_at: Vec<SocketAddr>,
}

impl Default for Authoritative {
    fn default() -> Self {
        Authoritative {
            resolvers: Vec::new(),
            port: DEFAULT_PORT,
            reachable_at: Vec::new(),
        }
    }
}

impl Authoritative {
    /// The zone's authoritative servers are all reachable at `addrs` (nothing else is looked up).
    pub fn reachable_at(addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        Authoritative {
            reachable_at: addrs.into_iter().collect(),
            ..Authoritative::default()
        }
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropagationState {
    /// Every server asked has the value.
    Propagated { servers: Vec<SocketAddr> },
    /// At least one has not (yet); every server's answer, for the Challenge's status.
    Pending { answers: Vec<ServerAnswer> },
}

/// One server's answer about the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAnswer {
    pub server: SocketAddr,
    pub answer: TxtAnswer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The value is among the TXT records.
    Present,
    /// The name exists but has not this value; `other_values` TXT records it has.
    Missing { other_values: usize },
    /// The name does not exist (yet).
    NxDomain,
    /// An authoritative server answered without authority (a referral, or a lame server).
    NotAuthoritative,
    /// No usable answer: error code, timeout, unreachable.
    Failed(String),
}

impl fmt::Display for TxtAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxtAnswer::Present => f.write_str("has it"),
            TxtAnswer::Missing { other_values: 0 } => f.write_str("no TXT records"),
            TxtAnswer::Missing { other_values } => write!(f, "{other_values} other TXT value(s)"),
            TxtAnswer::NxDomain => f.write_str("NXDOMAIN"),
            TxtAnswer::NotAuthoritative => f.write_str("not authoritative for the zone"),
            TxtAnswer::Failed(why) => f.write_str(why),
        }
    }
}

/// `propagated to 2 server(s)` or `not yet on 10.0.0.1:53 (NXDOMAIN); 1 of 2 have it`.
impl fmt::Display for PropagationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropagationState::Propagated { servers } => {
                write!(f, "propagated to {} server(s)", servers.len())
            }
            PropagationState::Pending { answers } => {
                let missing: Vec<String> = answers
                    .iter()
                    .filter(|a| a.answer != TxtAnswer::Present)
                    .map(|a| format!("{} ({})", a.server, a.answer))
                    .collect();
                let have = answers.len() - missing.len();
                write!(
                    f,
                    "not yet on {}; {have} of {} have it",
                    missing.join(", "),
                    answers.len()
                )
            }
        }
    }
}

impl PropagationState {
    pub fn is_propagated(&self) -> bool {
        matches!(self, PropagationState::Propagated { .. })
    }
}

/// Is `value` among the TXT records of `fqdn` on the servers `nameservers` names? Waits at most
/// [`DEFAULT_TIMEOUT`] per question; servers are asked in parallel.
pub async fn check(
    fqdn: &str,
    value: &str,
    nameservers: &Nameservers,
) -> Result<PropagationState, Dns01Error> {
    check_within(fqdn, value, nameservers, DEFAULT_TIMEOUT).await
}

/// [`check`] with another per-question timeout.
pub async fn check_within(
    fqdn: &str,
    value: &str,
    nameservers: &Nameservers,
    timeout: Duration,
) -> Result<PropagationState, Dns01Error> {
    let name = parse_fqdn(fqdn)?;
    let (targets, recursion) = match nameservers {
        Nameservers::Recursive(resolvers) => (
            lookup_servers(resolvers, timeout)?
                .into_iter()
                .map(|s| s.addr)
                .collect(),
            true,
        ),
        Nameservers::Authoritative(auth) => {
            (authoritative_servers(&name, auth, timeout).await?, false)
        }
    };
    let asks = targets.iter().map(|&addr| {
        let server = Server {
            addr,
            protocol: Protocol::Udp,
            timeout,
        };
        let name = &name;
        async move {
            let answer = match wire::query(server, name, RecordType::TXT, recursion).await {
                Ok(response) => txt_answer(value, &response.into_message(), !recursion),
                Err(e) => TxtAnswer::Failed(e.to_string()),
            };
            ServerAnswer {
                server: addr,
                answer,
            }
        }
    });
    let answers = join_all(asks).await;
    Ok(verdict(answers))
}

/// Propagated when every server has the value.
pub(crate) fn verdict(answers: Vec<ServerAnswer>) -> PropagationState {
    if !answers.is_empty() && answers.iter().all(|a| a.answer == TxtAnswer::Present) {
        PropagationState::Propagated {
            servers: answers.into_iter().map(|a| a.server).collect(),
        }
    } else {
        PropagationState::Pending { answers }
    }
}

/// Reads one answer to `TXT? name`. TXT records reached through a CNAME count (a resolver
/// follows it); a value split into several strings is joined, as the CA does.
pub(crate) fn txt_answer(value: &str, answer: &Message, need_authority: bool) -> TxtAnswer {
    match answer.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return TxtAnswer::NxDomain,
        other => return TxtAnswer::Failed(rcode_name(other)),
    }
    let values: Vec<Vec<u8>> = answer
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    if values.iter().any(|v| v.as_slice() == value.as_bytes()) {
        TxtAnswer::Present
    } else if need_authority && !answer.metadata.authoritative && answer.answers.is_empty() {
        TxtAnswer::NotAuthoritative
    } else {
        TxtAnswer::Missing {
            other_values: values.len(),
        }
    }
}

/// The addresses of the zone's authoritative servers (see [`Authoritative`]).
async fn authoritative_servers(
    name: &Name,
    auth: &Authoritative,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Dns01Error> {
    if !auth.reachable_at.is_empty() {
        return Ok(auth.reachable_at.clone());
    }
    let resolvers = lookup_servers(&auth.resolvers, timeout)?;
    let zone = zone::find_zone(name, &resolvers, true).await?;
    let ns_names = zone_ns(&zone, &resolvers).await?;

    let resolver = resolver_for(&auth.resolvers, timeout)?;
    let lookups = ns_names.iter().map(|ns| resolver.lookup_ip(ns.clone()));
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut unresolved = Vec::new();
    for (ns, result) in ns_names.iter().zip(join_all(lookups).await) {
        match result {
            Ok(ips) => addrs.extend(ips.iter().map(|ip| SocketAddr::new(ip, auth.port))),
            // A lame NS the CA cannot reach either: skip it, as resolvers do.
            Err(e) => {
                debug!(%ns, error = %e, "authoritative nameserver does not resolve; skipped");
                unresolved.push(format!("{ns}: {e}"));
            }
        }
    }
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(Dns01Error::Lookup {
            what: format!("addresses of the NS of {zone}"),
            reason: unresolved.join("; "),
        });
    }
    Ok(addrs)
}

/// NS host names of `zone`, asked through the resolvers.
async fn zone_ns(zone: &Name, resolvers: &[Server]) -> Result<Vec<Name>, Dns01Error> {
    let mut last = String::new();
    for server in resolvers {
        match wire::query(*server, zone, RecordType::NS, true).await {
            Ok(response) => {
                let names: Vec<Name> = response
                    .answers
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::NS(ns) if r.name == *zone => Some(ns.0.clone()),
                        _ => None,
                    })
                    .collect();
                if !names.is_empty() {
                    return Ok(names);
                }
                last = format!(
                    "{} with no NS records",
                    rcode_name(response.metadata.response_code)
                );
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(Dns01Error::Lookup {
        what: format!("NS records of {zone}"),
        reason: last,
    })
}

/// The resolvers to ask, as wire servers: the given ones, or the system's.
pub(crate) fn lookup_servers(
    resolvers: &[SocketAddr],
    timeout: Duration,
) -> Result<Vec<Server>, Dns01Error> {
    let addrs: Vec<SocketAddr> = if resolvers.is_empty() {
        let (config, _) =
            hickory_resolver::system_conf::read_system_conf().map_err(|e| Dns01Error::Lookup {
                what: "the system's resolvers (/etc/resolv.conf)".into(),
                reason: e.to_string(),
            })?;
        config
            .name_servers()
            .iter()
            .map(|ns| {
                let port = ns.connections.first().map_or(DEFAULT_PORT, |c| c.port);
                SocketAddr::new(ns.ip, port)
            })
            .collect()
    } else {
        resolvers.to_vec()
    };
    if addrs.is_empty() {
        return Err(Dns01Error::Lookup {
            what: "the system's resolvers (/etc/resolv.conf)".into(),
            reason: "none configured".into(),
        });
    }
    Ok(addrs
        .into_iter()
        .map(|addr| Server {
            addr,
            protocol: Protocol::Udp,
            timeout,
        })
        .collect())
}

/// A hickory resolver over `resolvers` (empty: the system's), for address lookups.
fn resolver_for(resolvers: &[SocketAddr], timeout: Duration) -> Result<TokioResolver, Dns01Error> {
    let err = |e: hickory_net::NetError| Dns01Error::Lookup {
        what: "a resolver".into(),
        reason: e.to_string(),
    };
    let mut builder = if resolvers.is_empty() {
        TokioResolver::builder_tokio().map_err(err)?
    } else {
        let servers = resolvers
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for conn in &mut ns.connections {
                    conn.port = addr.port();
                }
                ns
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    builder.build().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{CNAME, TXT};

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn txt(owner: &str, parts: &[&str]) -> Record {
        let data = TXT::new(parts.iter().map(|s| s.to_string()).collect());
        Record::from_rdata(n(owner), 60, RData::TXT(data))
    }

    fn msg(rcode: ResponseCode, aa: bool, answers: Vec<Record>) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.authoritative = aa;
        m.answers = answers;
        m
    }

    #[test]
    fn txt_answers() {
        let name = "_acme-challenge.x.example.test.";
        let cname = Record::from_rdata(n(name), 60, RData::CNAME(CNAME(n("y.example.test."))));
        let cases = [
            (
                "value present",
                msg(ResponseCode::NoError, true, vec![txt(name, &["v1"])]),
                true,
                TxtAnswer::Present,
            ),
            (
                "present among others",
                msg(
                    ResponseCode::NoError,
                    true,
                    vec![txt(name, &["other"]), txt(name, &["v1"])],
                ),
                true,
                TxtAnswer::Present,
            ),
            (
                "split into strings",
                msg(ResponseCode::NoError, true, vec![txt(name, &["v", "1"])]),
                true,
                TxtAnswer::Present,
            ),
            (
                "through a CNAME",
                msg(
                    ResponseCode::NoError,
                    false,
                    vec![cname, txt("y.example.test.", &["v1"])],
                ),
                false,
                TxtAnswer::Present,
            ),
            (
                "other values only",
                msg(
                    ResponseCode::NoError,
                    true,
                    vec![txt(name, &["v2"]), txt(name, &["v3"])],
                ),
                true,
                TxtAnswer::Missing { other_values: 2 },
            ),
            (
                "no data",
                msg(ResponseCode::NoError, true, vec![]),
                true,
                TxtAnswer::Missing { other_values: 0 },
            ),
            (
                "nxdomain",
                msg(ResponseCode::NXDomain, true, vec![]),
                true,
                TxtAnswer::NxDomain,
            ),
            (
                "referral",
                msg(ResponseCode::NoError, false, vec![]),
                true,
                TxtAnswer::NotAuthoritative,
            ),
            (
                "no data from a resolver",
                msg(ResponseCode::NoError, false, vec![]),
                false,
                TxtAnswer::Missing { other_values: 0 },
            ),
            (
                "refused",
                msg(ResponseCode::Refused, false, vec![]),
                true,
                TxtAnswer::Failed("REFUSED".into()),
            ),
            (
                "case matters",
                msg(ResponseCode::NoError, true, vec![txt(name, &["V1"])]),
                true,
                TxtAnswer::Missing { other_values: 1 },
            ),
        ];
        for (what, m, need_authority, want) in cases {
            assert_eq!(txt_answer("v1", &m, need_authority), want, "{what}");
        }
    }

    #[test]
    fn verdict_needs_every_server() {
        let a: SocketAddr = "10.0.0.1:53".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:53".parse().unwrap();
        let ans = |server, answer| ServerAnswer { server, answer };
        let all = verdict(vec![ans(a, TxtAnswer::Present), ans(b, TxtAnswer::Present)]);
        assert_eq!(
            all,
            PropagationState::Propagated {
                servers: vec![a, b]
            }
        );
        assert_eq!(all.to_string(), "propagated to 2 server(s)");
        let one = verdict(vec![
            ans(a, TxtAnswer::Present),
            ans(b, TxtAnswer::NxDomain),
        ]);
        assert!(!one.is_propagated());
        assert_eq!(
            one.to_string(),
            "not yet on 10.0.0.2:53 (NXDOMAIN); 1 of 2 have it"
        );
        assert!(!verdict(vec![]).is_propagated());
    }
}
