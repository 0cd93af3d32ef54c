//! DNS-01: put the challenge's TXT record where the ACME server will look, tell when the world
//! sees it, take it away again. Plain inputs, plain outputs: no Kubernetes here.
//!
//! The flow for one `Challenge` of type DNS-01 (the controller drives it; nothing here sleeps or
//! loops waiting, every call returns after at most a few DNS round trips):
//!
//! 1. **Name.** [`challenge_record_name`]`(spec.dnsName)` gives `_acme-challenge.<domain>.` (a
//!    wildcard's `*.` dropped). With `cnameStrategy: Follow`, [`follow_cname`] walks CNAMEs from
//!    there to the name whose TXT record must really be set (delegated validation).
//! 2. **Present.** [`Rfc2136::present`] adds ONE TXT record with the key authorization digest
//!    (`spec.key`). Other TXT values at that name stay: a wildcard and its apex share
//!    `_acme-challenge.<domain>` and are solved at the same time. The zone to update is found
//!    by asking the configured nameserver for SOA records up the name, unless the caller knows it.
//! 3. **Propagation check.** [`propagation::check`] answers "do the servers the ACME CA will ask
//!    already have the value?" once; the controller re-checks with backoff until
//!    [`PropagationState::Propagated`] (no fixed sleep afterwards: cert-manager's 60 s hurts).
//! 4. **ACME accept.** The controller tells the CA the challenge is ready and waits for it to be
//!    valid or invalid.
//! 5. **CleanUp.** [`Rfc2136::cleanup`] deletes exactly the record with that value (RFC 2136
//!    "delete an RR from an RRset"), leaving the others; deleting an absent record is success, so
//!    it is safe to repeat after a crash, a failed challenge or the Challenge's deletion.
//!
//! Errors say what to fix ([`Dns01Error`]); TSIG secrets never appear in them, nor in `Debug`.

pub mod cname;
pub mod propagation;
pub mod rfc2136;
pub mod webhook;
mod wire;
mod zone;

use std::net::SocketAddr;
use std::time::Duration;

pub use cname::{CnameStrategy, challenge_record_name, follow_cname, resolve_record_name};
pub use propagation::{Authoritative, Nameservers, PropagationState, ServerAnswer, TxtAnswer};
pub use rfc2136::{Protocol, Rfc2136, Rfc2136Config, TsigAlgorithm, TsigKey, TsigSecret};
pub use zone::zone_via_resolvers;

/// Everything that can go wrong while solving a DNS-01 challenge.
///
/// [`Dns01Error::is_transient`] tells a retry with backoff apart from a configuration the user
/// must fix.
#[derive(Debug, thiserror::Error)]
pub enum Dns01Error {
    /// A setting (nameserver, TSIG key, algorithm, secret) cannot be used as given.
    #[error("invalid rfc2136 configuration: {0}")]
    InvalidConfig(String),
    /// A domain name cannot be used as given.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    /// The nameserver's host name did not resolve.
    #[error("cannot resolve nameserver {host}: {reason}")]
    NameserverUnresolvable { host: String, reason: String },
    /// Nothing answered in time.
    #[error("no answer from {server} over {protocol} within {}", humantime(*.after))]
    Timeout {
        server: SocketAddr,
        protocol: Protocol,
        after: Duration,
    },
    /// The connection failed or broke (TCP refused, network unreachable, ...).
    #[error("cannot talk to {server} over {protocol}: {reason}")]
    Unreachable {
        server: SocketAddr,
        protocol: Protocol,
        reason: String,
    },
    /// The answer was not a DNS message we could use.
    #[error("bad answer from {server}: {reason}")]
    BadResponse { server: SocketAddr, reason: String },
    /// No server we asked is authoritative for any parent of the name.
    #[error(
        "no zone found for {name} on {servers}: no SOA record at it or any parent{detail} — \
         check that the nameserver serves the domain's zone"
    )]
    NoZone {
        name: String,
        servers: String,
        detail: String,
    },
    /// The zone holding the name is delegated to other servers than the one asked.
    #[error(
        "{name} lies in {child}, which {server} delegates to other servers — point the nameserver \
         at the primary of {child}"
    )]
    Delegated {
        name: String,
        child: String,
        server: SocketAddr,
    },
    /// The update was refused; `reason` names the setting to check.
    #[error("the nameserver {server} rejected the update of zone {zone}: {reason}")]
    UpdateRejected {
        server: SocketAddr,
        zone: String,
        /// The DNS RCODE, plus the TSIG error when there is one (`NOTAUTH/BADSIG`).
        rcode: String,
        reason: String,
        transient: bool,
    },
    /// The answer to a TSIG-signed update did not carry a valid signature by the same key.
    #[error(
        "the answer of {server} to the update is not signed with TSIG key {key:?}: {reason} — \
         something between us and the nameserver changed it, or another server answered"
    )]
    UnsignedResponse {
        server: SocketAddr,
        key: String,
        reason: String,
    },
    /// A lookup the check depends on failed (NS of the zone, addresses of the NS, CNAME, ...).
    #[error("looking up {what} failed: {reason}")]
    Lookup { what: String, reason: String },
    /// CNAMEs lead in a circle or too deep.
    #[error("following CNAMEs from {start}: {reason} (chain: {chain})")]
    Cname {
        start: String,
        chain: String,
        reason: String,
    },
}

impl Dns01Error {
    /// True when trying again later may succeed without anyone changing a setting.
    pub fn is_transient(&self) -> bool {
        match self {
            Dns01Error::Timeout { .. }
            | Dns01Error::Unreachable { .. }
            | Dns01Error::BadResponse { .. }
            | Dns01Error::NameserverUnresolvable { .. }
            | Dns01Error::UnsignedResponse { .. }
            | Dns01Error::Lookup { .. } => true,
            Dns01Error::UpdateRejected { transient, .. } => *transient,
            Dns01Error::InvalidConfig(_)
            | Dns01Error::InvalidName { .. }
            | Dns01Error::NoZone { .. }
            | Dns01Error::Delegated { .. }
            | Dns01Error::Cname { .. } => false,
        }
    }
}

/// `1.5s`, `5s`, `250ms`: short enough for a condition message.
fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        for (d, want) in [
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1.5s"),
        ] {
            assert_eq!(humantime(d), want);
        }
    }

    #[test]
    fn timeout_message_names_server_protocol_and_wait() {
        let e = Dns01Error::Timeout {
            server: "127.0.0.1:25353".parse().unwrap(),
            protocol: Protocol::Udp,
            after: Duration::from_secs(5),
        };
        assert_eq!(
            e.to_string(),
            "no answer from 127.0.0.1:25353 over udp within 5s"
        );
        assert!(e.is_transient());
    }
}
