//! The API types of both groups, `cert-manager.io/v1` and `acme.cert-manager.io/v1`, as
//! cert-manager defines them, plus the CRDs generated from them. No I/O here.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design; clippy
// reads those as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod acme_issuer;
pub mod certificate;
pub mod certificate_request;
pub mod challenge;
mod constants;
pub mod crds;
pub mod issuer;
pub mod meta;
pub mod order;
mod rules;

pub use acme_issuer::*;
pub use certificate::*;
pub use certificate_request::*;
pub use challenge::*;
pub use constants::*;
pub use issuer::*;
pub use meta::*;
pub use order::*;

#[cfg(test)]
mod tests;
