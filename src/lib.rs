//! certsmith: a Kubernetes certificate operator that speaks cert-manager's APIs.
//!
//! `api` holds the CRD types of `cert-manager.io/v1` and `acme.cert-manager.io/v1`; `cli` the
//! user-facing subcommands of the single `certsmith` binary; `acme` the ACME client layer.

pub mod acme;
pub mod api;
pub mod cli;
pub mod controller;
pub mod diagnose;
pub mod dns01;
pub mod http01;
pub mod issuer;
pub mod pki;
pub mod policy;
pub mod shim;
pub mod telemetry;
