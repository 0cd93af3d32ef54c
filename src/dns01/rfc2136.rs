//! Setting and removing challenge TXT records with RFC 2136 dynamic updates, TSIG-signed
//! (RFC 8945), as cert-manager's `rfc2136` solver does: BIND, Knot, PowerDNS, Windows DNS.
//!
//! Parsing the settings and reading the server's verdict are pure functions; [`Rfc2136`] does the
//! I/O. Each update is signed here rather than by the transport, so that a rejection the server
//! cannot sign (BADSIG, BADKEY) still reaches us with its reason instead of a bare
//! "verification failed".

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use hickory_proto::op::{DnsResponse, Message, ResponseCode, update_message};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm as WireAlgorithm, TsigError};
use hickory_proto::rr::{Name, RData, Record, RecordSet, TSigner};
use zeroize::Zeroizing;

use super::Dns01Error;
use super::cname::parse_fqdn;
use super::wire::{self, Server};
use super::zone::{self, rcode_name};

/// Port of a nameserver given without one.
pub const DEFAULT_PORT: u16 = 53;
/// How long to wait for one answer, as in hickory and most stub resolvers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Allowed clock difference between us and the server for a TSIG signature (RFC 8945: 300 s).
const TSIG_FUDGE: u16 = 300;

/// Transport for the update and the zone lookup (cert-manager's `protocol`, UDP by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Udp,
    Tcp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        })
    }
}

impl FromStr for Protocol {
    type Err = Dns01Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "udp" => Ok(Protocol::Udp),
            "tcp" => Ok(Protocol::Tcp),
            other => Err(Dns01Error::InvalidConfig(format!(
                "protocol {other:?} is not supported: use UDP or TCP"
            ))),
        }
    }
}

/// TSIG MAC algorithms we can sign with.
///
/// HMAC-MD5 (cert-manager's default) and HMAC-SHA1 are refused: both are broken, and the crypto
/// library does not offer them for TSIG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's name on the wire and in BIND's configuration.
    pub fn dns_name(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn wire(self) -> WireAlgorithm {
        match self {
            TsigAlgorithm::HmacSha256 => WireAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => WireAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => WireAlgorithm::HmacSha512,
        }
    }
}

impl fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dns_name())
    }
}

/// Accepts cert-manager's spellings (`HMACSHA256`) and the DNS ones (`hmac-sha256`,
/// `hmac-sha256.`), in any case.
impl FromStr for TsigAlgorithm {
    type Err = Dns01Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .trim()
            .trim_end_matches('.')
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect::<String>()
            .to_ascii_lowercase();
        match folded.as_str() {
            "hmacsha256" => Ok(TsigAlgorithm::HmacSha256),
            "hmacsha384" => Ok(TsigAlgorithm::HmacSha384),
            "hmacsha512" => Ok(TsigAlgorithm::HmacSha512),
            "hmacmd5" | "hmacmd5.sigalg.reg.int" | "hmacsha1" | "hmacsha224" => {
                Err(Dns01Error::InvalidConfig(format!(
                    "tsigAlgorithm {s:?} is not supported (weak and not available here): \
                     create the key with hmac-sha256 (tsig-keygen -a hmac-sha256) and set \
                     tsigAlgorithm: HMACSHA256 (or HMACSHA384, HMACSHA512)"
                )))
            }
            _ => Err(Dns01Error::InvalidConfig(format!(
                "unknown tsigAlgorithm {s:?}: use HMACSHA256, HMACSHA384 or HMACSHA512"
            ))),
        }
    }
}

/// A TSIG shared secret. Never printed: `Debug` shows only its length.
#[derive(Clone)]
pub struct TsigSecret(Zeroizing<Vec<u8>>);

impl TsigSecret {
    /// Decodes the base64 text kept in the Secret (`tsig-keygen` prints it so). Whitespace and a
    /// trailing newline, as `kubectl create secret --from-file` leaves them, are ignored.
    pub fn from_base64(text: &str) -> Result<Self, Dns01Error> {
        let compact: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
        let engine = base64::engine::general_purpose::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine.decode(compact.as_bytes()).map_err(|_| {
            Dns01Error::InvalidConfig(
                "the TSIG secret is not valid base64 — check tsigSecretSecretRef (the value \
                 tsig-keygen prints after `secret`)"
                    .into(),
            )
        })?;
        if bytes.is_empty() {
            return Err(Dns01Error::InvalidConfig(
                "the TSIG secret is empty — check tsigSecretSecretRef".into(),
            ));
        }
        Ok(TsigSecret(Zeroizing::new(bytes)))
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TsigSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TsigSecret(<{} bytes redacted>)", self.0.len())
    }
}

