//! Normalisation: the canonical form of values AWS rewrites, so that its rewriting never shows
//! up as drift. Applied to the desired value and to what AWS returns alike.

use serde_json::{Map, Value};

use super::resources::{CorsRule, LifecycleProps};

/// Keys whose values are sets of strings: order and a one-element array versus a string do not
/// matter to AWS.
const SET_KEYS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];

/// The canonical form of an IAM-style policy document.
///
/// - a single `Statement` object becomes a one-element list;
/// - `Action`/`Resource`/principal values and condition values become sorted, de-duplicated
///   lists, and a one-element list becomes its string;
/// - a 12-digit account principal becomes `arn:aws:iam::<id>:root`, as AWS rewrites it;
/// - condition values that are numbers or booleans become strings, as AWS stores them;
/// - an empty `Sid` is dropped; key order and whitespace never matter (JSON values compare by key).
pub fn policy_document(doc: &Value) -> Value {
    let Some(obj) = doc.as_object() else {
        return doc.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if k == "Statement" {
            let statements = match v {
                Value::Array(items) => items.iter().map(statement).collect(),
                other => vec![statement(other)],
            };
            out.insert(k.clone(), Value::Array(statements));
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn statement(s: &Value) -> Value {
    let Some(obj) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let value = match k.as_str() {
            "Sid" if v.as_str() == Some("") => continue,
            key if SET_KEYS.contains(&key) => string_set(v, |s| s.to_string()),
            "Principal" | "NotPrincipal" => principal(v),
            "Condition" => condition(v),
            _ => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}

fn principal(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let canon = if k == "AWS" {
                        string_set(v, account_root)
                    } else {
                        string_set(v, |s| s.to_string())
                    };
                    (k.clone(), canon)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn account_root(s: &str) -> String {
    if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) {
        format!("arn:aws:iam::{s}:root")
    } else {
        s.to_string()
    }
}

fn condition(v: &Value) -> Value {
    match v {
        Value::Object(ops) => Value::Object(
            ops.iter()
                .map(|(op, keys)| {
                    let keys = match keys {
                        Value::Object(keys) => Value::Object(
                            keys.iter()
                                .map(|(k, v)| (k.clone(), string_set(v, |s| s.to_string())))
                                .collect(),
                        ),
                        other => other.clone(),
                    };
                    (op.clone(), keys)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A string or list of scalars → sorted, de-duplicated strings; one element → a plain string.
fn string_set(v: &Value, map: impl Fn(&str) -> String) -> Value {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut strings = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => strings.push(map(s)),
            Value::Bool(b) => strings.push(b.to_string()),
            Value::Number(n) => strings.push(n.to_string()),
            // Anything else is not a set of strings: keep it exactly as written.
            _ => return v.clone(),
        }
    }
    strings.sort();
    strings.dedup();
    if strings.len() == 1 {
        Value::String(strings.remove(0))
    } else {
        Value::Array(strings.into_iter().map(Value::String).collect())
    }
}

/// The canonical form of one CORS rule: list order inside a rule does not matter, the method
/// names are upper case, an empty id is no id. Rule order is kept: the first match wins.
pub fn cors_rule(rule: CorsRule) -> CorsRule {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };
    CorsRule {
        id: rule.id.filter(|id| !id.is_empty()),
        allowed_origins: sorted(rule.allowed_origins),
        allowed_methods: sorted(
            rule.allowed_methods
                .into_iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
        ),
        allowed_headers: sorted(rule.allowed_headers),
        expose_headers: sorted(rule.expose_headers),
        max_age_seconds: rule.max_age_seconds,
    }
}

/// The canonical form of a lifecycle configuration: rules in id order (S3 keeps the order it
/// was given, which never matters), and each rule's other parts sorted.
pub fn lifecycle(mut p: LifecycleProps) -> LifecycleProps {
    for r in &mut p.rules {
        r.other.sort();
        r.other.dedup();
    }
    p.rules.sort_by(|a, b| a.id.cmp(&b.id));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equivalent_policies_normalise_equal() {
        let written = json!({
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": ["123456789012"]},
                "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObject"],
                "Resource": ["arn:aws:s3:::b/*"],
                "Condition": {"Bool": {"aws:SecureTransport": false}}
            }
        });
        let rewritten = serde_json::from_str::<Value>(
            r#"{"Statement":[{"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}},
                "Action":["s3:GetObject","s3:PutObject"],"Principal":{"AWS":"arn:aws:iam::123456789012:root"},
                "Effect":"Allow"}],"Version":"2012-10-17"}"#,
        )
        .unwrap();
        assert_eq!(policy_document(&written), policy_document(&rewritten));
    }

    #[test]
    fn different_policies_stay_different() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Principal": "*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*", "Principal": "*"}]});
        assert_ne!(policy_document(&a), policy_document(&b));
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Principal": "*"}]});
        assert_ne!(policy_document(&a), policy_document(&deny));
    }

    #[test]
    fn statement_order_is_kept() {
        let s1 = json!({"Sid": "A", "Effect": "Allow"});
        let s2 = json!({"Sid": "B", "Effect": "Deny"});
        let a = json!({"Statement": [s1.clone(), s2.clone()]});
        let b = json!({"Statement": [s2, s1]});
        assert_ne!(policy_document(&a), policy_document(&b));
    }

    #[test]
    fn cors_lists_are_sets_but_rule_order_is_not() {
        let rule = |methods: &[&str], origins: &[&str]| CorsRule {
            id: Some(String::new()),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: vec![],
            expose_headers: vec![],
            max_age_seconds: None,
        };
        assert_eq!(
            cors_rule(rule(&["put", "GET"], &["https://b", "https://a"])),
            cors_rule(rule(&["GET", "PUT"], &["https://a", "https://b"]))
        );
        assert_eq!(cors_rule(rule(&["PUT"], &["x"])).id, None);
    }
}
