//! Every shape problem of a spec at once, in our words: unknown keys (with "did you mean"),
//! values of the wrong type (with the field, the type expected and its range), missing required
//! keys and duplicate keys, each at its line and column, sorted by position.
//!
//! serde stops at the first problem and words it in the YAML library's terms ("invalid u32",
//! "expected sequence start", "set DuplicateKeyPolicy in Options"). So the text is first read
//! into a tree that keeps every position, and the tree is checked against the JSON Schema
//! generated from the raw types ([`super::raw::RawStack`]): one description of the shape, used
//! both for editors (`presign-stack schema`) and for these messages. Only a spec that passes goes
//! on to serde and the validator.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::SpecError;

/// A YAML value with the positions of everything inside it.
#[derive(Debug, Clone)]
pub enum Node {
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
                Ok(Node::Int(i128::try_from(v).unwrap_or(i128::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<Spanned<Node>>()?;
                    entries.push((key, value));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Map(_) => "a mapping",
            Node::Seq(_) => "a list",
            Node::Str(_) => "a string",
            Node::Int(_) => "a whole number",
            Node::Float(_) => "a number",
            Node::Bool(_) => "true or false",
            Node::Null => "nothing (null)",
        }
    }

    fn matches(&self, json_type: &str) -> bool {
        matches!(
            (self, json_type),
            (Node::Map(_), "object")
                | (Node::Seq(_), "array")
                | (Node::Str(_), "string")
                // YAML users write `cost-center: 1234` for a string: serde reads such plain
                // scalars as text, and so does this check.
                | (Node::Int(_) | Node::Float(_) | Node::Bool(_), "string")
                | (Node::Int(_), "integer" | "number")
                | (Node::Float(_), "number")
                | (Node::Bool(_), "boolean")
                | (Node::Null, "null")
        )
    }
}

/// The text as a tree (duplicate keys kept, to be reported), or `None` when it does not parse
/// (the caller reports the syntax error).
pub fn tree(text: &str) -> Option<Spanned<Node>> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    serde_saphyr::from_str_with_options(text, options).ok()
}

/// Every shape problem of `root` against `schema` (the JSON Schema of the raw spec), sorted by
/// position.
pub fn check(file: &Path, root: &Spanned<Node>, schema: &Value) -> Vec<SpecError> {
    let mut c = Checker {
        file,
        root: schema,
        problems: Vec::new(),
    };
    c.node(root, schema, "");
    c.problems.sort_by_key(|e| (e.line, e.column));
    c.problems
}

