//! The ACME issuer's pure decisions: which solver solves a name, what Order a
//! CertificateRequest needs and what Challenges an Order needs. The ACME protocol itself is in
//! `crate::acme`; the controllers that act on these decisions are in `crate::controller`.

pub mod orders;
pub mod solvers;
