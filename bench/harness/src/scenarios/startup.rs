//! Scenario 5: a fresh controller starting on a cluster with 10,000 Ready Certificates: time to
//! /readyz (every cache synced) and to idle (under 2 % of a CPU for 1 s), the writes of its first
//! 30 s, and whether anything was re-issued.
//!
//! The Certificates are not issued by a controller first (at full scale that took far too long):
//! the runner writes, for each, what certsmith leaves behind after a first issuance (see
//! `crate::seed`), so a controller that finds them must have nothing to do.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::{Bench, report_writes, rss_mib};
use crate::load::{self, certificates, issuers};
use crate::seed::{self, Ca};
use crate::targets::{self, ZERO};
use crate::watch::CertWatch;

const WATCH_WRITES_FOR: Duration = Duration::from_secs(30);
/// Certificates seeded at once.
const SEED_CONCURRENCY: usize = 32;
/// The writes seeding one Certificate takes: the Certificate, its request (created, approved,
/// issued), its Secret, its status (issued, Ready).
const WRITES_PER_CERTIFICATE: usize = 7;
/// The CA Issuer and its Secret (the names the other CA scenarios use).
const ISSUER: &str = "ca";
const CA_SECRET: &str = "bench-root-ca";

pub async fn run(b: &mut Bench) {
    let n = b.n(10_000);
    eprintln!("== startup with {n} Ready Certificates");
    let ns = b.namespace("startup", 0);
    if let Err(e) = load::ensure_namespace(&b.client, &ns).await {
        b.note(format!("startup: {e}"));
        return;
    }
    let watch = CertWatch::start(&b.client, &ns).await;
    match seed_issued(b, &ns, n, &watch).await {
        Ok(()) => {
            for run in 1..=b.runs {
                if let Err(e) = one(b, &watch, run).await {
                    b.note(format!("startup run {run}: {e}"));
                }
            }
        }
        Err(e) => b.note(format!("startup: seeding: {e}")),
    }
    drop(watch);
    let took = load::clean_namespace(&b.client, &ns).await;
    b.fig(
        "bench_namespace_cleanup_seconds",
        "s",
        0,
        took.as_secs_f64(),
        None,
    );
}

