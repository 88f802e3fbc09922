//! The generated sections of a Markdown file: the lines between `<!-- report:NAME -->` and
//! `<!-- /report:NAME -->`, each marker alone on its line. Everything outside them is kept
//! byte for byte.

use std::path::Path;

use anyhow::bail;

/// One marker section of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `NAME` of `<!-- report:NAME -->`.
    pub name: String,
    /// 1-based line of the opening marker.
    pub line: usize,
    /// Byte range of the lines between the markers.
    pub content: std::ops::Range<usize>,
}

/// `NAME` if `line` is `<!-- report:NAME -->` (`closing`: `<!-- /report:NAME -->`).
fn marker(line: &str, closing: bool) -> Option<&str> {
    let prefix = if closing {
        "<!-- /report:"
    } else {
        "<!-- report:"
    };
    let name = line
        .trim()
        .strip_prefix(prefix)?
        .strip_suffix("-->")?
        .trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(name)
}

/// The marker sections of `text` (read from `file`, for errors), in order. An unclosed,
/// nested, mismatched or repeated marker is an error naming the file and line.
pub fn sections(text: &str, file: &Path) -> anyhow::Result<Vec<Section>> {
    let mut out: Vec<Section> = Vec::new();
    let mut open: Option<(String, usize, usize)> = None;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let number = i + 1;
        let end = offset + line.len();
        if let Some(name) = marker(line, false) {
            if let Some((outer, at, _)) = &open {
                bail!(
                    "{}:{number}: <!-- report:{name} --> inside report:{outer} (opened at line \
                     {at}, not closed)",
                    file.display()
                );
            }
            if let Some(earlier) = out.iter().find(|s| s.name == name) {
                bail!(
                    "{}:{number}: report:{name} appears twice (also at line {})",
                    file.display(),
                    earlier.line
                );
            }
            open = Some((name.to_string(), number, end));
        } else if let Some(name) = marker(line, true) {
            match open.take() {
                Some((opened, at, start)) if opened == name => out.push(Section {
                    name: opened,
                    line: at,
                    content: start..offset,
                }),
                Some((opened, at, _)) => bail!(
                    "{}:{number}: <!-- /report:{name} --> closes report:{opened} (opened at line \
                     {at})",
                    file.display()
                ),
                None => bail!(
                    "{}:{number}: <!-- /report:{name} --> without its <!-- report:{name} -->",
                    file.display()
                ),
            }
        }
        offset = end;
    }
    if let Some((name, at, _)) = open {
        bail!(
            "{}:{at}: <!-- report:{name} --> is never closed (no <!-- /report:{name} -->)",
            file.display()
        );
    }
    Ok(out)
}

/// `text` with the content of each section of `sections` that `new` names replaced; `new`
/// gives, in the order of `sections`, `Some(content)` or `None` to keep it.
pub fn replace(text: &str, sections: &[Section], new: &[Option<String>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (section, content) in sections.iter().zip(new) {
        if let Some(content) = content {
            out.push_str(&text[at..section.content.start]);
            out.push_str(content);
            at = section.content.end;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// A diff-like description of what changes from `old` to `new` (a section's content; `line` is
/// the 1-based line of its first line): the lines between the common first and last ones,
/// `-` old, `+` new.
pub fn describe_change(old: &str, new: &str, line: usize) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!("@@ line {} @@\n", line + prefix);
    for l in &a[prefix..a.len() - suffix] {
        out.push_str(&format!("-{l}\n"));
    }
    for l in &b[prefix..b.len() - suffix] {
        out.push_str(&format!("+{l}\n"));
    }
    out
}
