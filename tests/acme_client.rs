//! The ACME client layer (`certsmith::acme`) against the test bed's real Pebbles and BIND:
//! accounts, External Account Binding, a dns-01 issuance end to end (TXT record set with
//! `nsupdate`, chain checked with `openssl verify`), errors, preferredChain, and 40 % nonce
//! rejection. Every test uses its own random names and keys, so they run in parallel.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, KeyPair};

use certsmith::acme::{
    AccountCache, AcmeAccount, AcmeError, AcmeRequestStats, Action, ErrorClass,
    ExternalAccountBinding, HttpOptions, Identifier, OrderSnapshot, Registration, ServerConfig,
    account_key_hash, generate_account_key,
};
use certsmith::api::{AcmeState, HmacKeyAlgorithm};
use support::values::random_label;
use support::{TestBed, run};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The bed's default Pebble, trusted through its listener CA (the Issuer's caBundle).
fn pebble(bed: &TestBed) -> ServerConfig {
    ServerConfig {
        directory_url: bed.var("ACME_DIRECTORY_URL").to_owned(),
        ca_bundle: Some(read(bed.var("ACME_SERVER_CA_FILE"))),
        skip_tls_verify: false,
    }
}

/// The strict Pebble: EAB required, 40 % of nonces rejected, one alternate chain.
fn strict_pebble(bed: &TestBed) -> ServerConfig {
    ServerConfig {
        directory_url: bed.var("ACME_STRICT_DIRECTORY_URL").to_owned(),
        ..pebble(bed)
    }
}

fn strict_eab(bed: &TestBed, algorithm: HmacKeyAlgorithm) -> ExternalAccountBinding {
    ExternalAccountBinding::new(
        bed.var("ACME_STRICT_EAB_KEY_ID"),
        bed.var("ACME_STRICT_EAB_HMAC_KEY").as_bytes(),
        algorithm,
    )
    .expect("the bed's EAB key decodes")
}

fn zone(bed: &TestBed) -> String {
    bed.var("RFC2136_ZONE").to_owned()
}

/// Test-only plumbing: adds (or deletes) a TXT record with the bed's TSIG key via nsupdate.
fn nsupdate_txt(bed: &TestBed, name: &str, value: &str, add: bool) {
    let (host, port) = bed
        .var("RFC2136_NAMESERVER")
        .rsplit_once(':')
        .expect("host:port");
    let key_file = format!("{}/bind/tsig.key", bed.var("CERTSMITH_TESTENV_DIR"));
    let verb = if add { "add" } else { "delete" };
    let script = format!(
        "server {host} {port}\nzone {}\nupdate {verb} {name}. 60 TXT \"{value}\"\nsend\n",
        zone(bed)
    );
    let mut child = Command::new("nsupdate")
        .args(["-k", &key_file])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running nsupdate");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nsupdate {verb} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn register(
    server: &ServerConfig,
    key_pem: &[u8],
    email: Option<&str>,
    eab: Option<&ExternalAccountBinding>,
    stats: &AcmeRequestStats,
) -> Result<AcmeAccount, AcmeError> {
    let reg = Registration {
        server,
        key_pem,
        email,
        eab,
        known_account_url: None,
    };
    AcmeAccount::register(&reg, stats).await
}