struct Checker<'a> {
    file: &'a Path,
    root: &'a Value,
    problems: Vec<SpecError>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Checker<'_> {
    fn problem(&mut self, at: &Location, message: String, hint: Option<String>) {
        self.problems.push(SpecError {
            file: self.file.to_path_buf(),
            line: at.line(),
            column: at.column(),
            message,
            hint,
        });
    }

    fn node(&mut self, n: &Spanned<Node>, schema: &Value, path: &str) {
        if schema == &Value::Bool(true) || schema.as_object().is_some_and(|o| o.is_empty()) {
            return; // anything goes (policy statements: checked by the validator)
        }
        let root = self.root;
        let alternatives = alternatives(root, schema);
        let fitting = alternatives.iter().find(|s| match s.get("type") {
            Some(Value::String(t)) => n.value.matches(t),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| n.value.matches(t)),
            _ => true,
        });
        let Some(s) = fitting.copied() else {
            let expected = describe(&alternatives);
            let field = if path.is_empty() { "the spec" } else { path };
            self.problem(
                &n.referenced,
                format!("{field} must be {expected}, not {}", n.value.kind()),
                Some(format!("see `{field}` in docs/stack-yaml.md")),
            );
            return;
        };
        match &n.value {
            Node::Map(entries) => self.map(n, entries, s, path),
            Node::Seq(items) => {
                let item_schema = s.get("items").cloned().unwrap_or(Value::Bool(true));
                for (i, item) in items.iter().enumerate() {
                    self.node(item, &item_schema, &format!("{path}[{i}]"));
                }
            }
            Node::Int(v) => self.range(n, *v as f64, s, path),
            Node::Float(v) => self.range(n, *v, s, path),
            _ => {}
        }
    }

    /// Values the field's type cannot hold (a negative `u32`, say): serde would stop at them
    /// with "invalid value". The spec's own ranges (memory between 128 and 10240, ...) are the
    /// validator's, which words them with a hint.
    fn range(&mut self, n: &Spanned<Node>, v: f64, s: &Value, path: &str) {
        let (min, max) = match s.get("format").and_then(Value::as_str) {
            Some("uint8") => (0.0, u8::MAX as f64),
            Some("uint16") => (0.0, u16::MAX as f64),
            Some("uint32") => (0.0, u32::MAX as f64),
            Some("uint64" | "uint") => (0.0, u64::MAX as f64),
            Some("int32") => (i32::MIN as f64, i32::MAX as f64),
            Some("int64" | "int") => (i64::MIN as f64, i64::MAX as f64),
            _ => return,
        };
        if v < min || v > max {
            self.problem(
                &n.referenced,
                format!(
                    "{path} is {}, but must be {}",
                    fmt_number(v),
                    range_words(Some(min), Some(max))
                ),
                None,
            );
        }
    }

    fn map(
        &mut self,
        n: &Spanned<Node>,
        entries: &[(Spanned<String>, Spanned<Node>)],
        s: &Value,
        path: &str,
    ) {
        let props = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        let mut seen: Vec<&Spanned<String>> = Vec::new();
        for (key, value) in entries {
            if let Some(first) = seen.iter().find(|k| k.value == key.value) {
                self.problem(
                    &key.referenced,
                    format!(
                        "{} is set twice (first at line {}, column {})",
                        join(path, &key.value),
                        first.referenced.line(),
                        first.referenced.column()
                    ),
                    Some("YAML keys must be unique: keep one".into()),
                );
                continue;
            }
            seen.push(key);
            let child = join(path, &key.value);
            match props.and_then(|p| p.get(&key.value)) {
                Some(prop) => self.node(value, prop, &child),
                None => match additional {
                    Some(Value::Bool(false)) => {
                        let known: Vec<&str> = props
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        let hint = match did_you_mean(&key.value, &known) {
                            Some(k) => format!("did you mean {k}?"),
                            None => format!(
                                "{} takes: {}",
                                if path.is_empty() { "the spec" } else { path },
                                known.join(", ")
                            ),
                        };
                        self.problem(&key.referenced, format!("unknown key {child}"), Some(hint));
                    }
                    Some(other) => self.node(value, other, &child),
                    None => {}
                },
            }
        }
        for required in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !entries.iter().any(|(k, _)| k.value == required) {
                self.problem(
                    &n.referenced,
                    format!(
                        "{} needs {}",
                        if path.is_empty() { "the spec" } else { path },
                        join(path, required)
                    ),
                    Some(format!("add `{required}:`")),
                );
            }
        }
    }
}

/// `schema` with `$ref`s (into `root`'s `$defs`) followed and `Option`'s `anyOf [T, null]`
/// reduced to its parts.
fn alternatives<'s>(root: &'s Value, schema: &'s Value) -> Vec<&'s Value> {
    let schema = resolve(root, schema);
    match schema.get("anyOf").or_else(|| schema.get("oneOf")) {
        Some(Value::Array(items)) => items.iter().map(|s| resolve(root, s)).collect(),
        _ => vec![schema],
    }
}

fn resolve<'s>(root: &'s Value, mut schema: &'s Value) -> &'s Value {
    for _ in 0..16 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match root["$defs"].get(r.trim_start_matches("#/$defs/")) {
            Some(s) => schema = s,
            None => break,
        }
    }
    schema
}

