//! The shims: the objects people annotate (Ingresses, Gateways) become Certificates.
//! Pure decisions here; the controller is `crate::controller::shim`.

pub mod annotations;
pub mod gateway;
pub mod ingress;