/// Polls `f` every 50 ms until `done`, at most 30 s; returns the last value and the number of
/// calls.
async fn poll<T, F, Fut>(what: &str, mut f: F, done: impl Fn(&T) -> bool) -> (T, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AcmeError>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut calls = 0;
    loop {
        calls += 1;
        let v = f().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        if done(&v) {
            return (v, calls);
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What one issuance did: the chain and the polls it needed.
struct Issued {
    chain: String,
    challenge_polls: u64,
    order_polls: u64,
}

/// One dns-01 issuance for `name`, driven the way the controllers will: new order ->
/// authorization -> TXT record -> accept -> challenge valid -> finalize -> order valid -> chain.
async fn issue_dns01(
    bed: &TestBed,
    account: &AcmeAccount,
    name: &str,
    preferred_chain: Option<&str>,
) -> Issued {
    let order = account
        .new_order(&[Identifier::Dns(name.to_owned())], None, None)
        .await
        .expect("new order");
    assert_eq!(order.state, AcmeState::Pending);
    assert_eq!(order.identifiers, vec![Identifier::Dns(name.to_owned())]);
    assert_eq!(order.authorization_urls.len(), 1);

    let authz = account
        .authorization(&order.authorization_urls[0])
        .await
        .expect("authorization");
    assert_eq!(authz.identifier, Identifier::Dns(name.to_owned()));
    assert!(!authz.wildcard);
    assert_eq!(authz.state, AcmeState::Pending);
    let challenge = authz
        .challenge("dns-01")
        .expect("a dns-01 challenge")
        .clone();
    assert_eq!(challenge.state, AcmeState::Pending);
    assert!(!challenge.token.is_empty());

    let record = format!("_acme-challenge.{name}");
    let value = account.dns01_txt_value(&challenge.token);
    nsupdate_txt(bed, &record, &value, true);

    account
        .accept_challenge(&challenge.url)
        .await
        .expect("accept challenge");
    let (done, challenge_polls) = poll(
        "challenge validation",
        || account.challenge(&challenge.url),
        |c| matches!(c.state, AcmeState::Valid | AcmeState::Invalid),
    )
    .await;
    assert_eq!(
        done.state,
        AcmeState::Valid,
        "challenge error: {:?}",
        done.error
    );
    nsupdate_txt(bed, &record, &value, false);

    let key = KeyPair::generate().expect("certificate key");
    let csr = CertificateParams::new(vec![name.to_owned()])
        .expect("CSR params")
        .serialize_request(&key)
        .expect("CSR");
    let finalized = account
        .finalize(&order.url, &order.finalize_url, csr.der())
        .await
        .expect("finalize");
    let (order_polls, valid) = if finalized.state == AcmeState::Valid {
        (0, finalized)
    } else {
        let (valid, polls) = poll(
            "order issuance",
            || account.order(&order.url),
            |o: &OrderSnapshot| matches!(o.state, AcmeState::Valid | AcmeState::Invalid),
        )
        .await;
        (polls, valid)
    };
    assert_eq!(
        valid.state,
        AcmeState::Valid,
        "order error: {:?}",
        valid.error
    );
    let cert_url = valid.certificate_url.expect("a certificate URL");
    let chain = account
        .certificate(&cert_url, preferred_chain)
        .await
        .expect("certificate");
    Issued {
        chain,
        challenge_polls,
        order_polls,
    }
}

/// `openssl verify` of the chain's leaf against `root`, with the rest of the chain untrusted.
fn openssl_verify(chain: &str, root: &str) -> (bool, String) {
    let certs: Vec<String> = chain
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|c| c.contains("BEGIN CERTIFICATE"))
        .map(|c| c.trim_start().to_owned() + "\n")
        .collect();
    assert!(certs.len() >= 2, "a leaf and at least one intermediate");
    let dir: PathBuf = std::env::temp_dir().join(format!("certsmith-acme-{}", random_label()));
    std::fs::create_dir_all(&dir).unwrap();
    let leaf = dir.join("leaf.pem");
    let untrusted = dir.join("intermediates.pem");
    std::fs::write(&leaf, &certs[0]).unwrap();
    std::fs::write(&untrusted, certs[1..].concat()).unwrap();
    let (ok, out, err) = run(Command::new("openssl").args([
        "verify",
        "-CAfile",
        root,
        "-untrusted",
        untrusted.to_str().unwrap(),
        leaf.to_str().unwrap(),
    ]));
    let _ = std::fs::remove_dir_all(&dir);
    (ok, format!("{out}{err}"))
}

fn subject_cn(pem_file: &str) -> String {
    let (ok, out, err) = run(Command::new("openssl").args([
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "multiline",
        "-in",
        pem_file,
    ]));
    assert!(ok, "{err}");
    out.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("commonName")
                .map(|v| v.trim_start_matches([' ', '=']).trim().to_owned())
        })
        .expect("a CN")
}

fn count(stats: &AcmeRequestStats, action: Action) -> u64 {
    stats.by_action().get(&action).copied().unwrap_or(0)
}

// ------------------------------------------------------------------------------------ tests