/// A TSIG key as configured on the server: cert-manager's `tsigKeyName`, `tsigAlgorithm` and
/// the Secret behind `tsigSecretSecretRef`.
#[derive(Clone, Debug)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: TsigAlgorithm,
    pub secret: TsigSecret,
}

impl TsigKey {
    /// Parses the three settings as the user wrote them.
    pub fn parse(name: &str, algorithm: &str, secret_base64: &str) -> Result<Self, Dns01Error> {
        Ok(TsigKey {
            name: name.trim().to_owned(),
            algorithm: algorithm.parse()?,
            secret: TsigSecret::from_base64(secret_base64)?,
        })
    }
}

/// Settings of one RFC 2136 solver.
#[derive(Clone, Debug)]
pub struct Rfc2136Config {
    /// `host`, `host:port`, `[v6]:port` or a bare IPv6 address; port 53 when absent.
    pub nameserver: String,
    /// `None`: unsigned updates (servers that allow updates by address).
    pub tsig: Option<TsigKey>,
    pub protocol: Protocol,
    /// Wait for each answer at most this long.
    pub timeout: Duration,
}

impl Rfc2136Config {
    pub fn new(nameserver: impl Into<String>, tsig: Option<TsigKey>, protocol: Protocol) -> Self {
        Rfc2136Config {
            nameserver: nameserver.into(),
            tsig,
            protocol,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The nameserver's host as written: an address, or a name resolved at each use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
pub(crate) fn parse_nameserver(s: &str) -> Result<(Host, u16), Dns01Error> {
    let bad = |why: &str| {
        Dns01Error::InvalidConfig(format!(
            "nameserver {s:?}: {why} (expected host, host:port or [ipv6]:port)"
        ))
    };
    let s_trim = s.trim();
    if s_trim.is_empty() {
        return Err(bad("empty"));
    }
    if let Ok(ip) = s_trim.parse::<IpAddr>() {
        return Ok((Host::Ip(ip), DEFAULT_PORT));
    }
    if let Ok(addr) = s_trim.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(bad("port 0"));
        }
        return Ok((Host::Ip(addr.ip()), addr.port()));
    }
    let (host, port) = if let Some(rest) = s_trim.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or_else(|| bad("missing ]"))?;
        let ip: IpAddr = inner
            .parse()
            .map_err(|_| bad("not an IPv6 address in [ ]"))?;
        return match after {
            "" => Ok((Host::Ip(ip), DEFAULT_PORT)),
            _ => {
                let port = after.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?;
                Ok((
                    Host::Ip(ip),
                    parse_port(port).ok_or_else(|| bad("bad port"))?,
                ))
            }
        };
    } else {
        match s_trim.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(port).ok_or_else(|| bad("bad port"))?),
            None => (s_trim, DEFAULT_PORT),
        }
    };
    if host.contains(':') {
        return Err(bad("an IPv6 address with a port needs brackets"));
    }
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err(bad("not a host name"));
    }
    // "1.2.3" and the like parse as neither IP nor sensible name; leave them to the resolver.
    Ok((Host::Name(host.trim_end_matches('.').to_owned()), port))
}

fn parse_port(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

/// An RFC 2136 client for one nameserver and key. Cheap to build; holds no connection.
#[derive(Clone)]
pub struct Rfc2136 {
    nameserver: String,
    host: Host,
    port: u16,
    protocol: Protocol,
    timeout: Duration,
    key: Option<KeyInfo>,
}

#[derive(Clone)]
struct KeyInfo {
    name: String,
    algorithm: TsigAlgorithm,
    signer: TSigner,
}

impl fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rfc2136")
            .field("nameserver", &self.nameserver)
            .field("protocol", &self.protocol)
            .field("timeout", &self.timeout)
            .field(
                "tsig_key",
                &self.key.as_ref().map(|k| (&k.name, k.algorithm)),
            )
            .finish()
    }
}

