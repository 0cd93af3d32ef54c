//! Load generation: many objects created at once with bounded concurrency (kubectl one by one
//! would be the bottleneck), namespaces, the CA the CA scenarios issue from, and clean-up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

pub fn ar(group: &str, kind: &str, plural: &str) -> ApiResource {
    let gvk = kube::api::GroupVersionKind::gvk(group, "v1", kind);
    ApiResource::from_gvk_with_plural(&gvk, plural)
}

pub fn certificates() -> ApiResource {
    ar("cert-manager.io", "Certificate", "certificates")
}
pub fn issuers() -> ApiResource {
    ar("cert-manager.io", "Issuer", "issuers")
}

/// What a batch of creates did. `attempts` counts every POST the apiserver saw (retries too),
/// so the harness's own writes can be taken off the apiserver's counters exactly.
#[derive(Debug, Default)]
pub struct Created {
    pub created: usize,
    pub existed: usize,
    pub failed: usize,
    pub attempts: u64,
    /// When each object's (first) create was sent, by name.
    pub sent: BTreeMap<String, Instant>,
    pub elapsed: Duration,
}

pub fn retryable(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        _ => true,
    }
}

/// Creates `count` objects made by `make(i)` in `ns`, `concurrency` at a time, retrying
/// overload answers (429, 5xx) and transport errors.
pub async fn create_many(
    client: &Client,
    ns: &str,
    ar: &ApiResource,
    count: usize,
    concurrency: usize,
    make: impl Fn(usize) -> Value,
) -> Created {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, ar);
    let t0 = Instant::now();
    // Made as they are sent: 50,000 Secrets of 10 KiB would be half a GiB up front.
    let objects = (0..count)
        .map(|i| serde_json::from_value::<DynamicObject>(make(i)).expect("a valid object"));
    let results: Vec<(String, Instant, Result<(), kube::Error>, u64)> =
        futures::stream::iter(objects)
            .map(|obj| {
                let api = api.clone();
                async move {
                    let name = obj.name_any();
                    let sent = Instant::now();
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        match api.create(&PostParams::default(), &obj).await {
                            Ok(_) => return (name, sent, Ok(()), attempts),
                            Err(e) if retryable(&e) && attempts < 8 => {
                                tokio::time::sleep(Duration::from_millis(100 * attempts)).await;
                            }
                            Err(e) => return (name, sent, Err(e), attempts),
                        }
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut out = Created::default();
    let mut first_error = None;
    for (name, sent, result, attempts) in results {
        out.attempts += attempts;
        match result {
            Ok(()) => out.created += 1,
            Err(kube::Error::Api(s)) if s.code == 409 => out.existed += 1,
            Err(e) => {
                out.failed += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
        out.sent.insert(name, sent);
    }
    if let Some(e) = first_error {
        eprintln!("  {} of {count} creates failed; the first: {e}", out.failed);
    }
    out.elapsed = t0.elapsed();
    out
}

pub async fn ensure_namespace(client: &Client, name: &str) -> Result<(), kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name}})).expect("static");
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A Certificate for a CA or ACME issuer; `spec` is merged over the defaults.
pub fn certificate(name: &str, issuer: &str, dns_name: &str, extra: &Value) -> Value {
    let mut spec = json!({
        "secretName": format!("{name}-tls"),
        "dnsNames": [dns_name],
        "privateKey": {"algorithm": "ECDSA", "size": 256},
        "issuerRef": {"name": issuer, "kind": "Issuer"},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "labels": {"bench.certsmith.dev/load": "true"}},
        "spec": spec,
    })
}

/// An unrelated Secret like a Helm release's: `bytes` of incompressible data.
pub fn opaque_secret(name: &str, bytes: usize, seed: u64) -> Value {
    // xorshift: cheap, and different per Secret so nothing downstream can share it
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data: Vec<u8> = (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let encoded = k8s_openapi::ByteString(data);
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"owner": "helm", "name": name}},
        "type": "helm.sh/release.v1",
        "data": {"release": encoded},
    })
}

pub fn secrets() -> ApiResource {
    ApiResource::erase::<Secret>(&())
}

