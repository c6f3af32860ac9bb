//! CORS as S3 evaluates it: the first rule whose origin, method and every requested header
//! match wins; without one, the preflight is refused and the browser blocks the request. Used
//! by `url explain --origin` (against the bucket's rules); `dev` uses its origin matching for the
//! API's `cors_origins`.

use crate::plan::resources::CorsRule;

/// Whether `pattern` (with at most one `*`, as S3 allows) matches `value`, ignoring case.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.to_ascii_lowercase(), value.to_ascii_lowercase());
    match p.split_once('*') {
        None => p == v,
        Some((prefix, suffix)) => {
            v.len() >= prefix.len() + suffix.len() && v.starts_with(prefix) && v.ends_with(suffix)
        }
    }
}

/// The outcome of matching one request against a bucket's CORS rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Rule `index` (0-based) allows it.
    Allowed { index: usize },
    /// No rule allows it; the reason names the missing piece of the closest rule.
    Refused { reason: String, fix: String },
}

/// Matches a browser request (its origin, method and the headers it sets) against S3 CORS
/// rules.
pub fn evaluate(rules: &[CorsRule], origin: &str, method: &str, headers: &[String]) -> Verdict {
    if rules.is_empty() {
        return Verdict::Refused {
            reason: "the bucket has no CORS configuration, so S3 refuses every cross-origin request"
                .into(),
            fix: format!(
                "add a rule to bucket.cors in stack.yaml: allowed_origins: [\"{origin}\"], allowed_methods: [{method}], allowed_headers: [content-type]; then deploy"
            ),
        };
    }
    let mut closest: Option<(u8, String, String)> = None;
    for (index, rule) in rules.iter().enumerate() {
        let origin_ok = rule
            .allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin));
        let method_ok = rule
            .allowed_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method));
        let missing: Vec<&String> = headers
            .iter()
            .filter(|h| !rule.allowed_headers.iter().any(|a| wildcard_match(a, h)))
            .collect();
        if origin_ok && method_ok && missing.is_empty() {
            return Verdict::Allowed { index };
        }
        let which = rule.id.clone().unwrap_or_else(|| format!("#{}", index + 1));
        let (score, reason, fix) = if !origin_ok {
            (
                0,
                format!(
                    "no CORS rule allows the origin {origin} (rule {which} allows {:?})",
                    rule.allowed_origins
                ),
                format!(
                    "add \"{origin}\" to allowed_origins of a rule in bucket.cors, then deploy"
                ),
            )
        } else if !method_ok {
            (
                1,
                format!(
                    "rule {which} allows {origin} but not the method {method} (it allows {:?})",
                    rule.allowed_methods
                ),
                format!(
                    "add {method} to allowed_methods of rule {which} in bucket.cors, then deploy"
                ),
            )
        } else {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            (
                2,
                format!("rule {which} allows {origin} and {method} but not the request header(s) {}", names.join(", ")),
                format!("add {} to allowed_headers of rule {which} in bucket.cors (or stop sending them), then deploy", names.join(", ")),
            )
        };
        if closest.as_ref().is_none_or(|(s, _, _)| score > *s) {
            closest = Some((score, reason, fix));
        }
    }
    let (_, reason, fix) = closest.unwrap_or_default();
    Verdict::Refused { reason, fix }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        CorsRule {
            id: None,
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
            expose_headers: vec![],
            max_age_seconds: None,
        }
    }

    #[test]
    fn wildcards_match_as_s3_does() {
        assert!(wildcard_match("*", "https://a.example.com"));
        assert!(wildcard_match(
            "https://*.example.com",
            "https://app.example.com"
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.org"
        ));
        assert!(wildcard_match("Content-Type", "content-type"));
        assert!(!wildcard_match(
            "https://app.example.com",
            "https://app.example.com.evil"
        ));
    }

    #[test]
    fn names_the_missing_piece() {
        let rules = [rule(
            &["https://app.example.com"],
            &["PUT"],
            &["content-type"],
        )];
        let h = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            evaluate(
                &rules,
                "https://app.example.com",
                "PUT",
                &h(&["content-type"])
            ),
            Verdict::Allowed { index: 0 }
        );
        let refused = |origin, method, headers: &[&str]| match evaluate(
            &rules,
            origin,
            method,
            &h(headers),
        ) {
            Verdict::Refused { reason, .. } => reason,
            v => panic!("allowed: {v:?}"),
        };
        assert!(refused("https://evil.example", "PUT", &[]).contains("origin https://evil.example"));
        assert!(refused("https://app.example.com", "POST", &[]).contains("not the method POST"));
        assert!(refused("https://app.example.com", "PUT", &["x-amz-acl"]).contains("x-amz-acl"));
        assert!(matches!(
            evaluate(&[], "https://a", "PUT", &[]),
            Verdict::Refused { .. }
        ));
    }
}
