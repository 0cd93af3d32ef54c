//! HTTP-01 challenges: the objects that serve one (solver Pod, Service, Ingress), the tiny
//! server the solver Pod runs (`certsmith acmesolver`), and the self-check the controller runs
//! before telling the ACME server to validate.
//!
//! - [`host`]: the one spelling of a challenge's name that all of them compare and publish.
//! - [`gateway`]: the Gateway API HTTPRoute of `gatewayHTTPRoute` solvers, and its drift check.
//! - [`resources`]: pure builders of the Pod/Service/Ingress, edit-in-place of a user's
//!   Ingress, and drift checks.
//! - [`solver`]: the `acmesolver` HTTP server.
//! - [`selfcheck`]: one GET of the challenge URL, with a reason a person can act on.

pub mod gateway;
pub mod host;
pub mod resources;
pub mod selfcheck;
pub mod solver;

pub use host::{Host, HostError};
pub use selfcheck::{SelfCheck, SelfCheckConfig, SelfCheckError, self_check};
pub use solver::SolverChallenge;