impl Rfc2136 {
    /// Checks the settings; nothing is sent yet.
    pub fn new(config: &Rfc2136Config) -> Result<Self, Dns01Error> {
        let (host, port) = parse_nameserver(&config.nameserver)?;
        let key = match &config.tsig {
            None => None,
            Some(k) => {
                let name = Name::from_ascii(&k.name)
                    .ok()
                    .filter(|n| !k.name.is_empty() && !n.is_root())
                    .ok_or_else(|| {
                        Dns01Error::InvalidConfig(format!(
                            "tsigKeyName {:?} is not a valid key name",
                            k.name
                        ))
                    })?;
                let signer = TSigner::new(
                    k.secret.bytes().to_vec(),
                    k.algorithm.wire(),
                    name,
                    TSIG_FUDGE,
                )
                .map_err(|e| Dns01Error::InvalidConfig(format!("TSIG key: {e}")))?;
                Some(KeyInfo {
                    name: k.name.clone(),
                    algorithm: k.algorithm,
                    signer,
                })
            }
        };
        Ok(Rfc2136 {
            nameserver: config.nameserver.trim().to_owned(),
            host,
            port,
            protocol: config.protocol,
            timeout: config.timeout,
            key,
        })
    }

    /// Adds the TXT record `fqdn` = `value` (one record; other values at `fqdn` stay). `zone`:
    /// the zone apex when the caller knows it; otherwise it is looked up. Returns the zone
    /// updated. Adding a value that is already there is success.
    pub async fn present(
        &self,
        fqdn: &str,
        value: &str,
        ttl: u32,
        zone: Option<&str>,
    ) -> Result<String, Dns01Error> {
        let name = parse_fqdn(fqdn)?;
        let txt = txt_rdata(fqdn, value)?;
        let server = self.server().await?;
        let zone = self.zone_of(&name, zone, server).await?;
        let record = Record::from_rdata(name, ttl, txt);
        // append without "must exist": RFC 2136 2.5.1 "Add To An RRset".
        let message = update_message::append(RecordSet::from(record), zone.clone(), false, true);
        self.update(server, &zone, message).await?;
        Ok(zone.to_string())
    }

    /// Deletes exactly the TXT record `fqdn` = `value` (RFC 2136 2.5.4 "Delete An RR From An
    /// RRset"), leaving other values. Deleting a record that is not there is success.
    pub async fn cleanup(
        &self,
        fqdn: &str,
        value: &str,
        zone: Option<&str>,
    ) -> Result<String, Dns01Error> {
        let name = parse_fqdn(fqdn)?;
        let txt = txt_rdata(fqdn, value)?;
        let server = self.server().await?;
        let zone = self.zone_of(&name, zone, server).await?;
        let record = Record::from_rdata(name, 0, txt);
        let message = update_message::delete_by_rdata(RecordSet::from(record), zone.clone(), true);
        self.update(server, &zone, message).await?;
        Ok(zone.to_string())
    }

    /// The apex of the zone `fqdn` lies in, as the configured nameserver sees it.
    pub async fn find_zone(&self, fqdn: &str) -> Result<String, Dns01Error> {
        let name = parse_fqdn(fqdn)?;
        let server = self.server().await?;
        Ok(self.zone_of(&name, None, server).await?.to_string())
    }

    async fn zone_of(
        &self,
        name: &Name,
        given: Option<&str>,
        server: Server,
    ) -> Result<Name, Dns01Error> {
        match given {
            Some(z) => {
                let zone = parse_fqdn(z)?;
                if !zone.zone_of(name) {
                    return Err(Dns01Error::InvalidName {
                        name: name.to_string(),
                        reason: format!("not inside the zone {zone} given for it"),
                    });
                }
                Ok(zone)
            }
            // The primary answers for its own zones only: no recursion.
            None => zone::find_zone(name, &[server], false).await,
        }
    }

    async fn server(&self) -> Result<Server, Dns01Error> {
        let ip = match &self.host {
            Host::Ip(ip) => *ip,
            Host::Name(host) => {
                let mut addrs = tokio::net::lookup_host((host.as_str(), self.port))
                    .await
                    .map_err(|e| Dns01Error::NameserverUnresolvable {
                        host: host.clone(),
                        reason: e.to_string(),
                    })?;
                addrs
                    .next()
                    .ok_or_else(|| Dns01Error::NameserverUnresolvable {
                        host: host.clone(),
                        reason: "no addresses".into(),
                    })?
                    .ip()
            }
        };
        Ok(Server {
            addr: SocketAddr::new(ip, self.port),
            protocol: self.protocol,
            timeout: self.timeout,
        })
    }

