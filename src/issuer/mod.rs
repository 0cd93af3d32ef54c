//! Issuers: whether an issuer can sign (its Ready condition), and, behind one seam, the
//! backends that sign CertificateRequests (selfsigned, ca, acme).

pub mod acme;
pub mod ca;
pub mod readiness;
pub mod signer;
