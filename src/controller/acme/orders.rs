//! The Order controller: places the ACME order of an Order object, mirrors it into status,
//! creates one Challenge per pending authorization (solver chosen by selector), finalizes with
//! the CSR once the server says `ready`, and downloads the chain. It talks to the ACME server
//! only when something can have changed there: after placing, when every Challenge it waits
//! on is over, while the server is `processing` (at its `Retry-After` pace) — never on each
//! Challenge status write. Final Orders delete their Challenges (whose finalizers clean up).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::accounts::{AccountError, ResolvedIssuer, issuer_account, problem_of, resolve_issuer};
use super::requests::state_word;
use crate::acme::{AcmeAccount, AcmeError, ErrorClass, Identifier, OrderSnapshot};
use crate::api::{AcmeAuthorization, AcmeChallenge, AcmeState, Challenge, Order, OrderStatus};
use crate::controller::Context;
use crate::issuer::acme::orders::{
    ChallengeRequest, acme_type, challenge_for_order, challenge_type, order_labels,
    with_http01_overrides,
};
use crate::issuer::acme::solvers::choose_solver;
use crate::pki::csr::csr_pem_to_der;
use crate::pki::duration::parse_duration;

const CONTROLLER: &str = "orders";
const FIELD_MANAGER: &str = "certsmith-orders";
/// How soon to look again at an order the server is still processing, when it gives no
/// `Retry-After`.
const PROCESSING_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("{what}: {source}")]
    Kube { what: String, source: kube::Error },
}

/// Runs the Order controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    crate::controller::cached_controller(&ctx, "orders", ctx.watched::<Order>())
        .owns(ctx.watched::<Challenge>(), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            crate::controller::timed(CONTROLLER, &ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| crate::controller::log_outcome(CONTROLLER, r))
        .await;
}

/// What the Order needs next. Pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderStep {
    /// No ACME order yet: place it.
    Place,
    /// Pending: create the Challenges of these authorizations (by URL).
    CreateChallenges(Vec<String>),
    /// Pending: a Challenge is still being solved; its updates wake us.
    WaitForChallenges,
    /// A Challenge ended `errored` on our side (it never reached the server): the Order fails.
    ChallengeErrored(String),
    /// Ask the server where the order stands (every Challenge is over, or it is processing).
    Refresh,
    /// The server is ready for the CSR.
    Finalize,
    /// Valid, but the certificate is not in status yet.
    Download,
    /// Final: delete the Challenges that are left.
    Done,
}

/// A Challenge the Order expects, as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeState {
    pub authorization_url: String,
    pub state: Option<AcmeState>,
    pub reason: Option<String>,
}

/// Decides the next step from the Order's status and its Challenges (those that exist).
pub fn order_step(status: Option<&OrderStatus>, challenges: &[ChallengeState]) -> OrderStep {
    let Some(status) = status.filter(|s| s.url.as_deref().is_some_and(|u| !u.is_empty())) else {
        return OrderStep::Place;
    };
    match status.state {
        Some(AcmeState::Valid) => {
            if status.certificate.as_ref().is_some_and(|c| !c.0.is_empty()) {
                OrderStep::Done
            } else {
                OrderStep::Download
            }
        }
        Some(s) if s.is_final() => OrderStep::Done,
        Some(AcmeState::Ready) => OrderStep::Finalize,
        Some(AcmeState::Processing) => OrderStep::Refresh,
        _ => {
            let pending: Vec<&AcmeAuthorization> = status
                .authorizations
                .iter()
                .flatten()
                .filter(|a| a.initial_state.unwrap_or(AcmeState::Pending) == AcmeState::Pending)
                .collect();
            let missing: Vec<String> = pending
                .iter()
                .filter(|a| !challenges.iter().any(|c| c.authorization_url == a.url))
                .map(|a| a.url.clone())
                .collect();
            if !missing.is_empty() {
                return OrderStep::CreateChallenges(missing);
            }
            if let Some(errored) = challenges
                .iter()
                .find(|c| c.state == Some(AcmeState::Errored))
            {
                return OrderStep::ChallengeErrored(
                    errored
                        .reason
                        .clone()
                        .unwrap_or_else(|| "a challenge could not be solved".into()),
                );
            }
            let all_over = challenges
                .iter()
                .all(|c| c.state.is_some_and(AcmeState::is_final));
            if all_over {
                OrderStep::Refresh
            } else {
                OrderStep::WaitForChallenges
            }
        }
    }
}

