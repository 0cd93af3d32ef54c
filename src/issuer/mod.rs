//! Issuers: whether an issuer can sign (its Ready condition), and, behind one seam, the
//! backends that sign CertificateRequests (selfsigned, ca; acme later).

pub mod ca;
pub mod readiness;
pub mod signer;
