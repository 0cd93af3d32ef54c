//! "Which Certificate keeps a Secret that several name?" Two Certificates in one namespace with
//! the same `spec.secretName` would otherwise overwrite each other's Secret forever (each sees
//! the other's certificate as `IncorrectCertificate` and re-issues). One of them keeps the
//! Secret and goes on as if alone; the others issue nothing and report `DuplicateSecretName`
//! until their `secretName` changes or the holder goes away.
//!
//! The holder is the Certificate the Secret's `cert-manager.io/certificate-name` annotation
//! names, so adding a duplicate never disturbs a working Certificate; when the annotation names
//! none of them (a new Secret), the oldest Certificate, then the first by name.

use jiff::Timestamp;

/// A Certificate that names the Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimant<'a> {
    pub name: &'a str,
    /// `metadata.creationTimestamp`; `None` sorts first (it only happens in tests).
    pub created: Option<Timestamp>,
}

/// This Certificate names a Secret another Certificate keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretConflict {
    pub secret_name: String,
    /// The Certificate that keeps the Secret.
    pub holder: String,
    /// Every other Certificate naming the Secret, this one excluded, sorted.
    pub others: Vec<String>,
}

impl SecretConflict {
    /// The Ready message: what is wrong and what to do.
    pub fn message(&self) -> String {
        let mut message = format!(
            "spec.secretName {:?} is also used by Certificate {:?}, which keeps the Secret",
            self.secret_name, self.holder
        );
        let rest: Vec<&str> = self
            .others
            .iter()
            .map(String::as_str)
            .filter(|n| *n != self.holder)
            .collect();
        if !rest.is_empty() {
            message.push_str(&format!(" (and by {})", rest.join(", ")));
        }
        message.push_str(
            ": give this Certificate its own secretName. Nothing is issued for it meanwhile",
        );
        message
    }
}

/// The Certificate among `claimants` that keeps the Secret.
pub fn secret_holder<'a>(claimants: &[Claimant<'a>], annotated: Option<&str>) -> Option<&'a str> {
    if let Some(named) = annotated.and_then(|a| claimants.iter().find(|c| c.name == a)) {
        return Some(named.name);
    }
    claimants
        .iter()
        .min_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(b.name)))
        .map(|c| c.name)
}

/// `Some` when `me` names a Secret that another of `claimants` (every Certificate naming it,
/// `me` included) keeps. `annotated` is the Secret's `cert-manager.io/certificate-name`.
pub fn secret_conflict(
    me: &str,
    secret_name: &str,
    claimants: &[Claimant<'_>],
    annotated: Option<&str>,
) -> Option<SecretConflict> {
    let holder = secret_holder(claimants, annotated)?;
    if holder == me {
        return None;
    }
    let mut others: Vec<String> = claimants
        .iter()
        .filter(|c| c.name != me)
        .map(|c| c.name.to_owned())
        .collect();
    others.sort();
    others.dedup();
    Some(SecretConflict {
        secret_name: secret_name.to_owned(),
        holder: holder.to_owned(),
        others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<Timestamp> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn holder_table() {
        let old = Claimant {
            name: "web",
            created: at("2026-01-01T00:00:00Z"),
        };
        let new = Claimant {
            name: "api",
            created: at("2026-02-01T00:00:00Z"),
        };
        let twin = Claimant {
            name: "aaa",
            created: at("2026-01-01T00:00:00Z"),
        };
        /// Case, claimants, the Secret's annotation, the holder.
        type Case<'a> = (
            &'a str,
            &'a [Claimant<'a>],
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            ("nobody", &[], None, None),
            ("alone", &[old], None, Some("web")),
            ("oldest wins", &[new, old], None, Some("web")),
            (
                "same second: first by name",
                &[old, twin],
                None,
                Some("aaa"),
            ),
            (
                "the Secret's annotation wins",
                &[old, new],
                Some("api"),
                Some("api"),
            ),
            (
                "an annotation naming neither falls back to the oldest",
                &[new, old],
                Some("gone"),
                Some("web"),
            ),
        ];
        for (case, claimants, annotated, want) in cases {
            assert_eq!(secret_holder(claimants, *annotated), *want, "{case}");
        }
    }

    #[test]
    fn conflict_only_for_those_that_do_not_hold() {
        let claimants = [
            Claimant {
                name: "web",
                created: at("2026-01-01T00:00:00Z"),
            },
            Claimant {
                name: "api",
                created: at("2026-02-01T00:00:00Z"),
            },
            Claimant {
                name: "zzz",
                created: at("2026-03-01T00:00:00Z"),
            },
        ];
        assert_eq!(secret_conflict("web", "tls", &claimants, None), None);
        let conflict = secret_conflict("zzz", "tls", &claimants, None).unwrap();
        assert_eq!(
            conflict,
            SecretConflict {
                secret_name: "tls".into(),
                holder: "web".into(),
                others: vec!["api".into(), "web".into()],
            }
        );
        assert_eq!(
            conflict.message(),
            "spec.secretName \"tls\" is also used by Certificate \"web\", which keeps the Secret \
             (and by api): give this Certificate its own secretName. Nothing is issued for it \
             meanwhile"
        );
        let alone = [claimants[0]];
        assert_eq!(secret_conflict("web", "tls", &alone, None), None);
    }
}
