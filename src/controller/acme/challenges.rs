//! The Challenge controller: Present -> self-check -> accept -> wait -> CleanUp, for one
//! challenge of one authorization, with a finalizer so the clean-up always runs.
//!
//! - At most `--max-concurrent-challenges` are `processing` at once; the others wait their
//!   turn (looked at again every few seconds while they wait, never hot).
//! - A new Challenge comes with its clean-up finalizer (the Order adds it), and the reconcile
//!   that takes a processing slot presents at once: one status write to start.
//! - The self-check (HTTP-01 GET, DNS-01 propagation) passes on the first correct answer and
//!   is retried on its own schedule otherwise (250 ms, doubling, at most 5 s:
//!   `ErrorBackoff::self_checks`): no fixed rounds, no fixed sleep.
//! - Only then is the challenge accepted at the ACME server, and polled at the server's
//!   `Retry-After` pace until it is `valid` or `invalid`.
//! - A configuration the solver cannot work with (an unsupported DNS provider, a missing TSIG
//!   Secret, a bad Ingress setting) ends the Challenge `errored` with the reason; the Order then
//!   fails with it. Transient trouble (a DNS server not answering) is a reason and a retry.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::accounts::{AccountError, issuer_account, resolve_issuer};
use super::requests::state_word;
use super::{dns01, http01};
use crate::acme::{AcmeAccount, ErrorClass};
use crate::api::{
    ACME_FINALIZER, AcmeState, CLUSTER_ISSUER_KIND, Challenge, ChallengeStatus, ChallengeType,
};
use crate::controller::Context;

const CONTROLLER: &str = "challenges";
const FIELD_MANAGER: &str = "certsmith-challenges";
/// How soon a Challenge waiting for a processing slot looks again.
const SLOT_RECHECK: Duration = Duration::from_secs(5);
/// How soon to poll an accepted challenge when the server gives no `Retry-After`.
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
}

/// A solver step that did not work: transient (retry with backoff) or a configuration that
/// will not work until someone changes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SolveError {
    Transient(String),
    Config(String),
}

impl SolveError {
    pub fn message(&self) -> &str {
        match self {
            SolveError::Transient(m) | SolveError::Config(m) => m,
        }
    }
}

/// Runs the Challenge controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let controller =
        crate::controller::cached_controller(&ctx, "challenges", ctx.watched::<Challenge>());
    let store = controller.store();
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed(CONTROLLER, &ctx, move |challenge, ctx| {
                reconcile(challenge, ctx, store.clone())
            }),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome(CONTROLLER, r))
        .await;
}

/// What the Challenge needs next. Pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChallengeStep {
    /// Being deleted: clean up, then drop the finalizer.
    Release,
    AddFinalizer,
    /// Over, but something may still be published: clean up, stop processing.
    CleanUp,
    /// Over and cleaned up.
    Done,
    /// Not yet processing: take a slot when there is one.
    Start,
    Present,
    /// Presented; not yet accepted: self-check, then accept.
    SelfCheck,
    /// Accepted: poll the server.
    Poll,
}

pub fn challenge_step(challenge: &Challenge) -> ChallengeStep {
    let has_finalizer = challenge.finalizers().iter().any(|f| f == ACME_FINALIZER);
    if challenge.metadata.deletion_timestamp.is_some() {
        return if has_finalizer {
            ChallengeStep::Release
        } else {
            ChallengeStep::Done
        };
    }
    if !has_finalizer {
        return ChallengeStep::AddFinalizer;
    }
    let status = challenge.status.clone().unwrap_or_default();
    let processing = status.processing.unwrap_or(false);
    let presented = status.presented.unwrap_or(false);
    match status.state {
        Some(s) if s.is_final() => {
            if processing || presented {
                ChallengeStep::CleanUp
            } else {
                ChallengeStep::Done
            }
        }
        _ if !processing => ChallengeStep::Start,
        _ if !presented => ChallengeStep::Present,
        Some(AcmeState::Processing) | Some(AcmeState::Ready) => ChallengeStep::Poll,
        _ => ChallengeStep::SelfCheck,
    }
}

/// Where a Challenge's Secrets live: its namespace, or the cluster resource namespace for a
/// ClusterIssuer's.
pub fn secret_namespace(ctx: &Context, challenge: &Challenge) -> String {
    if challenge.spec.issuer_ref.kind_or_default() == CLUSTER_ISSUER_KIND {
        ctx.cluster_resource_namespace.clone()
    } else {
        challenge.namespace().unwrap_or_default()
    }
}

