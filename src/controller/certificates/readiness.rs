//! The readiness controller: computes `policy::readiness::readiness` and keeps the `Ready`
//! condition and `notBefore`/`notAfter`/`renewalTime` true to it, and writes nothing when none
//! changed.
//!
//! Those fields are written by three field managers, always computed here
//! ([`readiness_fields`]): this controller's ([`MANAGER_READINESS`]), and, in the same apply
//! as their own fields, the trigger's (when an issuance starts: the first `Ready=False`) and
//! the issuing controller's (when it ends: `Ready=True` and the new times). That saves two
//! status writes per issuance; this controller then finds nothing to change. Each of them
//! applies the whole set in every write, so none drops a field another keeps, and a field all
//! three stop writing is removed by this controller ([`clear_times`]).
//!
//! Wakes on the same watches as the trigger controller, and just after `notAfter` while Ready
//! (when the certificate expires without any object changing).

use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
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
use crate::policy::backoff::Backoff;
use crate::policy::facts::TriggerInput;
use crate::policy::readiness::{Readiness, readiness};
use crate::policy::trigger::{TriggerDecision, decide, is_issuing};

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

/// The readiness fields of a Certificate's status, as one apply writes them.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ReadinessFields {
    /// The status fields to apply: the Ready condition and every time that has a value.
    pub fields: Map<String, Value>,
    /// The Ready condition written.
    pub condition: Condition,
    /// Whether Ready changed status.
    pub transition: bool,
    /// Whether Ready was True before.
    pub was_ready: bool,
    /// Whether any field differs from the status it was computed against.
    pub changed: bool,
}

impl ReadinessFields {
    /// Whether this write makes a Ready certificate not Ready: the one readiness change worth an
    /// Event. Becoming Ready follows an issuance, whose `Issued` Event says so, and each Event
    /// is an API write (the API-politeness benchmark counts them).
    pub fn loses_readiness(&self) -> bool {
        self.transition && self.was_ready && self.condition.status != ConditionStatus::True
    }

