//! The ACME side of the CertificateRequest signer: one Order per request. The Order's name is
//! derived from the request (`issuer::acme::orders`), so this GETs before it creates and a
//! restarted controller never places a second order for the same request.

use kube::ResourceExt;
use kube::api::{Api, PostParams};

use crate::api::{AcmeIssuer, AcmeState, CertificateRequest, Order};
use crate::controller::Context;
use crate::issuer::acme::orders::order_for_request;

/// Where a request signed by an ACME issuer stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcmeRequestOutcome {
    /// The Order is valid: the PEM chain.
    Issued(String),
    /// The Order ended without a certificate, or the request cannot become an Order.
    Failed(String),
    /// Waiting on the Order: what it is doing.
    Waiting(String),
}

/// Ensures the Order for `request` exists and reads where it stands.
pub async fn sign_with_acme(
    request: &CertificateRequest,
    acme: &AcmeIssuer,
    ctx: &Context,
) -> Result<AcmeRequestOutcome, kube::Error> {
    let wanted = match order_for_request(request, acme) {
        Ok(order) => order,
        Err(err) => {
            return Ok(AcmeRequestOutcome::Failed(format!(
                "the request's CSR cannot be used for an ACME order: {err}"
            )));
        }
    };
    let namespace = request.namespace().unwrap_or_default();
    let name = wanted.name_any();
    let orders: Api<Order> = Api::namespaced(ctx.client.clone(), &namespace);
    let order = match orders.get_opt(&name).await? {
        Some(order) => order,
        None => match orders.create(&PostParams::default(), &wanted).await {
            Ok(order) => {
                tracing::info!(namespace, order = name, "created Order");
                order
            }
            // Created meanwhile (a stale cache, a second worker): the next event reads it.
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Ok(AcmeRequestOutcome::Waiting(format!(
                    "Waiting on Order {name}"
                )));
            }
            Err(err) => return Err(err),
        },
    };
    Ok(order_outcome(&order))
}

/// What an Order's status means for its request. Pure.
pub fn order_outcome(order: &Order) -> AcmeRequestOutcome {
    let name = order.name_any();
    let status = order.status.as_ref();
    let state = status.and_then(|s| s.state);
    let reason = status
        .and_then(|s| s.reason.as_deref())
        .filter(|r| !r.is_empty());
    match state {
        Some(AcmeState::Valid) => {
            match status
                .and_then(|s| s.certificate.as_ref())
                .filter(|c| !c.0.is_empty())
            {
                Some(cert) => AcmeRequestOutcome::Issued(String::from_utf8_lossy(&cert.0).into()),
                None => AcmeRequestOutcome::Waiting(format!(
                    "Waiting on Order {name}: valid, downloading the certificate"
                )),
            }
        }
        Some(s @ (AcmeState::Invalid | AcmeState::Errored | AcmeState::Expired)) => {
            AcmeRequestOutcome::Failed(format!(
                "Order {name} is {}: {}",
                state_word(s),
                reason.unwrap_or("the ACME server gave no reason")
            ))
        }
        Some(s) => AcmeRequestOutcome::Waiting(match reason {
            Some(r) => format!("Waiting on Order {name} ({}): {r}", state_word(s)),
            None => format!("Waiting on Order {name} ({})", state_word(s)),
        }),
        None => AcmeRequestOutcome::Waiting(match reason {
            Some(r) => format!("Waiting on Order {name}: {r}"),
            None => format!("Waiting on Order {name} to be placed with the ACME server"),
        }),
    }
}

/// The lower-case state name, as in the API.
pub fn state_word(state: AcmeState) -> &'static str {
    match state {
        AcmeState::Pending => "pending",
        AcmeState::Ready => "ready",
        AcmeState::Processing => "processing",
        AcmeState::Valid => "valid",
        AcmeState::Invalid => "invalid",
        AcmeState::Expired => "expired",
        AcmeState::Errored => "errored",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OrderSpec, OrderStatus};
    use k8s_openapi::ByteString;

    fn order(state: Option<AcmeState>, reason: Option<&str>, cert: Option<&str>) -> Order {
        let mut order = Order::new("web-1-123", OrderSpec::default());
        order.status = Some(OrderStatus {
            state,
            reason: reason.map(str::to_owned),
            certificate: cert.map(|c| ByteString(c.as_bytes().to_vec())),
            ..Default::default()
        });
        order
    }

    #[test]
    fn outcome_table() {
        use AcmeRequestOutcome::*;
        let cases = [
            (
                order(None, None, None),
                Waiting("Waiting on Order web-1-123 to be placed with the ACME server".into()),
            ),
            (
                order(None, Some("connection refused"), None),
                Waiting("Waiting on Order web-1-123: connection refused".into()),
            ),
            (
                order(Some(AcmeState::Pending), None, None),
                Waiting("Waiting on Order web-1-123 (pending)".into()),
            ),
            (
                order(Some(AcmeState::Valid), None, Some("PEM")),
                Issued("PEM".into()),
            ),
            (
                order(Some(AcmeState::Valid), None, None),
                Waiting("Waiting on Order web-1-123: valid, downloading the certificate".into()),
            ),
            (
                order(
                    Some(AcmeState::Invalid),
                    Some("challenge for a.example.test failed: NXDOMAIN"),
                    None,
                ),
                Failed(
                    "Order web-1-123 is invalid: challenge for a.example.test failed: NXDOMAIN"
                        .into(),
                ),
            ),
            (
                order(Some(AcmeState::Errored), None, None),
                Failed("Order web-1-123 is errored: the ACME server gave no reason".into()),
            ),
        ];
        for (order, want) in cases {
            assert_eq!(order_outcome(&order), want, "{:?}", order.status);
        }
    }
}