async fn reconcile(
    challenge: Arc<Challenge>,
    ctx: Arc<Context>,
    store: Store<Challenge>,
) -> Result<Action, ChallengeError> {
    let step = challenge_step(&challenge);
    tracing::debug!(challenge = challenge.name_any(), ?step, "challenge step");
    let action = match step {
        ChallengeStep::Done => Action::await_change(),
        ChallengeStep::AddFinalizer => {
            add_finalizer(&ctx, &challenge).await?;
            Action::await_change()
        }
        ChallengeStep::Release => match clean_up(&ctx, &challenge).await {
            Ok(()) => {
                remove_finalizer(&ctx, &challenge).await?;
                Action::await_change()
            }
            // A configuration that cannot work (its credentials gone) will never clean up:
            // say so loudly and let the Challenge go rather than block it for ever.
            Err(SolveError::Config(message)) => {
                publish(
                    &ctx,
                    &challenge,
                    EventType::Warning,
                    "CleanUpFailed",
                    format!("could not clean up, giving up: {message}"),
                )
                .await;
                remove_finalizer(&ctx, &challenge).await?;
                Action::await_change()
            }
            Err(err) => {
                // Keep the finalizer: whatever was published must go. Say why and retry.
                let mut status = challenge.status.clone().unwrap_or_default();
                status.reason = Some(format!("cleaning up failed: {}", err.message()));
                write_status(&ctx, &challenge, &status).await?;
                Action::requeue(ctx.backoff.next(&key(&challenge, "cleanup")))
            }
        },
        ChallengeStep::CleanUp => match clean_up(&ctx, &challenge).await {
            Ok(()) => {
                let mut status = challenge.status.clone().unwrap_or_default();
                status.presented = Some(false);
                status.processing = Some(false);
                write_status(&ctx, &challenge, &status).await?;
                Action::await_change()
            }
            Err(err) => {
                tracing::warn!(
                    challenge = challenge.name_any(),
                    err = err.message(),
                    "clean-up failed; retrying"
                );
                Action::requeue(ctx.backoff.next(&key(&challenge, "cleanup")))
            }
        },
        ChallengeStep::Start => {
            let busy = store
                .state()
                .iter()
                .filter(|c| {
                    c.status
                        .as_ref()
                        .and_then(|s| s.processing)
                        .unwrap_or(false)
                        && c.metadata.uid != challenge.metadata.uid
                })
                .count();
            if busy >= ctx.acme.settings.max_concurrent_challenges {
                let mut status = challenge.status.clone().unwrap_or_default();
                let reason = format!(
                    "waiting for a free slot: {busy} challenges are being processed (--max-concurrent-challenges)"
                );
                if status.reason.as_deref() != Some(reason.as_str()) {
                    status.reason = Some(reason);
                    write_status(&ctx, &challenge, &status).await?;
                }
                Action::requeue(SLOT_RECHECK)
            } else {
                // Take the slot and present in one step: one status write, not two.
                let mut status = challenge.status.clone().unwrap_or_default();
                status.processing = Some(true);
                status.state.get_or_insert(AcmeState::Pending);
                status.reason = None;
                present(&ctx, &challenge, status).await?
            }
        }
        ChallengeStep::Present => {
            let status = challenge.status.clone().unwrap_or_default();
            present(&ctx, &challenge, status).await?
        }
        ChallengeStep::SelfCheck => self_check_then_accept(&ctx, &challenge).await?,
        ChallengeStep::Poll => poll(&ctx, &challenge).await?,
    };
    Ok(action)
}

/// Presents the challenge (solver Pod, Service and route; or the TXT record) and records it in
/// `status` (which may carry the slot just taken).
async fn present(
    ctx: &Context,
    challenge: &Challenge,
    mut status: ChallengeStatus,
) -> Result<Action, ChallengeError> {
    let result = match challenge.spec.type_ {
        ChallengeType::Http01 => http01::present(ctx, challenge).await,
        ChallengeType::Dns01 => dns01::present(ctx, challenge).await,
    };
    match result {
        Ok(what) => {
            status.presented = Some(true);
            status.reason = Some(format!("{what}; waiting for the self-check"));
            write_status(ctx, challenge, &status).await?;
            publish(ctx, challenge, EventType::Normal, "Presented", what).await;
            Ok(Action::await_change())
        }
        Err(err) => solve_failed(ctx, challenge, status, err, "presenting").await,
    }
}

