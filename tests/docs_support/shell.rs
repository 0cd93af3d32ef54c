//! The shell convention of the docs, and splitting a command line into words.
//!
//! Convention (stated in docs/README.md): a `sh` block holds commands only, one per line, with
//! no `$ ` prompt, no line continuation and no `&&`, `;`, `|` or trailing `&`; a `#` starts a
//! comment. Output goes in a separate `text` block. Commands are `kubectl`, `helm` or
//! `certsmith`; anything else needs a `skip` directive with a reason.

/// Programs a `sh` block may run without a skip directive.
pub const PROGRAMS: [&str; 3] = ["kubectl", "helm", "certsmith"];

/// The commands of a `sh` block, each split into words; an error names the first line that
/// breaks the convention.
pub fn commands(block: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    for (n, raw) in block.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let at = |why: &str| format!("line {} {raw:?}: {why}", n + 1);
        if line.starts_with("$ ") || line == "$" {
            return Err(at(
                "no `$ ` prompts in sh blocks (put output in a text block)",
            ));
        }
        if line.ends_with('\\') {
            return Err(at("one command per line, no `\\` continuation"));
        }
        let words = split_words(line).map_err(|e| at(&e))?;
        if let Some(op) = words
            .iter()
            .find(|w| ["&&", "||", ";", "|", "&"].contains(&w.as_str()) || w.ends_with(';'))
        {
            return Err(at(&format!("one command per line, no {op:?}")));
        }
        if !PROGRAMS.contains(&words[0].as_str()) {
            return Err(at(&format!(
                "{:?} is not one of {PROGRAMS:?}; give the block a `skip` directive with a reason",
                words[0]
            )));
        }
        out.push(words);
    }
    Ok(out)
}

/// The line up to an unquoted `#` that starts a word.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// Splits like a POSIX shell for the simple cases the docs use: whitespace separates words,
/// single quotes keep everything, double quotes keep everything but `\"` and `\\`.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some('$') => return Err("no shell variables in commands".into()),
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '$' | '`' => return Err("no shell variables or substitutions in commands".into()),
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Whether a `text` block smuggles a command in: a line starting with `$ ` or with one of the
/// programs followed by a space.
pub fn looks_like_command(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("$ ") || PROGRAMS.iter().any(|p| line.starts_with(&format!("{p} ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let cases: [(&str, &[&str]); 5] = [
            ("kubectl get cert -A", &["kubectl", "get", "cert", "-A"]),
            (
                "kubectl annotate ingress web 'a/b=c d'",
                &["kubectl", "annotate", "ingress", "web", "a/b=c d"],
            ),
            (
                r#"certsmith deny x --reason "not \"ours\"""#,
                &["certsmith", "deny", "x", "--reason", "not \"ours\""],
            ),
            (
                "kubectl get secret -o jsonpath='{.data.tls\\.crt}'",
                &[
                    "kubectl",
                    "get",
                    "secret",
                    "-o",
                    "jsonpath={.data.tls\\.crt}",
                ],
            ),
            ("  helm   list  ", &["helm", "list"]),
        ];
        for (line, want) in cases {
            assert_eq!(split_words(line).unwrap(), want, "{line}");
        }
        for bad in ["echo 'x", "echo \"$HOME\"", "echo $(x)", "echo `x`"] {
            assert!(split_words(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn convention() {
        let ok = "# a comment\nkubectl get certificate -A   # READY column\n\nhelm list -A\n";
        assert_eq!(commands(ok).unwrap().len(), 2);
        for bad in [
            "$ kubectl get x",
            "kubectl get x \\",
            "kubectl get x && kubectl get y",
            "kubectl get x | grep y",
            "kubectl get x; kubectl get y",
            "curl https://example.com",
            "certsmith controller &",
        ] {
            assert!(commands(bad).is_err(), "{bad}");
        }
        assert!(looks_like_command("$ kubectl get x"));
        assert!(looks_like_command("kubectl get x"));
        assert!(!looks_like_command("Certificate demo/web-tls is Ready"));
    }
}