/// The existing Certificates: a CA Issuer on a CA Secret of the runner's, and `n` Certificates
/// `s<i>` written as certsmith leaves them after their first issuance. Prints how long it took.
async fn seed_issued(b: &mut Bench, ns: &str, n: usize, watch: &CertWatch) -> Result<(), String> {
    let t0 = Instant::now();
    let cpu0 = b.cpu_of(None);
    let now = jiff::Timestamp::now();
    let ca = Ca::new("bench root", now, Duration::from_secs(365 * 24 * 3600))?;
    seed_issuer(&b.client, ns, &ca).await?;
    let apis = Apis::new(&b.client, ns);
    let results: Vec<Result<(), String>> = futures::stream::iter(0..n)
        .map(|i| {
            let (apis, ca) = (&apis, &ca);
            async move {
                let r = seed::Request {
                    name: format!("s{i}"),
                    secret_name: format!("s{i}-tls"),
                    common_name: None,
                    dns_names: vec![format!("s{i}.example.test")],
                    duration: None,
                    renew_before: None,
                    issuer: ISSUER.to_owned(),
                };
                seed_one(apis, ns, ca, &r)
                    .await
                    .map_err(|e| format!("{}: {e}", r.name))
            }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect()
        .await;
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        return Err(format!(
            "{} of {n} Certificates could not be seeded; the first: {first}",
            failed.len()
        ));
    }
    let written = t0.elapsed();
    if !watch
        .wait_ready(
            "startup: seeded Certificates",
            "s",
            n,
            Duration::from_secs(60),
        )
        .await
    {
        return Err("the watch did not see every seeded Certificate Ready".into());
    }
    let took = t0.elapsed();
    let cpu = b.cpu_of(None).since(cpu0);
    eprintln!(
        "  seeded {n} issued Certificates ({WRITES_PER_CERTIFICATE} writes each, {SEED_CONCURRENCY} at once) in {:.1} s: {:.0} per second; all seen Ready at {:.1} s; CPU seconds: kube-apiserver {:.1}, etcd {:.1}, bench {:.1}",
        written.as_secs_f64(),
        n as f64 / written.as_secs_f64().max(0.001),
        took.as_secs_f64(),
        cpu.apiserver,
        cpu.etcd,
        cpu.bench,
    );
    b.fig(
        "bench_startup_setup_seconds",
        "s",
        1,
        took.as_secs_f64(),
        None,
    );
    Ok(())
}

struct Apis {
    certificates: Api<DynamicObject>,
    requests: Api<DynamicObject>,
    secrets: Api<DynamicObject>,
}

impl Apis {
    fn new(client: &Client, ns: &str) -> Apis {
        let api = |ar| Api::namespaced_with(client.clone(), ns, &ar);
        Apis {
            certificates: api(certificates()),
            requests: api(load::ar(
                "cert-manager.io",
                "CertificateRequest",
                "certificaterequests",
            )),
            secrets: api(load::secrets()),
        }
    }
}

/// Runs a request, retrying overload answers (429, 5xx) and transport errors.
async fn retrying<T, F, Fut>(what: &str, f: F) -> Result<T, String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if load::retryable(&e) && attempts < 8 => {
                tokio::time::sleep(Duration::from_millis(100 * attempts)).await;
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

fn object(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("a valid object")
}

/// Server-side apply as `manager`, forced (as certsmith's controllers apply).
fn apply(manager: &str) -> PatchParams {
    PatchParams::apply(manager).force()
}

/// The CA Secret (made by the runner, like a user's) and the CA Issuer with the Ready status
/// certsmith's issuers controller gives it.
async fn seed_issuer(client: &Client, ns: &str, ca: &Ca) -> Result<(), String> {
    let secrets: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &load::secrets());
    let bytes = |s: &str| k8s_openapi::ByteString(s.as_bytes().to_vec());
    let secret = object(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CA_SECRET},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": bytes(&ca.cert_pem), "tls.key": bytes(&ca.key_pem), "ca.crt": bytes(&ca.cert_pem)},
    }));
    let pp = PostParams::default();
    retrying("the CA Secret", || secrets.create(&pp, &secret)).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &issuers());
    let issuer = object(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": ISSUER},
        "spec": {"ca": {"secretName": CA_SECRET}},
    }));
    let made = retrying("the Issuer", || api.create(&pp, &issuer)).await?;
    let generation = made.metadata.generation.unwrap_or(1);
    let status = Patch::Apply(seed::issuer_ready(
        generation,
        &seed::time(jiff::Timestamp::now()),
    ));
    let by = apply(seed::MANAGER_ISSUERS);
    retrying("the Issuer's status", || {
        api.patch_status(ISSUER, &by, &status)
    })
    .await?;
    Ok(())
}

