//! The readiness controller: computes `policy::readiness::readiness` and keeps the `Ready`
//! condition and `notBefore`/`notAfter`/`renewalTime` true to it. It owns exactly those fields
//! (field manager [`MANAGER_READINESS`]), applies all of them in every write (a field left out
//! of an apply is removed), and writes nothing when none changed.
//!
//! Wakes on the same watches as the trigger controller, and just after `notAfter` while Ready
//! (when the certificate expires without any object changing).

use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::{Map, Value, json};

use super::SharedCertificates;
use super::trigger::{certificate_controller, gather, requeue_after};
use super::{CertificateError, MANAGER_READINESS, apply_status, backoff_key};
use crate::api::{
    CONDITION_READY, Certificate, CertificateStatus, Condition, ConditionChange, ConditionStatus,
    condition_change, find_condition,
};
use crate::controller::Context;
use crate::policy::readiness::{Readiness, readiness};

const CONTROLLER: &str = "readiness";

/// Runs the readiness controller until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    shared: Arc<SharedCertificates>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = certificate_controller(&ctx, &shared);
    ctx.metrics.watch_certificates(controller.store());
    let certificates = shared.clone();
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed("certificates-readiness", &ctx, move |certificate, ctx| {
                reconcile(certificate, ctx, certificates.clone())
            }),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome("certificates-readiness", r))
        .await;
}

/// A status write the readiness controller must make.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ReadinessWrite {
    /// The status fields to apply: every field this manager owns that has a value.
    pub status: Value,
    /// The Ready condition written.
    pub condition: Condition,
    /// Whether Ready changed status (worth an Event).
    pub transition: bool,
    /// Whether Ready was True before.
    pub was_ready: bool,
}

/// What to write, if anything, to bring `status` in line with `readiness`. Pure. Times compare
/// to the second, as the API server stores them.
pub(super) fn readiness_write(
    status: Option<&CertificateStatus>,
    readiness: &Readiness,
    generation: Option<i64>,
    now: Timestamp,
) -> Option<ReadinessWrite> {
    let old = find_condition(
        status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default(),
        CONDITION_READY,
    );
    let was_ready = old.is_some_and(|c| c.status == ConditionStatus::True);
    let change = condition_change(old, readiness.condition(generation), Time(now));
    let times = [
        (
            "notBefore",
            readiness.not_before,
            status.and_then(|s| s.not_before.as_ref()),
        ),
        (
            "notAfter",
            readiness.not_after,
            status.and_then(|s| s.not_after.as_ref()),
        ),
        (
            "renewalTime",
            readiness.renewal_time,
            status.and_then(|s| s.renewal_time.as_ref()),
        ),
    ];
    let times_changed = times
        .iter()
        .any(|(_, new, old)| new.map(|t| t.as_second()) != old.map(|t| t.0.as_second()));
    let (condition, transition) = match change {
        ConditionChange::Write {
            condition,
            transition,
        } => (condition, transition),
        // Unchanged condition, changed times: the condition is applied again as it is, or the
        // apply would remove it.
        ConditionChange::Unchanged => match old {
            Some(old) if times_changed => (old.clone(), false),
            _ => return None,
        },
    };
    let mut fields = Map::new();
    fields.insert("conditions".into(), json!([condition]));
    for (key, value, _) in times {
        if let Some(t) = value {
            fields.insert(key.into(), json!(Time(t)));
        }
    }
    Some(ReadinessWrite {
        status: Value::Object(fields),
        condition,
        transition,
        was_ready,
    })
}

async fn reconcile(
    certificate: Arc<Certificate>,
    ctx: Arc<Context>,
    certificates: Arc<SharedCertificates>,
) -> Result<Action, CertificateError> {
    if certificate.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    let facts = gather(&ctx, &certificate, &certificates).await?;
    let readiness = readiness(&facts.into_input(&certificate), now);
    if let Some(write) = readiness_write(
        certificate.status.as_ref(),
        &readiness,
        certificate.metadata.generation,
        now,
    ) {
        apply_status(&ctx, &certificate, MANAGER_READINESS, write.status.clone()).await?;
        tracing::info!(
            namespace = certificate.namespace().unwrap_or_default(),
            name = certificate.name_any(),
            ready = ?write.condition.status,
            reason = readiness.reason,
            "Certificate readiness updated"
        );
        // An Event only when a Ready certificate stops being Ready: that is what someone needs
        // to hear about. Becoming Ready follows an issuance, whose `Issued` Event says so, and
        // each Event is an API write (the API-politeness benchmark counts them).
        if write.transition && write.was_ready && write.condition.status != ConditionStatus::True {
            publish_lost_readiness(&certificate, &write, &ctx).await;
        }
    }
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(match readiness.recheck_at(now) {
        Some(at) => Action::requeue(requeue_after(now, at)),
        None => Action::await_change(),
    })
}