async fn reconcile(order: Arc<Order>, ctx: Arc<Context>) -> Result<Action, OrderError> {
    if order.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = order.namespace().unwrap_or_default();
    let challenges = owned_challenges(&ctx, &order).await?;
    let states: Vec<ChallengeState> = challenges
        .iter()
        .map(|c| ChallengeState {
            authorization_url: c.spec.authorization_url.clone(),
            state: c.status.as_ref().and_then(|s| s.state),
            reason: c.status.as_ref().and_then(|s| s.reason.clone()),
        })
        .collect();
    let step = order_step(order.status.as_ref(), &states);
    tracing::debug!(namespace, order = order.name_any(), ?step, "order step");
    if step == OrderStep::WaitForChallenges {
        return Ok(Action::await_change());
    }
    if step == OrderStep::Done {
        delete_challenges(&ctx, &challenges).await?;
        ctx.backoff.reset(&key(&order));
        return Ok(Action::await_change());
    }
    if let OrderStep::ChallengeErrored(reason) = &step {
        let mut status = order.status.clone().unwrap_or_default();
        fail(&mut status, AcmeState::Errored, reason.clone());
        write_status(&ctx, &order, &status).await?;
        return Ok(Action::await_change());
    }

    // Everything else talks to the ACME server with the issuer's account.
    let issuer = match resolve_issuer(&ctx, &order.spec.issuer_ref, &namespace)
        .await
        .map_err(|source| OrderError::Kube {
            what: "reading the Order's issuer".into(),
            source,
        })? {
        Ok(issuer) => issuer,
        Err(message) => return waiting(&ctx, &order, message).await,
    };
    let account = match issuer_account(
        &ctx,
        &issuer.acme,
        &issuer.secret_namespace,
        issuer.account_uri.as_deref(),
        false,
    )
    .await
    {
        Ok(a) => a.account,
        Err(AccountError::Problem(p)) => {
            return waiting(&ctx, &order, format!("{}: {}", issuer.label, p.message)).await;
        }
        Err(AccountError::Kube { what, source }) => {
            return Err(OrderError::Kube { what, source });
        }
    };
    let result = match step {
        OrderStep::Place => place(&ctx, &order, &account).await,
        OrderStep::CreateChallenges(urls) => {
            create_challenges(&ctx, &order, &issuer, &account, &urls).await
        }
        OrderStep::Refresh => refresh(&ctx, &order, &issuer, &account).await,
        OrderStep::Finalize => finalize(&ctx, &order, &issuer, &account).await,
        OrderStep::Download => {
            let status = order.status.clone().unwrap_or_default();
            let url = status.url.clone().unwrap_or_default();
            download(&ctx, &order, &issuer, &account, status, &url).await
        }
        OrderStep::WaitForChallenges | OrderStep::Done | OrderStep::ChallengeErrored(_) => {
            Ok(Ok(Action::await_change()))
        }
    }?;
    match result {
        Ok(action) => {
            ctx.backoff.reset(&key(&order));
            Ok(action)
        }
        Err(err) => acme_failure(&ctx, &order, &account, err).await,
    }
}

/// The ACME result of a step: `Err` is an ACME error to record, the outer `Err` a Kubernetes
/// one to retry.
type StepResult = Result<Result<Action, AcmeError>, OrderError>;