/// One Certificate as issued: the Certificate, its CertificateRequest of revision 1 (created,
/// approved, issued), its Secret, then its status (issued, then Ready).
async fn seed_one(apis: &Apis, ns: &str, ca: &Ca, r: &seed::Request) -> Result<(), String> {
    let cert = object(seed::certificate(r));
    let pp = PostParams::default();
    let made = retrying("the Certificate", || apis.certificates.create(&pp, &cert)).await?;
    let uid = made.uid().ok_or("the created Certificate has no uid")?;
    let generation = made.metadata.generation.unwrap_or(1);
    let labels = json!(made.labels());
    let issued = seed::issue(ca, r, jiff::Timestamp::now())?;
    let at = seed::time(jiff::Timestamp::now());

    let request_name = format!("{}-1", r.name);
    let key_secret = format!("{}-{}", r.name, ca.suffix());
    let request = object(seed::certificate_request(
        r,
        &uid,
        &labels,
        &issued.csr_pem,
        &key_secret,
    ));
    let request_chain = async {
        let created_as = PostParams {
            dry_run: false,
            field_manager: Some(seed::MANAGER_REQUESTS.into()),
        };
        let made = retrying("the CertificateRequest", || {
            apis.requests.create(&created_as, &request)
        })
        .await?;
        let generation = made.metadata.generation.unwrap_or(1);
        let approved = Patch::Apply(seed::request_approved(generation, &at));
        let by = apply(seed::MANAGER_APPROVER);
        retrying("the CertificateRequest's approval", || {
            apis.requests.patch_status(&request_name, &by, &approved)
        })
        .await?;
        let done = Patch::Apply(seed::request_issued(generation, &at, &issued, &ca.cert_pem));
        let by = apply(seed::MANAGER_CERTIFICATEREQUESTS);
        retrying("the CertificateRequest's status", || {
            apis.requests.patch_status(&request_name, &by, &done)
        })
        .await
    };
    let secret = Patch::Apply(seed::secret(ns, r, &issued, &ca.cert_pem));
    let by_issuing = apply(seed::MANAGER_ISSUING);
    let secret_write = retrying("the Secret", || {
        apis.secrets.patch(&r.secret_name, &by_issuing, &secret)
    });
    futures::try_join!(request_chain, secret_write)?;

    let issued_status = Patch::Apply(seed::certificate_issued(generation, &at));
    retrying("the Certificate's revision", || {
        apis.certificates
            .patch_status(&r.name, &by_issuing, &issued_status)
    })
    .await?;
    let ready = Patch::Apply(seed::certificate_ready(generation, &at, r, &issued));
    let by = apply(seed::MANAGER_READINESS);
    retrying("the Certificate's Ready status", || {
        apis.certificates.patch_status(&r.name, &by, &ready)
    })
    .await?;
    Ok(())
}

async fn one(b: &mut Bench, watch: &CertWatch, run: usize) -> Result<(), String> {
    let before: BTreeMap<String, i64> = watch
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k, v.revision))
        .collect();
    let w0 = b.writes().await;
    let mut c = b.controller(&format!("startup-{run}"), &[]).await?;
    let ready = c.wait_ready(Duration::from_secs(120)).await;
    match ready {
        Some(t) => b.fig(
            "startup_ready_seconds",
            "s",
            run,
            t.as_secs_f64(),
            Some(targets::STARTUP_SECONDS),
        ),
        None => b.note(format!("startup run {run}: /readyz never answered 200")),
    }
    match c
        .sampler
        .wait_idle(Duration::from_secs(1), 0.02, Duration::from_secs(120))
        .await
    {
        Some(t) => b.fig(
            "startup_idle_seconds",
            "s",
            run,
            t.as_secs_f64(),
            Some(targets::STARTUP_SECONDS),
        ),
        None => b.note(format!(
            "startup run {run}: the controller did not go idle within 120 s"
        )),
    }
    let cpu = c.sampler.last().map(|s| s.reading.cpu_ticks).unwrap_or(0) as f64
        / crate::procfs::ticks_per_second() as f64;
    b.fig("startup_cpu_seconds_controller", "s", run, cpu, None);
    b.fig("startup_rss_mib", "MiB", run, rss_mib(&c), None);
    if let Some(rest) = WATCH_WRITES_FOR.checked_sub(c.started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let delta = b.writes().await.since(&w0);
    let att = report_writes(
        &format!("startup run {run}, first 30 s"),
        &delta,
        &BTreeMap::new(),
        before.len() as f64,
    );
    b.fig(
        "startup_writes_first_30s",
        "writes",
        run,
        att.controller_total() as f64,
        Some(ZERO),
    );
    let after = watch.snapshot();
    let reissued = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|r| *r != v.revision) || !v.ready)
        .count();
    b.fig(
        "startup_reissued_certificates",
        "count",
        run,
        reissued as f64,
        Some(ZERO),
    );
    c.stop().await;
    Ok(())
}
