//! The trigger controller: decides (`policy::trigger::decide`) whether a Certificate needs
//! (re-)issuing and, when it does, sets `Issuing=True` with the reason and message of the first
//! failing check (field manager [`MANAGER_TRIGGER`]), together with the readiness that follows
//! (`readiness::readiness_fields`: the readiness controller's fields, written in the same apply
//! to save a write). The issuing controller ends the issuance.
//!
//! Wakes on: the Certificate, its Secret (watched as metadata only, mapped by
//! `spec.secretName`), its owned CertificateRequests, the end of a failure backoff, and the
//! renewal time. Nothing else: no periodic poll.
//!
//! Also holds what the readiness controller shares with it: the watches ([`certificate_controller`]),
//! the reads ([`gather`]) and the requeue arithmetic ([`requeue_after`]).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::{Map, json};

use super::SharedCertificates;
use super::keys::is_issuing;
use super::readiness::{publish_lost_readiness, readiness_fields, status_after_apply};
use super::siblings::{
    annotated_certificate, conflict_in_store, naming_secret, watch_secret_siblings,
};
use super::{
    CertificateError, MANAGER_TRIGGER, backoff_key, get_request, get_secret, next_revision,
    request_name,
};
use crate::api::{
    CONDITION_ISSUING, Certificate, CertificateRequest, ConditionChange, REASON_DOES_NOT_EXIST,
    condition_change, find_condition,
};
use crate::controller::Context;
use crate::policy::backoff::Backoff;
use crate::policy::facts::TriggerInput;
use crate::policy::gather::{GatheredFacts, trigger_input};
use crate::policy::readiness::readiness;
use crate::policy::trigger::{TriggerDecision, TriggerVerdict, decide};

const CONTROLLER: &str = "trigger";

/// The longest single requeue. Times further away (a renewal years ahead) are re-armed after
/// this: tokio's timer wheel panics on deadlines beyond ~2 years.
pub(super) const MAX_REQUEUE: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs the trigger controller until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shared: Arc<SharedCertificates>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = certificate_controller(&ctx, &shared);
    let certificates = shared.clone();
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("certificates-trigger", &ctx, move |certificate, ctx| {
                reconcile(certificate, ctx, certificates.clone())
            }),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome("certificates-trigger", r))
        .await;
}

/// A Certificate controller woken by the Certificate, by its Secret (metadata only), by the
/// CertificateRequests it owns and by the Certificates naming the same Secret.
pub(super) fn certificate_controller(
    ctx: &Context,
    shared: &Arc<SharedCertificates>,
) -> Controller<Certificate> {
    let controller = watch_secret_siblings(shared.controller(), shared);
    watch_secrets(controller, ctx, shared).owns_shared_stream(ctx.requests.touched())
}

/// Wakes the Certificates whose Secret changed (from the one shared Secret metadata watch).
pub(super) fn watch_secrets(
    controller: Controller<Certificate>,
    ctx: &Context,
    shared: &Arc<SharedCertificates>,
) -> Controller<Certificate> {
    let shared = shared.clone();
    controller.watches_shared_stream(ctx.secrets.touched(), move |secret| {
        let namespace = secret.namespace();
        let name = secret.name_any();
        let named = naming_secret(&shared, namespace.as_deref().unwrap_or_default(), &name);
        certificates_for_secret(named.iter().map(AsRef::as_ref), namespace.as_deref(), &name)
    })
}

/// The Certificates whose `spec.secretName` names the Secret `namespace/secret_name`.
pub(super) fn certificates_for_secret<'a>(
    certificates: impl IntoIterator<Item = &'a Certificate>,
    namespace: Option<&str>,
    secret_name: &str,
) -> Vec<ObjectRef<Certificate>> {
    certificates
        .into_iter()
        .filter(|c| c.namespace().as_deref() == namespace && c.spec.secret_name == secret_name)
        .map(ObjectRef::from_obj)
        .collect()
}

