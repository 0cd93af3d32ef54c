//! The revision manager: deletes a Certificate's old CertificateRequests beyond
//! `spec.revisionHistoryLimit`, keeping the newest by their `cert-manager.io/certificate-revision`
//! annotation. As cert-manager's, it prunes only while the Certificate is Ready (never during an
//! issuance, whose request must survive), never when the limit is unset, and never touches a
//! request whose revision annotation is missing or unreadable.
//!
//! CertificateRequests come from the shared cache, looked up by their Certificate through its
//! index (a partial cache is safe: everything pruned from a partial view is older than what it
//! keeps); each one wakes the Certificate its `cert-manager.io/certificate-name` annotation
//! names. Writes nothing but DELETEs.

use std::sync::Arc;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::SharedCertificates;
use super::{CertificateError, backoff_key};
use crate::api::{
    ANN_CERTIFICATE_NAME, ANN_CERTIFICATE_REVISION, CONDITION_READY, Certificate,
    CertificateRequest, ConditionStatus, find_condition,
};
use crate::controller::Context;

const CONTROLLER: &str = "revisions";

/// Runs the revision manager until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shared: Arc<SharedCertificates>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    shared
        .controller()
        .watches_shared_stream(ctx.requests.touched(), |request| certificate_of(&request))
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("certificates-revisions", &ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome("certificates-revisions", r))
        .await;
}

/// The key the shared CertificateRequest cache indexes `request` under: its Certificate's
/// (namespace and `cert-manager.io/certificate-name`), so a reconcile looks up its own
/// requests instead of scanning every cached one (quadratic with 10,000 Certificates).
pub(crate) fn index_keys(request: &CertificateRequest) -> Vec<String> {
    certificate_of(request)
        .map(|c| {
            vec![certificate_key(
                c.namespace.as_deref().unwrap_or_default(),
                &c.name,
            )]
        })
        .unwrap_or_default()
}

fn certificate_key(namespace: &str, name: &str) -> String {
    format!("certificate/{namespace}/{name}")
}

/// The Certificate a CertificateRequest belongs to, by its annotation, in its namespace.
fn certificate_of(request: &CertificateRequest) -> Option<ObjectRef<Certificate>> {
    let name = request.annotations().get(ANN_CERTIFICATE_NAME)?;
    let namespace = request.namespace()?;
    Some(ObjectRef::new(name).within(&namespace))
}

/// The names of `certificate`'s CertificateRequests to delete, oldest first. Pure.
///
/// A request is the Certificate's when it is in its namespace and its
/// `cert-manager.io/certificate-name` annotation names it. Requests already being deleted and
/// requests without a readable revision annotation are neither kept nor pruned. Nothing is
/// pruned while the Certificate is not Ready or when `spec.revisionHistoryLimit` is unset; a
/// limit below 1 (the schema forbids it) counts as 1.
pub(super) fn requests_to_prune<'a>(
    certificate: &Certificate,
    requests: impl IntoIterator<Item = &'a CertificateRequest>,
) -> Vec<String> {
    let Some(limit) = certificate.spec.revision_history_limit else {
        return Vec::new();
    };
    let ready = certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| find_condition(c, CONDITION_READY))
        .is_some_and(|c| c.status == ConditionStatus::True);
    if !ready {
        return Vec::new();
    }
    let limit = usize::try_from(limit.max(1)).unwrap_or(1);
    let namespace = certificate.namespace();
    let name = certificate.name_any();
    let mut owned: Vec<(i64, String)> = requests
        .into_iter()
        .filter(|r| r.namespace() == namespace && r.metadata.deletion_timestamp.is_none())
        .filter(|r| r.annotations().get(ANN_CERTIFICATE_NAME) == Some(&name))
        .filter_map(|r| {
            let revision = r
                .annotations()
                .get(ANN_CERTIFICATE_REVISION)?
                .trim()
                .parse::<i64>()
                .ok()?;
            Some((revision, r.name_any()))
        })
        .collect();
    // Newest first; names break ties so the answer does not depend on the cache's order.
    owned.sort_by(|a, b| b.cmp(a));
    let mut doomed: Vec<String> = owned.into_iter().skip(limit).map(|(_, n)| n).collect();
    doomed.reverse();
    doomed
}

async fn reconcile(
    certificate: Arc<Certificate>,
    ctx: Arc<Context>,
) -> Result<Action, CertificateError> {
    if certificate.metadata.deletion_timestamp.is_some()
        || certificate.spec.revision_history_limit.is_none()
    {
        return Ok(Action::await_change());
    }
    let namespace = certificate.namespace().unwrap_or_default();
    let cached = ctx
        .requests
        .find(&certificate_key(&namespace, &certificate.name_any()));
    let doomed = requests_to_prune(&certificate, cached.iter().map(AsRef::as_ref));
    let api = Api::<CertificateRequest>::namespaced(ctx.client.clone(), &namespace);
    for name in doomed {
        // Only the request seen in the cache: a newer one of the same name is left alone.
        let uid = cached
            .iter()
            .find(|r| r.namespace().as_deref() == Some(namespace.as_str()) && r.name_any() == name)
            .and_then(|r| r.uid());
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid,
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => tracing::info!(
                namespace,
                certificate = certificate.name_any(),
                request = name,
                "pruned a CertificateRequest beyond revisionHistoryLimit"
            ),
            // Already gone, or replaced since the cache saw it.
            Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => {}
            Err(source) => {
                return Err(CertificateError::Delete {
                    what: format!("CertificateRequest {namespace}/{name}"),
                    source,
                });
            }
        }
    }
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(Action::await_change())
}

