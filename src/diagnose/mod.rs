//! "Why is my certificate not ready, and what do I do?" — the pure half of `certsmith status`.
//!
//! The CLI fetches the chain (Certificate, Secret, Issuer, CertificateRequest, Order,
//! Challenges, Events) into [`StatusFacts`]; [`report`] turns them into a [`StatusReport`]:
//! one [`Summary`] naming the first problem on the chain and what to do about it, plus a
//! section per object. `render` prints it for a terminal; `-o json|yaml` serialises it.
//! No I/O and no clock here: `now` is passed in.

pub mod api_check;
pub mod render;
pub mod secret;
pub mod time;

use jiff::Timestamp;
use serde::Serialize;

use crate::api::{
    AcmeState, CONDITION_APPROVED, CONDITION_DENIED, CONDITION_INVALID_REQUEST, CONDITION_ISSUING,
    CONDITION_READY, Certificate, CertificateRequest, Challenge, ChallengeType, Condition,
    ConditionStatus, Order, REASON_DUPLICATE_SECRET_NAME, REASON_FAILED,
    REASON_INVALID_PRIVATE_KEY, find_condition,
};
use crate::policy::backoff::Backoff;
use secret::SecretAnalysis;
use time::{relative, stamp};

/// The Secret named by `spec.secretName`, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretFacts {
    Missing,
    /// It could not be read (e.g. forbidden): the error.
    Unreadable(String),
    Present {
        analysis: Box<SecretAnalysis>,
        /// Its `cert-manager.io/certificate-name` annotation.
        certificate_name: Option<String>,
    },
}

/// The issuer named by `spec.issuerRef`, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerFacts {
    Found {
        /// `Issuer ns/name` or `ClusterIssuer name`.
        label: String,
        /// `ACME`, `CA`, `SelfSigned` or `unknown`.
        type_: String,
        ready: Option<Condition>,
    },
    NotFound {
        label: String,
    },
    /// An issuer of another API group (an external issuer): not ours to judge.
    External {
        label: String,
    },
    Unreadable {
        label: String,
        error: String,
    },
}

/// One Event about an object of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    /// `Kind/name`.
    pub object: String,
    pub message: String,
    pub count: i32,
}

/// Everything `status certificate` looked at.
#[derive(Clone, Debug)]
pub struct StatusFacts {
    pub certificate: Certificate,
    pub secret: SecretFacts,
    pub issuer: IssuerFacts,
    /// The CertificateRequest of the issuance in progress (or last failed), else the current one.
    pub request: Option<CertificateRequest>,
    pub order: Option<Order>,
    pub challenges: Vec<Challenge>,
    /// Newest last.
    pub events: Vec<EventView>,
}

/// The overall state, first word of the headline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum State {
    Ready,
    /// Ready, with something that will bite later (renewal overdue, issuer gone).
    Warning,
    /// Work in progress, nothing wrong yet.
    Issuing,
    NotReady,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Ready => "Ready",
            State::Warning => "Ready, but",
            State::Issuing => "Issuing",
            State::NotReady => "Not ready",
        }
    }
}