    /// Signs (when a key is set), sends, and reads the verdict.
    async fn update(
        &self,
        server: Server,
        zone: &Name,
        mut message: Message,
    ) -> Result<(), Dns01Error> {
        let mut verifier = None;
        if let Some(key) = &self.key {
            let now = jiff::Timestamp::now().as_second().max(0) as u64;
            verifier = message
                .finalize(&key.signer, now)
                .map_err(|e| Dns01Error::InvalidConfig(format!("signing the update: {e}")))?;
        }
        let response = wire::exchange(server, message).await?;
        let tsig_error = tsig_error_of(&response);
        if let Some(reason) =
            rejection(response.metadata.response_code, tsig_error, self.key_view())
        {
            return Err(Dns01Error::UpdateRejected {
                server: server.addr,
                zone: zone.to_string(),
                rcode: reason.rcode,
                reason: reason.text,
                transient: reason.transient,
            });
        }
        // Success must come from the key holder: check the answer's own signature.
        if let (Some(mut verifier), Some(key)) = (verifier, &self.key) {
            verify_signed(&mut verifier, &response).map_err(|reason| {
                Dns01Error::UnsignedResponse {
                    server: server.addr,
                    key: key.name.clone(),
                    reason,
                }
            })?;
        }
        Ok(())
    }

    fn key_view(&self) -> Option<(&str, TsigAlgorithm)> {
        self.key.as_ref().map(|k| (k.name.as_str(), k.algorithm))
    }
}

fn txt_rdata(fqdn: &str, value: &str) -> Result<RData, Dns01Error> {
    if value.is_empty() || value.len() > 255 {
        return Err(Dns01Error::InvalidName {
            name: fqdn.to_owned(),
            reason: format!(
                "the TXT value must be 1 to 255 bytes, got {} (an ACME DNS-01 value is 43)",
                value.len()
            ),
        });
    }
    Ok(RData::TXT(TXT::new(vec![value.to_owned()])))
}

fn tsig_error_of(response: &DnsResponse) -> Option<TsigError> {
    response.signature.as_ref().and_then(|sig| sig.data.error)
}