/// The closest known name, if it is close enough to be a typo.
fn did_you_mean<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn range_words(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("between {} and {}", fmt_number(a), fmt_number(b)),
        (Some(a), None) => format!("at least {}", fmt_number(a)),
        (None, Some(b)) => format!("at most {}", fmt_number(b)),
        (None, None) => "in range".into(),
    }
}

/// What the schema alternatives accept, in words: "a whole number between 128 and 10240".
fn describe(alternatives: &[&Value]) -> String {
    let mut words: Vec<String> = Vec::new();
    for s in alternatives {
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        for t in types {
            let w = match t {
                "object" => "a mapping".to_string(),
                "array" => {
                    let item = s
                        .get("items")
                        .and_then(|i| i.get("type"))
                        .and_then(Value::as_str);
                    match item {
                        Some("string") => "a list of strings".into(),
                        _ => "a list".into(),
                    }
                }
                "string" => "a string".into(),
                "integer" => {
                    let min = s.get("minimum").and_then(Value::as_f64);
                    let max = s.get("maximum").and_then(Value::as_f64);
                    match (min, max) {
                        (None, None) => "a whole number".into(),
                        (Some(0.0), None) => "a whole number (0 or more)".into(),
                        _ => format!("a whole number {}", range_words(min, max)),
                    }
                }
                "number" => "a number".into(),
                "boolean" => "true or false".into(),
                _ => continue, // null: the key may be left out, which needs no mention
            };
            if !words.contains(&w) {
                words.push(w);
            }
        }
    }
    match words.len() {
        0 => "something else".into(),
        1 => words.remove(0),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {last}", words.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let schema =
            serde_json::to_value(schemars::schema_for!(super::super::raw::RawStack)).unwrap();
        let root = tree(text).expect("parses");
        check(Path::new("s.yaml"), &root, &schema)
            .into_iter()
            .map(|e| {
                format!(
                    "{}:{} {}{}",
                    e.line,
                    e.column,
                    e.message,
                    e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn every_unknown_key_and_type_error_at_once_sorted_with_suggestions() {
        let got = problems(
            "stack: demo\nbuckett: {}\nfunction:\n  memory_mb: -1\n  timeout_seconds: ten\nuploads:\n  allowed_content_types: image/png\n  expires_secs: 3\napi:\n  cors_origins: {a: b}\n  throttle: {rate_limit: 1}\n",
        );
        assert_eq!(
            got,
            vec![
                "2:1 unknown key buckett (did you mean bucket?)",
                "4:14 function.memory_mb is -1, but must be between 0 and 4294967295",
                "5:20 function.timeout_seconds must be a whole number between 1 and 900, not a string (see `function.timeout_seconds` in docs/stack-yaml.md)",
                "7:26 uploads.allowed_content_types must be a list of strings, not a string (see `uploads.allowed_content_types` in docs/stack-yaml.md)",
                "8:3 unknown key uploads.expires_secs (did you mean expires_seconds?)",
                "10:17 api.cors_origins must be a list of strings, not a mapping (see `api.cors_origins` in docs/stack-yaml.md)",
                "11:13 api.throttle needs api.throttle.burst_limit (add `burst_limit:`)",
            ],
            "{got:#?}"
        );
    }

    #[test]
    fn duplicate_keys_are_named_with_the_first_place() {
        let got = problems("stack: demo\nbucket:\n  versioning: true\n  versioning: false\n");
        assert_eq!(
            got,
            vec!["4:3 bucket.versioning is set twice (first at line 3, column 3) (YAML keys must be unique: keep one)"]
        );
    }

    #[test]
    fn a_missing_stack_and_anything_goes_inside_policy_statements() {
        assert_eq!(
            problems("bucket:\n  policy_statements:\n    - {Anything: [1, {x: y}]}\n"),
            vec!["1:1 the spec needs stack (add `stack:`)"]
        );
    }
}