/// The answer: what is wrong (or right), and what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub state: State,
    pub problem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl Summary {
    fn new(state: State, problem: impl Into<String>, action: Option<String>) -> Self {
        Summary {
            state,
            problem: problem.into(),
            action,
        }
    }

    /// The one-paragraph headline: `Not ready: <problem>. <action>`.
    pub fn headline(&self) -> String {
        let problem = self.problem.trim_end_matches('.');
        match &self.action {
            Some(a) => format!("{}: {problem}. {}", self.state.word(), capitalise(a)),
            None => format!("{}: {problem}.", self.state.word()),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

impl From<&Condition> for ConditionView {
    fn from(c: &Condition) -> Self {
        ConditionView {
            type_: c.type_.clone(),
            status: c.status,
            reason: c.reason.clone(),
            message: c.message.clone(),
            since: c.last_transition_time.as_ref().map(|t| t.0),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSection {
    pub secret_name: String,
    /// `Issuer/name` or `ClusterIssuer/name` (with the group when not cert-manager.io).
    pub issuer_ref: String,
    pub names: Vec<String>,
    pub conditions: Vec<ConditionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Timestamp>,
    /// When the trigger retries after the last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSection {
    pub name: String,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The Certificate its annotation names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<SecretAnalysis>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSection {
    pub label: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<ConditionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSection {
    pub name: String,
    /// `Approved`, `Denied` or `Pending`.
    pub approval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<ConditionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSection {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<AcmeState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeSection {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: ChallengeType,
    pub domain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<AcmeState>,
    pub presented: bool,
    pub processing: bool,
    /// The last step's result: the self-check's, the solver's or the ACME server's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `certsmith status certificate` as data (`-o json|yaml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub namespace: String,
    pub name: String,
    pub summary: Summary,
    pub certificate: CertificateSection,
    pub secret: SecretSection,
    pub issuer: IssuerSection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderSection>,
    pub challenges: Vec<ChallengeSection>,
    pub events: Vec<EventView>,
}

/// Builds the report.
pub fn report(facts: &StatusFacts, now: Timestamp) -> StatusReport {
    let cert = &facts.certificate;
    StatusReport {
        namespace: cert.metadata.namespace.clone().unwrap_or_default(),
        name: cert.metadata.name.clone().unwrap_or_default(),
        summary: diagnose(facts, now),
        certificate: certificate_section(cert),
        secret: secret_section(cert, &facts.secret),
        issuer: issuer_section(&facts.issuer),
        request: facts.request.as_ref().map(request_section),
        order: facts.order.as_ref().map(|o| OrderSection {
            name: o.metadata.name.clone().unwrap_or_default(),
            state: o.status.as_ref().and_then(|s| s.state),
            reason: o.status.as_ref().and_then(|s| s.reason.clone()),
        }),
        challenges: facts.challenges.iter().map(challenge_section).collect(),
        events: facts.events.clone(),
    }
}

fn conditions(c: &Certificate) -> &[Condition] {
    c.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

fn request_conditions(r: &CertificateRequest) -> &[Condition] {
    r.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

fn is_true(c: Option<&Condition>) -> bool {
    c.is_some_and(|c| c.status == ConditionStatus::True)
}

fn message_of(c: &Condition) -> String {
    c.message.clone().unwrap_or_default()
}

/// When the trigger will try again after the last failure (cert-manager's backoff, ours).
pub fn next_retry(cert: &Certificate) -> Option<Timestamp> {
    let status = cert.status.as_ref()?;
    let last = status.last_failure_time.as_ref()?.0;
    Some(Backoff::default().next_retry(last, status.failed_issuance_attempts))
}

fn certificate_section(cert: &Certificate) -> CertificateSection {
    let spec = &cert.spec;
    let status = cert.status.as_ref();
    let issuer = &spec.issuer_ref;
    let group = issuer.group_or_default();
    let issuer_ref = if group == crate::api::GROUP {
        format!("{}/{}", issuer.kind_or_default(), issuer.name)
    } else {
        format!("{}.{group}/{}", issuer.kind_or_default(), issuer.name)
    };
    let names = spec
        .common_name
        .iter()
        .map(|cn| format!("CN={cn}"))
        .chain(spec.dns_names.iter().flatten().map(|n| format!("DNS:{n}")))
        .chain(
            spec.ip_addresses
                .iter()
                .flatten()
                .map(|n| format!("IP:{n}")),
        )
        .chain(spec.uris.iter().flatten().map(|n| format!("URI:{n}")))
        .chain(
            spec.email_addresses
                .iter()
                .flatten()
                .map(|n| format!("email:{n}")),
        )
        .collect();
    CertificateSection {
        secret_name: spec.secret_name.clone(),
        issuer_ref,
        names,
        conditions: conditions(cert).iter().map(ConditionView::from).collect(),
        revision: status.and_then(|s| s.revision),
        not_after: status.and_then(|s| s.not_after.as_ref()).map(|t| t.0),
        renewal_time: status.and_then(|s| s.renewal_time.as_ref()).map(|t| t.0),
        failed_issuance_attempts: status.and_then(|s| s.failed_issuance_attempts),
        last_failure_time: status
            .and_then(|s| s.last_failure_time.as_ref())
            .map(|t| t.0),
        next_retry: next_retry(cert),
    }
}

fn secret_section(cert: &Certificate, secret: &SecretFacts) -> SecretSection {
    let name = cert.spec.secret_name.clone();
    match secret {
        SecretFacts::Missing => SecretSection {
            name,
            present: false,
            error: None,
            certificate_name: None,
            analysis: None,
        },
        SecretFacts::Unreadable(e) => SecretSection {
            name,
            present: false,
            error: Some(e.clone()),
            certificate_name: None,
            analysis: None,
        },
        SecretFacts::Present {
            analysis,
            certificate_name,
        } => SecretSection {
            name,
            present: true,
            error: None,
            certificate_name: certificate_name.clone(),
            analysis: Some((**analysis).clone()),
        },
    }
}

fn issuer_section(issuer: &IssuerFacts) -> IssuerSection {
    match issuer {
        IssuerFacts::Found {
            label,
            type_,
            ready,
        } => IssuerSection {
            label: label.clone(),
            found: true,
            type_: Some(type_.clone()),
            ready: ready.as_ref().map(ConditionView::from),
            note: None,
        },
        IssuerFacts::NotFound { label } => IssuerSection {
            label: label.clone(),
            found: false,
            type_: None,
            ready: None,
            note: Some("does not exist".into()),
        },
        IssuerFacts::External { label } => IssuerSection {
            label: label.clone(),
            found: true,
            type_: None,
            ready: None,
            note: Some("an external issuer: its own controller signs".into()),
        },
        IssuerFacts::Unreadable { label, error } => IssuerSection {
            label: label.clone(),
            found: false,
            type_: None,
            ready: None,
            note: Some(format!("cannot be read: {error}")),
        },
    }
}

/// `Approved`, `Denied` or `Pending`, and the approver's message.
fn approval(r: &CertificateRequest) -> (&'static str, Option<String>) {
    let conds = request_conditions(r);
    let text = |c: &Condition| {
        let reason = c.reason.clone().unwrap_or_default();
        match c.message.as_deref() {
            Some(m) if !m.is_empty() => format!("{reason}: {m}"),
            _ => reason,
        }
    };
    if let Some(c) = find_condition(conds, CONDITION_DENIED).filter(|c| is_true(Some(c))) {
        return ("Denied", Some(text(c)));
    }
    if let Some(c) = find_condition(conds, CONDITION_APPROVED).filter(|c| is_true(Some(c))) {
        return ("Approved", Some(text(c)));
    }
    ("Pending", None)
}

fn request_section(r: &CertificateRequest) -> RequestSection {
    let (approval, approval_message) = approval(r);
    RequestSection {
        name: r.metadata.name.clone().unwrap_or_default(),
        approval: approval.into(),
        approval_message,
        ready: find_condition(request_conditions(r), CONDITION_READY).map(ConditionView::from),
        failure_time: r
            .status
            .as_ref()
            .and_then(|s| s.failure_time.as_ref())
            .map(|t| t.0),
    }
}

fn challenge_section(c: &Challenge) -> ChallengeSection {
    let status = c.status.as_ref();
    ChallengeSection {
        name: c.metadata.name.clone().unwrap_or_default(),
        type_: c.spec.type_,
        domain: challenge_domain(c),
        state: status.and_then(|s| s.state),
        presented: status.and_then(|s| s.presented).unwrap_or(false),
        processing: status.and_then(|s| s.processing).unwrap_or(false),
        reason: status.and_then(|s| s.reason.clone()),
    }
}

fn challenge_domain(c: &Challenge) -> String {
    if c.spec.wildcard == Some(true) {
        format!("*.{}", c.spec.dns_name)
    } else {
        c.spec.dns_name.clone()
    }
}

fn type_word(t: ChallengeType) -> &'static str {
    match t {
        ChallengeType::Http01 => "HTTP-01",
        ChallengeType::Dns01 => "DNS-01",
    }
}

/// What to check when a challenge of this type does not pass.
fn challenge_hint(c: &Challenge) -> String {
    let domain = &c.spec.dns_name;
    match c.spec.type_ {
        ChallengeType::Http01 => format!(
            "check that http://{domain}/.well-known/acme-challenge/ reaches the solver \
             (DNS, Ingress class or Gateway, firewall)"
        ),
        ChallengeType::Dns01 => format!(
            "check the issuer's dns01 solver settings and credentials, and that the TXT record \
             _acme-challenge.{domain} can be written and is visible"
        ),
    }
}

/// A challenge in trouble: failed for good, or its last step not passing.
fn challenge_trouble(c: &Challenge) -> Option<(bool, String)> {
    let status = c.status.as_ref()?;
    let reason = status.reason.clone().unwrap_or_default();
    let what = format!(
        "ACME {} challenge for {}",
        type_word(c.spec.type_),
        challenge_domain(c)
    );
    match status.state {
        Some(AcmeState::Invalid | AcmeState::Errored | AcmeState::Expired) => {
            let state = serde_json::to_value(status.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            Some((true, format!("{what} is {state}: {reason}")))
        }
        Some(AcmeState::Valid) => None,
        _ if reason.starts_with("self-check:") || reason.contains("(retrying in") => {
            Some((false, format!("{what} is not passing: {reason}")))
        }
        _ => None,
    }
}

/// The first problem on the chain, or the good news. Rules in order, the most specific first.
pub fn diagnose(facts: &StatusFacts, now: Timestamp) -> Summary {
    let cert = &facts.certificate;
    let name = cert.metadata.name.clone().unwrap_or_default();
    let ns = cert.metadata.namespace.clone().unwrap_or_default();
    let renew_cmd = format!("`certsmith renew {name} -n {ns}`");
    let conds = conditions(cert);
    let ready = find_condition(conds, CONDITION_READY);
    let issuing = find_condition(conds, CONDITION_ISSUING);
    let is_ready = is_true(ready);
    let is_issuing = is_true(issuing);
    let status = cert.status.as_ref();
    let not_after = status.and_then(|s| s.not_after.as_ref()).map(|t| t.0);
    let renewal = status.and_then(|s| s.renewal_time.as_ref()).map(|t| t.0);
    let ready_reason = ready.and_then(|c| c.reason.as_deref()).unwrap_or_default();

    if cert.metadata.deletion_timestamp.is_some() {
        return Summary::new(State::NotReady, "the Certificate is being deleted", None);
    }
    if ready_reason == REASON_DUPLICATE_SECRET_NAME {
        return Summary::new(
            State::NotReady,
            ready.map(message_of).unwrap_or_default(),
            Some(
                "give this Certificate its own spec.secretName, or delete the other Certificate"
                    .into(),
            ),
        );
    }
    if ready_reason == REASON_INVALID_PRIVATE_KEY {
        return Summary::new(
            State::NotReady,
            format!(
                "spec.privateKey cannot be used: {}",
                ready.map(message_of).unwrap_or_default()
            ),
            Some("fix spec.privateKey".into()),
        );
    }

    // The issuer: missing or not Ready blocks every (re-)issuance.
    let issuer_problem = match &facts.issuer {
        IssuerFacts::NotFound { label } => Some((
            format!("{label} does not exist"),
            format!(
                "create {label}, or point spec.issuerRef of Certificate {name} at an existing issuer"
            ),
        )),
        IssuerFacts::Found {
            label,
            ready: issuer_ready,
            ..
        } if !is_true(issuer_ready.as_ref()) => {
            let why = issuer_ready
                .as_ref()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.reason.clone().unwrap_or_else(|| "Unknown".into()),
                        message_of(c)
                    )
                })
                .unwrap_or_else(|| "it has no Ready condition yet".into());
            Some((
                format!("{label} is not ready ({why})"),
                format!("fix {label}; `kubectl describe` it for details"),
            ))
        }
        _ => None,
    };
    if let Some((problem, action)) = issuer_problem {
        return match (is_ready, not_after) {
            (true, Some(end)) => Summary::new(
                State::Warning,
                format!(
                    "{problem}, so renewal will fail (expires {})",
                    stamp(end, now)
                ),
                Some(action),
            ),
            _ => Summary::new(State::NotReady, problem, Some(action)),
        };
    }

    // The request of the issuance in progress (or of the last one that failed).
    let request_in_play = is_issuing || !is_ready;
    if let Some(r) = facts.request.as_ref().filter(|_| request_in_play) {
        let rname = r.metadata.name.clone().unwrap_or_default();
        let rconds = request_conditions(r);
        let (approval, approval_message) = approval(r);
        if approval == "Denied" {
            return Summary::new(
                State::NotReady,
                format!(
                    "CertificateRequest {rname} was denied ({})",
                    approval_message.unwrap_or_default()
                ),
                Some(format!(
                    "ask whoever denied it, then {renew_cmd} to request again"
                )),
            );
        }
        if let Some(c) =
            find_condition(rconds, CONDITION_INVALID_REQUEST).filter(|c| is_true(Some(c)))
        {
            return Summary::new(
                State::NotReady,
                format!("CertificateRequest {rname} is invalid: {}", message_of(c)),
                Some("fix the Certificate's spec; a new request follows".into()),
            );
        }
    }

    // ACME: challenges first (the most specific), then the order.
    if request_in_play {
        let troubles: Vec<_> = facts
            .challenges
            .iter()
            .filter_map(|c| challenge_trouble(c).map(|t| (c, t)))
            .collect();
        if let Some((c, (final_, text))) =
            troubles.iter().find(|(_, (f, _))| *f).or(troubles.first())
        {
            let action = if *final_ {
                format!(
                    "{}; the Certificate retries after its backoff, or now with {renew_cmd}",
                    challenge_hint(c)
                )
            } else {
                format!("{}; it keeps checking", challenge_hint(c))
            };
            return Summary::new(State::NotReady, text.clone(), Some(action));
        }
        if let Some(o) = &facts.order {
            let state = o.status.as_ref().and_then(|s| s.state);
            if matches!(
                state,
                Some(AcmeState::Invalid | AcmeState::Errored | AcmeState::Expired)
            ) {
                let oname = o.metadata.name.clone().unwrap_or_default();
                let reason = o
                    .status
                    .as_ref()
                    .and_then(|s| s.reason.clone())
                    .unwrap_or_default();
                let state = serde_json::to_value(state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Summary::new(
                    State::NotReady,
                    format!("ACME Order {oname} is {state}: {reason}"),
                    Some(failure_action(cert, now, &renew_cmd)),
                );
            }
        }
    }

    // The last issuance failed (Issuing=False, reason Failed): say why and when it retries.
    if !is_issuing
        && let Some(c) = issuing.filter(|c| c.reason.as_deref() == Some(REASON_FAILED))
        && !is_ready
    {
        return Summary::new(
            State::NotReady,
            format!("the last issuance failed: {}", message_of(c)),
            Some(failure_action(cert, now, &renew_cmd)),
        );
    }

    if is_issuing {
        let why = issuing
            .map(|c| {
                format!(
                    "{}: {}",
                    c.reason.clone().unwrap_or_default(),
                    message_of(c)
                )
            })
            .unwrap_or_default();
        return match &facts.request {
            None => Summary::new(
                State::Issuing,
                format!("issuance started ({why}); no CertificateRequest yet"),
                None,
            ),
            Some(r) => {
                let rname = r.metadata.name.clone().unwrap_or_default();
                let (approval, _) = approval(r);
                if approval == "Pending" {
                    return Summary::new(
                        State::Issuing,
                        format!("CertificateRequest {rname} is waiting for approval"),
                        Some(format!(
                            "approve it with `certsmith approve {rname} -n {ns}` (the built-in \
                             approver may be turned off)"
                        )),
                    );
                }
                let pending = find_condition(request_conditions(r), CONDITION_READY)
                    .map(message_of)
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "waiting for the issuer".into());
                Summary::new(
                    State::Issuing,
                    format!("CertificateRequest {rname}: {pending}"),
                    None,
                )
            }
        };
    }

    // Not issuing: the Secret itself.
    match &facts.secret {
        SecretFacts::Missing if !is_ready => {
            return Summary::new(
                State::NotReady,
                format!(
                    "Secret {} does not exist and no issuance is running",
                    cert.spec.secret_name
                ),
                Some(controller_action()),
            );
        }
        SecretFacts::Present { analysis, .. } => {
            if analysis.key_matches == Some(false) {
                return Summary::new(
                    State::NotReady,
                    format!(
                        "Secret {}: tls.key does not match tls.crt",
                        cert.spec.secret_name
                    ),
                    Some(format!("the controller re-issues it; if not, {renew_cmd}")),
                );
            }
            if let Some(leaf) = analysis.leaf()
                && leaf.not_after <= now
            {
                return Summary::new(
                    State::NotReady,
                    format!(
                        "the certificate in Secret {} expired {}",
                        cert.spec.secret_name,
                        relative(leaf.not_after, now)
                    ),
                    Some(format!(
                        "{renew_cmd}; if nothing happens, {}",
                        controller_action()
                    )),
                );
            }
        }
        _ => {}
    }

    let Some(ready) = ready else {
        return Summary::new(
            State::NotReady,
            "the controller has not processed this Certificate yet",
            Some(controller_action()),
        );
    };
    if !is_ready {
        return Summary::new(
            State::NotReady,
            format!(
                "{}: {}",
                ready.reason.clone().unwrap_or_default(),
                message_of(ready)
            ),
            None,
        );
    }
    if ready.observed_generation.is_some()
        && cert.metadata.generation.is_some()
        && ready.observed_generation < cert.metadata.generation
    {
        return Summary::new(
            State::Issuing,
            "the spec changed and the controller has not caught up yet",
            Some(format!(
                "wait a moment; if it stays so, {}",
                controller_action()
            )),
        );
    }
    if let Some(at) = renewal
        && at + jiff::SignedDuration::from_secs(60) < now
    {
        return Summary::new(
            State::Warning,
            format!("renewal was due {} and has not started", relative(at, now)),
            Some(controller_action()),
        );
    }
    let mut good = match not_after {
        Some(end) => format!("valid until {}", stamp(end, now)),
        None => "up to date".into(),
    };
    if let Some(at) = renewal {
        good.push_str(&format!(", renews {}", relative(at, now)));
    }
    Summary::new(State::Ready, good, None)
}

fn controller_action() -> String {
    "check that the certsmith controller is running with `certsmith check api`".into()
}

/// What to do after a failed issuance: when the next try is, and how to try now.
fn failure_action(cert: &Certificate, now: Timestamp, renew_cmd: &str) -> String {
    let attempts = cert
        .status
        .as_ref()
        .and_then(|s| s.failed_issuance_attempts)
        .unwrap_or(0);
    match next_retry(cert) {
        Some(at) if at > now => format!(
            "fix the cause; after {attempts} failed attempt(s) the next try is {} ({}), or run {renew_cmd} now",
            relative(at, now),
            time::seconds(at)
        ),
        _ => format!("fix the cause, then {renew_cmd}"),
    }
}

#[cfg(test)]
mod tests;
