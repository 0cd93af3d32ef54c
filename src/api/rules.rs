//! CEL rules shared by several fields. cert-manager checks these in a webhook; we put them in
//! the CRD schema (`x-kubernetes-validations`) so the apiserver rejects bad manifests itself,
//! with a message that names the field, and no webhook has to be up.

use kube::core::{Message, Reason, Rule};

/// What Go's `time.ParseDuration` accepts (and so CEL's `duration()`), without a sign. Used
/// inside CEL raw strings (`r'...'`), so backslashes need no escaping.
pub const GO_DURATION_REGEX: &str = r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$";

/// A Go duration string of at least `min` (checked only once it parses; see `go_duration`).
pub fn duration_at_least(field: &str, min: &str) -> Rule {
    Rule::new(format!(
        "!self.matches(r'{GO_DURATION_REGEX}') || duration(self) >= duration('{min}')"
    ))
    .message(Message::Message(format!("{field} must be at least {min}")))
    .reason(Reason::FieldValueInvalid)
}

/// A Go duration string (`90m`, `2160h`, `1h30m`), as cert-manager accepts.
pub fn go_duration(field: &str) -> Rule {
    Rule::new(format!("self.matches(r'{GO_DURATION_REGEX}')"))
        .message(Message::Message(format!(
            "{field} must be a duration such as 2160h, 90m or 1h30m (units h, m, s, ms, us, ns; days are not accepted)"
        )))
        .reason(Reason::FieldValueInvalid)
}

/// Exactly one of the optional fields `fields` of an object must be set.
pub fn exactly_one_of(path: &str, fields: &[&str]) -> Rule {
    let has: Vec<String> = fields.iter().map(|f| format!("has(self.{f})")).collect();
    let names: Vec<String> = fields.iter().map(|f| format!("{path}.{f}")).collect();
    Rule::new(format!("[{}].filter(x, x).size() == 1", has.join(", ")))
        .message(Message::Message(format!(
            "exactly one of {} must be set",
            names.join(", ")
        )))
        .reason(Reason::FieldValueRequired)
}

/// At most one of the optional fields `fields` of an object may be set.
pub fn at_most_one_of(path: &str, fields: &[&str]) -> Rule {
    let has: Vec<String> = fields.iter().map(|f| format!("has(self.{f})")).collect();
    let names: Vec<String> = fields.iter().map(|f| format!("{path}.{f}")).collect();
    Rule::new(format!("[{}].filter(x, x).size() <= 1", has.join(", ")))
        .message(Message::Message(format!(
            "at most one of {} may be set",
            names.join(", ")
        )))
        .reason(Reason::FieldValueForbidden)
}

/// A whole object that may not change once created.
pub fn immutable(field: &str, kind: &str) -> Rule {
    Rule::new("self == oldSelf").message(Message::Message(format!(
        "{field} is immutable: a {kind} cannot be changed once created; create a new one instead"
    )))
}

/// Every entry of a list of strings is an IP address.
pub fn all_ips(field: &str) -> Rule {
    Rule::new("self.all(ip, isIP(ip))").message(Message::Message(format!(
        "{field} must hold IPv4 or IPv6 addresses, such as 10.0.0.1 or 2001:db8::1"
    )))
}

/// Every entry of a list of strings is a CIDR range.
pub fn all_cidrs(field: &str) -> Rule {
    Rule::new("self.all(c, isCIDR(c))").message(Message::Message(format!(
        "{field} must hold CIDR ranges, such as 10.0.0.0/8 or 2001:db8::/32"
    )))
}

/// Every entry of a list of strings is an absolute URL.
pub fn all_urls(field: &str) -> Rule {
    Rule::new("self.all(u, isURL(u))").message(Message::Message(format!(
        "{field} must hold absolute URLs, such as https://example.com/path"
    )))
}

/// A string is an absolute URL.
pub fn url(field: &str) -> Rule {
    Rule::new("isURL(self)").message(Message::Message(format!(
        "{field} must be an absolute URL, such as https://acme-v02.api.letsencrypt.org/directory"
    )))
}

/// No key of a map starts with `cert-manager.io/`: those are the controller's own.
pub fn no_cert_manager_keys(field: &str) -> Rule {
    Rule::new("self.all(k, !k.startsWith('cert-manager.io/'))")
        .message(Message::Message(format!(
            "{field} may not hold cert-manager.io/ keys: the controller sets those itself"
        )))
        .reason(Reason::FieldValueForbidden)
}