#[tokio::test]
async fn register_is_idempotent_per_key_and_cached() {
    let bed = TestBed::get();
    let server = pebble(&bed);
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();
    let email = format!("{}@example.com", random_label());

    let first = register(&server, key.as_bytes(), Some(&email), None, &stats)
        .await
        .expect("register");
    assert!(
        first.url().starts_with("https://127.0.0.1:"),
        "{}",
        first.url()
    );
    assert_eq!(first.contact(), [format!("mailto:{email}")]);
    assert_eq!(first.key_hash(), account_key_hash(key.as_bytes()).unwrap());
    // Fresh account: directory, newNonce, newAccount.
    assert_eq!(stats.total(), 3, "{:?}", stats.by_action());

    let again = register(&server, key.as_bytes(), Some(&email), None, &stats)
        .await
        .expect("register again");
    assert_eq!(again.url(), first.url(), "same key, same account");

    // A known URL: only looked up, no EAB or contact needed.
    let reg = Registration {
        server: &server,
        key_pem: key.as_bytes(),
        email: Some(&email),
        eab: None,
        known_account_url: Some(first.url()),
    };
    let known = AcmeAccount::register(&reg, &stats).await.expect("lookup");
    assert_eq!(known.url(), first.url());

    // A new email updates the existing account's contact.
    let new_email = format!("{}@example.org", random_label());
    let updated = register(&server, key.as_bytes(), Some(&new_email), None, &stats)
        .await
        .expect("register with a new email");
    assert_eq!(updated.url(), first.url());
    assert_eq!(updated.contact(), [format!("mailto:{new_email}")]);
    assert_eq!(count(&stats, Action::Account), 1, "one contact update");

    // instant-acme's Account is the same account, on our transport.
    assert_eq!(first.instant_acme().id(), first.url());
    assert_eq!(first.instant_acme().key_thumbprint(), first.key_hash());

    // The cache registers once per key/email/server and then answers from memory.
    let cache = AccountCache::new();
    let reg = Registration {
        known_account_url: None,
        email: Some(&new_email),
        ..reg
    };
    let before = stats.total();
    let a = cache
        .get_or_register(&reg, &stats)
        .await
        .expect("cache miss");
    let after_miss = stats.total();
    let b = cache
        .get_or_register(&reg, &stats)
        .await
        .expect("cache hit");
    assert_eq!(stats.total(), after_miss, "a cache hit makes no request");
    assert_eq!(after_miss - before, 3);
    assert_eq!((a.url(), b.url()), (first.url(), first.url()));
    let other_email = Registration { email: None, ..reg };
    cache.get_or_register(&other_email, &stats).await.unwrap();
    assert_eq!(cache.len(), 2, "another email is another entry");
    cache.forget(server.directory_url.as_str(), first.key_hash());
    assert!(cache.is_empty());
}