    /// Adds these fields to `status` (a status apply's JSON object); the Ready condition joins
    /// its `conditions`.
    pub fn merge_into(&self, status: &mut Map<String, Value>) {
        for (key, value) in &self.fields {
            if key == "conditions" {
                let conditions = status.entry("conditions").or_insert_with(|| json!([]));
                if let Some(list) = conditions.as_array_mut() {
                    list.push(json!(self.condition));
                }
            } else {
                status.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Which controller's next write carries `readiness` for `input`, when another's does. Pure.
///
/// The trigger and this controller wake on the same events, and the issuing controller writes
/// the Secret just before its status: without this, this controller would often write the
/// same Ready first, from the copy the other write is about to replace. So it leaves
/// - the readiness of a Certificate the trigger is about to start issuing (`decide` says
///   Issue): the trigger's `Issuing=True` carries it;
/// - a `Ready=True` (or new times with it) while an issuance is in progress: only the issuing
///   controller ends an issuance, and its write carries the readiness that follows.
///
/// `Ready=False` during an issuance (an expired certificate, a deleted Secret, a request
/// waiting on its issuer) is still written here.
pub(super) fn written_by_another(
    input: &TriggerInput,
    readiness: &Readiness,
    now: Timestamp,
) -> Option<&'static str> {
    if is_issuing(input) {
        return readiness.is_ready().then_some("issuing");
    }
    matches!(
        decide(input, now, &Backoff::default()),
        TriggerDecision::Issue(_)
    )
    .then_some("trigger")
}

/// The readiness fields `readiness` gives a Certificate whose status is `status`: all of them,
/// changed or not, as every writer of Ready applies them. Pure. Times compare to the second,
/// as the API server stores them; an unchanged condition keeps its `lastTransitionTime`.
pub(super) fn readiness_fields(
    status: Option<&CertificateStatus>,
    readiness: &Readiness,
    generation: Option<i64>,
    now: Timestamp,
) -> ReadinessFields {
    let old = find_condition(
        status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default(),
        CONDITION_READY,
    );
    let was_ready = old.is_some_and(|c| c.status == ConditionStatus::True);
    let (condition, transition, condition_changed) =
        match condition_change(old, readiness.condition(generation), Time(now)) {
            ConditionChange::Write {
                condition,
                transition,
            } => (condition, transition, true),
            ConditionChange::Unchanged => match old {
                Some(old) => (old.clone(), false, false),
                // Unchanged means present; written afresh should that ever not hold.
                None => {
                    let condition = Condition {
                        last_transition_time: Some(Time(now)),
                        ..readiness.condition(generation)
                    };
                    (condition, true, true)
                }
            },
        };
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
    let mut fields = Map::new();
    fields.insert("conditions".into(), json!([condition]));
    for (key, value, _) in times {
        if let Some(t) = value {
            fields.insert(key.into(), json!(Time(t)));
        }
    }
    ReadinessFields {
        fields,
        condition,
        transition,
        was_ready,
        changed: condition_changed || times_changed,
    }
}

/// What to write, if anything, to bring `status` in line with `readiness`: the
/// [`readiness_fields`] when any of them changed. Pure.
pub(super) fn readiness_write(
    status: Option<&CertificateStatus>,
    readiness: &Readiness,
    generation: Option<i64>,
    now: Timestamp,
) -> Option<ReadinessFields> {
    let write = readiness_fields(status, readiness, generation, now);
    write.changed.then_some(write)
}

/// The status a server-side apply of `patch` (status fields, as JSON) by a manager that also
/// owns the top-level fields `owned` leaves behind: conditions merge by type, the fields given
/// are set, and owned fields left out are removed. Pure; what readiness is computed on before
/// that apply is made.
pub(super) fn status_after_apply(
    status: Option<&CertificateStatus>,
    patch: &Map<String, Value>,
    owned: &[&str],
) -> CertificateStatus {
    let mut after = serde_json::to_value(status.cloned().unwrap_or_default())
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    for key in owned {
        if !patch.contains_key(*key) {
            after.remove(*key);
        }
    }
    for (key, value) in patch {
        if key != "conditions" {
            after.insert(key.clone(), value.clone());
            continue;
        }
        let mut conditions = after
            .remove("conditions")
            .and_then(|c| c.as_array().cloned())
            .unwrap_or_default();
        for new in value.as_array().into_iter().flatten() {
            conditions.retain(|old| old.get("type") != new.get("type"));
            conditions.push(new.clone());
        }
        after.insert("conditions".into(), Value::Array(conditions));
    }
    serde_json::from_value(Value::Object(after)).unwrap_or_default()
}

/// The time fields `written` (a status as the API server returned it after an apply of
/// `fields`) still has although `fields` leaves them out: another manager's earlier write
/// keeps them. Pure.
pub(super) fn times_kept_by_others(
    written: Option<&CertificateStatus>,
    fields: &Map<String, Value>,
) -> Vec<&'static str> {
    let Some(status) = written else {
        return Vec::new();
    };
    [
        ("notBefore", status.not_before.is_some()),
        ("notAfter", status.not_after.is_some()),
        ("renewalTime", status.renewal_time.is_some()),
    ]
    .into_iter()
    .filter(|(key, present)| *present && !fields.contains_key(*key))
    .map(|(key, _)| key)
    .collect()
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
    let input = facts.into_input(&certificate);
    let readiness = readiness(&input, now);
    if let Some(writer) = written_by_another(&input, &readiness, now) {
        tracing::debug!(
            namespace = certificate.namespace().unwrap_or_default(),
            name = certificate.name_any(),
            writer,
            "readiness left to the write that carries it"
        );
    } else if let Some(write) = readiness_write(
        certificate.status.as_ref(),
        &readiness,
        certificate.metadata.generation,
        now,
    ) {
        let written = apply_status(
            &ctx,
            &certificate,
            MANAGER_READINESS,
            Value::Object(write.fields.clone()),
        )
        .await?;
        clear_times(&ctx, &written, &write.fields).await?;
        tracing::info!(
            namespace = certificate.namespace().unwrap_or_default(),
            name = certificate.name_any(),
            ready = ?write.condition.status,
            reason = readiness.reason,
            "Certificate readiness updated"
        );
        if write.loses_readiness() {
            publish_lost_readiness(&certificate, &write, &ctx).await;
        }
    }
    ctx.backoff.reset(&backoff_key(CONTROLLER, &certificate));
    Ok(match readiness.recheck_at(now) {
        Some(at) => Action::requeue(requeue_after(now, at)),
        None => Action::await_change(),
    })
}

/// Removes the times `written` still has although `fields` (this controller's apply) leaves
/// them out: the trigger or issuing controller wrote them last and still owns them, and an
/// apply removes only what no manager keeps. A JSON merge patch removes them for every owner;
/// it happens only when a certificate stops being readable (its Secret deleted or broken).
async fn clear_times(
    ctx: &Context,
    written: &Certificate,
    fields: &Map<String, Value>,
) -> Result<(), CertificateError> {
    let stale = times_kept_by_others(written.status.as_ref(), fields);
    if stale.is_empty() {
        return Ok(());
    }
    let namespace = written.namespace().unwrap_or_default();
    let name = written.name_any();
    let nulls: Map<String, Value> = stale
        .iter()
        .map(|k| ((*k).to_owned(), Value::Null))
        .collect();
    let patch = json!({ "status": nulls });
    let params = PatchParams {
        field_manager: Some(MANAGER_READINESS.to_owned()),
        ..Default::default()
    };
    let cleared = Api::<Certificate>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(&name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| CertificateError::Write {
            what: format!("the status of Certificate {namespace}/{name}"),
            source,
        })?;
    ctx.writes.record(&cleared);
    Ok(())
}

/// Publishes the Warning of a Certificate that stopped being Ready (`write.loses_readiness()`),
/// from whichever controller's write made it so.
pub(super) async fn publish_lost_readiness(
    certificate: &Certificate,
    write: &ReadinessFields,
    ctx: &Context,
) {
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
        serde_json::from_value(Value::Object(write.fields)).unwrap()
    }

    #[test]
    fn first_write_has_every_owned_field() {
        let write = readiness_write(None, &ready(), Some(1), ts(NOW)).unwrap();
        assert!(write.transition);
        assert!(!write.was_ready);
        assert_eq!(
            Value::Object(write.fields),
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
        let keys: Vec<_> = write.fields.keys().cloned().collect();
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
        assert_eq!(write.fields["notAfter"], json!("2026-04-20T00:00:00Z"));
    }

    #[test]
    fn transitions() {
        // Ready -> not Ready: a transition, times dropped from the apply (so removed).
        let status = written(&ready(), EARLIER);
        let write = readiness_write(Some(&status), &missing(), Some(1), ts(NOW)).unwrap();
        assert!(write.transition && write.was_ready);
        assert_eq!(write.condition.last_transition_time, Some(Time(ts(NOW))));
        assert!(write.fields.get("notAfter").is_none());

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

    #[test]
    fn fields_are_whole_even_when_unchanged() {
        // What the trigger and issuing controllers apply alongside their own fields: the whole
        // set, so that none of them drops a field the others keep.
        let status = written(&ready(), EARLIER);
        let fields = readiness_fields(Some(&status), &ready(), Some(1), ts(NOW));
        assert!(!fields.changed && !fields.transition && fields.was_ready);
        assert_eq!(fields.condition, status.conditions.as_ref().unwrap()[0]);
        let keys: Vec<_> = fields.fields.keys().cloned().collect();
        assert_eq!(keys, ["conditions", "notAfter", "notBefore", "renewalTime"]);
        assert!(!fields.loses_readiness());

        let lost = readiness_fields(Some(&status), &missing(), Some(1), ts(NOW));
        assert!(lost.changed && lost.loses_readiness());
        let first = readiness_fields(None, &missing(), Some(1), ts(NOW));
        assert!(first.changed && first.transition && !first.loses_readiness());
    }

    #[test]
    fn merge_into_adds_ready_to_the_other_conditions() {
        let fields = readiness_fields(None, &ready(), Some(1), ts(NOW));
        let mut status = json!({
            "revision": 2,
            "conditions": [{"type": "Issuing", "status": "False"}],
        })
        .as_object()
        .unwrap()
        .clone();
        fields.merge_into(&mut status);
        assert_eq!(status["revision"], json!(2));
        let types: Vec<_> = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(types, ["Issuing", "Ready"]);
        assert_eq!(status["notAfter"], json!("2026-04-01T00:00:00Z"));

        let mut empty = Map::new();
        readiness_fields(None, &missing(), Some(1), ts(NOW)).merge_into(&mut empty);
        assert_eq!(empty["conditions"].as_array().unwrap().len(), 1);
        assert!(!empty.contains_key("notAfter"));
    }

    #[test]
    fn times_kept_by_others_table() {
        let with_times = written(&ready(), EARLIER);
        let without_times = written(&missing(), EARLIER);
        let missing_fields = readiness_fields(None, &missing(), Some(1), ts(NOW)).fields;
        let ready_fields = readiness_fields(None, &ready(), Some(1), ts(NOW)).fields;
        type Case<'a> = (
            Option<&'a CertificateStatus>,
            &'a Map<String, Value>,
            &'a [&'a str],
        );
        let table: [Case; 4] = [
            (
                Some(&with_times),
                &missing_fields,
                &["notBefore", "notAfter", "renewalTime"],
            ),
            (Some(&with_times), &ready_fields, &[]),
            (Some(&without_times), &missing_fields, &[]),
            (None, &missing_fields, &[]),
        ];
        for (i, (status, fields, want)) in table.into_iter().enumerate() {
            assert_eq!(times_kept_by_others(status, fields), want, "case {i}");
        }
    }

    #[test]
    fn status_after_apply_table() {
        let before: CertificateStatus = serde_json::from_value(json!({
            "revision": 2,
            "failedIssuanceAttempts": 1,
            "lastFailureTime": EARLIER,
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Issuing", "status": "True"},
            ],
        }))
        .unwrap();
        let obj = |v: Value| v.as_object().unwrap().clone();
        // The issuing controller's success: revision bumped, Issuing=False, failure fields
        // (owned, left out) removed; Ready untouched.
        let issued = status_after_apply(
            Some(&before),
            &obj(json!({"revision": 3, "conditions": [{"type": "Issuing", "status": "False"}]})),
            &["revision", "lastFailureTime", "failedIssuanceAttempts"],
        );
        assert_eq!(issued.revision, Some(3));
        assert_eq!(issued.failed_issuance_attempts, None);
        assert_eq!(issued.last_failure_time, None);
        let conditions = issued.conditions.unwrap();
        let status_of = |t: &str| find_condition(&conditions, t).map(|c| c.status);
        assert_eq!(status_of("Ready"), Some(ConditionStatus::True));
        assert_eq!(status_of("Issuing"), Some(ConditionStatus::False));
        assert_eq!(conditions.len(), 2);

        // The trigger's start on a new Certificate: only a condition added.
        let started = status_after_apply(
            None,
            &obj(json!({"conditions": [{"type": "Issuing", "status": "True"}]})),
            &[],
        );
        assert_eq!(started.revision, None);
        assert_eq!(started.conditions.unwrap().len(), 1);
    }

    #[test]
    fn readiness_another_write_carries() {
        use crate::policy::facts::SecretFacts;
        use crate::policy::fixtures::{Facts, issuing_status, now};

        let issuing = Some(issuing_status(ConditionStatus::True));
        let missing = |status: Option<CertificateStatus>| Facts {
            secret: SecretFacts::Missing,
            status,
            ..Default::default()
        };
        let table = [
            ("up to date", Facts::default(), None),
            (
                "the trigger is about to start",
                missing(None),
                Some("trigger"),
            ),
            (
                "Ready=True during an issuance",
                Facts {
                    status: issuing.clone(),
                    ..Default::default()
                },
                Some("issuing"),
            ),
            ("Ready=False during an issuance", missing(issuing), None),
        ];
        for (case, facts, want) in table {
            let input = facts.input();
            let r = readiness(&input, now());
            assert_eq!(written_by_another(&input, &r, now()), want, "{case}");
        }
    }
}