async fn publish_lost_readiness(certificate: &Certificate, write: &ReadinessWrite, ctx: &Context) {
    let event = Event {
        type_: EventType::Warning,
        reason: write
            .condition
            .reason
            .clone()
            .unwrap_or_else(|| "Unknown".into()),
        note: write.condition.message.clone().filter(|m| !m.is_empty()),
        action: "CheckReadiness".into(),
        secondary: None,
    };
    if let Err(err) = ctx
        .recorder
        .publish(&event, &certificate.object_ref(&()))
        .await
    {
        tracing::warn!(%err, "publishing an Event failed");
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
    use crate::api::{REASON_DOES_NOT_EXIST, REASON_READY};
    use crate::policy::readiness::READY_MESSAGE;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ready() -> Readiness {
        Readiness {
            status: ConditionStatus::True,
            reason: REASON_READY,
            message: READY_MESSAGE.into(),
            not_before: Some(ts("2026-01-01T00:00:00Z")),
            not_after: Some(ts("2026-04-01T00:00:00Z")),
            renewal_time: Some(ts("2026-03-02T00:00:00Z")),
        }
    }

    fn missing() -> Readiness {
        Readiness {
            status: ConditionStatus::False,
            reason: REASON_DOES_NOT_EXIST,
            message: "Issuing certificate as Secret does not exist".into(),
            not_before: None,
            not_after: None,
            renewal_time: None,
        }
    }

    const NOW: &str = "2026-02-01T00:00:00Z";
    const EARLIER: &str = "2026-01-15T00:00:00Z";

    /// The status a previous write of `r` at `at` left.
    fn written(r: &Readiness, at: &str) -> CertificateStatus {
        let write = readiness_write(None, r, Some(1), ts(at)).expect("first write");
        serde_json::from_value(write.status).unwrap()
    }

    #[test]
    fn first_write_has_every_owned_field() {
        let write = readiness_write(None, &ready(), Some(1), ts(NOW)).unwrap();
        assert!(write.transition);
        assert!(!write.was_ready);
        assert_eq!(
            write.status,
            json!({
                "conditions": [{
                    "type": "Ready",
                    "status": "True",
                    "lastTransitionTime": NOW,
                    "reason": "Ready",
                    "message": READY_MESSAGE,
                    "observedGeneration": 1,
                }],
                "notBefore": "2026-01-01T00:00:00Z",
                "notAfter": "2026-04-01T00:00:00Z",
                "renewalTime": "2026-03-02T00:00:00Z",
            })
        );
        let write = readiness_write(None, &missing(), None, ts(NOW)).unwrap();
        let keys: Vec<_> = write.status.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["conditions"], "no times without a certificate");
    }

    #[test]
    fn idle_certificate_is_not_rewritten() {
        let status = written(&ready(), EARLIER);
        assert_eq!(
            readiness_write(Some(&status), &ready(), Some(1), ts(NOW)),
            None
        );
        let status = written(&missing(), EARLIER);
        assert_eq!(
            readiness_write(Some(&status), &missing(), Some(1), ts(NOW)),
            None
        );
        // Sub-second differences do not count: the API server keeps seconds.
        let mut r = ready();
        r.renewal_time = Some(ts("2026-03-02T00:00:00.4Z"));
        assert_eq!(
            readiness_write(Some(&written(&ready(), EARLIER)), &r, Some(1), ts(NOW)),
            None
        );
    }

    #[test]
    fn changed_times_rewrite_the_unchanged_condition_as_it_was() {
        let status = written(&ready(), EARLIER);
        let mut renewed = ready();
        renewed.not_before = Some(ts("2026-01-20T00:00:00Z"));
        renewed.not_after = Some(ts("2026-04-20T00:00:00Z"));
        renewed.renewal_time = Some(ts("2026-03-21T00:00:00Z"));
        let write = readiness_write(Some(&status), &renewed, Some(1), ts(NOW)).unwrap();
        assert!(!write.transition);
        assert_eq!(
            write.condition,
            status.conditions.as_ref().unwrap()[0],
            "lastTransitionTime kept"
        );
        assert_eq!(write.status["notAfter"], json!("2026-04-20T00:00:00Z"));
    }

    #[test]
    fn transitions() {
        // Ready -> not Ready: a transition, times dropped from the apply (so removed).
        let status = written(&ready(), EARLIER);
        let write = readiness_write(Some(&status), &missing(), Some(1), ts(NOW)).unwrap();
        assert!(write.transition && write.was_ready);
        assert_eq!(write.condition.last_transition_time, Some(Time(ts(NOW))));
        assert!(write.status.get("notAfter").is_none());

        // Not Ready, new reason: no transition, the transition time kept.
        let status = written(&missing(), EARLIER);
        let mut other = missing();
        other.reason = "MissingData";
        other.message = "Issuing certificate as Secret does not contain a certificate".into();
        let write = readiness_write(Some(&status), &other, Some(1), ts(NOW)).unwrap();
        assert!(!write.transition && !write.was_ready);
        assert_eq!(
            write.condition.last_transition_time,
            Some(Time(ts(EARLIER)))
        );

        // A new generation is written.
        let write = readiness_write(Some(&status), &missing(), Some(2), ts(NOW)).unwrap();
        assert_eq!(write.condition.observed_generation, Some(2));
        assert!(!write.transition);
    }
}