#[tokio::test]
async fn dns01_issuance_end_to_end_and_its_request_count() {
    let bed = TestBed::get();
    let server = pebble(&bed);
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();
    let started = Instant::now();
    let account = register(&server, key.as_bytes(), None, None, &stats)
        .await
        .expect("register");
    let account_requests = stats.total();

    let name = format!("{}.{}", random_label(), zone(&bed));
    let issued = issue_dns01(&bed, &account, &name, None).await;
    let issuance_requests = stats.total() - account_requests;

    let (ok, out) = openssl_verify(&issued.chain, bed.var("PEBBLE_ROOT_PEM"));
    assert!(ok, "openssl verify: {out}");
    let leaf = certsmith::pki::inspect::parse_certificates_pem(issued.chain.as_bytes()).unwrap();
    assert_eq!(leaf[0].dns_names, vec![name.clone()]);

    // Exactly what the flow sent: one of each step, the polls it needed, and no newNonce
    // (the pool always held the last response's nonce). No badNonce on this Pebble.
    let by_action = stats.by_action();
    assert_eq!(count(&stats, Action::NewOrder), 1);
    assert_eq!(count(&stats, Action::Authorization), 1);
    assert_eq!(count(&stats, Action::Challenge), 1 + issued.challenge_polls);
    assert_eq!(count(&stats, Action::Finalize), 1);
    assert_eq!(count(&stats, Action::Order), issued.order_polls);
    assert_eq!(count(&stats, Action::Certificate), 1);
    assert_eq!(
        count(&stats, Action::NewNonce),
        1,
        "only the registration's: {by_action:?}"
    );
    assert_eq!(
        issuance_requests,
        5 + issued.challenge_polls + issued.order_polls,
        "{by_action:?}"
    );
    assert!(
        stats
            .snapshot()
            .iter()
            .all(|(l, _)| l.status.starts_with('2'))
    );

    // One more issuance on the same (cached) account.
    let before = stats.total();
    let name2 = format!("{}.{}", random_label(), zone(&bed));
    let second = issue_dns01(&bed, &account, &name2, None).await;
    let cached_requests = stats.total() - before;
    assert_eq!(
        cached_requests,
        5 + second.challenge_polls + second.order_polls
    );
    println!(
        "{{\"figure\":\"acme_requests_per_dns01_issuance\",\"fresh_account\":{},\"cached_account\":{},\"account_requests\":{},\"challenge_polls\":[{},{}],\"order_polls\":[{},{}],\"seconds\":{:.2}}}",
        account_requests + issuance_requests,
        cached_requests,
        account_requests,
        issued.challenge_polls,
        second.challenge_polls,
        issued.order_polls,
        second.order_polls,
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn unreachable_or_untrusted_servers_are_retryable_with_clear_messages() {
    let bed = TestBed::get();
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();

    // Nothing listens on port 1.
    let nowhere = ServerConfig::new("https://127.0.0.1:1/dir");
    let err = register(&nowhere, key.as_bytes(), None, None, &stats)
        .await
        .expect_err("no server there");
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    assert_eq!(err.action(), Action::Directory);
    let msg = err.to_string();
    assert!(msg.contains("https://127.0.0.1:1/dir"), "{msg}");
    assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
    let failed = stats.snapshot();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0.status, "error");

    // A blackholed address: the connect timeout ends it.
    let options = HttpOptions {
        connect_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_secs(5),
    };
    let blackhole = ServerConfig::new("https://10.255.255.1/dir");
    let reg = Registration {
        server: &blackhole,
        key_pem: key.as_bytes(),
        email: None,
        eab: None,
        known_account_url: None,
    };
    let t0 = Instant::now();
    let err = AcmeAccount::register_with(&reg, &stats, options)
        .await
        .expect_err("unroutable");
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());

    // Pebble without its CA: untrusted, and the message says where to put the CA.
    let untrusted = ServerConfig::new(bed.var("ACME_DIRECTORY_URL"));
    let err = register(&untrusted, key.as_bytes(), None, None, &stats)
        .await
        .expect_err("Pebble's listener CA is not a platform root");
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert!(err.to_string().contains("spec.acme.caBundle"), "{err}");

    // skipTLSVerify: the user's choice, honoured.
    let skip = ServerConfig {
        skip_tls_verify: true,
        ..ServerConfig::new(bed.var("ACME_DIRECTORY_URL"))
    };
    register(&skip, key.as_bytes(), None, None, &stats)
        .await
        .expect("skipTLSVerify connects");

    // Not a directory (Pebble's management API serves PEM there): terminal, says what is wrong.
    let not_dir = ServerConfig {
        directory_url: format!("{}/roots/0", bed.var("PEBBLE_MGMT_URL")),
        ..pebble(&bed)
    };
    let err = register(&not_dir, key.as_bytes(), None, None, &stats)
        .await
        .expect_err("not an ACME directory");
    assert_eq!(err.class(), ErrorClass::Terminal);
    assert!(
        err.to_string().contains("is not an ACME directory"),
        "{err}"
    );
}

#[tokio::test]
async fn blocked_domain_is_a_terminal_rejected_identifier() {
    let bed = TestBed::get();
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();
    let account = register(&pebble(&bed), key.as_bytes(), None, None, &stats)
        .await
        .expect("register");
    let blocked = bed.var("PEBBLE_BLOCKED_DOMAIN");
    let err = account
        .new_order(&[Identifier::Dns(blocked.to_owned())], None, None)
        .await
        .expect_err("blocked by policy");
    assert!(matches!(err, AcmeError::Terminal(_)), "{err:?}");
    assert!(err.is_problem("rejectedIdentifier"), "{err:?}");
    assert_eq!(err.action(), Action::NewOrder);
    let problem = err.problem().unwrap();
    assert!(!problem.detail.is_empty());
    assert!(err.to_string().contains("rejectedIdentifier"), "{err}");
}