/// A self-signed root, a CA Issuer on it, and waits until that Issuer is Ready.
pub async fn make_ca(client: &Client, ns: &str, timeout: Duration) -> Result<(), String> {
    let issuers_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &issuers());
    let certs_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &certificates());
    let obj = |v: Value| serde_json::from_value::<DynamicObject>(v).expect("static");
    let pp = PostParams::default();
    let create = |r: Result<DynamicObject, kube::Error>| match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    create(
        issuers_api
            .create(
                &pp,
                &obj(json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                "metadata": {"name": "selfsigned"}, "spec": {"selfSigned": {}}})),
            )
            .await,
    )?;
    create(
        certs_api
            .create(
                &pp,
                &obj(
                    json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": "bench-root"},
                "spec": {"isCA": true, "commonName": "bench root", "secretName": "bench-root-ca",
                         "privateKey": {"algorithm": "ECDSA", "size": 256},
                         "issuerRef": {"name": "selfsigned"}}}),
                ),
            )
            .await,
    )?;
    create(
        issuers_api
            .create(
                &pp,
                &obj(json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
                "metadata": {"name": "ca"}, "spec": {"ca": {"secretName": "bench-root-ca"}}})),
            )
            .await,
    )?;
    wait_ready(&issuers_api, "ca", timeout).await
}

/// Polls an object until its Ready condition is True.
pub async fn wait_ready(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(o) = api.get(name).await
            && is_ready(&o.data)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{name} not Ready after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `status.conditions[type=Ready].status == "True"`.
pub fn is_ready(data: &Value) -> bool {
    data["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Deletes what a scenario left in `ns` (the controller is stopped first): strips the ACME
/// finalizer from Challenges, then deletes each kind's collection.
pub async fn clean_namespace(client: &Client, ns: &str) -> Duration {
    let t0 = Instant::now();
    let acme = |kind: &str, plural: &str| ar("acme.cert-manager.io", kind, plural);
    let challenges: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &acme("Challenge", "challenges"));
    if let Ok(list) = challenges.list(&ListParams::default()).await {
        for c in list {
            let _ = challenges
                .patch(
                    &c.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await;
        }
    }
    let kinds = [
        certificates(),
        ar(
            "cert-manager.io",
            "CertificateRequest",
            "certificaterequests",
        ),
        issuers(),
        acme("Order", "orders"),
        acme("Challenge", "challenges"),
        secrets(),
        ar("", "Event", "events"),
        ar("", "Pod", "pods"),
        ar("", "Service", "services"),
        ar("networking.k8s.io", "Ingress", "ingresses"),
    ];
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    futures::stream::iter(kinds)
        .map(|kind| {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &kind);
            let dp = dp.clone();
            async move {
                if let Err(e) = api.delete_collection(&dp, &ListParams::default()).await {
                    eprintln!("  cleaning {ns}/{}: {e}", kind.plural);
                }
                Ok::<_, ()>(())
            }
        })
        .buffer_unordered(4)
        .try_collect::<Vec<_>>()
        .await
        .ok();
    t0.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_what_the_apiserver_expects() {
        let c = certificate("c1", "ca", "c1.example.test", &json!({"duration": "1h"}));
        assert_eq!(c["spec"]["issuerRef"]["name"], "ca");
        assert_eq!(c["spec"]["duration"], "1h");
        assert_eq!(c["spec"]["secretName"], "c1-tls");
        let _: DynamicObject = serde_json::from_value(c).unwrap();

        let s = opaque_secret("s1", 10 * 1024, 1);
        let data = s["data"]["release"].as_str().unwrap();
        // base64 of 10 KiB
        assert_eq!(data.len(), 4 * (10 * 1024_usize).div_ceil(3));
        assert_ne!(
            opaque_secret("s2", 64, 2)["data"],
            opaque_secret("s3", 64, 3)["data"]
        );
        let _: DynamicObject = serde_json::from_value(s).unwrap();
        assert!(is_ready(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        ));
        assert!(!is_ready(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
        ));
        assert!(!is_ready(&json!({})));
    }
}