/// A solver step failed: a configuration problem ends the Challenge `errored`; a transient one
/// is recorded and retried with backoff.
async fn solve_failed(
    ctx: &Context,
    challenge: &Challenge,
    mut status: ChallengeStatus,
    err: SolveError,
    doing: &str,
) -> Result<Action, ChallengeError> {
    match err {
        SolveError::Config(message) => {
            let reason = format!("{doing} the challenge failed: {message}");
            status.state = Some(AcmeState::Errored);
            status.reason = Some(reason.clone());
            write_status(ctx, challenge, &status).await?;
            publish(ctx, challenge, EventType::Warning, "Failed", reason).await;
            Ok(Action::await_change())
        }
        SolveError::Transient(message) => {
            let delay = ctx.backoff.next(&key(challenge, doing));
            let reason = format!(
                "{doing} the challenge: {message} (retrying in {}s)",
                delay.as_secs()
            );
            status.reason = Some(reason);
            write_status(ctx, challenge, &status).await?;
            Ok(Action::requeue(delay))
        }
    }
}

async fn self_check_then_accept(
    ctx: &Context,
    challenge: &Challenge,
) -> Result<Action, ChallengeError> {
    let check = match challenge.spec.type_ {
        ChallengeType::Http01 => http01::self_check(ctx, challenge).await,
        ChallengeType::Dns01 => dns01::propagated(ctx, challenge).await,
    };
    let status = challenge.status.clone().unwrap_or_default();
    match check {
        Err(err) => return solve_failed(ctx, challenge, status, err, "self-checking").await,
        Ok(Some(waiting)) => {
            let delay = ctx.self_checks.next(&key(challenge, "self-check"));
            let reason = format!(
                "self-check: {waiting} (next check in {})",
                crate::controller::backoff::describe(delay)
            );
            // Rewritten only when it says something new: at the cap, repeated checks write
            // nothing.
            if status.reason.as_deref() != Some(reason.as_str()) {
                let mut status = status;
                status.reason = Some(reason);
                write_status(ctx, challenge, &status).await?;
            }
            return Ok(Action::requeue(delay));
        }
        Ok(None) => {}
    }
    ctx.self_checks.reset(&key(challenge, "self-check"));
    let account = match account(ctx, challenge).await? {
        Ok(a) => a,
        Err(message) => return retry_with(ctx, challenge, message).await,
    };
    match account.accept_challenge(&challenge.spec.url).await {
        Ok(snapshot) => {
            let mut status = status;
            status.state = Some(match snapshot.state {
                // Accepted: at least processing from here on, whatever the server echoed.
                AcmeState::Pending => AcmeState::Processing,
                s => s,
            });
            status.reason = Some(
                snapshot
                    .error
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "self-check passed; the ACME server is validating".into()),
            );
            write_status(ctx, challenge, &status).await?;
            publish(
                ctx,
                challenge,
                EventType::Normal,
                "Started",
                "Self-check passed; challenge accepted at the ACME server".into(),
            )
            .await;
            Ok(Action::await_change())
        }
        Err(err) => acme_failed(ctx, challenge, &account, err).await,
    }
}

async fn poll(ctx: &Context, challenge: &Challenge) -> Result<Action, ChallengeError> {
    let account = match account(ctx, challenge).await? {
        Ok(a) => a,
        Err(message) => return retry_with(ctx, challenge, message).await,
    };
    match account.challenge(&challenge.spec.url).await {
        Ok(snapshot) if snapshot.state.is_final() => {
            let mut status = challenge.status.clone().unwrap_or_default();
            status.state = Some(snapshot.state);
            status.reason = Some(match (&snapshot.error, snapshot.state) {
                (Some(problem), _) => problem.to_string(),
                (None, AcmeState::Valid) => "Successfully authorized domain".into(),
                (None, s) => format!("the ACME server marked the challenge {}", state_word(s)),
            });
            write_status(ctx, challenge, &status).await?;
            let (type_, reason) = if snapshot.state == AcmeState::Valid {
                (EventType::Normal, "DomainVerified")
            } else {
                (EventType::Warning, "Failed")
            };
            publish(
                ctx,
                challenge,
                type_,
                reason,
                status.reason.clone().unwrap_or_default(),
            )
            .await;
            Ok(Action::await_change())
        }
        Ok(snapshot) => Ok(Action::requeue(
            snapshot
                .retry_after
                .unwrap_or(POLL)
                .min(Duration::from_secs(60)),
        )),
        Err(err) => acme_failed(ctx, challenge, &account, err).await,
    }
}