#[tokio::test]
async fn profiles_not_after_and_ip_orders() {
    let bed = TestBed::get();
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();
    let account = register(&pebble(&bed), key.as_bytes(), None, None, &stats)
        .await
        .expect("register");
    let name = format!("{}.{}", random_label(), zone(&bed));

    let order = account
        .new_order(&[Identifier::Dns(name.clone())], Some("shortlived"), None)
        .await
        .expect("order with a profile");
    assert_eq!(order.profile.as_deref(), Some("shortlived"));

    let before = stats.total();
    let err = account
        .new_order(
            &[Identifier::Dns(name.clone())],
            Some("no-such-profile"),
            None,
        )
        .await
        .expect_err("unknown profile");
    assert_eq!(err.class(), ErrorClass::Terminal);
    assert!(
        err.to_string().contains("\"default\", \"shortlived\""),
        "{err}"
    );
    assert_eq!(stats.total(), before, "refused before sending");

    let not_after = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    let order = account
        .new_order(&[Identifier::Dns(name)], None, Some(not_after))
        .await
        .expect("order with notAfter");
    assert_eq!(order.state, AcmeState::Pending);

    let order = account
        .new_order(&[Identifier::Ip("127.0.0.1".parse().unwrap())], None, None)
        .await
        .expect("IP order");
    let authz = account
        .authorization(&order.authorization_urls[0])
        .await
        .unwrap();
    assert_eq!(
        authz.identifier,
        Identifier::Ip("127.0.0.1".parse().unwrap())
    );
    assert!(
        authz.challenge("dns-01").is_none(),
        "no dns-01 for IP identifiers"
    );

    // instant-acme's Account reads the same order through our transport (its newNonce is
    // answered from our nonce pool: no request).
    let nonces = count(&stats, Action::NewNonce);
    let state = account
        .instant_acme()
        .order(order.url.clone())
        .await
        .expect("instant-acme reads the order");
    assert_eq!(state.url(), order.url);
    assert_eq!(count(&stats, Action::NewNonce), nonces);
    // No nonce was used twice (instant-acme keeps the nonces of its responses to itself).
    account.order(&order.url).await.expect("order");
    account.order(&order.url).await.expect("order");
    let rejected: Vec<_> = stats
        .snapshot()
        .into_iter()
        .filter(|(l, _)| !l.status.starts_with('2'))
        .collect();
    assert!(rejected.is_empty(), "{rejected:?}");
}

#[tokio::test]
async fn eab_required_clear_errors_then_success() {
    let bed = TestBed::get();
    let server = strict_pebble(&bed);
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();

    let err = register(&server, key.as_bytes(), None, None, &stats)
        .await
        .expect_err("EAB required");
    assert_eq!(err.class(), ErrorClass::Terminal, "{err}");
    assert!(err.is_problem("externalAccountRequired"), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("requires External Account Binding"), "{msg}");
    assert!(msg.contains("spec.acme.externalAccountBinding"), "{msg}");

    // A wrong HMAC key (valid base64url, not the CA's).
    let wrong_key = ExternalAccountBinding::new(
        bed.var("ACME_STRICT_EAB_KEY_ID"),
        b"d3JvbmctaG1hYy1rZXktd3JvbmctaG1hYy1rZXktISE",
        HmacKeyAlgorithm::HS256,
    )
    .unwrap();
    let err = register(&server, key.as_bytes(), None, Some(&wrong_key), &stats)
        .await
        .expect_err("wrong HMAC key");
    assert_eq!(err.class(), ErrorClass::Terminal, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("rejected the External Account Binding"),
        "{msg}"
    );
    assert!(msg.contains(bed.var("ACME_STRICT_EAB_KEY_ID")), "{msg}");
    assert!(!msg.contains(bed.var("ACME_STRICT_EAB_HMAC_KEY")), "{msg}");

    // An unknown key ID.
    let wrong_kid = ExternalAccountBinding::new(
        "no-such-kid",
        bed.var("ACME_STRICT_EAB_HMAC_KEY").as_bytes(),
        HmacKeyAlgorithm::HS256,
    )
    .unwrap();
    let err = register(&server, key.as_bytes(), None, Some(&wrong_kid), &stats)
        .await
        .expect_err("unknown key ID");
    assert!(err.to_string().contains("\"no-such-kid\""), "{err}");

    // The right binding, each MAC algorithm. The bed's first key has 32 bytes: too short for
    // HS384/HS512 (RFC 7518 §3.2), so HS256 is sent, as cert-manager always does; its second key
    // has 64 bytes and gets the algorithm asked for.
    let long = |alg| {
        ExternalAccountBinding::new(
            bed.var("ACME_STRICT_EAB2_KEY_ID"),
            bed.var("ACME_STRICT_EAB2_HMAC_KEY").as_bytes(),
            alg,
        )
        .unwrap()
    };
    let bindings = [
        (
            strict_eab(&bed, HmacKeyAlgorithm::HS256),
            HmacKeyAlgorithm::HS256,
        ),
        (
            strict_eab(&bed, HmacKeyAlgorithm::HS512),
            HmacKeyAlgorithm::HS256,
        ),
        (long(HmacKeyAlgorithm::HS384), HmacKeyAlgorithm::HS384),
        (long(HmacKeyAlgorithm::HS512), HmacKeyAlgorithm::HS512),
    ];
    let mut urls = Vec::new();
    for (eab, sent) in &bindings {
        assert_eq!(eab.effective_algorithm(), *sent);
        let key = generate_account_key().unwrap();
        let account = register(
            &server,
            key.as_bytes(),
            Some("eab@example.com"),
            Some(eab),
            &stats,
        )
        .await
        .unwrap_or_else(|e| panic!("{eab:?}: {e}"));
        assert!(account.external_account_required());
        // Once bound, the key finds its account without EAB.
        let again = register(
            &server,
            key.as_bytes(),
            Some("eab@example.com"),
            None,
            &stats,
        )
        .await
        .expect("existing account, no EAB needed");
        assert_eq!(again.url(), account.url());
        urls.push(account.url().to_owned());
    }
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), bindings.len());
}