/// Reads what the policies decide on: the Secret, the current and the next revision's
/// CertificateRequests (GETs only, run together), and from `certificates` (the controller's
/// store) the other Certificates naming the same Secret.
pub(super) async fn gather(
    ctx: &Context,
    certificate: &Certificate,
    certificates: &SharedCertificates,
) -> Result<GatheredFacts, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let secret_name = certificate.spec.secret_name.as_str();
    let secret = async {
        if secret_name.is_empty() {
            Ok(None)
        } else {
            get_secret(ctx, &namespace, secret_name).await
        }
    };
    let (secret, (current, next)) =
        futures::try_join!(secret, requests_of(ctx, certificate, &namespace))?;
    Ok(facts_of(
        certificate,
        certificates,
        secret.as_ref(),
        current.as_ref(),
        next.as_ref(),
    ))
}

/// [`gather`] with the Secret already in hand (as just written): only the requests are read.
pub(super) async fn gather_with_secret(
    ctx: &Context,
    certificate: &Certificate,
    certificates: &SharedCertificates,
    secret: &Secret,
) -> Result<GatheredFacts, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let (current, next) = requests_of(ctx, certificate, &namespace).await?;
    Ok(facts_of(
        certificate,
        certificates,
        Some(secret),
        current.as_ref(),
        next.as_ref(),
    ))
}

/// The current and the next revision's CertificateRequests of `certificate`.
async fn requests_of(
    ctx: &Context,
    certificate: &Certificate,
    namespace: &str,
) -> Result<(Option<CertificateRequest>, Option<CertificateRequest>), CertificateError> {
    let current = async {
        match certificate.status.as_ref().and_then(|s| s.revision) {
            Some(revision) => {
                get_request(ctx, namespace, &request_name(certificate, revision)).await
            }
            None => Ok(None),
        }
    };
    let next_name = request_name(certificate, next_revision(certificate));
    let next = get_request(ctx, namespace, &next_name);
    futures::try_join!(current, next)
}

fn facts_of(
    certificate: &Certificate,
    certificates: &SharedCertificates,
    secret: Option<&Secret>,
    current: Option<&CertificateRequest>,
    next: Option<&CertificateRequest>,
) -> GatheredFacts {
    let mut facts = trigger_input(certificate, secret, current, next);
    facts.secret_conflict = conflict_in_store(
        certificates,
        certificate,
        annotated_certificate(&facts.secret),
    );
    facts
}

/// How long to wait from `now` until `at`: at least a second (a time already past is retried
/// soon, not in a hot loop) and at most [`MAX_REQUEUE`].
pub(super) fn requeue_after(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now))
        .unwrap_or(Duration::ZERO)
        .clamp(Duration::from_secs(1), MAX_REQUEUE)
}

