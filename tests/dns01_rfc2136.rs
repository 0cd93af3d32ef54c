//! DNS-01 over RFC 2136 against the test bed's BIND9: records really appear and disappear on the
//! authoritative server, the propagation check sees what `dig` sees, and every misconfiguration
//! a user can make ends in an error that names the setting to fix.
//!
//! Settings come from the environment (RFC2136_NAMESERVER, RFC2136_ZONE, RFC2136_TSIG_KEY,
//! RFC2136_TSIG_ALGORITHM, RFC2136_TSIG_SECRET) or else from the bed's env file. Every test uses
//! its own random labels, so tests run in parallel and again, and removes what it created.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use certsmith::dns01::{
    Authoritative, CnameStrategy, Dns01Error, Nameservers, PropagationState, Protocol, Rfc2136,
    Rfc2136Config, TsigKey, TxtAnswer, propagation, resolve_record_name,
};

struct Bed {
    nameserver: String,
    addr: SocketAddr,
    zone: String,
    key_name: String,
    algorithm: String,
    secret: String,
}

impl Bed {
    /// The bed's BIND settings, or a panic saying how to start it: never a silent pass.
    fn get() -> Bed {
        let file_vars = env_file_vars();
        let var = |name: &str| -> String {
            std::env::var(name)
                .ok()
                .or_else(|| file_vars.get(name).cloned())
                .unwrap_or_else(|| {
                    panic!("{name} is not set and the test bed's env file lacks it: start the bed with `hack/testenv.sh up`")
                })
        };
        let nameserver = var("RFC2136_NAMESERVER");
        let addr = nameserver.parse().expect("RFC2136_NAMESERVER as ip:port");
        Bed {
            nameserver,
            addr,
            zone: var("RFC2136_ZONE"),
            key_name: var("RFC2136_TSIG_KEY"),
            algorithm: var("RFC2136_TSIG_ALGORITHM"),
            secret: var("RFC2136_TSIG_SECRET"),
        }
    }

    fn key(&self) -> TsigKey {
        TsigKey::parse(&self.key_name, &self.algorithm, &self.secret).expect("the bed's TSIG key")
    }

    fn client(&self, protocol: Protocol) -> Rfc2136 {
        Rfc2136::new(&Rfc2136Config::new(
            &self.nameserver,
            Some(self.key()),
            protocol,
        ))
        .expect("client")
    }

    /// A fresh `_acme-challenge.<label>.<zone>.` no other test touches.
    fn fresh_name(&self, prefix: &str) -> String {
        format!("_acme-challenge.{prefix}-{}.{}.", label(), self.zone)
    }

    /// Authoritative servers found through NS records: ns1.<zone> resolves to 127.0.0.1 and the
    /// bed listens on a non-standard port.
    fn via_ns(&self) -> Nameservers {
        Nameservers::Authoritative(Authoritative {
            resolvers: vec![self.addr],
            port: self.addr.port(),
            reachable_at: vec![],
        })
    }

    fn overridden(&self) -> Nameservers {
        Nameservers::Authoritative(Authoritative::reachable_at([self.addr]))
    }

    fn recursive(&self) -> Nameservers {
        Nameservers::Recursive(vec![self.addr])
    }

    /// `dig +short TXT name` values, when dig is installed.
    fn dig_txt(&self, name: &str) -> Option<Vec<String>> {
        let out = Command::new("dig")
            .args([
                &format!("@{}", self.addr.ip()),
                "-p",
                &self.addr.port().to_string(),
                "+short",
                "TXT",
                name,
            ])
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "dig: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut values: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().trim_matches('"').to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        values.sort();
        Some(values)
    }