async fn place(ctx: &Context, order: &Order, account: &AcmeAccount) -> StepResult {
    let mut identifiers: Vec<Identifier> = order
        .spec
        .dns_names
        .iter()
        .flatten()
        .map(|n| Identifier::Dns(n.clone()))
        .collect();
    identifiers.extend(
        order
            .spec
            .ip_addresses
            .iter()
            .flatten()
            .filter_map(|ip| ip.parse().ok())
            .map(Identifier::Ip),
    );
    let not_after = order
        .spec
        .duration
        .as_deref()
        .and_then(|d| parse_duration(d).ok())
        .and_then(|d| SignedDuration::try_from(d).ok())
        .and_then(|d| Timestamp::now().checked_add(d).ok());
    let snapshot = match account
        .new_order(&identifiers, order.spec.profile.as_deref(), not_after)
        .await
    {
        Ok(s) => s,
        Err(err) => return Ok(Err(err)),
    };
    // The authorizations, read once: their identifiers, initial states and offered challenges
    // are what the Challenges are made from.
    let mut authorizations = Vec::new();
    for url in &snapshot.authorization_urls {
        match account.authorization(url).await {
            Ok(a) => authorizations.push(AcmeAuthorization {
                url: a.url.clone(),
                identifier: Some(match &a.identifier {
                    Identifier::Dns(n) => n.clone(),
                    Identifier::Ip(ip) => ip.to_string(),
                }),
                wildcard: Some(a.wildcard),
                initial_state: Some(a.state),
                challenges: Some(
                    a.challenges
                        .iter()
                        .map(|c| AcmeChallenge {
                            url: c.url.clone(),
                            token: c.token.clone(),
                            type_: c.challenge_type.clone(),
                        })
                        .collect(),
                ),
            }),
            Err(err) => return Ok(Err(err)),
        }
    }
    let mut status = mirror(order.status.clone().unwrap_or_default(), &snapshot);
    status.authorizations = Some(authorizations);
    write_status(ctx, order, &status).await?;
    tracing::info!(
        namespace = order.namespace().unwrap_or_default(),
        order = order.name_any(),
        url = snapshot.url,
        "placed the ACME order"
    );
    publish(
        ctx,
        order,
        EventType::Normal,
        "Created",
        format!("Created ACME order {}", snapshot.url),
    )
    .await;
    Ok(Ok(Action::await_change()))
}

