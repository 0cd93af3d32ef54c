//! Scenario 4: single-name ACME Certificates against the bed's Pebble (PEBBLE_VA_NOSLEEP=1),
//! 50 over http-01 (solver Pods run by the bed's solver host) then 20 over dns-01 (RFC 2136 to
//! BIND), each batch applied at once: apply-to-Ready per Certificate, and the ACME requests per
//! issuance from the controller's own `certmanager_http_acme_client_request_count`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;

use super::{Bench, latencies, p50_p99, settle};
use crate::controller::{Controller, counter_by_label};
use crate::load::{self, certificates};
use crate::targets::{self, Target};
use crate::watch::CertWatch;

const ACME_REQUESTS: &str = "certmanager_http_acme_client_request_count";

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (source the bed's env)"))
}

pub async fn run(b: &mut Bench) {
    let batches = [
        ("http01", b.n(50), "h", targets::HTTP01_MEDIAN_SECONDS),
        ("dns01", b.n(20), "d", targets::DNS01_MEDIAN_SECONDS),
    ];
    eprintln!(
        "== ACME on Pebble: {} http-01 then {} dns-01 Certificates, each batch at once",
        batches[0].1, batches[1].1
    );
    for run in 1..=b.runs {
        if let Err(e) = one(b, run, &batches).await {
            b.note(format!("acme run {run}: {e}"));
        }
    }
}

async fn one(
    b: &mut Bench,
    run: usize,
    batches: &[(&str, usize, &str, Target)],
) -> Result<(), String> {
    let ns = b.namespace("acme", run);
    load::ensure_namespace(&b.client, &ns)
        .await
        .map_err(|e| e.to_string())?;
    let nameserver = env("RFC2136_NAMESERVER")?;
    let extra = [
        "--dns01-recursive-nameservers".to_owned(),
        nameserver.clone(),
        "--dns01-recursive-nameservers-only".to_owned(),
        "--acme-http01-self-check-port".to_owned(),
        env("HTTP01_PORT")?,
    ];
    let mut c = b.ready_controller(&format!("acme-{run}"), &extra).await?;
    let result = measure(b, &mut c, &ns, run, batches, &nameserver).await;
    b.finish(c, &ns, run).await;
    result
}

async fn measure(
    b: &mut Bench,
    c: &mut Controller,
    ns: &str,
    run: usize,
    batches: &[(&str, usize, &str, Target)],
    nameserver: &str,
) -> Result<(), String> {
    issuer(b, ns, nameserver).await?;
    let watch = CertWatch::start(&b.client, ns).await;
    let zone = env("RFC2136_ZONE")?;
    for &(solver, n, prefix, target) in batches {
        let before = c
            .metrics()
            .await
            .ok_or("the controller serves no /metrics")?;
        let before = counter_by_label(&before, ACME_REQUESTS, "action");
        let token = format!("{}{run}", b.token);
        let t0 = Instant::now();
        let created = load::create_many(&b.client, ns, &certificates(), n, 64, |i| {
            let host = match solver {
                "dns01" => format!("{prefix}{i}-{token}.dns.{zone}"),
                _ => format!("{prefix}{i}-{token}.{zone}"),
            };
            load::certificate(&format!("{prefix}{i}"), "pebble", &host, &json!({}))
        })
        .await;
        let timeout = Duration::from_secs_f64(120.0 + n as f64 * 3.0);
        let all = watch
            .wait_ready(&format!("acme run {run} {solver}"), prefix, n, timeout)
            .await;
        let elapsed = t0.elapsed().as_secs_f64();
        if !all {
            return Err(format!(
                "{solver}: not every Certificate Ready after {timeout:?}"
            ));
        }
        settle(c, Duration::from_secs(30)).await;
        let after = c
            .metrics()
            .await
            .ok_or("the controller serves no /metrics")?;
        let after = counter_by_label(&after, ACME_REQUESTS, "action");
        let by_action: BTreeMap<&String, f64> = after
            .iter()
            .map(|(k, v)| (k, v - before.get(k).unwrap_or(&0.0)))
            .filter(|(_, v)| *v > 0.0)
            .collect();
        let total: f64 = by_action.values().sum();
        eprintln!(
            "  {solver} ACME requests: {total} for {n} issuances: {}",
            by_action
                .iter()
                .map(|(k, v)| format!("{k} {:.2}", v / n as f64))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let seen = watch.snapshot();
        let lat = latencies(&created, &seen);
        let median = crate::stats::median(&lat).unwrap_or(f64::NAN);
        b.fig(
            &format!("acme_{solver}_apply_to_ready_median_seconds"),
            "s",
            run,
            median,
            Some(target),
        );
        b.fig(
            &format!("acme_{solver}_apply_to_ready_p99_seconds"),
            "s",
            run,
            p50_p99(&lat).1,
            None,
        );
        b.fig(
            &format!("acme_{solver}_all_ready_seconds"),
            "s",
            run,
            elapsed,
            None,
        );
        b.fig(
            &format!("acme_{solver}_requests_per_issuance"),
            "requests",
            run,
            total / n as f64,
            Some(targets::ACME_REQUESTS_PER_ISSUANCE),
        );
    }
    Ok(())
}

/// The TSIG Secret and an ACME Issuer on the bed's Pebble: http-01 by default, dns-01 (RFC 2136)
/// for names under dns.<zone>; waits until it is Ready (account registered).
async fn issuer(b: &Bench, ns: &str, nameserver: &str) -> Result<(), String> {
    let secrets: Api<Secret> = Api::namespaced(b.client.clone(), ns);
    let tsig: Secret = serde_json::from_value(json!({
        "metadata": {"name": "tsig"},
        "stringData": {"secret": env("RFC2136_TSIG_SECRET")?},
    }))
    .map_err(|e| e.to_string())?;
    match secrets.create(&PostParams::default(), &tsig).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.to_string()),
    }
    let ca = std::fs::read(env("ACME_SERVER_CA_FILE")?).map_err(|e| e.to_string())?;
    let issuer: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "pebble"},
        "spec": {"acme": {
            "server": env("ACME_DIRECTORY_URL")?,
            "caBundle": k8s_openapi::ByteString(ca),
            "privateKeySecretRef": {"name": "pebble-account"},
            "solvers": [
                {"http01": {"ingress": {}}},
                {"selector": {"dnsZones": [format!("dns.{}", env("RFC2136_ZONE")?)]},
                 "dns01": {"rfc2136": {
                     "nameserver": nameserver,
                     "tsigKeyName": env("RFC2136_TSIG_KEY")?,
                     "tsigAlgorithm": "HMACSHA256",
                     "tsigSecretSecretRef": {"name": "tsig", "key": "secret"}}}},
            ],
        }},
    }))
    .map_err(|e| e.to_string())?;
    let api: Api<DynamicObject> = Api::namespaced_with(b.client.clone(), ns, &load::issuers());
    match api.create(&PostParams::default(), &issuer).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.to_string()),
    }
    load::wait_ready(&api, "pebble", Duration::from_secs(60)).await
}
