//! One error type for every ACME call, sorted by what the caller should do next.
//!
//! [`classify`] is the pure decision (HTTP status + RFC 8555 problem type -> [`ErrorClass`]);
//! [`AcmeError`]'s three variants carry its answer, so a controller can `match` on the variant:
//! mark the Order/Challenge failed ([`AcmeError::Terminal`]), requeue with backoff
//! ([`AcmeError::Retryable`]) or requeue after the server's `Retry-After`
//! ([`AcmeError::RateLimited`]). The server's problem `type` and `detail` are kept for status
//! messages. No variant ever carries key material.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use super::http::Action;

/// Prefix of the RFC 8555 error namespace; [`Problem::short_type`] strips it.
pub const ACME_ERROR_NS: &str = "urn:ietf:params:acme:error:";

/// What the caller should do about a failed ACME call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The same request will fail again: surface the message and stop.
    Terminal,
    /// The server failed or could not be reached: try again later (with backoff).
    Retryable,
    /// The server asked us to slow down: try again after [`AcmeError::retry_after`].
    RateLimited,
}

/// Decides the class of a failed call from the HTTP status (`None`: no response at all, i.e. a
/// network, TLS or timeout failure) and the problem document's `type`, full or short.
///
/// `badNonce` is retried transparently before an error is ever returned, so seeing it here means
/// the retries ran out: retryable. `orderNotReady` is a client misuse (finalizing too early):
/// terminal for this request, the controller should re-read the order.
pub fn classify(status: Option<u16>, problem_type: Option<&str>) -> ErrorClass {
    let short = problem_type.map(|t| t.strip_prefix(ACME_ERROR_NS).unwrap_or(t));
    match (status, short) {
        (_, Some("rateLimited")) | (Some(429), _) => ErrorClass::RateLimited,
        (_, Some("badNonce" | "serverInternal")) => ErrorClass::Retryable,
        (None, _) => ErrorClass::Retryable,
        // 408 Request Timeout and every 5xx: the server, or something in front of it, failed.
        (Some(408), _) | (Some(500..=599), _) => ErrorClass::Retryable,
        // Any other 4xx (with or without a problem document) is the server's final word.
        (Some(400..=499), _) => ErrorClass::Terminal,
        // A 1xx/2xx/3xx that we could not use (a body that does not parse, a missing header):
        // a broken proxy or a server bug; retrying may help and costs little.
        (Some(_), _) => ErrorClass::Retryable,
    }
}

/// An RFC 7807 problem document as an ACME server sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The full type, e.g. `urn:ietf:params:acme:error:rejectedIdentifier` (empty if absent).
    pub problem_type: String,
    pub detail: String,
    pub status: Option<u16>,
    pub subproblems: Vec<Subproblem>,
}

/// A problem about one identifier of a request (RFC 8555 §6.7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subproblem {
    /// The identifier's value (a DNS name or an IP address), if the server named it.
    pub identifier: Option<String>,
    pub problem_type: String,
    pub detail: String,
}

impl Problem {
    /// The type without the RFC 8555 namespace: `rejectedIdentifier`, `badNonce`, ...
    pub fn short_type(&self) -> &str {
        short_type(&self.problem_type)
    }

    /// Whether this is the RFC 8555 problem `short` (e.g. `"accountDoesNotExist"`).
    pub fn is(&self, short: &str) -> bool {
        self.short_type() == short
    }

    pub(crate) fn from_wire(p: instant_acme::Problem) -> Self {
        Problem {
            problem_type: p.r#type.unwrap_or_default(),
            detail: p.detail.unwrap_or_default(),
            status: p.status,
            subproblems: p
                .subproblems
                .into_iter()
                .map(|s| Subproblem {
                    identifier: s.identifier.map(|i| i.authorized(false).to_string()),
                    problem_type: s.r#type.unwrap_or_default(),
                    detail: s.detail.unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Parses a problem document; `None` if the body is not one.
    pub(crate) fn parse(body: &[u8]) -> Option<Self> {
        let p: instant_acme::Problem = serde_json::from_slice(body).ok()?;
        if p.r#type.is_none() && p.detail.is_none() {
            return None;
        }
        Some(Self::from_wire(p))
    }
}

fn short_type(t: &str) -> &str {
    t.strip_prefix(ACME_ERROR_NS).unwrap_or(t)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.detail.is_empty(), self.short_type().is_empty()) {
            (false, false) => write!(f, "{} ({})", self.detail, self.short_type())?,
            (false, true) => f.write_str(&self.detail)?,
            (true, false) => f.write_str(self.short_type())?,
            (true, true) => f.write_str("no details given")?,
        }
        for s in &self.subproblems {
            f.write_str("; ")?;
            if let Some(id) = &s.identifier {
                write!(f, "{id}: ")?;
            }
            write!(f, "{} ({})", s.detail, short_type(&s.problem_type))?;
        }
        Ok(())
    }
}

/// What failed, why (in words for a status message), and what the server said.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The ACME request that failed.
    pub action: Action,
    /// A user-facing sentence: what failed and, where known, what to do about it.
    pub message: String,
    /// The server's problem document, when it sent one.
    pub problem: Option<Problem>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The server's `Retry-After`, on any response.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(after) = self.retry_after {
            write!(f, " (the server asks to retry after {} s)", after.as_secs())?;
        }
        Ok(())
    }
}