async fn create_challenges(
    ctx: &Context,
    order: &Order,
    issuer: &ResolvedIssuer,
    account: &AcmeAccount,
    authorization_urls: &[String],
) -> StepResult {
    let status = order.status.clone().unwrap_or_default();
    let solvers = issuer.acme.solvers.as_deref().unwrap_or_default();
    let labels = order_labels(order);
    let api: Api<Challenge> =
        Api::namespaced(ctx.client.clone(), &order.namespace().unwrap_or_default());
    for url in authorization_urls {
        let Some(authorization) = status
            .authorizations
            .iter()
            .flatten()
            .find(|a| &a.url == url)
        else {
            continue;
        };
        let domain = authorization.identifier.clone().unwrap_or_default();
        let wildcard = authorization.wildcard.unwrap_or(false);
        let offered: Vec<_> = authorization
            .challenges
            .iter()
            .flatten()
            .filter_map(|c| challenge_type(&c.type_))
            .collect();
        let Some(chosen) = choose_solver(solvers, &domain, wildcard, &labels, &offered) else {
            let name = if wildcard {
                format!("*.{domain}")
            } else {
                domain.clone()
            };
            let mut failed = status.clone();
            fail(
                &mut failed,
                AcmeState::Errored,
                format!(
                    "no solver in spec.acme.solvers of {} can solve {name} (offered: {}): add a \
                     solver whose selector (dnsNames, dnsZones, matchLabels) covers it{}",
                    issuer.label,
                    offered
                        .iter()
                        .map(|t| acme_type(*t))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if wildcard {
                        "; wildcards need a dns01 solver"
                    } else {
                        ""
                    },
                ),
            );
            write_status(ctx, order, &failed).await?;
            return Ok(Ok(Action::await_change()));
        };
        let wanted = acme_type(chosen.challenge_type);
        let Some(offer) = authorization
            .challenges
            .iter()
            .flatten()
            .find(|c| c.type_ == wanted)
        else {
            continue;
        };
        let key = match chosen.challenge_type {
            crate::api::ChallengeType::Http01 => account.key_authorization(&offer.token),
            crate::api::ChallengeType::Dns01 => account.dns01_txt_value(&offer.token),
        };
        let solver = with_http01_overrides(chosen.solver, order);
        let challenge = challenge_for_order(
            order,
            ChallengeRequest {
                authorization,
                challenge_url: &offer.url,
                token: &offer.token,
                challenge_type: chosen.challenge_type,
                key,
                solver: &solver,
            },
        );
        match api.create(&PostParams::default(), &challenge).await {
            Ok(_) => {
                tracing::info!(
                    namespace = order.namespace().unwrap_or_default(),
                    challenge = challenge.name_any(),
                    domain,
                    r#type = wanted,
                    solver = chosen.index,
                    "created Challenge"
                );
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(source) => {
                return Err(OrderError::Kube {
                    what: format!("creating Challenge {}", challenge.name_any()),
                    source,
                });
            }
        }
    }
    Ok(Ok(Action::await_change()))
}

async fn refresh(
    ctx: &Context,
    order: &Order,
    issuer: &ResolvedIssuer,
    account: &AcmeAccount,
) -> StepResult {
    let status = order.status.clone().unwrap_or_default();
    let url = status.url.clone().unwrap_or_default();
    let snapshot = match account.order(&url).await {
        Ok(s) => s,
        Err(err) => return Ok(Err(err)),
    };
    let new = mirror(status.clone(), &snapshot);
    if let Some(cert_url) = snapshot
        .certificate_url
        .as_deref()
        .filter(|_| snapshot.state == AcmeState::Valid)
    {
        return download(ctx, order, issuer, account, new, cert_url).await;
    }
    if new != status {
        write_status(ctx, order, &new).await?;
        return Ok(Ok(Action::await_change()));
    }
    // Unchanged: the server is still working on it (processing, or authorizations pending
    // although every Challenge ended); look again at its pace.
    Ok(Ok(Action::requeue(
        snapshot
            .retry_after
            .unwrap_or(PROCESSING_RECHECK)
            .min(Duration::from_secs(60)),
    )))
}

async fn finalize(
    ctx: &Context,
    order: &Order,
    issuer: &ResolvedIssuer,
    account: &AcmeAccount,
) -> StepResult {
    let status = order.status.clone().unwrap_or_default();
    let (Some(url), Some(finalize_url)) = (status.url.clone(), status.finalize_url.clone()) else {
        return Ok(Ok(Action::await_change()));
    };
    let csr = match csr_pem_to_der(&order.spec.request.0) {
        Ok(der) => der,
        Err(err) => {
            let mut status = status;
            fail(
                &mut status,
                AcmeState::Errored,
                format!("spec.request is not a PEM CSR: {err}"),
            );
            write_status(ctx, order, &status).await?;
            return Ok(Ok(Action::await_change()));
        }
    };
    let snapshot = match account.finalize(&url, &finalize_url, &csr).await {
        Ok(s) => s,
        // Finalized already (a crash after the request): read where it stands.
        Err(err) if err.is_problem("orderNotReady") => match account.order(&url).await {
            Ok(s) => s,
            Err(err) => return Ok(Err(err)),
        },
        Err(err) => return Ok(Err(err)),
    };
    let new = mirror(status, &snapshot);
    if let Some(cert_url) = snapshot
        .certificate_url
        .as_deref()
        .filter(|_| snapshot.state == AcmeState::Valid)
    {
        return download(ctx, order, issuer, account, new, cert_url).await;
    }
    write_status(ctx, order, &new).await?;
    Ok(Ok(Action::await_change()))
}

/// Downloads the chain from `url` (the certificate URL, or the order URL after a restart) and
/// writes `status` with it: one status write for "valid" and the certificate.
async fn download(
    ctx: &Context,
    order: &Order,
    issuer: &ResolvedIssuer,
    account: &AcmeAccount,
    mut status: OrderStatus,
    url: &str,
) -> StepResult {
    let preferred = issuer
        .acme
        .preferred_chain
        .as_deref()
        .filter(|p| !p.is_empty());
    let pem = match account.certificate(url, preferred).await {
        Ok(pem) => pem,
        Err(err) => return Ok(Err(err)),
    };
    status.certificate = Some(ByteString(pem.into_bytes()));
    status.reason = None;
    write_status(ctx, order, &status).await?;
    publish(
        ctx,
        order,
        EventType::Normal,
        "Complete",
        "Order completed successfully".into(),
    )
    .await;
    Ok(Ok(Action::await_change()))
}

/// The ACME server said no. Terminal: the Order ends `errored` (the request fails and the
/// Certificate backs off). Retryable or rate limited: the reason says why, and the Order is
/// looked at again after the server's `Retry-After` or a growing backoff.
async fn acme_failure(
    ctx: &Context,
    order: &Order,
    account: &AcmeAccount,
    err: AcmeError,
) -> Result<Action, OrderError> {
    if err.is_account_problem() {
        ctx.acme
            .accounts
            .forget(account.directory_url(), account.key_hash());
    }
    let mut status = order.status.clone().unwrap_or_default();
    match err.class() {
        ErrorClass::Terminal => {
            fail(&mut status, AcmeState::Errored, err.to_string());
            write_status(ctx, order, &status).await?;
            publish(ctx, order, EventType::Warning, "Failed", err.to_string()).await;
            Ok(Action::await_change())
        }
        ErrorClass::Retryable | ErrorClass::RateLimited => {
            let problem = problem_of(&err, "talking to the ACME server");
            let delay = ctx
                .backoff
                .next(&key(order))
                .max(problem.retry_after.unwrap_or_default());
            let message = format!("{} (retrying in {}s)", problem.message, delay.as_secs());
            if status.reason.as_deref() != Some(message.as_str()) {
                status.reason = Some(message);
                write_status(ctx, order, &status).await?;
            }
            tracing::info!(order = order.name_any(), %err, retry_in = ?delay, "ACME request failed; retrying");
            Ok(Action::requeue(delay))
        }
    }
}

/// The issuer or its account is not usable yet: say so in `reason` and look again later (the
/// issuer's own status says more; the Order is not failed for it).
async fn waiting(ctx: &Context, order: &Order, message: String) -> Result<Action, OrderError> {
    let mut status = order.status.clone().unwrap_or_default();
    if status.reason.as_deref() != Some(message.as_str()) {
        status.reason = Some(message);
        write_status(ctx, order, &status).await?;
    }
    Ok(Action::requeue(ctx.backoff.next(&key(order))))
}

/// The status with the server's view of the order.
fn mirror(mut status: OrderStatus, snapshot: &OrderSnapshot) -> OrderStatus {
    status.url = Some(snapshot.url.clone());
    status.finalize_url = Some(snapshot.finalize_url.clone()).filter(|u| !u.is_empty());
    status.state = Some(snapshot.state);
    status.reason = snapshot.error.as_ref().map(|p| p.to_string());
    if snapshot.state.is_final()
        && snapshot.state != AcmeState::Valid
        && status.failure_time.is_none()
    {
        status.failure_time = Some(Time(Timestamp::now()));
        if status.reason.is_none() {
            status.reason = Some(format!(
                "the ACME server marked the order {}",
                state_word(snapshot.state)
            ));
        }
    }
    status
}

fn fail(status: &mut OrderStatus, state: AcmeState, reason: String) {
    status.state = Some(state);
    status.reason = Some(reason);
    status.failure_time = Some(Time(Timestamp::now()));
}

async fn write_status(
    ctx: &Context,
    order: &Order,
    status: &OrderStatus,
) -> Result<(), OrderError> {
    let patch = json!({
        "apiVersion": Order::api_version(&()),
        "kind": Order::kind(&()),
        "status": status,
    });
    let name = order.name_any();
    let written =
        Api::<Order>::namespaced(ctx.client.clone(), &order.namespace().unwrap_or_default())
            .patch_status(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|source| OrderError::Kube {
                what: format!("writing the status of Order {name}"),
                source,
            })?;
    ctx.writes.record(&written);
    if let Some(state) = status
        .state
        .filter(|s| Some(*s) != order.status.as_ref().and_then(|o| o.state))
    {
        tracing::info!(
            namespace = order.namespace().unwrap_or_default(),
            order = name,
            state = state_word(state),
            reason = status.reason.as_deref().unwrap_or_default(),
            "Order state changed"
        );
    }
    Ok(())
}

/// The Challenges this Order controls.
async fn owned_challenges(ctx: &Context, order: &Order) -> Result<Vec<Challenge>, OrderError> {
    let Some(uid) = order.metadata.uid.as_deref() else {
        return Ok(Vec::new());
    };
    // Only an Order with authorizations can have Challenges: spare the LIST before that.
    if order
        .status
        .as_ref()
        .and_then(|s| s.authorizations.as_ref())
        .is_none_or(|a| a.is_empty())
    {
        return Ok(Vec::new());
    }
    let api: Api<Challenge> =
        Api::namespaced(ctx.client.clone(), &order.namespace().unwrap_or_default());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|source| OrderError::Kube {
            what: "listing Challenges".into(),
            source,
        })?;
    Ok(list
        .items
        .into_iter()
        .filter(|c| {
            c.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect())
}

async fn delete_challenges(ctx: &Context, challenges: &[Challenge]) -> Result<(), OrderError> {
    for challenge in challenges
        .iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
    {
        let api: Api<Challenge> = Api::namespaced(
            ctx.client.clone(),
            &challenge.namespace().unwrap_or_default(),
        );
        match api
            .delete(&challenge.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(OrderError::Kube {
                    what: format!("deleting Challenge {}", challenge.name_any()),
                    source,
                });
            }
        }
    }
    Ok(())
}

async fn publish(ctx: &Context, order: &Order, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Order".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &order.object_ref(&())).await {
        tracing::warn!(%err, "publishing an Event failed");
    }
}

