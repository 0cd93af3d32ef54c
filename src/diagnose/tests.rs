//! One row per situation `status` must explain: the state and what the headline names.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::secret::{CertificateView, KeyView, SecretAnalysis};
use super::*;
use crate::api::{
    AcmeState, CertificateRequestSpec, CertificateRequestStatus, CertificateSpec,
    CertificateStatus, ChallengeSpec, ChallengeStatus, IssuerReference, OrderSpec, OrderStatus,
};

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn at(offset_secs: i64) -> Timestamp {
    now() + SignedDuration::from_secs(offset_secs)
}

const DAY: i64 = 86_400;

fn cond(type_: &str, status: ConditionStatus, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status,
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: Some(Time(at(-600))),
        observed_generation: Some(1),
    }
}

use ConditionStatus::{False, True};

fn ready_true() -> Condition {
    cond(
        "Ready",
        True,
        "Ready",
        "Certificate is up to date and has not expired",
    )
}

fn certificate(conditions: Vec<Condition>) -> Certificate {
    let mut c = Certificate::new(
        "web",
        CertificateSpec {
            secret_name: "web-tls".into(),
            dns_names: Some(vec!["web.example.test".into()]),
            issuer_ref: IssuerReference {
                name: "ca".into(),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    c.metadata.namespace = Some("ns".into());
    c.metadata.generation = Some(1);
    c.status = Some(CertificateStatus {
        conditions: Some(conditions),
        revision: Some(1),
        not_after: Some(Time(at(60 * DAY))),
        renewal_time: Some(Time(at(30 * DAY))),
        ..Default::default()
    });
    c
}

fn leaf(not_after: Timestamp) -> CertificateView {
    CertificateView {
        subject: String::new(),
        issuer: "CN=ca".into(),
        serial: "1".into(),
        not_before: at(-30 * DAY),
        not_after,
        dns_names: vec!["web.example.test".into()],
        ip_addresses: vec![],
        uris: vec![],
        email_addresses: vec![],
        is_ca: false,
        usages: vec![],
        public_key: "ECDSA P-256".into(),
        sha256_fingerprint: "AA".into(),
        sha1_fingerprint: "BB".into(),
    }
}

fn secret(key_matches: bool, not_after: Timestamp) -> SecretFacts {
    SecretFacts::Present {
        analysis: Box::new(SecretAnalysis {
            keys: vec!["tls.crt".into(), "tls.key".into()],
            certificates: vec![leaf(not_after)],
            key: Some(KeyView {
                algorithm: "ECDSA P-256".into(),
                encoding: "PKCS1".into(),
            }),
            key_matches: Some(key_matches),
            ..Default::default()
        }),
        certificate_name: Some("web".into()),
    }
}

fn issuer_ok() -> IssuerFacts {
    IssuerFacts::Found {
        label: "Issuer ns/ca".into(),
        type_: "CA".into(),
        ready: Some(cond(
            "Ready",
            True,
            "KeyPairVerified",
            "Signing CA verified",
        )),
    }
}

fn request(conditions: Vec<Condition>) -> CertificateRequest {
    let mut r = CertificateRequest::new("web-2", CertificateRequestSpec::default());
    r.status = Some(CertificateRequestStatus {
        conditions: Some(conditions),
        ..Default::default()
    });
    r
}

fn approved() -> Condition {
    cond("Approved", True, "cert-manager.io", "approved by certsmith")
}

fn order(state: AcmeState, reason: &str) -> Order {
    let mut o = Order::new("web-2-123", OrderSpec::default());
    o.status = Some(OrderStatus {
        state: Some(state),
        reason: Some(reason.into()),
        ..Default::default()
    });
    o
}

fn challenge(type_: ChallengeType, state: AcmeState, reason: &str) -> Challenge {
    let mut c = Challenge::new(
        "web-2-123-456",
        ChallengeSpec {
            dns_name: "web.example.test".into(),
            type_,
            ..Default::default()
        },
    );
    c.status = Some(ChallengeStatus {
        processing: Some(true),
        presented: Some(true),
        reason: Some(reason.into()),
        state: Some(state),
    });
    c
}

fn facts(certificate: Certificate) -> StatusFacts {
    StatusFacts {
        certificate,
        secret: secret(true, at(60 * DAY)),
        issuer: issuer_ok(),
        request: None,
        order: None,
        challenges: vec![],
        events: vec![],
    }
}

fn issuing(reason: &str, message: &str) -> Condition {
    cond("Issuing", True, reason, message)
}

fn not_ready(reason: &str, message: &str) -> Condition {
    cond("Ready", False, reason, message)
}

fn failed(message: &str) -> Certificate {
    let mut c = certificate(vec![
        not_ready(
            "DoesNotExist",
            "Issuing certificate as Secret does not exist",
        ),
        cond("Issuing", False, "Failed", message),
    ]);
    let s = c.status.as_mut().unwrap();
    s.last_failure_time = Some(Time(at(-60)));
    s.failed_issuance_attempts = Some(1);
    c
}

#[test]
fn table() {
    let pending_issue = || {
        vec![
            not_ready(
                "DoesNotExist",
                "Issuing certificate as Secret does not exist",
            ),
            issuing(
                "DoesNotExist",
                "Issuing certificate as Secret does not exist",
            ),
        ]
    };
    let mut cases: Vec<(&str, StatusFacts, State, Vec<&str>)> = Vec::new();

    cases.push((
        "ready",
        facts(certificate(vec![ready_true()])),
        State::Ready,
        vec![
            "Ready: valid until 2026-07-31T12:00:00Z (in 60d)",
            "renews in 30d",
        ],
    ));

    let mut due = certificate(vec![ready_true()]);
    due.status.as_mut().unwrap().renewal_time = Some(Time(at(-3600)));
    cases.push((
        "renewal overdue",
        facts(due),
        State::Warning,
        vec!["renewal was due 1h ago", "certsmith check api"],
    ));

    cases.push((
        "duplicate secret",
        facts(certificate(vec![not_ready(
            "DuplicateSecretName",
            "Secret web-tls is kept by Certificate other",
        )])),
        State::NotReady,
        vec!["kept by Certificate other", "own spec.secretName"],
    ));

    cases.push((
        "invalid private key",
        facts(certificate(vec![not_ready(
            "InvalidPrivateKey",
            "RSA keys are 2048, 3072, 4096 or 8192 bits",
        )])),
        State::NotReady,
        vec![
            "spec.privateKey cannot be used: RSA keys",
            "Fix spec.privateKey",
        ],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.issuer = IssuerFacts::NotFound {
        label: "Issuer ns/missing".into(),
    };
    f.secret = SecretFacts::Missing;
    f.request = Some(request(vec![
        approved(),
        cond(
            "Ready",
            False,
            "Pending",
            "Referenced Issuer ns/missing does not exist",
        ),
    ]));
    cases.push((
        "issuer missing",
        f,
        State::NotReady,
        vec![
            "Not ready: Issuer ns/missing does not exist",
            "Create Issuer ns/missing",
        ],
    ));

    let mut f = facts(certificate(vec![ready_true()]));
    f.issuer = IssuerFacts::NotFound {
        label: "ClusterIssuer le".into(),
    };
    cases.push((
        "issuer gone while ready",
        f,
        State::Warning,
        vec!["Ready, but: ClusterIssuer le does not exist, so renewal will fail"],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.issuer = IssuerFacts::Found {
        label: "Issuer ns/acme".into(),
        type_: "ACME".into(),
        ready: Some(cond(
            "Ready",
            False,
            "ErrRegisterACMEAccount",
            "connection refused",
        )),
    };
    cases.push((
        "issuer not ready",
        f,
        State::NotReady,
        vec!["Issuer ns/acme is not ready (ErrRegisterACMEAccount: connection refused)"],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.issuer = IssuerFacts::Found {
        label: "Issuer ns/new".into(),
        type_: "CA".into(),
        ready: None,
    };
    cases.push((
        "issuer not reconciled",
        f,
        State::NotReady,
        vec!["no Ready condition yet"],
    ));

    let mut f = facts(failed("The CertificateRequest \"web-2\" was denied"));
    f.request = Some(request(vec![
        cond(
            "Denied",
            True,
            "PolicyDenied",
            "names outside the allowed zone",
        ),
        cond("Ready", False, "Denied", "denied"),
    ]));
    cases.push((
        "request denied",
        f,
        State::NotReady,
        vec![
            "CertificateRequest web-2 was denied (PolicyDenied: names outside the allowed zone)",
            "certsmith renew web -n ns",
        ],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.request = Some(request(vec![
        approved(),
        cond(
            "InvalidRequest",
            True,
            "RequestParsingError",
            "the CSR cannot be decoded",
        ),
    ]));
    cases.push((
        "request invalid",
        f,
        State::NotReady,
        vec!["web-2 is invalid: the CSR cannot be decoded"],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.request = Some(request(vec![
        approved(),
        cond(
            "Ready",
            False,
            "Pending",
            "Waiting on certificate issuance from order ns/web-2-123: \"pending\"",
        ),
    ]));
    f.order = Some(order(AcmeState::Pending, ""));
    f.challenges = vec![challenge(
        ChallengeType::Http01,
        AcmeState::Pending,
        "self-check: GET http://web.example.test:5009/.well-known/acme-challenge/x failed: connection refused (next check in 4s)",
    )];
    cases.push((
        "http01 self-check failing",
        f,
        State::NotReady,
        vec![
            "ACME HTTP-01 challenge for web.example.test is not passing: self-check: GET",
            "reaches the solver",
        ],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.request = Some(request(vec![approved()]));
    f.order = Some(order(AcmeState::Pending, ""));
    f.challenges = vec![challenge(
        ChallengeType::Dns01,
        AcmeState::Pending,
        "presenting the challenge: DNS server 127.0.0.1:1 did not answer (retrying in 8s)",
    )];
    cases.push((
        "dns update retrying",
        f,
        State::NotReady,
        vec![
            "ACME DNS-01 challenge for web.example.test is not passing: presenting",
            "_acme-challenge.web.example.test",
        ],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.request = Some(request(vec![approved()]));
    f.order = Some(order(AcmeState::Pending, ""));
    f.challenges = vec![
        challenge(ChallengeType::Dns01, AcmeState::Valid, "valid"),
        challenge(
            ChallengeType::Dns01,
            AcmeState::Errored,
            "presenting the challenge failed: update refused (BADSIG)",
        ),
    ];
    cases.push(("dns update refused", f, State::NotReady, vec![
        "DNS-01 challenge for web.example.test is errored: presenting the challenge failed: update refused (BADSIG)",
        "certsmith renew web -n ns",
    ]));

    let mut f = facts(failed("Order ns/web-2-123 is invalid: connection refused"));
    f.request = Some(request(vec![
        approved(),
        cond("Ready", False, "Failed", "order invalid"),
    ]));
    f.order = Some(order(
        AcmeState::Invalid,
        "urn:ietf:params:acme:error:connection: refused",
    ));
    cases.push((
        "order invalid",
        f,
        State::NotReady,
        vec![
            "ACME Order web-2-123 is invalid: urn:ietf:params:acme:error:connection",
            "next try is in 4m",
            "certsmith renew web -n ns",
        ],
    ));

    let f = facts(failed("the CA refused: name not allowed"));
    cases.push((
        "failed with backoff",
        f,
        State::NotReady,
        vec![
            "the last issuance failed: the CA refused: name not allowed",
            "after 1 failed attempt(s) the next try is in 4m (2026-06-01T12:04:00Z)",
        ],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.request = Some(request(vec![cond("Ready", False, "Pending", "waiting")]));
    cases.push((
        "awaiting approval",
        f,
        State::Issuing,
        vec![
            "CertificateRequest web-2 is waiting for approval",
            "certsmith approve web-2 -n ns",
        ],
    ));

    let mut f = facts(certificate(pending_issue()));
    f.request = Some(request(vec![
        approved(),
        cond(
            "Ready",
            False,
            "Pending",
            "Signing CA Secret ns/root does not exist yet",
        ),
    ]));
    cases.push((
        "issuing, signer waiting",
        f,
        State::Issuing,
        vec!["Issuing: CertificateRequest web-2: Signing CA Secret ns/root does not exist yet"],
    ));

    let f = facts(certificate(vec![
        ready_true(),
        issuing(
            "ManuallyTriggered",
            "Certificate re-issuance manually triggered",
        ),
    ]));
    cases.push((
        "renewing manually",
        f,
        State::Issuing,
        vec!["ManuallyTriggered", "no CertificateRequest yet"],
    ));

    let mut f = facts(certificate(vec![not_ready(
        "DoesNotExist",
        "Issuing certificate as Secret does not exist",
    )]));
    f.secret = SecretFacts::Missing;
    cases.push((
        "secret missing",
        f,
        State::NotReady,
        vec![
            "Secret web-tls does not exist and no issuance is running",
            "certsmith check api",
        ],
    ));

    let mut f = facts(certificate(vec![not_ready(
        "InvalidKeyPair",
        "key mismatch",
    )]));
    f.secret = secret(false, at(60 * DAY));
    cases.push((
        "key mismatch",
        f,
        State::NotReady,
        vec!["Secret web-tls: tls.key does not match tls.crt"],
    ));

    let mut f = facts(certificate(vec![not_ready(
        "Expired",
        "Certificate expired",
    )]));
    f.secret = secret(true, at(-2 * DAY));
    cases.push((
        "expired",
        f,
        State::NotReady,
        vec!["Secret web-tls expired 2d ago"],
    ));

    let mut c = certificate(vec![]);
    c.status = None;
    cases.push((
        "never processed",
        facts(c),
        State::NotReady,
        vec!["has not processed this Certificate"],
    ));

    cases.push((
        "other reason",
        facts(certificate(vec![not_ready(
            "RequestChanged",
            "Fields on existing CertificateRequest resource not up to date: [spec.dnsNames]",
        )])),
        State::NotReady,
        vec!["RequestChanged: Fields on existing CertificateRequest"],
    ));

    let mut c = certificate(vec![ready_true()]);
    c.metadata.generation = Some(2);
    cases.push((
        "spec changed",
        facts(c),
        State::Issuing,
        vec!["spec changed"],
    ));

    let mut c = certificate(vec![ready_true()]);
    c.metadata.deletion_timestamp = Some(Time(now()));
    cases.push((
        "being deleted",
        facts(c),
        State::NotReady,
        vec!["being deleted"],
    ));

    for (name, f, state, wants) in cases {
        let s = diagnose(&f, now());
        let headline = s.headline();
        assert_eq!(s.state, state, "{name}: {headline}");
        for want in wants {
            assert!(
                headline.contains(want),
                "{name}: {headline:?} lacks {want:?}"
            );
        }
        // The whole report renders within 100 columns and serialises.
        let r = report(&f, now());
        let text = render::status_text(&r, now());
        assert!(
            text.starts_with(&headline[..headline.len().min(40)]),
            "{name}: {text}"
        );
        for line in text.lines() {
            assert!(line.chars().count() <= render::WIDTH, "{name}: {line:?}");
        }
        serde_json::to_string(&r).expect("serialises");
    }
}
