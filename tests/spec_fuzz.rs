//! Hostile specs: arbitrary bytes and arbitrary YAML never panic and always give a positioned
//! error (or a valid stack); huge files, deep nesting and alias bombs are refused quickly.
//! `PRESIGN_STACK_FUZZ_CASES` raises the number of generated cases (default 256 per property).

use std::path::Path;
use std::time::{Duration, Instant};

use presign_stack::spec;
use proptest::prelude::*;
use serde_json::Value;

fn config() -> ProptestConfig {
    let cases = std::env::var("PRESIGN_STACK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Parses, and checks the result is a stack or positioned errors.
fn parse_checked(text: &str) -> Result<(), TestCaseError> {
    match spec::parse(Path::new("stack.yaml"), text) {
        Ok(_) => Ok(()),
        Err(spec::SpecErrors(errors)) => {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(e.line >= 1 && e.column >= 1, "unpositioned error: {e}");
                prop_assert!(!e.message.is_empty());
            }
            Ok(())
        }
    }
}

/// The field names the spec knows, so generated documents reach deep into validation.
const KEYS: &[&str] = &[
    "stack",
    "region",
    "tags",
    "bucket",
    "name",
    "versioning",
    "encryption",
    "type",
    "kms_key_id",
    "force_destroy",
    "protect",
    "public_read",
    "prefix",
    "enforce_tls",
    "cors",
    "allowed_origins",
    "allowed_methods",
    "allowed_headers",
    "expose_headers",
    "max_age_seconds",
    "policy_statements",
    "Effect",
    "Principal",
    "Action",
    "Resource",
    "Condition",
    "Sid",
    "uploads",
    "allowed_content_types",
    "expires_seconds",
    "max_size_bytes",
    "allow_downloads",
    "function",
    "memory_mb",
    "timeout_seconds",
    "log_retention_days",
    "artifact",
    "api",
    "route",
    "cors_origins",
    "throttle",
    "rate_limit",
    "burst_limit",
    "jwt",
    "issuer",
    "audience",
    "x",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "[a-zA-Z0-9 ./*:${}_-]{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            "demo",
            "us-east-1",
            "PUT",
            "sse-s3",
            "sse-kms",
            "image/png",
            "Allow",
            "*",
            "arn:aws:s3:::${bucket}/*"
        ])
        .prop_map(|s| Value::String(s.into())),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS.to_vec()), inner, 0..8).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

/// Block-style YAML for a JSON value (JSON itself is YAML too; both forms are tried).
fn to_block_yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                match v {
                    Value::Object(c) if !c.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        to_block_yaml(v, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        to_block_yaml(v, indent + 2, out);
                    }
                    other => out.push_str(&format!("{pad}{k}: {other}\n")),
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                out.push_str(&format!("{pad}- {item}\n"));
            }
        }
        other => out.push_str(&format!("{pad}{other}\n")),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_checked(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_yaml_documents_never_panic(doc in document(), with_stack in any::<bool>()) {
        let mut doc = doc;
        if with_stack {
            if let Value::Object(m) = &mut doc {
                m.insert("stack".into(), Value::String("demo".into()));
            }
        }
        parse_checked(&doc.to_string())?;
        let mut block = String::new();
        to_block_yaml(&doc, 0, &mut block);
        parse_checked(&block)?;
    }

    #[test]
    fn mutations_of_the_example_never_panic(cut in 0usize..4000, insert in "[\\[\\]{}:&*!|>'\"#%@`, -]{0,6}") {
        let example = include_str!("../stack.yaml");
        let at = cut.min(example.len());
        let at = (0..=at).rev().find(|i| example.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{}{}", &example[..at], insert, &example[at..]);
        parse_checked(&text)?;
    }
}

fn refused_quickly(text: &str) -> spec::SpecError {
    let start = Instant::now();
    let result = spec::parse(Path::new("stack.yaml"), text);
    assert!(
        start.elapsed() < Duration::from_secs(10), // a generous deadline, not a speed target
        "took {:?}",
        start.elapsed()
    );
    let Err(spec::SpecErrors(mut errors)) = result else {
        panic!("should be refused")
    };
    errors.remove(0)
}

#[test]
fn an_alias_bomb_is_refused_quickly() {
    let mut text = String::from(
        "stack: demo\nbucket:\n  policy_statements:\n    - &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("    - &a{i} [{refs}]\n"));
    }
    let e = refused_quickly(&text);
    assert!(e.message.contains("too much"), "{e}");
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let text = format!(
        "stack: demo\nbucket:\n  policy_statements: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    refused_quickly(&text);
}

#[test]
fn a_huge_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    let mut text = String::from("stack: demo\ntags:\n");
    while text.len() <= spec::MAX_SPEC_BYTES as usize {
        text.push_str(&format!("  k{}: v\n", text.len()));
    }
    std::fs::write(&path, text).unwrap();
    let start = Instant::now();
    let err = spec::load(&path).unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(1)); // deadline: refused before parsing
    assert!(err.contains("the most a stack.yaml may have"), "{err}");
    std::fs::write(&path, b"stack: \xff\xfe\n").unwrap();
    assert!(spec::load(&path).unwrap_err().to_string().contains("UTF-8"));
}