async fn reconcile(
    certificate: Arc<Certificate>,
    ctx: Arc<Context>,
    certificates: Arc<SharedCertificates>,
) -> Result<Action, CertificateError> {
    // Issuing already: `decide` would say AlreadyIssuing (or SecretConflict), and both leave
    // it alone; deciding that needs no Secret read. Most wake-ups of an issuance are this.
    if certificate.metadata.deletion_timestamp.is_some() || is_issuing(&certificate) {
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    let facts = gather(&ctx, &certificate, &certificates).await?;
    let input = facts.into_input(&certificate);
    let action = match decide(&input, now, &Backoff::default()) {
        // Readiness reports the conflict; a change to a sibling wakes this one.
        TriggerDecision::AlreadyIssuing | TriggerDecision::SecretConflict => Action::await_change(),
        TriggerDecision::BackedOff { until } => {
            tracing::debug!(
                namespace = certificate.namespace().unwrap_or_default(),
                name = certificate.name_any(),
                %until,
                "issuance backed off after a failure"
            );
            Action::requeue(requeue_after(now, until))
        }
        TriggerDecision::UpToDate { recheck_at } => match recheck_at {
            Some(at) => Action::requeue(requeue_after(now, at)),
            None => Action::await_change(),
        },
        TriggerDecision::Issue(verdict) => {
            start_issuing(&certificate, &input, &verdict, &ctx, now).await?;
            // The status write wakes every Certificate controller, this one included.
            Action::await_change()
        }
    };
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(action)
}

/// Applies `Issuing=True` with the readiness that follows from it (so the readiness
/// controller has nothing to write: for a new Certificate, the first `Ready=False`), and
/// records why in an Event.
async fn start_issuing(
    certificate: &Certificate,
    input: &TriggerInput<'_>,
    verdict: &TriggerVerdict,
    ctx: &Context,
    now: Timestamp,
) -> Result<(), CertificateError> {
    let conditions = certificate
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let change = condition_change(
        find_condition(conditions, CONDITION_ISSUING),
        verdict.issuing_condition(certificate.metadata.generation),
        Time(now),
    );
    let ConditionChange::Write { condition, .. } = change else {
        return Ok(());
    };
    let mut status = Map::new();
    status.insert("conditions".into(), json!([condition]));
    let issuing_status = status_after_apply(certificate.status.as_ref(), &status, &[]);
    let ready_fields = readiness_fields(
        certificate.status.as_ref(),
        &readiness(
            &TriggerInput {
                status: Some(&issuing_status),
                ..input.clone()
            },
            now,
        ),
        certificate.metadata.generation,
        now,
    );
    ready_fields.merge_into(&mut status);
    // Conditioned on the resourceVersion decided on: a reconcile that runs on a cached
    // Certificate older than this controller's own last write (the watch lags behind the
    // write) would otherwise set Issuing=True a second time, moving its lastTransitionTime and
    // repeating the Event. The newer object's watch event wakes this controller again.
    if !apply_issuing(ctx, certificate, status).await? {
        tracing::debug!(
            namespace = certificate.namespace().unwrap_or_default(),
            name = certificate.name_any(),
            "Certificate changed since it was read: not triggering on a stale copy"
        );
        return Ok(());
    }
    tracing::info!(
        namespace = certificate.namespace().unwrap_or_default(),
        name = certificate.name_any(),
        reason = verdict.reason,
        message = %verdict.message,
        "issuance triggered"
    );
    if ready_fields.loses_readiness() {
        publish_lost_readiness(certificate, &ready_fields, ctx).await;
    }
    if !worth_an_event(certificate, verdict) {
        return Ok(());
    }
    let event = Event {
        type_: EventType::Normal,
        reason: verdict.reason.to_owned(),
        note: Some(verdict.message.clone()).filter(|m| !m.is_empty()),
        action: "Issue".into(),
        secondary: None,
    };
    if let Err(err) = ctx
        .recorder
        .publish(&event, &certificate.object_ref(&()))
        .await
    {
        tracing::warn!(%err, "publishing an Event failed");
    }
    Ok(())
}

/// Whether starting this issuance is worth an Event: always, except the first issuance of a
/// new Certificate (no revision, no failure yet, no Secret). That Event would say only "the
/// Secret does not exist" of a Certificate just created, the `Issuing` condition says the
/// same, and each Event is an API write: the issuance's `Issuing` "issued" Event (or its
/// `Failed` Warning) is the one record it gets. Re-issues, renewals, retries after a failure
/// and a Certificate taking over an existing Secret keep theirs: they explain why.
fn worth_an_event(certificate: &Certificate, verdict: &TriggerVerdict) -> bool {
    let status = certificate.status.as_ref();
    let first = status.and_then(|s| s.revision).is_none()
        && status.and_then(|s| s.failed_issuance_attempts).unwrap_or(0) == 0;
    !(first && verdict.reason == REASON_DOES_NOT_EXIST)
}

/// Server-side applies `status` (Issuing and the readiness fields, as [`MANAGER_TRIGGER`])
/// only if the Certificate is still at the resourceVersion read; `Ok(false)` when it changed
/// since (409 Conflict). The precondition also keeps readiness computed from a stale copy
/// from being written.
async fn apply_issuing(
    ctx: &Context,
    certificate: &Certificate,
    status: Map<String, serde_json::Value>,
) -> Result<bool, CertificateError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let name = certificate.name_any();
    let patch = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": { "resourceVersion": certificate.resource_version() },
        "status": status,
    });
    match kube::Api::<Certificate>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(
            &name,
            &kube::api::PatchParams::apply(MANAGER_TRIGGER).force(),
            &kube::api::Patch::Apply(&patch),
        )
        .await
    {
        Ok(written) => {
            ctx.writes.record(&written);
            Ok(true)
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(source) => Err(CertificateError::Write {
            what: format!("the status of Certificate {namespace}/{name}"),
            source,
        }),
    }
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
    use super::*;
    use crate::api::CertificateSpec;

    fn certificate(namespace: &str, name: &str, secret_name: &str) -> Certificate {
        let mut c = Certificate::new(
            name,
            CertificateSpec {
                secret_name: secret_name.into(),
                ..Default::default()
            },
        );
        c.metadata.namespace = Some(namespace.into());
        c
    }

    #[test]
    fn secrets_map_to_the_certificates_naming_them() {
        let all = [
            certificate("a", "web", "web-tls"),
            certificate("a", "web-copy", "web-tls"),
            certificate("a", "api", "api-tls"),
            certificate("b", "web", "web-tls"),
        ];
        let names = |ns: Option<&str>, secret: &str| -> Vec<String> {
            certificates_for_secret(&all, ns, secret)
                .into_iter()
                .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
                .collect()
        };
        assert_eq!(names(Some("a"), "web-tls"), ["a/web", "a/web-copy"]);
        assert_eq!(names(Some("b"), "web-tls"), ["b/web"]);
        assert_eq!(names(Some("a"), "api-tls"), ["a/api"]);
        assert!(names(Some("b"), "api-tls").is_empty(), "other namespace");
        assert!(names(Some("a"), "unrelated").is_empty());
        assert!(names(None, "web-tls").is_empty(), "no namespace");
    }

    #[test]
    fn requeue_after_table() {
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        let now = ts("2026-02-01T00:00:00Z");
        let table = [
            ("2026-02-01T00:05:00Z", Duration::from_secs(300)),
            ("2026-02-01T00:00:00.5Z", Duration::from_secs(1)),
            ("2026-02-01T00:00:01.5Z", Duration::from_millis(1500)),
            ("2026-02-01T00:00:00Z", Duration::from_secs(1)),
            ("2026-01-01T00:00:00Z", Duration::from_secs(1)),
            ("2026-02-02T00:00:00Z", MAX_REQUEUE),
            ("2036-02-01T00:00:00Z", MAX_REQUEUE),
        ];
        for (at, want) in table {
            assert_eq!(requeue_after(now, ts(at)), want, "{at}");
        }
    }

    #[test]
    fn first_issuance_of_a_new_certificate_has_no_start_event() {
        use crate::api::CertificateStatus;
        let verdict = |reason: &'static str| TriggerVerdict {
            reason,
            message: "why".into(),
        };
        let with = |revision: Option<i32>, failures: Option<i32>| {
            let mut c = certificate("a", "web", "web-tls");
            c.status = Some(CertificateStatus {
                revision,
                failed_issuance_attempts: failures,
                ..Default::default()
            });
            c
        };
        let table = [
            (
                "new",
                certificate("a", "web", "web-tls"),
                "DoesNotExist",
                false,
            ),
            ("new, empty status", with(None, None), "DoesNotExist", false),
            (
                "retry after a failure",
                with(None, Some(1)),
                "DoesNotExist",
                true,
            ),
            (
                "Secret deleted later",
                with(Some(3), None),
                "DoesNotExist",
                true,
            ),
            (
                "takes over a Secret",
                with(None, None),
                "SecretMismatch",
                true,
            ),
            ("renewal", with(Some(1), None), "Renewing", true),
        ];
        for (case, c, reason, want) in table {
            assert_eq!(worth_an_event(&c, &verdict(reason)), want, "{case}");
        }
    }
}