fn verify_signed(
    verifier: &mut hickory_proto::rr::TSigVerifier,
    response: &DnsResponse,
) -> Result<(), String> {
    match &response.signature {
        None => Err("the answer carries no TSIG record".into()),
        Some(_) => verifier
            .verify(response.as_buffer())
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

/// The server's "no", in words that say what to fix.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub rcode: String,
    pub text: String,
    pub transient: bool,
}

const CHECK_KEY: &str = "check tsigSecretSecretRef / tsigKeyName / tsigAlgorithm";

/// `None` when the update was applied. `key`: name and algorithm of the key we signed with.
pub(crate) fn rejection(
    rcode: ResponseCode,
    tsig_error: Option<TsigError>,
    key: Option<(&str, TsigAlgorithm)>,
) -> Option<Rejection> {
    let key_desc = key
        .map(|(name, alg)| format!("TSIG key {name:?} ({alg})"))
        .unwrap_or_else(|| "the update (unsigned)".into());
    let mut rcode_text = rcode_name(rcode);
    if let Some(err) = tsig_error {
        rcode_text = format!("{rcode_text}/{}", tsig_error_name(err));
    }
    let (text, transient) = match (tsig_error, rcode) {
        (None, ResponseCode::NoError) => return None,
        (Some(TsigError::BadSig), _) => (
            format!("{key_desc} signature invalid (BADSIG) — {CHECK_KEY}"),
            false,
        ),
        (Some(TsigError::BadKey), _) => (
            format!("{key_desc} is not known to the server (BADKEY) — {CHECK_KEY}"),
            false,
        ),
        (Some(TsigError::BadTime), _) => (
            format!(
                "{key_desc} signature time is outside the server's window (BADTIME) — check the \
                 clocks of this host and the nameserver, then {CHECK_KEY}"
            ),
            true,
        ),
        (Some(other), _) => (
            format!(
                "{key_desc} rejected ({}) — {CHECK_KEY}",
                tsig_error_name(other)
            ),
            false,
        ),
        (None, ResponseCode::Refused) if key.is_some() => (
            format!(
                "{key_desc} may not update this zone (REFUSED) — check the server's allow-update / \
                 update-policy for the zone, then {CHECK_KEY}"
            ),
            false,
        ),
        (None, ResponseCode::Refused) => (
            "unsigned updates are refused (REFUSED) — the server wants a TSIG key: set \
             tsigKeyName, tsigAlgorithm and tsigSecretSecretRef"
                .to_owned(),
            false,
        ),
        (None, ResponseCode::NotAuth) => (
            format!(
                "the server is not authoritative for the zone or did not accept {key_desc} \
                 (NOTAUTH) — point nameserver at the zone's primary, and {CHECK_KEY}"
            ),
            false,
        ),
        (None, ResponseCode::NotZone) => (
            "the record is outside the zone (NOTZONE) — the zone lookup and the server disagree"
                .to_owned(),
            false,
        ),
        (None, ResponseCode::NotImp) => (
            "the server does not implement dynamic updates (NOTIMP) — point nameserver at a \
             primary with updates enabled"
                .to_owned(),
            false,
        ),
        (None, ResponseCode::ServFail) => (
            "the server failed to apply the update (SERVFAIL) — see the nameserver's log \
             (zone file or journal not writable?)"
                .to_owned(),
            true,
        ),
        (None, other) => (
            format!("{} — see the nameserver's log", rcode_name(other)),
            false,
        ),
    };
    Some(Rejection {
        rcode: rcode_text,
        text,
        transient,
    })
}

fn tsig_error_name(e: TsigError) -> String {
    match e {
        TsigError::BadSig => "BADSIG".into(),
        TsigError::BadKey => "BADKEY".into(),
        TsigError::BadTime => "BADTIME".into(),
        TsigError::BadTrunc => "BADTRUNC".into(),
        TsigError::Unknown(code) => format!("TSIG error {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_strings() {
        let ip = |s: &str| Host::Ip(s.parse().unwrap());
        let name = |s: &str| Host::Name(s.into());
        let cases: [(&str, Option<(Host, u16)>); 16] = [
            ("127.0.0.1", Some((ip("127.0.0.1"), 53))),
            ("127.0.0.1:25353", Some((ip("127.0.0.1"), 25353))),
            (" 10.0.0.1:53 ", Some((ip("10.0.0.1"), 53))),
            ("[::1]:5353", Some((ip("::1"), 5353))),
            ("[::1]", Some((ip("::1"), 53))),
            ("fd00::53", Some((ip("fd00::53"), 53))),
            ("ns1.example.com", Some((name("ns1.example.com"), 53))),
            (
                "ns1.example.com.:5353",
                Some((name("ns1.example.com"), 5353)),
            ),
            ("", None),
            ("ns1.example.com:", None),
            ("ns1.example.com:99999", None),
            ("127.0.0.1:0", None),
            ("[::1", None),
            ("[::1]x", None),
            ("fd00::53:x", None),
            ("ns 1.example.com", None),
        ];
        for (input, want) in cases {
            let got = parse_nameserver(input).ok();
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn algorithm_names() {
        use TsigAlgorithm::*;
        let ok = [
            ("HMACSHA256", HmacSha256),
            ("hmacsha256", HmacSha256),
            ("hmac-sha256", HmacSha256),
            ("HMAC-SHA256.", HmacSha256),
            ("HMACSHA384", HmacSha384),
            ("hmac-sha384", HmacSha384),
            ("HMACSHA512", HmacSha512),
            ("Hmac_Sha512", HmacSha512),
        ];
        for (input, want) in ok {
            assert_eq!(input.parse::<TsigAlgorithm>().unwrap(), want, "{input}");
        }
        let unsupported = [
            "HMACMD5",
            "hmac-md5",
            "HMAC-MD5.SIG-ALG.REG.INT",
            "HMACSHA1",
            "hmac-sha224",
        ];
        for input in unsupported {
            let e = input.parse::<TsigAlgorithm>().unwrap_err().to_string();
            assert!(
                e.contains("not supported") && e.contains("HMACSHA256"),
                "{input}: {e}"
            );
        }
        for input in ["", "sha256", "hmac-sha257"] {
            let e = input.parse::<TsigAlgorithm>().unwrap_err().to_string();
            assert!(e.contains("unknown tsigAlgorithm"), "{input}: {e}");
        }
    }

    #[test]
    fn protocols() {
        for (input, want) in [
            ("UDP", Some(Protocol::Udp)),
            ("tcp", Some(Protocol::Tcp)),
            ("", Some(Protocol::Udp)),
            ("quic", None),
        ] {
            assert_eq!(input.parse::<Protocol>().ok(), want, "{input}");
        }
    }

    #[test]
    fn secrets_decode_and_never_print() {
        let s = TsigSecret::from_base64("K07+5EPiqc/DJbx/8lVHYUvCNU5y4YX4MRDsuv3DUII=\n").unwrap();
        assert_eq!(s.bytes().len(), 32);
        assert_eq!(format!("{s:?}"), "TsigSecret(<32 bytes redacted>)");
        // Unpadded is accepted too.
        assert_eq!(TsigSecret::from_base64("AAEC").unwrap().bytes(), &[0, 1, 2]);
        for bad in ["", "  ", "not base64!"] {
            let e = TsigSecret::from_base64(bad).unwrap_err().to_string();
            assert!(e.contains("tsigSecretSecretRef"), "{bad:?}: {e}");
            assert!(
                !e.contains(bad.trim()) || bad.trim().is_empty(),
                "secret echoed: {e}"
            );
        }
        let key = TsigKey::parse("k", "HMACSHA256", "c2VjcmV0LXZhbHVl").unwrap();
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("secret-value"),
            "{shown}"
        );
        let client =
            Rfc2136::new(&Rfc2136Config::new("127.0.0.1", Some(key), Protocol::Udp)).unwrap();
        let shown = format!("{client:?}");
        assert!(
            shown.contains("\"k\"") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }

    #[test]
    fn bad_key_names_are_config_errors() {
        let key = TsigKey::parse("", "HMACSHA256", "AAEC").unwrap();
        let e =
            Rfc2136::new(&Rfc2136Config::new("127.0.0.1", Some(key), Protocol::Udp)).unwrap_err();
        assert!(e.to_string().contains("tsigKeyName"), "{e}");
    }

    /// rcode, TSIG error, key signed with -> (rcode text, fragments of the reason, transient).
    type Verdict<'a> = (
        ResponseCode,
        Option<TsigError>,
        Option<(&'a str, TsigAlgorithm)>,
        Option<(&'a str, &'a [&'a str], bool)>,
    );

    #[test]
    fn server_verdicts() {
        let key = Some(("certsmith", TsigAlgorithm::HmacSha256));
        let cases: [Verdict; 10] = [
            (ResponseCode::NoError, None, key, None),
            (
                ResponseCode::NotAuth,
                Some(TsigError::BadSig),
                key,
                Some((
                    "NOTAUTH/BADSIG",
                    &[
                        "TSIG key \"certsmith\" (hmac-sha256) signature invalid",
                        CHECK_KEY,
                    ],
                    false,
                )),
            ),
            (
                ResponseCode::NotAuth,
                Some(TsigError::BadKey),
                key,
                Some((
                    "NOTAUTH/BADKEY",
                    &["not known to the server", CHECK_KEY],
                    false,
                )),
            ),
            (
                ResponseCode::NotAuth,
                Some(TsigError::BadTime),
                key,
                Some(("NOTAUTH/BADTIME", &["clocks", CHECK_KEY], true)),
            ),
            (
                ResponseCode::Refused,
                None,
                key,
                Some((
                    "REFUSED",
                    &["may not update this zone", "update-policy", CHECK_KEY],
                    false,
                )),
            ),
            (
                ResponseCode::Refused,
                None,
                None,
                Some((
                    "REFUSED",
                    &["set tsigKeyName, tsigAlgorithm and tsigSecretSecretRef"],
                    false,
                )),
            ),
            (
                ResponseCode::NotAuth,
                None,
                key,
                Some(("NOTAUTH", &["not authoritative", CHECK_KEY], false)),
            ),
            (
                ResponseCode::ServFail,
                None,
                key,
                Some(("SERVFAIL", &["nameserver's log"], true)),
            ),
            (
                ResponseCode::NotImp,
                None,
                None,
                Some(("NOTIMP", &["dynamic updates"], false)),
            ),
            (
                ResponseCode::FormErr,
                None,
                key,
                Some(("FORMERR", &["FORMERR"], false)),
            ),
        ];
        for (rcode, tsig, key, want) in cases {
            let got = rejection(rcode, tsig, key);
            match (got, want) {
                (None, None) => {}
                (Some(r), Some((code, fragments, transient))) => {
                    assert_eq!(r.rcode, code);
                    for f in fragments {
                        assert!(r.text.contains(f), "{code}: {:?} lacks {f:?}", r.text);
                    }
                    assert_eq!(r.transient, transient, "{code}");
                }
                (got, want) => panic!("{rcode:?}/{tsig:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn txt_values_must_fit_one_string() {
        assert!(txt_rdata("a.", "x").is_ok());
        assert!(txt_rdata("a.", "").is_err());
        assert!(txt_rdata("a.", &"x".repeat(256)).is_err());
    }
}