/// The issuer's account, or why it cannot be had (said in the Challenge's reason).
async fn account(
    ctx: &Context,
    challenge: &Challenge,
) -> Result<Result<AcmeAccount, String>, ChallengeError> {
    let namespace = challenge.namespace().unwrap_or_default();
    let issuer = match resolve_issuer(ctx, &challenge.spec.issuer_ref, &namespace)
        .await
        .map_err(|source| ChallengeError::Kube {
            what: "reading the Challenge's issuer".into(),
            source,
        })? {
        Ok(i) => i,
        Err(message) => return Ok(Err(message)),
    };
    match issuer_account(
        ctx,
        &issuer.acme,
        &issuer.secret_namespace,
        issuer.account_uri.as_deref(),
        false,
    )
    .await
    {
        Ok(a) => Ok(Ok(a.account)),
        Err(AccountError::Problem(p)) => Ok(Err(format!("{}: {}", issuer.label, p.message))),
        Err(AccountError::Kube { what, source }) => Err(ChallengeError::Kube { what, source }),
    }
}

async fn retry_with(
    ctx: &Context,
    challenge: &Challenge,
    message: String,
) -> Result<Action, ChallengeError> {
    let mut status = challenge.status.clone().unwrap_or_default();
    if status.reason.as_deref() != Some(message.as_str()) {
        status.reason = Some(message);
        write_status(ctx, challenge, &status).await?;
    }
    Ok(Action::requeue(
        ctx.backoff.next(&key(challenge, "account")),
    ))
}

/// The server refused the accept or the poll: terminal ends the Challenge `errored`; otherwise
/// retry after its `Retry-After` or a growing backoff.
async fn acme_failed(
    ctx: &Context,
    challenge: &Challenge,
    account: &AcmeAccount,
    err: crate::acme::AcmeError,
) -> Result<Action, ChallengeError> {
    if err.is_account_problem() {
        ctx.acme
            .accounts
            .forget(account.directory_url(), account.key_hash());
    }
    let mut status = challenge.status.clone().unwrap_or_default();
    match err.class() {
        ErrorClass::Terminal => {
            status.state = Some(AcmeState::Errored);
            status.reason = Some(err.to_string());
            write_status(ctx, challenge, &status).await?;
            publish(
                ctx,
                challenge,
                EventType::Warning,
                "Failed",
                err.to_string(),
            )
            .await;
            Ok(Action::await_change())
        }
        ErrorClass::Retryable | ErrorClass::RateLimited => {
            let delay = ctx
                .backoff
                .next(&key(challenge, "acme"))
                .max(err.retry_after().unwrap_or_default());
            status.reason = Some(format!("{err} (retrying in {}s)", delay.as_secs()));
            write_status(ctx, challenge, &status).await?;
            Ok(Action::requeue(delay))
        }
    }
}

async fn clean_up(ctx: &Context, challenge: &Challenge) -> Result<(), SolveError> {
    let presented = challenge
        .status
        .as_ref()
        .and_then(|s| s.presented)
        .unwrap_or(false);
    match challenge.spec.type_ {
        // Presenting is one DNS update: if it did not succeed, there is no record to remove.
        ChallengeType::Dns01 if !presented => Ok(()),
        ChallengeType::Http01 => http01::clean_up(ctx, challenge).await,
        ChallengeType::Dns01 => dns01::clean_up(ctx, challenge).await,
    }
}

async fn add_finalizer(ctx: &Context, challenge: &Challenge) -> Result<(), ChallengeError> {
    let mut finalizers = challenge.finalizers().to_vec();
    finalizers.push(ACME_FINALIZER.to_owned());
    patch_finalizers(ctx, challenge, finalizers).await
}

async fn remove_finalizer(ctx: &Context, challenge: &Challenge) -> Result<(), ChallengeError> {
    let finalizers: Vec<String> = challenge
        .finalizers()
        .iter()
        .filter(|f| *f != ACME_FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(ctx, challenge, finalizers).await
}

/// A merge patch of the whole finalizer list, guarded by the resourceVersion read (another
/// writer's finalizer is never lost: a conflict is retried from a fresh read).
async fn patch_finalizers(
    ctx: &Context,
    challenge: &Challenge,
    finalizers: Vec<String>,
) -> Result<(), ChallengeError> {
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": challenge.resource_version(),
        }
    });
    let name = challenge.name_any();
    match api(ctx, challenge)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(written) => {
            ctx.writes.record(&written);
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(ChallengeError::Kube {
            what: format!("updating the finalizers of Challenge {name}"),
            source,
        }),
    }
}

