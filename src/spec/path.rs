//! The YAML path (`bucket.policy_statements[0].Principal`) of a place in a spec, for
//! diagnostics that name the field as well as its line and column.
//!
//! Read from the text by indentation, as block-style YAML is written: the key on the line, then
//! each enclosing key and list item above it. Written by hand because the parser keeps positions
//! of values, not the path to them; a place inside a flow collection (`{...}`, `[...]`) is named
//! by the key that holds it.

/// The path of the node at `line`:`column` (1-based) in `text`, or `None` when the place is not
/// inside any key (0:0, past the end, or a comment).
pub fn path_at(text: &str, line: u64, column: u64) -> Option<String> {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let mut j = usize::try_from(line).ok()?.checked_sub(1)?;
    let col = usize::try_from(column).ok()?.saturating_sub(1);
    let here = lines.get(j)?;
    if is_blank(here) {
        return None;
    }
    let mut segments: Vec<String> = Vec::new();
    let (dashes, content) = structure(here);
    if content <= col {
        if let Some(k) = key_at(here, content) {
            segments.push(k);
        }
    }
    let mut indent = climb_dashes(&lines, j, &dashes, content, &mut segments);
    let parent = |j: usize, indent: usize| {
        (0..j).rev().find(|&p| {
            let l = &lines[p];
            !is_blank(l) && {
                let i = leading_spaces(l);
                i < indent
                    || (i == indent && l.get(i) != Some(&'-') && came_from_dash(&lines, j, indent))
            }
        })
    };
    while let Some(p) = parent(j, indent) {
        let (dashes, content) = structure(&lines[p]);
        // `- a: 1` then `  b: 2`: the line above starts the same list item (its content sits at
        // our indentation), so only its `- ` is an enclosing level.
        let sibling = content == indent && !dashes.is_empty();
        if !sibling {
            match key_at(&lines[p], content) {
                Some(k) => segments.push(k),
                None => break,
            }
        }
        indent = climb_dashes(&lines, p, &dashes, content, &mut segments);
        j = p;
    }
    if segments.is_empty() {
        return None;
    }
    segments.reverse();
    let mut out = String::new();
    for s in segments {
        if !s.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(&s);
    }
    Some(out)
}

fn is_blank(l: &[char]) -> bool {
    let t: String = l.iter().collect();
    let t = t.trim();
    t.is_empty() || t.starts_with('#') || t == "---"
}

fn leading_spaces(l: &[char]) -> usize {
    l.iter().take_while(|c| **c == ' ').count()
}

/// The columns of the line's `- ` markers and the column where its content starts.
fn structure(l: &[char]) -> (Vec<usize>, usize) {
    let mut i = leading_spaces(l);
    let mut dashes = Vec::new();
    while l.get(i) == Some(&'-') && matches!(l.get(i + 1), Some(' ') | None) {
        dashes.push(i);
        i += 1;
        while l.get(i) == Some(&' ') {
            i += 1;
        }
    }
    (dashes, i)
}

/// The mapping key that starts at `col`, if the line has `key:` there.
fn key_at(l: &[char], col: usize) -> Option<String> {
    let rest: String = l.get(col..)?.iter().collect();
    let (key, after) = rest.split_once(':')?;
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty() && !key.contains(['{', '[', ','])).then(|| key.to_string())
}

/// Pushes the list index of each `- ` marker on line `j` (innermost first); the indentation to
/// look for the parent at.
fn climb_dashes(
    lines: &[Vec<char>],
    j: usize,
    dashes: &[usize],
    content: usize,
    segments: &mut Vec<String>,
) -> usize {
    let mut indent = content;
    for &d in dashes.iter().rev() {
        segments.push(format!("[{}]", item_index(lines, j, d)));
        indent = d;
    }
    indent
}

/// Whether line `j` holds a list item at column `indent` (its parent may then sit at the same
/// indentation: `key:` followed by `- item` lines).
fn came_from_dash(lines: &[Vec<char>], j: usize, indent: usize) -> bool {
    structure(&lines[j]).0.contains(&indent)
}

/// The index of the list item whose `-` is at column `d` on line `j`.
fn item_index(lines: &[Vec<char>], j: usize, d: usize) -> usize {
    let mut n: usize = 0;
    for l in lines[..=j].iter().rev() {
        if is_blank(l) {
            continue;
        }
        let i = leading_spaces(l);
        if i == d && l.get(i) == Some(&'-') {
            n += 1;
        } else if i < d || (i == d && l.get(i) != Some(&'-')) {
            break;
        }
    }
    n.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::path_at;

    const SPEC: &str = "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://a\"]\n      allowed_methods: [PUT]\n    - allowed_origins: [\"https://b\"]\n  policy_statements:\n  - Sid: One\n    Effect: Allow\n  - Sid: Two\n    Principal: \"*\"\nuploads:\n  # a comment\n  prefix: \"*\"\n";

    #[test]
    fn keys_list_items_and_values_are_named_by_their_path() {
        assert_eq!(path_at(SPEC, 1, 1).as_deref(), Some("stack"));
        assert_eq!(path_at(SPEC, 1, 8).as_deref(), Some("stack"), "a value");
        assert_eq!(path_at(SPEC, 3, 3).as_deref(), Some("bucket.cors"));
        assert_eq!(
            path_at(SPEC, 4, 7).as_deref(),
            Some("bucket.cors[0].allowed_origins")
        );
        assert_eq!(
            path_at(SPEC, 5, 24).as_deref(),
            Some("bucket.cors[0].allowed_methods")
        );
        assert_eq!(
            path_at(SPEC, 6, 7).as_deref(),
            Some("bucket.cors[1].allowed_origins")
        );
        assert_eq!(
            path_at(SPEC, 10, 5).as_deref(),
            Some("bucket.policy_statements[1].Sid"),
            "dashes at the key's own indentation"
        );
        assert_eq!(
            path_at(SPEC, 11, 5).as_deref(),
            Some("bucket.policy_statements[1].Principal")
        );
        assert_eq!(path_at(SPEC, 14, 11).as_deref(), Some("uploads.prefix"));
        assert_eq!(path_at(SPEC, 13, 3), None, "a comment");
        assert_eq!(path_at(SPEC, 0, 0), None);
        assert_eq!(path_at(SPEC, 99, 1), None);
    }
}