/// A failed ACME call. The variant is the caller's next step; see [`classify`]. (Boxed: the
/// happy path's `Result`s stay small.)
#[derive(Clone, Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("{0}")]
    Terminal(Box<Failure>),
    #[error("{0}")]
    Retryable(Box<Failure>),
    #[error("{0}")]
    RateLimited(Box<Failure>),
}

impl AcmeError {
    pub(crate) fn new(class: ErrorClass, failure: Failure) -> Self {
        let failure = Box::new(failure);
        match class {
            ErrorClass::Terminal => AcmeError::Terminal(failure),
            ErrorClass::Retryable => AcmeError::Retryable(failure),
            ErrorClass::RateLimited => AcmeError::RateLimited(failure),
        }
    }

    /// A terminal error found on our side (bad key, bad configuration): no request was made.
    pub(crate) fn invalid(action: Action, message: impl Into<String>) -> Self {
        AcmeError::Terminal(Box::new(Failure {
            action,
            message: message.into(),
            problem: None,
            status: None,
            retry_after: None,
        }))
    }

    /// An error response of the server, classified.
    pub(crate) fn from_response(
        action: Action,
        status: u16,
        problem: Option<Problem>,
        retry_after: Option<Duration>,
    ) -> Self {
        let class = classify(
            Some(status),
            problem.as_ref().map(|p| p.problem_type.as_str()),
        );
        let message = match &problem {
            Some(p) => format!("ACME {action} request failed with HTTP {status}: {p}"),
            None => format!("ACME {action} request failed with HTTP {status}"),
        };
        Self::new(
            class,
            Failure {
                action,
                message,
                problem,
                status: Some(status),
                retry_after,
            },
        )
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            AcmeError::Terminal(_) => ErrorClass::Terminal,
            AcmeError::Retryable(_) => ErrorClass::Retryable,
            AcmeError::RateLimited(_) => ErrorClass::RateLimited,
        }
    }

    pub fn failure(&self) -> &Failure {
        match self {
            AcmeError::Terminal(f) | AcmeError::Retryable(f) | AcmeError::RateLimited(f) => f,
        }
    }

    pub(crate) fn failure_mut(&mut self) -> &mut Failure {
        match self {
            AcmeError::Terminal(f) | AcmeError::Retryable(f) | AcmeError::RateLimited(f) => f,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.failure().retry_after
    }

    pub fn problem(&self) -> Option<&Problem> {
        self.failure().problem.as_ref()
    }

    pub fn action(&self) -> Action {
        self.failure().action
    }

    /// Whether the server's problem is the RFC 8555 type `short` (e.g. `"rejectedIdentifier"`).
    pub fn is_problem(&self, short: &str) -> bool {
        self.problem().is_some_and(|p| p.is(short))
    }

    /// Whether the account this call used is gone or unusable on the server (deleted, never
    /// existed, deactivated): the caller should drop it from the [`super::AccountCache`] and
    /// register again.
    pub fn is_account_problem(&self) -> bool {
        self.is_problem("accountDoesNotExist")
            || (self.is_problem("unauthorized")
                && self
                    .problem()
                    .is_some_and(|p| p.detail.to_ascii_lowercase().contains("deactivated")))
    }
}

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as a duration
/// from `now` (zero for a date in the past). `None` for anything else.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = at.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        let ns = |s: &str| format!("{ACME_ERROR_NS}{s}");
        let cases: &[(Option<u16>, Option<String>, ErrorClass)] = &[
            // Transport failures (no response): retry.
            (None, None, Retryable),
            // Rate limits, by status or by type.
            (Some(429), None, RateLimited),
            (Some(429), Some(ns("rateLimited")), RateLimited),
            (Some(403), Some(ns("rateLimited")), RateLimited),
            // badNonce left over after the transparent retries, serverInternal: retry.
            (Some(400), Some(ns("badNonce")), Retryable),
            (Some(400), Some("badNonce".into()), Retryable),
            (Some(500), Some(ns("serverInternal")), Retryable),
            (Some(503), None, Retryable),
            (Some(502), None, Retryable),
            (Some(408), None, Retryable),
            // The server's final word on this request.
            (Some(400), Some(ns("malformed")), Terminal),
            (Some(400), Some(ns("rejectedIdentifier")), Terminal),
            (Some(403), Some(ns("unauthorized")), Terminal),
            (Some(400), Some(ns("badCSR")), Terminal),
            (Some(403), Some(ns("orderNotReady")), Terminal),
            (Some(400), Some(ns("accountDoesNotExist")), Terminal),
            (Some(401), Some(ns("externalAccountRequired")), Terminal),
            (Some(403), Some(ns("userActionRequired")), Terminal),
            (Some(400), Some(ns("caa")), Terminal),
            (Some(404), None, Terminal),
            (Some(405), None, Terminal),
            // A 200 we could not use: retry.
            (Some(200), None, Retryable),
        ];
        for (status, problem, want) in cases {
            assert_eq!(
                classify(*status, problem.as_deref()),
                *want,
                "status {status:?}, problem {problem:?}"
            );
        }
    }

    #[test]
    fn error_variant_follows_classification_and_keeps_problem() {
        let problem = Problem {
            problem_type: format!("{ACME_ERROR_NS}rejectedIdentifier"),
            detail: "Error creating new order :: blocked".into(),
            status: Some(400),
            subproblems: vec![],
        };
        let e = AcmeError::from_response(Action::NewOrder, 400, Some(problem), None);
        assert!(matches!(e, AcmeError::Terminal(_)));
        assert!(e.is_problem("rejectedIdentifier"));
        assert_eq!(
            e.to_string(),
            "ACME new_order request failed with HTTP 400: Error creating new order :: blocked \
             (rejectedIdentifier)"
        );

        let e = AcmeError::from_response(Action::NewOrder, 429, None, Some(Duration::from_secs(7)));
        assert!(matches!(e, AcmeError::RateLimited(_)));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(
            e.to_string()
                .ends_with("(the server asks to retry after 7 s)")
        );
    }

    #[test]
    fn account_problems() {
        let p = |t: &str, d: &str| {
            AcmeError::from_response(
                Action::NewAccount,
                403,
                Some(Problem {
                    problem_type: format!("{ACME_ERROR_NS}{t}"),
                    detail: d.into(),
                    status: None,
                    subproblems: vec![],
                }),
                None,
            )
        };
        assert!(p("accountDoesNotExist", "no account").is_account_problem());
        assert!(p("unauthorized", "Account is deactivated").is_account_problem());
        assert!(!p("unauthorized", "no authorization for example.com").is_account_problem());
        assert!(!p("malformed", "deactivated").is_account_problem());
    }

    #[test]
    fn problem_display_with_subproblems() {
        let body = br#"{
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": "Some identifiers were rejected",
            "status": 400,
            "subproblems": [
              {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
               "detail": "blocked by policy",
               "identifier": {"type": "dns", "value": "blocked.example.test"}}
            ]
        }"#;
        let p = Problem::parse(body).expect("a problem document");
        assert_eq!(p.status, Some(400));
        assert_eq!(
            p.to_string(),
            "Some identifiers were rejected (rejectedIdentifier); blocked.example.test: blocked \
             by policy (rejectedIdentifier)"
        );
        assert_eq!(Problem::parse(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(Problem::parse(b"{}"), None);
    }

    #[test]
    fn retry_after_values() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
        let cases: &[(&str, Option<u64>)] = &[
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("Sat, 21 Nov 2026 12:00:30 GMT", Some(30)),
            // A date in the past: retry now.
            ("Sat, 21 Nov 2026 11:00:00 GMT", Some(0)),
            ("", None),
            ("-5", None),
            ("soon", None),
            ("1.5", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }
}