    /// Runs nsupdate with the bed's key (given on stdin, not on the command line).
    fn nsupdate(&self, commands: &str) {
        let script = format!(
            "server {} {}\nkey {}:{} {}\n{commands}\nsend\n",
            self.addr.ip(),
            self.addr.port(),
            self.algorithm,
            self.key_name,
            self.secret
        );
        let mut child = Command::new("nsupdate")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsupdate (bind9-dnsutils) is part of the test bed");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nsupdate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn env_file_vars() -> HashMap<String, String> {
    let dir = std::env::var_os("CERTSMITH_TESTENV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/testenv"));
    let text = std::fs::read_to_string(dir.join("env")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

/// A short random DNS label.
fn label() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let seed = (
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now(),
    );
    format!(
        "t{:012x}",
        RandomState::new().hash_one(seed) & 0xffff_ffff_ffff
    )
}

/// A value shaped like an ACME DNS-01 digest (43 base64url characters).
fn value() -> String {
    let bytes: Vec<u8> = (0..4)
        .flat_map(|_| RandomState::new().hash_one(label()).to_le_bytes())
        .take(32)
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn state(name: &str, value: &str, ns: &Nameservers) -> PropagationState {
    propagation::check(name, value, ns)
        .await
        .expect("propagation check")
}

async fn assert_propagated(bed: &Bed, name: &str, value: &str) {
    for (how, ns) in [
        ("via NS", bed.via_ns()),
        ("override", bed.overridden()),
        ("recursive", bed.recursive()),
    ] {
        let s = state(name, value, &ns).await;
        assert!(s.is_propagated(), "{how}: {value} at {name}: {s}");
    }
}

async fn assert_absent(bed: &Bed, name: &str, value: &str) {
    for (how, ns) in [
        ("via NS", bed.via_ns()),
        ("override", bed.overridden()),
        ("recursive", bed.recursive()),
    ] {
        match state(name, value, &ns).await {
            PropagationState::Pending { answers } => {
                assert_eq!(answers.len(), 1, "{how}");
                assert!(
                    matches!(
                        answers[0].answer,
                        TxtAnswer::Missing { .. } | TxtAnswer::NxDomain
                    ),
                    "{how}: {:?}",
                    answers[0]
                );
            }
            s => panic!("{how}: {value} still at {name}: {s}"),
        }
    }
}

/// present -> seen -> second value -> cleanup of one leaves the other -> cleanup -> gone.
async fn two_values_lifecycle(protocol: Protocol) {
    let bed = Bed::get();
    let dns = bed.client(protocol);
    let name = bed.fresh_name(&protocol.to_string());
    let (v1, v2) = (value(), value());

    assert_absent(&bed, &name, &v1).await;
    let zone = dns.present(&name, &v1, 60, None).await.expect("present v1");
    assert_eq!(zone, format!("{}.", bed.zone));
    assert_propagated(&bed, &name, &v1).await;

    // The wildcard and its apex: a second value at the same name keeps the first.
    dns.present(&name, &v2, 60, None).await.expect("present v2");
    assert_propagated(&bed, &name, &v1).await;
    assert_propagated(&bed, &name, &v2).await;
    // Presenting again is harmless.
    dns.present(&name, &v2, 60, None)
        .await
        .expect("present v2 again");
    if let Some(values) = bed.dig_txt(&name) {
        let mut want = vec![v1.clone(), v2.clone()];
        want.sort();
        assert_eq!(values, want, "dig after two presents");
    }

    dns.cleanup(&name, &v1, None).await.expect("cleanup v1");
    assert_absent(&bed, &name, &v1).await;
    assert_propagated(&bed, &name, &v2).await;
    match state(&name, &v1, &bed.overridden()).await {
        PropagationState::Pending { answers } => {
            assert_eq!(answers[0].answer, TxtAnswer::Missing { other_values: 1 })
        }
        s => panic!("{s}"),
    }
    if let Some(values) = bed.dig_txt(&name) {
        assert_eq!(values, vec![v2.clone()], "dig after one cleanup");
    }
    // Cleaning up what is gone is success.
    dns.cleanup(&name, &v1, None)
        .await
        .expect("cleanup v1 again");

    dns.cleanup(&name, &v2, None).await.expect("cleanup v2");
    assert_absent(&bed, &name, &v2).await;
    if let Some(values) = bed.dig_txt(&name) {
        assert!(values.is_empty(), "dig after both cleanups: {values:?}");
    }
}

#[tokio::test]
async fn two_values_over_udp() {
    two_values_lifecycle(Protocol::Udp).await;
}

#[tokio::test]
async fn two_values_over_tcp() {
    two_values_lifecycle(Protocol::Tcp).await;
}

#[tokio::test]
async fn the_zone_of_a_deep_name_is_found_and_can_be_given() {
    let bed = Bed::get();
    let dns = bed.client(Protocol::Udp);
    let name = format!("_acme-challenge.a.b.c.{}.{}.", label(), bed.zone);
    let apex = format!("{}.", bed.zone);
    assert_eq!(dns.find_zone(&name).await.expect("find zone"), apex);

    let v = value();
    assert_eq!(
        dns.present(&name, &v, 60, None).await.expect("present"),
        apex
    );
    assert_propagated(&bed, &name, &v).await;
    dns.cleanup(&name, &v, Some(&bed.zone))
        .await
        .expect("cleanup with the zone given");
    assert_absent(&bed, &name, &v).await;

    let e = dns
        .present(&name, &v, 60, Some("elsewhere.test"))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("not inside the zone elsewhere.test."),
        "{e}"
    );
}

/// A wrong key must change nothing and say which setting to check, without the secret.
async fn rejected(bed: &Bed, key: TsigKey, want: &[&str]) {
    let dns = Rfc2136::new(&Rfc2136Config::new(
        &bed.nameserver,
        Some(key),
        Protocol::Udp,
    ))
    .unwrap();
    let name = bed.fresh_name("bad");
    let v = value();
    let e = dns.present(&name, &v, 60, None).await.unwrap_err();
    let text = e.to_string();
    println!("{text}");
    assert!(matches!(e, Dns01Error::UpdateRejected { .. }), "{e:?}");
    for fragment in want {
        assert!(text.contains(fragment), "{text:?} lacks {fragment:?}");
    }
    assert!(text.contains(&bed.nameserver), "{text}");
    assert!(!text.contains(&bed.secret), "secret in {text}");
    assert!(!format!("{e:?}").contains(&bed.secret), "secret in Debug");
    assert!(!e.is_transient());
    assert_absent(bed, &name, &v).await;
    if let Some(values) = bed.dig_txt(&name) {
        assert!(values.is_empty(), "{values:?}");
    }
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_and_changes_nothing() {
    let bed = Bed::get();
    let wrong = base64::engine::general_purpose::STANDARD.encode(value().as_bytes());
    let key = TsigKey::parse(&bed.key_name, &bed.algorithm, &wrong).unwrap();
    rejected(
        &bed,
        key,
        &[
            &format!("TSIG key \"{}\"", bed.key_name),
            "signature invalid",
            "check tsigSecretSecretRef / tsigKeyName / tsigAlgorithm",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_key_name_or_algorithm_is_rejected() {
    let bed = Bed::get();
    let unknown = TsigKey::parse("no-such-key", &bed.algorithm, &bed.secret).unwrap();
    rejected(
        &bed,
        unknown,
        &[
            "\"no-such-key\"",
            "BADKEY",
            "check tsigSecretSecretRef / tsigKeyName / tsigAlgorithm",
        ],
    )
    .await;
    let other_alg = TsigKey::parse(&bed.key_name, "HMACSHA512", &bed.secret).unwrap();
    rejected(
        &bed,
        other_alg,
        &[
            "hmac-sha512",
            "check tsigSecretSecretRef / tsigKeyName / tsigAlgorithm",
        ],
    )
    .await;
}

#[tokio::test]
async fn unsigned_updates_are_refused_with_a_hint() {
    let bed = Bed::get();
    let dns = Rfc2136::new(&Rfc2136Config::new(&bed.nameserver, None, Protocol::Udp)).unwrap();
    let name = bed.fresh_name("unsigned");
    let e = dns.present(&name, &value(), 60, None).await.unwrap_err();
    assert!(
        e.to_string().contains("REFUSED") && e.to_string().contains("set tsigKeyName"),
        "{e}"
    );
}

#[tokio::test]
async fn a_name_outside_the_served_zones_has_no_zone() {
    let bed = Bed::get();
    let dns = bed.client(Protocol::Udp);
    let name = format!("_acme-challenge.{}.not-served.invalid.", label());
    let e = dns.present(&name, &value(), 60, None).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Dns01Error::NoZone { .. }), "{e:?}");
    assert!(
        text.starts_with(&format!("no zone found for {name} on {}", bed.nameserver)),
        "{text}"
    );
    // The propagation check says the same when it looks for the zone through NS records.
    let e = propagation::check(&name, "x", &bed.via_ns())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no zone found for"), "{e}");
}

#[tokio::test]
async fn silence_and_refusal_are_named() {
    let bed = Bed::get();
    // A port nothing listens on (bound and released just now).
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config =
        Rfc2136Config::new(format!("127.0.0.1:{port}"), Some(bed.key()), Protocol::Udp);
    config.timeout = Duration::from_millis(300);
    let dns = Rfc2136::new(&config).unwrap();
    let name = bed.fresh_name("silent");
    let started = Instant::now();
    let e = dns
        .present(&name, &value(), 60, Some(&bed.zone))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("no answer from 127.0.0.1:{port} over udp within 300ms")
    );
    assert!(e.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    config.protocol = Protocol::Tcp;
    let e = Rfc2136::new(&config)
        .unwrap()
        .cleanup(&name, "x", Some(&bed.zone))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot talk to 127.0.0.1:{port} over tcp")),
        "{text}"
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn cname_follow_sets_the_record_at_the_target() {
    let bed = Bed::get();
    let dns = bed.client(Protocol::Udp);
    let l = label();
    let domain = format!("x-{l}.{}", bed.zone);
    let alias = format!("_acme-challenge.{domain}.");
    let target = format!("y-{l}.{}.", bed.zone);
    bed.nsupdate(&format!("update add {alias} 60 CNAME {target}"));

    let resolvers = [bed.addr];
    let got = resolve_record_name(&domain, CnameStrategy::Follow, &resolvers)
        .await
        .expect("follow");
    assert_eq!(got, target);
    assert_eq!(
        resolve_record_name(&format!("*.{domain}"), CnameStrategy::None, &resolvers)
            .await
            .unwrap(),
        alias
    );

    let v = value();
    dns.present(&got, &v, 60, None)
        .await
        .expect("present at the target");
    if let Some(values) = bed.dig_txt(&target) {
        assert_eq!(values, vec![v.clone()]);
    }
    // What the CA sees at the alias: the TXT behind the CNAME.
    assert!(state(&alias, &v, &bed.recursive()).await.is_propagated());
    assert!(state(&target, &v, &bed.via_ns()).await.is_propagated());
    dns.cleanup(&got, &v, None).await.expect("cleanup");
    assert_absent(&bed, &target, &v).await;

    // A loop is refused, not followed forever.
    let (a, b) = (
        format!("_acme-challenge.la-{l}.{}.", bed.zone),
        format!("lb-{l}.{}.", bed.zone),
    );
    bed.nsupdate(&format!(
        "update add {a} 60 CNAME {b}\nupdate add {b} 60 CNAME {a}"
    ));
    let e = resolve_record_name(
        &format!("la-{l}.{}", bed.zone),
        CnameStrategy::Follow,
        &resolvers,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("CNAME loop"), "{e}");

    bed.nsupdate(&format!(
        "update delete {alias} CNAME\nupdate delete {a} CNAME\nupdate delete {b} CNAME"
    ));
    assert_eq!(
        resolve_record_name(&domain, CnameStrategy::Follow, &resolvers)
            .await
            .unwrap(),
        alias,
        "without the CNAME the name stays"
    );
}

/// How long one challenge's DNS work takes against the bed: present, one propagation check
/// (authoritative, through the NS records), cleanup.
#[tokio::test]
async fn timing_of_present_check_cleanup() {
    let bed = Bed::get();
    let dns = bed.client(Protocol::Udp);
    let mut runs = Vec::new();
    for _ in 0..7 {
        let name = bed.fresh_name("timing");
        let v = value();
        let started = Instant::now();
        dns.present(&name, &v, 60, None).await.expect("present");
        assert!(state(&name, &v, &bed.via_ns()).await.is_propagated());
        dns.cleanup(&name, &v, None).await.expect("cleanup");
        runs.push(started.elapsed());
    }
    runs.sort();
    let median = runs[runs.len() / 2];
    println!(
        "{{\"figure\":\"dns01_present_check_cleanup_ms\",\"median\":{:.2},\"min\":{:.2},\"max\":{:.2}}}",
        median.as_secs_f64() * 1e3,
        runs[0].as_secs_f64() * 1e3,
        runs[runs.len() - 1].as_secs_f64() * 1e3
    );
    assert!(median < Duration::from_secs(2), "{median:?}");
}