fn error_policy(
    certificate: Arc<Certificate>,
    err: &CertificateError,
    ctx: Arc<Context>,
) -> Action {
    super::retry_after_error(CONTROLLER, &certificate, err, &ctx)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::{CertificateRequestSpec, CertificateSpec, CertificateStatus, Condition};

    const NS: &str = "apps";
    const NAME: &str = "web";

    fn certificate(limit: Option<i32>, ready: Option<ConditionStatus>) -> Certificate {
        let mut c = Certificate::new(
            NAME,
            CertificateSpec {
                secret_name: "web-tls".into(),
                revision_history_limit: limit,
                ..Default::default()
            },
        );
        c.metadata.namespace = Some(NS.into());
        c.status = ready.map(|status| CertificateStatus {
            conditions: Some(vec![Condition {
                type_: CONDITION_READY.into(),
                status,
                ..Default::default()
            }]),
            ..Default::default()
        });
        c
    }

    /// A request `name` in `ns`, annotated with `owner` and `revision` when given.
    fn request(
        ns: &str,
        name: &str,
        owner: Option<&str>,
        revision: Option<&str>,
    ) -> CertificateRequest {
        let mut r = CertificateRequest::new(name, CertificateRequestSpec::default());
        r.metadata.namespace = Some(ns.into());
        let mut annotations = BTreeMap::new();
        if let Some(owner) = owner {
            annotations.insert(ANN_CERTIFICATE_NAME.to_owned(), owner.to_owned());
        }
        if let Some(revision) = revision {
            annotations.insert(ANN_CERTIFICATE_REVISION.to_owned(), revision.to_owned());
        }
        r.metadata.annotations = Some(annotations);
        r
    }

    /// Requests `web-<n>` of this Certificate, revisions as given.
    fn revisions(ns: &[i32]) -> Vec<CertificateRequest> {
        ns.iter()
            .map(|n| request(NS, &format!("{NAME}-{n}"), Some(NAME), Some(&n.to_string())))
            .collect()
    }

    #[test]
    fn requests_to_prune_table() {
        let ready = Some(ConditionStatus::True);
        let deleting = {
            let mut r = request(NS, "web-2", Some(NAME), Some("2"));
            r.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
            r
        };
        let with = |mut base: Vec<CertificateRequest>, more: Vec<CertificateRequest>| {
            base.extend(more);
            base
        };
        struct Case {
            name: &'static str,
            limit: Option<i32>,
            ready: Option<ConditionStatus>,
            requests: Vec<CertificateRequest>,
            want: &'static [&'static str],
        }
        let table = [
            Case {
                name: "unset limit keeps all",
                limit: None,
                ready,
                requests: revisions(&[1, 2, 3, 4]),
                want: &[],
            },
            Case {
                name: "within the limit",
                limit: Some(4),
                ready,
                requests: revisions(&[1, 2, 3, 4]),
                want: &[],
            },
            Case {
                name: "beyond the limit: oldest go, oldest first",
                limit: Some(2),
                ready,
                requests: revisions(&[1, 2, 3, 4]),
                want: &["web-1", "web-2"],
            },
            Case {
                name: "revisions compare as numbers, not strings, whatever the order",
                limit: Some(1),
                ready,
                requests: revisions(&[10, 9, 2, 11]),
                want: &["web-2", "web-9", "web-10"],
            },
            Case {
                name: "limit 1 keeps only the newest",
                limit: Some(1),
                ready,
                requests: revisions(&[1, 2]),
                want: &["web-1"],
            },
            Case {
                name: "limit 0 counts as 1",
                limit: Some(0),
                ready,
                requests: revisions(&[1, 2]),
                want: &["web-1"],
            },
            Case {
                name: "not Ready: nothing pruned",
                limit: Some(1),
                ready: Some(ConditionStatus::False),
                requests: revisions(&[1, 2, 3]),
                want: &[],
            },
            Case {
                name: "no status: nothing pruned",
                limit: Some(1),
                ready: None,
                requests: revisions(&[1, 2, 3]),
                want: &[],
            },
            Case {
                name: "other Certificates, namespaces and unannotated requests are not ours",
                limit: Some(1),
                ready,
                requests: with(
                    revisions(&[1, 2]),
                    vec![
                        request(NS, "api-1", Some("api"), Some("1")),
                        request("other", "web-1", Some(NAME), Some("1")),
                        request(NS, "stray", None, Some("1")),
                    ],
                ),
                want: &["web-1"],
            },
            Case {
                name: "missing or unreadable revisions are left alone",
                limit: Some(1),
                ready,
                requests: with(
                    revisions(&[1, 2]),
                    vec![
                        request(NS, "web-x", Some(NAME), Some("x")),
                        request(NS, "web-none", Some(NAME), None),
                    ],
                ),
                want: &["web-1"],
            },
            Case {
                name: "requests being deleted neither count nor are pruned again",
                limit: Some(1),
                ready,
                requests: with(revisions(&[1, 3]), vec![deleting]),
                want: &["web-1"],
            },
        ];
        for c in table {
            let got = requests_to_prune(&certificate(c.limit, c.ready), &c.requests);
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn requests_map_to_their_certificate() {
        let r = request(NS, "web-1", Some(NAME), Some("1"));
        assert_eq!(certificate_of(&r), Some(ObjectRef::new(NAME).within(NS)));
        assert_eq!(certificate_of(&request(NS, "stray", None, None)), None);
    }

    #[test]
    fn requests_are_indexed_under_their_certificate_only() {
        let r = request(NS, "web-1", Some(NAME), Some("1"));
        assert_eq!(index_keys(&r), vec![certificate_key(NS, NAME)]);
        assert_ne!(certificate_key(NS, NAME), certificate_key("other", NAME));
        // Unannotated requests are nobody's: not indexed, so never pruned.
        assert!(index_keys(&request(NS, "stray", None, None)).is_empty());
    }
}
