//! The test bed is what later tests rely on: a pinned kube-apiserver, Pebble with ARI, and a
//! BIND9 that accepts TSIG-signed dynamic updates and that Pebble resolves against.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{TestBed, run};

#[test]
fn kube_apiserver_runs_the_pinned_version() {
    let bed = TestBed::get();
    let (ok, out, err) = bed.kubectl(&["version", "-o", "json"]);
    assert!(ok, "kubectl version: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("kubectl version JSON");
    let server = v["serverVersion"]["gitVersion"]
        .as_str()
        .expect("server gitVersion");
    println!("kube-apiserver {server}");
    assert_eq!(server, bed.var("KUBERNETES_VERSION"));
}

#[test]
fn pebble_serves_an_acme_directory_with_ari_and_profiles() {
    let bed = TestBed::get();
    let (ok, out, err) = run(Command::new("curl").args([
        "-sSf",
        "--cacert",
        bed.var("ACME_SERVER_CA_FILE"),
        bed.var("ACME_DIRECTORY_URL"),
    ]));
    assert!(ok, "GET the ACME directory: {err}");
    let dir: serde_json::Value = serde_json::from_str(&out).expect("directory JSON");
    for key in ["newAccount", "newNonce", "newOrder", "renewalInfo"] {
        assert!(dir[key].is_string(), "directory lacks {key}: {out}");
    }
    assert!(
        dir["meta"]["profiles"].is_object(),
        "directory offers no profiles: {out}"
    );
    let root = std::fs::read_to_string(bed.var("PEBBLE_ROOT_PEM")).expect("Pebble's issuing root");
    assert!(
        root.starts_with("-----BEGIN CERTIFICATE-----"),
        "PEBBLE_ROOT_PEM is not a PEM certificate"
    );
}

#[test]
fn bind_accepts_tsig_signed_updates_for_the_zone() {
    let bed = TestBed::get();
    let (host, port) = bed
        .var("RFC2136_NAMESERVER")
        .rsplit_once(':')
        .expect("host:port");
    let zone = bed.var("RFC2136_ZONE");
    let name = format!("_acme-challenge.bed-{}.{zone}", std::process::id());
    let key = format!(
        "{}:{}:{}",
        bed.var("RFC2136_TSIG_ALGORITHM"),
        bed.var("RFC2136_TSIG_KEY"),
        bed.var("RFC2136_TSIG_SECRET")
    );
    // Runs one nsupdate operation, TSIG-signed or not; returns whether BIND accepted it.
    let nsupdate = |signed: bool, op: &str| -> bool {
        let mut cmd = Command::new("nsupdate");
        if signed {
            cmd.args(["-y", &key]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsupdate (bind9-dnsutils) runs");
        let script = format!("server {host} {port}\nzone {zone}\nupdate {op}\nsend\n");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("writing to nsupdate");
        child
            .wait_with_output()
            .expect("nsupdate finishes")
            .status
            .success()
    };
    let dig = |rtype: &str, qname: &str| {
        let (ok, out, err) = run(Command::new("dig").args([
            "+short",
            "+time=2",
            "+tries=1",
            &format!("@{host}"),
            "-p",
            port,
            rtype,
            qname,
        ]));
        assert!(ok, "dig {rtype} {qname}: {err}");
        out
    };

    assert!(
        dig("SOA", zone).contains(&format!("ns1.{zone}")),
        "BIND is not authoritative for {zone}"
    );
    assert_eq!(
        dig("A", &format!("anything.{zone}")).trim(),
        "127.0.0.1",
        "wildcard A record"
    );

    let add = format!("add {name} 60 TXT \"bed-check\"");
    assert!(!nsupdate(false, &add), "BIND accepted an unsigned update");
    assert!(nsupdate(true, &add), "BIND refused a TSIG-signed update");
    assert!(
        dig("TXT", &name).contains("bed-check"),
        "the TXT record was not published"
    );
    assert!(
        nsupdate(true, &format!("delete {name} TXT")),
        "deleting the record failed"
    );
    assert!(
        dig("TXT", &name).trim().is_empty(),
        "the TXT record was not removed"
    );
}
