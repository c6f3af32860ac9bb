//! The layout's rules, read from the sources (no build, no network): which module may use which,
//! and how large a command file may grow. docs/architecture.md draws the same picture.
//!
//! A module's uses are the `crate::…` and `super::…` paths in its code (comments and test modules
//! left out), resolved to the deepest module the path names. Ancestors and descendants may use
//! each other (a parent re-exports its children; a child uses its parent's items).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`; `None` for the binary and for test modules.
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("tests") => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests { … }`.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            // A `//` inside a string (a URL) is rare in paths' company; a comment starts a line
            // or follows code after a space.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    while let Some(start) = out.find("#[cfg(test)]\nmod tests {") {
        let open = start + out[start..].find('{').unwrap();
        let mut depth = 0;
        let mut end = out.len();
        for (i, c) in out[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(start..end, "");
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path after `crate::` or `super::` in `code`, as written from module `at`, absolute; a
/// `{a, b::c}` group yields one path per item.
fn paths(code: &str, at: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident_char(bytes[i - 1]) && bytes[i - 1] != ':';
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let root = if rest.starts_with("crate::") {
            Some(("crate", 7))
        } else if rest.starts_with("super::") {
            Some(("super", 7))
        } else {
            None
        };
        let Some((kind, skip)) = root.filter(|_| starts_word) else {
            i += 1;
            continue;
        };
        let mut base: Module = if kind == "crate" {
            Vec::new()
        } else {
            at[..at.len().saturating_sub(1)].to_vec()
        };
        let mut j = i + skip;
        // Further `super::`.
        loop {
            let ahead: String = bytes[j..bytes.len().min(j + 7)].iter().collect();
            if ahead == "super::" {
                base.pop();
                j += 7;
            } else {
                break;
            }
        }
        let mut segments = Vec::new();
        loop {
            let s = j;
            while j < bytes.len() && is_ident_char(bytes[j]) {
                j += 1;
            }
            if j > s {
                segments.push(bytes[s..j].iter().collect::<String>());
            }
            let ahead: String = bytes[j..bytes.len().min(j + 2)].iter().collect();
            if ahead == "::" && j > s {
                j += 2;
                continue;
            }
            break;
        }
        let mut prefix = base.clone();
        prefix.extend(segments);
        if j < bytes.len() && bytes[j] == '{' {
            let close = (j..bytes.len())
                .find(|&k| bytes[k] == '}')
                .unwrap_or(bytes.len());
            let group: String = bytes[j + 1..close].iter().collect();
            for item in group.split(',') {
                let mut p = prefix.clone();
                let item = item.trim();
                if item.is_empty() || item == "self" {
                    out.push(p);
                    continue;
                }
                p.extend(
                    item.split("::")
                        .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                        .filter(|s| !s.is_empty() && s.chars().all(is_ident_char)),
                );
                out.push(p);
            }
            i = close;
        } else {
            out.push(prefix);
            i = j;
        }
    }
    out
}

