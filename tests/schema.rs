//! `presign-stack schema`: the JSON Schema of stack.yaml, generated from the parser's own types.
//! It accepts the example, rejects broken specs, and every field it knows is in the reference.

mod support;

use std::collections::BTreeSet;

use support::TestStack;

fn schema() -> serde_json::Value {
    let stack = TestStack::new("sc", "");
    let out = stack.bin(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("schema prints JSON")
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).expect("YAML")
}

#[test]
fn the_schema_accepts_the_example_and_rejects_broken_specs() {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let example = yaml(include_str!("../stack.yaml"));
    let errors: Vec<String> = validator
        .iter_errors(&example)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    for broken in [
        "stack: demo\nbucket:\n  versoning: true\n",
        "stack: demo\nbucket:\n  versioning: [1]\n",
        "bucket: {}\n",
        "stack: demo\nbucket:\n  cors:\n    - allowed_methods: [PUT]\n",
        "stack: demo\nfunction:\n  memory_mb: -1\n",
    ] {
        assert!(
            !validator.is_valid(&yaml(broken)),
            "schema accepted {broken:?}"
        );
    }
}

/// Every property name anywhere in a schema.
fn properties(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            m.values().for_each(|x| properties(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| properties(x, out)),
        _ => {}
    }
}

#[test]
fn every_field_of_the_schema_is_in_the_stack_yaml_reference() {
    let mut names = BTreeSet::new();
    properties(&schema(), &mut names);
    let reference = include_str!("../docs/stack-yaml.md");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            ![
                format!("`{n}`"),
                format!(".{n}`"),
                format!("`{n}."),
                format!(".{n} "),
            ]
            .iter()
            .any(|p| reference.contains(p.as_str()))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/stack-yaml.md does not describe {missing:?}"
    );
}

/// Regression (issue 15, point 7): the schema described 12 of 60 properties and allowed
/// `memory_mb: 0`. Every property now says what it is, and the numeric ranges validation
/// enforces are in the schema, so an editor flags them as it types.
#[test]
fn every_property_is_described_and_numbers_carry_their_ranges() {
    let schema = schema();
    fn walk(v: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(map) = v.as_object() {
            if let Some(props) = map.get("properties").and_then(|p| p.as_object()) {
                for (name, p) in props {
                    if p.get("description").is_none() {
                        missing.push(format!("{path}.{name}"));
                    }
                }
            }
            for (k, child) in map {
                walk(child, &format!("{path}/{k}"), missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&schema, "", &mut missing);
    assert!(missing.is_empty(), "no description: {missing:?}");
    let function = &schema["$defs"]["RawFunction"]["properties"];
    assert_eq!(function["memory_mb"]["minimum"], 128);
    assert_eq!(function["memory_mb"]["maximum"], 10240);
    assert_eq!(function["timeout_seconds"]["maximum"], 900);
    let uploads = &schema["$defs"]["RawUploads"]["properties"];
    assert_eq!(uploads["expires_seconds"]["maximum"], 604800);
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(!validator.is_valid(&yaml("stack: a\nfunction:\n  memory_mb: 0\n")));
}