fn api(ctx: &Context, challenge: &Challenge) -> Api<Challenge> {
    Api::namespaced(
        ctx.client.clone(),
        &challenge.namespace().unwrap_or_default(),
    )
}

async fn write_status(
    ctx: &Context,
    challenge: &Challenge,
    status: &ChallengeStatus,
) -> Result<(), ChallengeError> {
    if challenge.status.as_ref() == Some(status) {
        return Ok(());
    }
    let patch = json!({
        "apiVersion": Challenge::api_version(&()),
        "kind": Challenge::kind(&()),
        "status": status,
    });
    let name = challenge.name_any();
    let written = api(ctx, challenge)
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(|source| ChallengeError::Kube {
            what: format!("writing the status of Challenge {name}"),
            source,
        })?;
    ctx.writes.record(&written);
    if status.state != challenge.status.as_ref().and_then(|s| s.state) {
        tracing::info!(
            namespace = challenge.namespace().unwrap_or_default(),
            challenge = name,
            domain = challenge.spec.dns_name,
            state = status.state.map(state_word).unwrap_or_default(),
            reason = status.reason.as_deref().unwrap_or_default(),
            "Challenge state changed"
        );
    }
    Ok(())
}

async fn publish(
    ctx: &Context,
    challenge: &Challenge,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Challenge".into(),
        secondary: None,
    };
    if let Err(err) = ctx
        .recorder
        .publish(&event, &challenge.object_ref(&()))
        .await
    {
        tracing::warn!(%err, "publishing an Event failed");
    }
}

fn key(challenge: &Challenge, what: &str) -> String {
    format!(
        "Challenge/{}/{}/{what}",
        challenge.namespace().unwrap_or_default(),
        challenge.name_any()
    )
}

fn error_policy(challenge: Arc<Challenge>, err: &ChallengeError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(&challenge, "reconcile"));
    tracing::warn!(challenge = challenge.name_any(), %err, retry_in = ?delay, "Challenge reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ChallengeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn challenge(finalizer: bool, deleting: bool, status: Option<ChallengeStatus>) -> Challenge {
        let mut c = Challenge::new("c", ChallengeSpec::default());
        if finalizer {
            c.metadata.finalizers = Some(vec![ACME_FINALIZER.into()]);
        }
        if deleting {
            c.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
        }
        c.status = status;
        c
    }

    fn status(
        state: Option<AcmeState>,
        processing: bool,
        presented: bool,
    ) -> Option<ChallengeStatus> {
        Some(ChallengeStatus {
            state,
            processing: Some(processing),
            presented: Some(presented),
            reason: None,
        })
    }

    #[test]
    fn step_table() {
        use AcmeState::*;
        use ChallengeStep::*;
        let cases = [
            ("new", challenge(false, false, None), AddFinalizer),
            (
                "deleted with finalizer",
                challenge(true, true, status(Some(Pending), true, true)),
                Release,
            ),
            ("deleted, released", challenge(false, true, None), Done),
            ("finalizer, no status", challenge(true, false, None), Start),
            (
                "waiting for a slot",
                challenge(true, false, status(Some(Pending), false, false)),
                Start,
            ),
            (
                "processing",
                challenge(true, false, status(Some(Pending), true, false)),
                Present,
            ),
            (
                "presented",
                challenge(true, false, status(Some(Pending), true, true)),
                SelfCheck,
            ),
            (
                "accepted",
                challenge(true, false, status(Some(Processing), true, true)),
                Poll,
            ),
            (
                "valid, still presented",
                challenge(true, false, status(Some(Valid), true, true)),
                CleanUp,
            ),
            (
                "invalid, cleaned",
                challenge(true, false, status(Some(Invalid), false, false)),
                Done,
            ),
            (
                "errored before presenting",
                challenge(true, false, status(Some(Errored), true, false)),
                CleanUp,
            ),
        ];
        for (case, c, want) in cases {
            assert_eq!(challenge_step(&c), want, "{case}");
        }
    }
}
