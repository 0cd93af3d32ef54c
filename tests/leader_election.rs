//! Two replicas, one Lease: only the leader reconciles, a standby takes over when the leader
//! dies (within the lease duration) and at once when it shuts down (SIGTERM releases the
//! Lease). Real controller processes on the bed, with short lease settings.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;

use certsmith::api::Certificate;
use support::certs::{apply_certificate, create_selfsigned_issuer, wait_ready_at};
use support::{
    ControllerProcess, TestBed, delete_namespace, eventually, fresh_namespace, http_get,
    install_crds,
};

const LEASE: &str = "certsmith-controller";
const LEASE_SECONDS: u64 = 4;

fn args(ns: &str) -> Vec<String> {
    [
        "--namespace",
        ns,
        "--leader-elect=true",
        "--leader-election-namespace",
        ns,
        "--leader-election-lease-duration=4s",
        "--leader-election-renew-deadline=3s",
        "--leader-election-retry-period=1s",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn start(bed: &TestBed, ns: &str, name: &str) -> ControllerProcess {
    let args = args(ns);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ControllerProcess::start(bed, &format!("leader-{ns}-{name}"), &args)
}

/// The pid at the end of the Lease's holder identity (`<host>_<pid>`), if held.
async fn holder_pid(leases: &Api<Lease>) -> Option<u32> {
    let lease = leases.get(LEASE).await.ok()?;
    let holder = lease.spec?.holder_identity.filter(|h| !h.is_empty())?;
    holder.rsplit('_').next()?.parse().ok()
}

async fn certificate_ready(certs: &Api<Certificate>, name: &str) {
    apply_certificate(
        certs,
        name,
        serde_json::json!({
            "secretName": format!("{name}-tls"), "dnsNames": [format!("{name}.example.test")],
            "issuerRef": {"name": "selfsigned"},
        }),
    )
    .await;
    wait_ready_at(certs, name, 1).await;
}

#[tokio::test]
async fn one_leader_reconciles_and_a_standby_takes_over() {
    let bed = TestBed::get();
    let client = bed.client().await;
    install_crds(&client).await;
    let ns = fresh_namespace(&client, "leader").await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    create_selfsigned_issuer(&client, &ns, "selfsigned").await;

    let mut a = start(&bed, &ns, "a");
    let mut b = start(&bed, &ns, "b");
    let leader_pid = eventually(Duration::from_secs(30), "a leader Lease holder", || async {
        holder_pid(&leases).await
    })
    .await;
    assert!(
        [a.pid(), b.pid()].contains(&leader_pid),
        "holder {leader_pid} is one of ours"
    );
    let (leader, standby) = if a.pid() == leader_pid {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    certificate_ready(&certs, "first").await;
    // Only the leader reconciled: the standby never ran a reconcile.
    assert!(
        leader.log_text().contains("reconcile{controller="),
        "the leader reconciles"
    );
    assert!(
        !standby.log_text().contains("reconcile{controller="),
        "the standby must not reconcile:\n{}",
        standby.log_text()
    );
    let standby_probes = standby.listen_address("health probe").await;
    let (status, body) = http_get(standby_probes, "/readyz");
    assert_eq!(
        (status, body.trim()),
        (
            200,
            "ok: standby (not the leader; campaigning for the Lease)"
        )
    );
    let (_, metrics) = http_get(standby.listen_address("metrics").await, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == "certsmith_leader_election_leader 0")
    );

    // The leader dies without releasing: the standby takes over once the lease expires.
    let killed = Instant::now();
    leader.kill9();
    let new_pid = eventually(
        Duration::from_secs(20),
        "the standby holding the Lease",
        || async { holder_pid(&leases).await.filter(|p| *p == standby.pid()) },
    )
    .await;
    let failover = killed.elapsed();
    eprintln!(
        "failover after SIGKILL: {:.2} s (lease duration {LEASE_SECONDS} s)",
        failover.as_secs_f64()
    );
    assert_eq!(new_pid, standby.pid());
    assert!(
        failover <= Duration::from_secs(LEASE_SECONDS + 2),
        "takeover took {failover:?}, more than the lease duration plus a retry"
    );
    certificate_ready(&certs, "second").await;

    // The killed replica comes back as the standby; SIGTERM on the leader releases the Lease
    // at once and the standby takes over well before the lease would have expired.
    leader.restart();
    let restarted_pid = leader.pid();
    eventually(
        Duration::from_secs(30),
        "the restarted replica campaigning",
        || async {
            leader
                .log_text()
                .matches("waiting to become the leader")
                .count()
                .ge(&2)
                .then_some(())
        },
    )
    .await;
    let stopping = Instant::now();
    let status = standby
        .terminate(Duration::from_secs(20))
        .expect("the leader exits on SIGTERM");
    assert!(
        status.success(),
        "graceful shutdown exits 0: {status:?}\n{}",
        standby.log_text()
    );
    assert!(
        standby.log_text().contains("leader Lease released"),
        "{}",
        standby.log_text()
    );
    eventually(
        Duration::from_secs(10),
        "the restarted replica holding the Lease",
        || async { holder_pid(&leases).await.filter(|p| *p == restarted_pid) },
    )
    .await;
    let handover = stopping.elapsed();
    eprintln!("handover after SIGTERM: {:.2} s", handover.as_secs_f64());
    assert!(
        handover < Duration::from_secs(LEASE_SECONDS),
        "a released Lease is taken at once, not after expiry: {handover:?}"
    );
    certificate_ready(&certs, "third").await;
    drop((a, b));
    delete_namespace(&client, &ns).await;
}
