//! `--controllers`: which optional controllers run, in cert-manager's spelling
//! (`--controllers=*,-certificaterequests-approver`). Today only the built-in approver can be
//! turned off (to approve or deny requests by hand, or with a policy approver); other names
//! are refused rather than silently ignored.

/// cert-manager's name of the built-in approver.
pub const APPROVER: &str = "certificaterequests-approver";

/// Names `--controllers` accepts, besides `*`.
const KNOWN: [&str; 1] = [APPROVER];

/// Which optional controllers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    pub approver: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Selection { approver: true }
    }
}

/// Parses the `--controllers` list: `*` (all, the default), `name` (on), `-name` (off); the
/// last mention of a name wins over `*`.
pub fn parse(items: &[String]) -> Result<Selection, String> {
    let mut approver = None;
    let mut all = false;
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if item == "*" {
            all = true;
            continue;
        }
        let (on, name) = match item.strip_prefix('-') {
            Some(name) => (false, name),
            None => (true, item),
        };
        if !KNOWN.contains(&name) {
            return Err(format!(
                "--controllers: unknown controller {name:?}; certsmith accepts `*` and \
                 `{APPROVER}` (with `-` to turn it off)"
            ));
        }
        approver = Some(on);
    }
    if items.iter().all(|s| s.trim().is_empty()) {
        all = true;
    }
    Ok(Selection {
        approver: approver.unwrap_or(all),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let table: [(&[&str], Result<bool, ()>); 7] = [
            (&["*"], Ok(true)),
            (&[], Ok(true)),
            (&["*", "-certificaterequests-approver"], Ok(false)),
            (&["-certificaterequests-approver", "*"], Ok(false)),
            (&["certificaterequests-approver"], Ok(true)),
            (&["*", "-issuers"], Err(())),
            (&["bogus"], Err(())),
        ];
        for (items, want) in table {
            let items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
            let got = parse(&items).map(|s| s.approver).map_err(|_| ());
            assert_eq!(got, want, "{items:?}");
        }
    }
}
