//! Text for a terminal, at most [`WIDTH`] columns: the status report and the Secret
//! inspection. Pure; the layout is stable enough for tests to look for lines by their labels.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::secret::{CertificateView, SecretAnalysis};
use super::time::{relative, stamp};
use super::{ConditionView, StatusReport};

/// The widest line printed.
pub const WIDTH: usize = 100;

/// Wraps every line of `text` to `width` columns at spaces; continuation lines are indented
/// two more than the line's own indentation. Words longer than a line are cut.
pub fn wrap_text(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        wrap_line(line, width, &mut out);
    }
    out
}

fn wrap_line(line: &str, width: usize, out: &mut String) {
    let line = line.trim_end();
    if line.chars().count() <= width {
        out.push_str(line);
        out.push('\n');
        return;
    }
    let indent = line.chars().take_while(|c| *c == ' ').count();
    let cont = " ".repeat((indent + 4).min(width / 2));
    // Words with the spaces before them, so columns inside a line keep their alignment.
    let mut tokens: Vec<(String, String)> = Vec::new();
    let mut spaces = String::new();
    let mut word = String::new();
    for ch in line[indent..].chars() {
        if ch == ' ' {
            if !word.is_empty() {
                tokens.push((std::mem::take(&mut spaces), std::mem::take(&mut word)));
            }
            spaces.push(' ');
        } else {
            word.push(ch);
        }
    }
    if !word.is_empty() {
        tokens.push((spaces, word));
    }
    let mut current = " ".repeat(indent);
    let mut has_word = false;
    for (gap, mut word) in tokens {
        loop {
            let len = current.chars().count();
            let gap_len = if has_word { gap.chars().count() } else { 0 };
            if len + gap_len + word.chars().count() <= width {
                if has_word {
                    current.push_str(&gap);
                }
                current.push_str(&word);
                has_word = true;
                break;
            }
            if has_word {
                out.push_str(&current);
                out.push('\n');
                current = cont.clone();
                has_word = false;
                continue;
            }
            // A word longer than the room left: cut it.
            let room = width.saturating_sub(len).max(1);
            let head: String = word.chars().take(room).collect();
            word = word.chars().skip(room).collect();
            current.push_str(&head);
            out.push_str(&current);
            out.push('\n');
            current = cont.clone();
            if word.is_empty() {
                break;
            }
        }
    }
    if has_word {
        out.push_str(&current);
        out.push('\n');
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn condition_line(out: &mut String, c: &ConditionView, now: Timestamp) {
    let status = format!("{:?}", c.status);
    let since = c
        .since
        .map(|t| format!(" (since {})", relative(t, now)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {:<13}{status} {}{since}{}",
        c.type_,
        c.reason.as_deref().unwrap_or("-"),
        c.message
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
}

/// The lines describing one certificate, indented by `indent`.
fn certificate_lines(out: &mut String, c: &CertificateView, indent: &str, now: Timestamp) {
    let validity = if c.not_after <= now {
        format!("EXPIRED {}", relative(c.not_after, now))
    } else if c.not_before > now {
        format!("not valid yet, starts {}", relative(c.not_before, now))
    } else {
        format!("valid, expires {}", relative(c.not_after, now))
    };
    let _ = writeln!(out, "{indent}Subject      {}", or_dash(&c.subject));
    let sans = c.sans();
    if !sans.is_empty() {
        let _ = writeln!(out, "{indent}SANs         {}", sans.join(", "));
    }
    let _ = writeln!(out, "{indent}Issuer       {}", or_dash(&c.issuer));
    let _ = writeln!(
        out,
        "{indent}Validity     {} to {} ({validity})",
        super::time::seconds(c.not_before),
        super::time::seconds(c.not_after)
    );
    let _ = writeln!(
        out,
        "{indent}Key          {}{}",
        c.public_key,
        if c.is_ca { ", CA" } else { "" }
    );
    if !c.usages.is_empty() {
        let _ = writeln!(out, "{indent}Usages       {}", c.usages.join(", "));
    }
    let _ = writeln!(out, "{indent}Serial       {}", c.serial);
    // 32 bytes in colon hex are 95 columns: two lines of 16 bytes.
    let fp = &c.sha256_fingerprint;
    let (a, b) = fp.split_at(fp.len().min(48));
    let _ = writeln!(out, "{indent}SHA-256      {}", a.trim_end_matches(':'));
    if !b.is_empty() {
        let _ = writeln!(out, "{indent}             {b}");
    }
    let _ = writeln!(out, "{indent}SHA-1        {}", c.sha1_fingerprint);
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// `inspect secret` as text.
pub fn secret_text(namespace: &str, name: &str, a: &SecretAnalysis, now: Timestamp) -> String {
    let mut out = String::new();
    let verdict = secret_verdict(a, now);
    let _ = writeln!(out, "{verdict}");
    let _ = writeln!(out);
    let _ = writeln!(out, "Secret {namespace}/{name}");
    let _ = writeln!(out, "  Keys         {}", a.keys.join(", "));
    secret_body(&mut out, a, now);
    wrap_text(&out, WIDTH)
}

/// The first line of `inspect secret`: is the Secret usable?
pub fn secret_verdict(a: &SecretAnalysis, now: Timestamp) -> String {
    if let Some(e) = &a.certificate_error {
        return format!("BROKEN: tls.crt: {e}");
    }
    if let Some(e) = &a.key_error {
        return format!("BROKEN: {e}");
    }
    if a.key_matches == Some(false) {
        return "BROKEN: tls.key does not match the certificate in tls.crt".into();
    }
    if let Some(p) = a.chain_problems.first() {
        return format!("BROKEN: {}", p.message);
    }
    match a.leaf() {
        Some(l) if l.not_after <= now => format!("EXPIRED {}", relative(l.not_after, now)),
        Some(l) if l.not_before > now => {
            format!("NOT VALID YET: starts {}", relative(l.not_before, now))
        }
        Some(l) => format!("OK: valid until {}", stamp(l.not_after, now)),
        None => "BROKEN: no certificate".into(),
    }
}

fn secret_body(out: &mut String, a: &SecretAnalysis, now: Timestamp) {
    match (&a.key, &a.key_error) {
        (Some(k), _) => {
            let matches = match a.key_matches {
                Some(true) => "matches the certificate",
                Some(false) => "DOES NOT match the certificate",
                None => "not compared",
            };
            let _ = writeln!(
                out,
                "  tls.key      {} ({}), {matches}",
                k.algorithm, k.encoding
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "  tls.key      {e}");
        }
        (None, None) => {}
    }
    if let Some(e) = &a.certificate_error {
        let _ = writeln!(out, "  tls.crt      {e}");
    }
    let chain = if a.chain_problems.is_empty() {
        "in order".to_owned()
    } else {
        "OUT OF ORDER".to_owned()
    };
    if !a.certificates.is_empty() {
        let _ = writeln!(
            out,
            "  Chain        {} certificate(s) in tls.crt, {chain}",
            a.certificates.len()
        );
    }
    for p in &a.chain_problems {
        let _ = writeln!(out, "    problem: {}", p.message);
    }
    for (i, c) in a.certificates.iter().enumerate() {
        let what = if i == 0 { "leaf" } else { "chain" };
        let _ = writeln!(out, "  tls.crt [{i}] ({what})");
        certificate_lines(out, c, "    ", now);
    }
    if let Some(e) = &a.ca_error {
        let _ = writeln!(out, "  ca.crt       {e}");
    }
    for (i, c) in a.ca.iter().enumerate() {
        let _ = writeln!(out, "  ca.crt [{i}]");
        certificate_lines(out, c, "    ", now);
    }
}

/// `status certificate` as text: the headline, then a block per object of the chain.
pub fn status_text(r: &StatusReport, now: Timestamp) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.summary.headline());
    let _ = writeln!(out);

    let c = &r.certificate;
    let _ = writeln!(out, "Certificate {}/{}", r.namespace, r.name);
    let _ = writeln!(out, "  Secret       {}", c.secret_name);
    let _ = writeln!(out, "  Issuer       {}", c.issuer_ref);
    if !c.names.is_empty() {
        let _ = writeln!(out, "  Names        {}", c.names.join(", "));
    }
    if let Some(rev) = c.revision {
        let _ = writeln!(out, "  Revision     {rev}");
    }
    if let Some(t) = c.not_after {
        let _ = writeln!(out, "  Not after    {}", stamp(t, now));
    }
    if let Some(t) = c.renewal_time {
        let _ = writeln!(out, "  Renewal      {}", stamp(t, now));
    }
    for cond in &c.conditions {
        condition_line(&mut out, cond, now);
    }
    if let Some(n) = c.failed_issuance_attempts.filter(|n| *n > 0) {
        let last = c
            .last_failure_time
            .map(|t| format!(", last {}", relative(t, now)))
            .unwrap_or_default();
        let next = c
            .next_retry
            .map(|t| format!(", next try {}", relative(t, now)))
            .unwrap_or_default();
        let _ = writeln!(out, "  Failures     {n}{last}{next}");
    }
    let _ = writeln!(out);

    let s = &r.secret;
    match (&s.analysis, &s.error) {
        (Some(a), _) => {
            let _ = writeln!(out, "Secret {}: {}", s.name, secret_verdict(a, now));
            if let Some(holder) = s.certificate_name.as_deref().filter(|h| *h != r.name) {
                let _ = writeln!(out, "  Held by      Certificate {holder}");
            }
            if let Some(leaf) = a.leaf() {
                let _ = writeln!(out, "  Subject      {}", or_dash(&leaf.subject));
                let sans = leaf.sans();
                if !sans.is_empty() {
                    let _ = writeln!(out, "  SANs         {}", sans.join(", "));
                }
                let _ = writeln!(out, "  Issued by    {}", or_dash(&leaf.issuer));
                let _ = writeln!(out, "  Expires      {}", stamp(leaf.not_after, now));
            }
            let key = match a.key_matches {
                Some(true) => "matches the certificate".to_owned(),
                Some(false) => "DOES NOT match the certificate".to_owned(),
                None => a.key_error.clone().unwrap_or_else(|| "not compared".into()),
            };
            let _ = writeln!(out, "  Key          {key}");
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "Secret {}: cannot be read: {e}", s.name);
        }
        (None, None) => {
            let _ = writeln!(out, "Secret {}: does not exist", s.name);
        }
    }
    let _ = writeln!(out);

    let i = &r.issuer;
    let kind = i
        .type_
        .as_deref()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let note = i
        .note
        .as_deref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let _ = writeln!(out, "{}{kind}{note}", i.label);
    if let Some(ready) = &i.ready {
        condition_line(&mut out, ready, now);
    }
    let _ = writeln!(out);

    if let Some(req) = &r.request {
        let _ = writeln!(out, "CertificateRequest {}", req.name);
        let msg = req
            .approval_message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  Approval     {}{msg}", req.approval);
        if let Some(ready) = &req.ready {
            condition_line(&mut out, ready, now);
        }
        if let Some(t) = req.failure_time {
            let _ = writeln!(out, "  Failed       {}", stamp(t, now));
        }
        let _ = writeln!(out);
    }
    if let Some(o) = &r.order {
        let state = o
            .state
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into());
        let _ = writeln!(out, "Order {}", o.name);
        let _ = writeln!(out, "  State        {state}");
        if let Some(reason) = o.reason.as_deref().filter(|r| !r.is_empty()) {
            let _ = writeln!(out, "  Reason       {reason}");
        }
        let _ = writeln!(out);
    }
    if !r.challenges.is_empty() {
        let _ = writeln!(out, "Challenges");
        for ch in &r.challenges {
            let state = ch
                .state
                .and_then(|s| serde_json::to_value(s).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "pending".into());
            let type_ = serde_json::to_value(ch.type_)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {type_} {}  state {state}, presented {}, processing {}  ({})",
                ch.domain,
                yes_no(ch.presented),
                yes_no(ch.processing),
                ch.name
            );
            if let Some(reason) = ch.reason.as_deref().filter(|r| !r.is_empty()) {
                let _ = writeln!(out, "    Last result: {reason}");
            }
        }
        let _ = writeln!(out);
    }
    if r.events.is_empty() {
        let _ = writeln!(out, "Events: none");
    } else {
        let _ = writeln!(out, "Events (newest last)");
        for e in &r.events {
            let when = e
                .time
                .map(|t| relative(t, now))
                .unwrap_or_else(|| "-".into());
            let count = if e.count > 1 {
                format!(" (x{})", e.count)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {when:<10} {:<7} {:<12} {}: {}{count}",
                e.type_, e.reason, e.object, e.message
            );
        }
    }
    wrap_text(&out, WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping() {
        let table: [(&str, usize, &[&str]); 7] = [
            ("short", 10, &["short"]),
            (
                "one two three four",
                9,
                &["one two", "    three", "    four"],
            ),
            // Continuation indent is the line's plus 4, at most half the width.
            ("  a b c d e f", 7, &["  a b c", "   d e", "   f"]),
            ("  a b c d e f", 20, &["  a b c d e f"]),
            ("abcdefghij", 4, &["abcd", "  ef", "  gh", "  ij"]),
            ("trailing   ", 20, &["trailing"]),
            ("a  b   c d", 8, &["a  b   c", "    d"]),
        ];
        for (input, width, want) in table {
            let got = wrap_text(input, width);
            assert_eq!(got.lines().collect::<Vec<_>>(), want, "{input:?}");
        }
    }
}