/// Every module and the modules it uses.
fn uses() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files
        .iter()
        .filter_map(|f| module_of(&src, f).map(|m| (m, f.clone())))
        .collect();
    let known: BTreeSet<&Module> = modules.keys().collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let mut targets = BTreeSet::new();
        for path in paths(&code(&text), module) {
            // The deepest module the path names.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains(p))
                .unwrap_or_default();
            targets.insert(target);
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Uses between the modules `depth` levels down (deeper ones folded into them).
fn folded(graph: &BTreeMap<Module, BTreeSet<Module>>, depth: usize) -> BTreeSet<(Module, Module)> {
    let fold = |m: &Module| m[..m.len().min(depth)].to_vec();
    let mut edges = BTreeSet::new();
    for (from, targets) in graph {
        for to in targets {
            let (a, b) = (fold(from), fold(to));
            if !related(&a, &b) {
                edges.insert((a, b));
            }
        }
    }
    edges
}

#[test]
fn no_two_modules_use_each_other() {
    let graph = uses();
    assert!(
        graph.len() > 40,
        "the walk found only {} modules",
        graph.len()
    );
    let mut circles = Vec::new();
    for depth in 1..=4 {
        let edges = folded(&graph, depth);
        for (a, b) in &edges {
            if a < b && edges.contains(&(b.clone(), a.clone())) {
                circles.push(format!("{} <-> {}", name(a), name(b)));
            }
        }
    }
    circles.dedup();
    assert!(
        circles.is_empty(),
        "modules that use each other: {circles:#?}"
    );
}

#[test]
fn plan_uses_no_state_and_state_only_the_records_it_stores() {
    let graph = uses();
    let under = |m: &Module, top: &str| m.first().is_some_and(|f| f == top);
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if under(from, "plan") && under(to, "state") {
                wrong.push(format!("{} uses {}", name(from), name(to)));
            }
            let stored = [vec!["plan".to_string(), "record".to_string()]];
            if under(from, "state") && under(to, "plan") && !stored.contains(to) {
                wrong.push(format!("{} uses {}", name(from), name(to)));
            }
        }
    }
    // The rule can fail: state does use the records.
    assert!(graph
        .iter()
        .any(|(f, t)| under(f, "state") && t.iter().any(|m| under(m, "plan"))));
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_pure_core_uses_no_effects() {
    let graph = uses();
    let effects = ["aws", "exec", "commands", "state", "output"];
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        if !from
            .first()
            .is_some_and(|f| ["plan", "spec", "presigned"].contains(&f.as_str()))
        {
            continue;
        }
        for to in targets {
            if to.first().is_some_and(|t| effects.contains(&t.as_str())) {
                wrong.push(format!("{} uses {}", name(from), name(to)));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn command_files_stay_small_and_decide_no_ownership() {
    let dir = repo().join("src/commands");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() > 10);
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines = text.lines().count();
        let shown = file.strip_prefix(repo()).unwrap().display().to_string();
        if lines > 350 {
            wrong.push(format!("{shown}: {lines} lines (at most 350)"));
        }
        // Ownership is proven by the tag and the journal, in plan::reconcile only.
        let code = code(&text);
        for decision in [
            "OWNERSHIP_TAG",
            "was_creating",
            "fn check_owner",
            "fn ownership",
        ] {
            if code.contains(decision) {
                wrong.push(format!("{shown}: decides ownership ({decision})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_reader_finds_paths_as_written() {
    let at: Module = vec!["aws".into(), "http_api".into(), "converge".into()];
    let found = paths(
        "use super::super::errors::{absent_as_none, AwsError};\nuse crate::plan::resources::{ApiRoute, HttpApiProps};\nlet x = super::what(y); // crate::state::Lock\n",
        &at,
    );
    let shown: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert!(
        shown.contains(&"aws::errors::absent_as_none".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"plan::resources::HttpApiProps".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"aws::http_api::what".to_string()),
        "{shown:?}"
    );
    let code = code("let a = 1; // crate::state::Lock\n#[cfg(test)]\nmod tests {\n    use crate::state::Lock;\n    fn f() { {} }\n}\nuse crate::clock;\n");
    let shown: Vec<String> = paths(&code, &at).iter().map(|p| p.join("::")).collect();
    assert_eq!(shown, vec!["clock".to_string()]);
}

/// docs/architecture.md's layers, top to bottom; then the leaves every layer may use.
const LAYERS: [&str; 8] = [
    "commands",
    "exec",
    "state",
    "aws",
    "output",
    "presigned",
    "plan",
    "spec",
];
const LEAVES: [&str; 4] = ["artifact", "cli", "clock", "hooks"];

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let graph = uses();
    let rank = |m: &Module| -> Option<usize> {
        let top = m.first()?;
        LAYERS
            .iter()
            .position(|l| l == top)
            .or_else(|| LEAVES.contains(&top.as_str()).then_some(LAYERS.len()))
    };
    let mut wrong = Vec::new();
    for (a, b) in folded(&graph, 1) {
        match (rank(&a), rank(&b)) {
            (Some(x), Some(y)) if x < y => {}
            _ => wrong.push(format!("{} uses {}", name(&a), name(&b))),
        }
    }
    assert!(
        wrong.is_empty(),
        "update docs/architecture.md or the code: {wrong:#?}"
    );
}