#[tokio::test]
async fn strict_pebble_full_issuance_despite_nonce_rejects_and_preferred_chain() {
    let bed = TestBed::get();
    let server = strict_pebble(&bed);
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();
    let account = register(
        &server,
        key.as_bytes(),
        None,
        Some(&strict_eab(&bed, HmacKeyAlgorithm::HS256)),
        &stats,
    )
    .await
    .expect("register despite badNonce");

    // Default chain (no preference): verifies against the default root.
    let name = format!("{}.{}", random_label(), zone(&bed));
    let issued = issue_dns01(&bed, &account, &name, None).await;
    let (ok, out) = openssl_verify(&issued.chain, bed.var("PEBBLE_STRICT_ROOT_PEM"));
    assert!(ok, "default chain: {out}");

    // preferredChain naming the alternate root: the alternate chain, which verifies against
    // the alternate root only.
    let alternate_root = bed.var("PEBBLE_STRICT_ALTERNATE_ROOT_PEM");
    let preferred = subject_cn(alternate_root);
    let name = format!("{}.{}", random_label(), zone(&bed));
    let issued = issue_dns01(&bed, &account, &name, Some(&preferred)).await;
    let (ok, out) = openssl_verify(&issued.chain, alternate_root);
    assert!(ok, "preferred chain {preferred:?}: {out}");
    let (ok, _) = openssl_verify(&issued.chain, bed.var("PEBBLE_STRICT_ROOT_PEM"));
    assert!(!ok, "the alternate chain does not lead to the default root");

    // A preference no chain matches: the default.
    let name = format!("{}.{}", random_label(), zone(&bed));
    let issued = issue_dns01(&bed, &account, &name, Some("No Such Root")).await;
    let (ok, out) = openssl_verify(&issued.chain, bed.var("PEBBLE_STRICT_ROOT_PEM"));
    assert!(ok, "fallback to default: {out}");

    let rejected: u64 = stats
        .snapshot()
        .iter()
        .filter(|(l, _)| l.status == "400")
        .map(|(_, t)| t.count)
        .sum();
    println!(
        "{{\"figure\":\"strict_pebble_bad_nonce_retries\",\"rejected\":{rejected},\"total_requests\":{}}}",
        stats.total()
    );
    assert!(
        rejected > 0,
        "Pebble rejected no nonce in {} requests?",
        stats.total()
    );
}

#[tokio::test]
async fn preferred_chain_without_alternates_keeps_the_default() {
    // The default bed's Pebble serves no alternate chains (PEBBLE_ALTERNATE_ROOTS unset): a
    // preference costs no extra request and yields the default chain.
    let bed = TestBed::get();
    let stats = AcmeRequestStats::new();
    let key = generate_account_key().unwrap();
    let account = register(&pebble(&bed), key.as_bytes(), None, None, &stats)
        .await
        .expect("register");
    let name = format!("{}.{}", random_label(), zone(&bed));
    let issued = issue_dns01(&bed, &account, &name, Some("Some Other Root")).await;
    assert_eq!(count(&stats, Action::Certificate), 1);
    let (ok, out) = openssl_verify(&issued.chain, bed.var("PEBBLE_ROOT_PEM"));
    assert!(ok, "{out}");
}
