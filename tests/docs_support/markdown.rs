//! Reading the documentation: the Markdown files under docs/ and README.md, their fenced code
//! blocks, and the `<!-- docs-test: ... -->` directives that say how a block is exercised.

use std::path::{Path, PathBuf};

/// How a block is treated, from the HTML comment on the line right before its fence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// No directive: the page's rule applies (dry-run, or run for real on a flow page).
    Default,
    /// `<!-- docs-test: skip: REASON -->`: not exercised, for the reason given.
    Skip(String),
    /// `<!-- docs-test: dry-run: REASON -->`: on a flow page, only validated (dry-run), not
    /// applied for real, for the reason given.
    DryRun(String),
}

/// One fenced code block.
#[derive(Clone, Debug)]
pub struct Block {
    /// The file, relative to the repository root.
    pub file: PathBuf,
    /// The line of the opening fence (1-based).
    pub line: usize,
    /// The info string's first word (`yaml`, `sh`, `text`), empty when there is none.
    pub lang: String,
    pub text: String,
    pub directive: Directive,
}

impl Block {
    /// `file:line`, for messages.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// A Markdown page.
pub struct Page {
    pub file: PathBuf,
    pub text: String,
    pub blocks: Vec<Block>,
}

impl Page {
    /// A page marked `<!-- docs-test: flow -->` is a walk-through: its manifests are applied
    /// and its commands run for real, in order, against the test bed.
    pub fn is_flow(&self) -> bool {
        self.text
            .lines()
            .any(|l| l.trim() == "<!-- docs-test: flow -->")
    }
}

/// Every Markdown file under `docs/` (recursively) and `README.md`, sorted, relative to `root`.
pub fn pages(root: &Path) -> Vec<Page> {
    let mut files = vec![PathBuf::from("README.md")];
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path.strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(root.join(&file))
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let blocks = parse_blocks(&file, &text).unwrap_or_else(|e| panic!("{e}"));
            Page { file, text, blocks }
        })
        .collect()
}

/// The fenced blocks of one page. Fences may be indented (inside a list item); the
/// indentation is removed from the block's lines.
pub fn parse_blocks(file: &Path, text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            let indent = lines[i].len() - trimmed.len();
            let start = i;
            let mut body = Vec::new();
            i += 1;
            loop {
                let Some(line) = lines.get(i) else {
                    return Err(format!(
                        "{}:{}: code block never closed",
                        file.display(),
                        start + 1
                    ));
                };
                if line.trim_start().starts_with("```") {
                    break;
                }
                body.push(line.get(indent..).unwrap_or(line.trim_start()));
                i += 1;
            }
            let directive = directive_before(&lines, start)
                .map_err(|e| format!("{}:{}: {e}", file.display(), start + 1))?;
            blocks.push(Block {
                file: file.to_owned(),
                line: start + 1,
                lang: info.split_whitespace().next().unwrap_or("").to_owned(),
                text: body.join("\n") + "\n",
                directive,
            });
        }
        i += 1;
    }
    Ok(blocks)
}

/// The directive on the last non-blank line before line `fence`, if that line is one.
fn directive_before(lines: &[&str], fence: usize) -> Result<Directive, String> {
    let Some(prev) = lines[..fence].iter().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(Directive::Default);
    };
    let Some(inner) = prev
        .trim()
        .strip_prefix("<!-- docs-test:")
        .and_then(|r| r.strip_suffix("-->"))
    else {
        return Ok(Directive::Default);
    };
    let inner = inner.trim();
    let reason = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    };
    if let Some(r) = reason("skip:") {
        Ok(Directive::Skip(r))
    } else if let Some(r) = reason("dry-run:") {
        Ok(Directive::DryRun(r))
    } else {
        Err(format!(
            "unknown docs-test directive {inner:?}: write `skip: REASON` or `dry-run: REASON`"
        ))
    }
}

/// The relative link targets of a page (`](target)`), without `#anchors`; external links
/// (`http:`, `https:`, `mailto:`) and pure anchors are left out.
pub fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(pos) = rest.find("](") {
            rest = &rest[pos + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split('#').next().unwrap_or("").trim();
            let external = ["http:", "https:", "mailto:"]
                .iter()
                .any(|p| target.starts_with(p));
            if !target.is_empty() && !external {
                out.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_directives() {
        let text = "intro\n\n<!-- docs-test: skip: needs a real DNS provider -->\n```sh\nkubectl get x\n```\n\n  ```yaml\n  a: 1\n  ```\n<!-- docs-test: dry-run: prod URL -->\n```yaml\nb: 2\n```\n";
        let blocks = parse_blocks(Path::new("p.md"), text).unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            blocks[0].directive,
            Directive::Skip("needs a real DNS provider".into())
        );
        assert_eq!(blocks[0].lang, "sh");
        assert_eq!(blocks[1].text, "a: 1\n");
        assert_eq!(blocks[1].directive, Directive::Default);
        assert_eq!(blocks[2].directive, Directive::DryRun("prod URL".into()));
        for bad in [
            "<!-- docs-test: skip: -->\n```sh\n```\n",
            "<!-- docs-test: maybe -->\n```sh\n```\n",
            "```sh\nopen\n",
        ] {
            assert!(parse_blocks(Path::new("p.md"), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links() {
        let text = "see [a](a.md#x), [b](https://x.y) and [c](../c.md)\n```\n[no](skip.md)\n```\n";
        assert_eq!(relative_links(text), vec!["a.md", "../c.md"]);
    }
}
