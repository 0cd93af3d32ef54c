//! The shims: the objects people annotate (Ingresses; Gateways later) become Certificates.
//! Pure decisions here; the controller is `crate::controller::shim`.

pub mod annotations;
pub mod ingress;