fn key(order: &Order) -> String {
    format!(
        "Order/{}/{}",
        order.namespace().unwrap_or_default(),
        order.name_any()
    )
}

fn error_policy(order: Arc<Order>, err: &OrderError, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next(&key(&order));
    tracing::warn!(order = order.name_any(), %err, retry_in = ?delay, "Order reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: Option<AcmeState>, authz: &[(&str, AcmeState)], cert: bool) -> OrderStatus {
        OrderStatus {
            url: Some("https://acme.test/order/1".into()),
            state,
            authorizations: Some(
                authz
                    .iter()
                    .map(|(url, s)| AcmeAuthorization {
                        url: (*url).into(),
                        initial_state: Some(*s),
                        ..Default::default()
                    })
                    .collect(),
            ),
            certificate: cert.then(|| ByteString(b"PEM".to_vec())),
            ..Default::default()
        }
    }

    fn challenge(authz: &str, state: Option<AcmeState>) -> ChallengeState {
        ChallengeState {
            authorization_url: authz.into(),
            state,
            reason: state.map(|_| "why".into()),
        }
    }

    #[test]
    fn order_step_table() {
        use AcmeState::*;
        let pending2 = [("a", Pending), ("b", Pending)];
        let cases: Vec<(&str, Option<OrderStatus>, Vec<ChallengeState>, OrderStep)> = vec![
            ("new", None, vec![], OrderStep::Place),
            (
                "placed: both challenges to create",
                Some(status(Some(Pending), &pending2, false)),
                vec![],
                OrderStep::CreateChallenges(vec!["a".into(), "b".into()]),
            ),
            (
                "one created, one missing",
                Some(status(Some(Pending), &pending2, false)),
                vec![challenge("a", None)],
                OrderStep::CreateChallenges(vec!["b".into()]),
            ),
            (
                "an authorization already valid needs no challenge",
                Some(status(
                    Some(Pending),
                    &[("a", Valid), ("b", Pending)],
                    false,
                )),
                vec![challenge("b", Some(Pending))],
                OrderStep::WaitForChallenges,
            ),
            (
                "challenges in flight: wait",
                Some(status(Some(Pending), &pending2, false)),
                vec![
                    challenge("a", Some(Valid)),
                    challenge("b", Some(Processing)),
                ],
                OrderStep::WaitForChallenges,
            ),
            (
                "every challenge over: ask the server",
                Some(status(Some(Pending), &pending2, false)),
                vec![challenge("a", Some(Valid)), challenge("b", Some(Invalid))],
                OrderStep::Refresh,
            ),
            (
                "every authorization was valid already: ask the server",
                Some(status(Some(Pending), &[("a", Valid)], false)),
                vec![],
                OrderStep::Refresh,
            ),
            (
                "a challenge errored on our side",
                Some(status(Some(Pending), &pending2, false)),
                vec![challenge("a", Some(Errored)), challenge("b", Some(Pending))],
                OrderStep::ChallengeErrored("why".into()),
            ),
            (
                "ready",
                Some(status(Some(Ready), &pending2, false)),
                vec![],
                OrderStep::Finalize,
            ),
            (
                "processing",
                Some(status(Some(Processing), &pending2, false)),
                vec![],
                OrderStep::Refresh,
            ),
            (
                "valid without a certificate",
                Some(status(Some(Valid), &pending2, false)),
                vec![],
                OrderStep::Download,
            ),
            (
                "valid with it",
                Some(status(Some(Valid), &pending2, true)),
                vec![],
                OrderStep::Done,
            ),
            (
                "invalid",
                Some(status(Some(Invalid), &pending2, false)),
                vec![],
                OrderStep::Done,
            ),
            (
                "errored",
                Some(status(Some(Errored), &pending2, false)),
                vec![],
                OrderStep::Done,
            ),
        ];
        for (case, status, challenges, want) in cases {
            assert_eq!(order_step(status.as_ref(), &challenges), want, "{case}");
        }
    }
}
