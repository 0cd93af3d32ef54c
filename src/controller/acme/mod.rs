//! The ACME issuer's controllers: the request signer's ACME side (one Order per
//! CertificateRequest), the Order controller and the Challenge controller. See
//! docs/design/0003-acme.md.

pub mod accounts;
pub mod challenges;
mod dns01;
mod http01;
pub mod orders;
pub mod requests;
