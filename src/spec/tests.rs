use std::path::Path;

use super::*;

fn errors(text: &str) -> Vec<SpecError> {
    match parse(Path::new("stack.yaml"), text) {
        Ok(stack) => panic!("expected errors, got {stack:?}"),
        Err(SpecErrors(e)) => e,
    }
}

fn one_error(text: &str) -> SpecError {
    let mut e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:?}");
    e.remove(0)
}

#[test]
fn the_example_stack_parses_with_its_documented_values() {
    let stack = parse(Path::new("stack.yaml"), include_str!("../../stack.yaml")).unwrap();
    assert_eq!(stack.name, "photos");
    assert_eq!(stack.region.as_deref(), Some("us-east-1"));
    assert_eq!(stack.bucket.encryption, Encryption::SseS3);
    assert!(stack.bucket.enforce_tls);
    assert_eq!(stack.bucket.cors.len(), 1);
    assert_eq!(stack.bucket.cors[0].allowed_methods, vec!["PUT"]);
    assert_eq!(stack.bucket.policy_statements.len(), 1);
    assert_eq!(stack.uploads.prefix, "uploads/");
    assert_eq!(stack.api.route, "/sign");
    assert_eq!(
        stack.bucket.tags.get("project").map(String::as_str),
        Some("photos")
    );
}

#[test]
fn a_minimal_stack_gets_safe_defaults() {
    let stack = parse(Path::new("s.yaml"), "stack: demo\n").unwrap();
    assert_eq!(stack.bucket.name, None);
    assert!(!stack.bucket.versioning);
    assert!(!stack.bucket.force_destroy);
    assert!(stack.bucket.enforce_tls);
    assert_eq!(stack.bucket.public_read_prefix, None);
    assert!(stack.bucket.cors.is_empty());
    assert_eq!(stack.uploads.expires_seconds, 300);
}

#[test]
fn unknown_field_names_line_and_column() {
    let e = one_error("stack: demo\nbucket:\n  versoning: true\n");
    assert_eq!((e.line, e.column), (3, 3), "{e}");
    assert!(e.message.contains("versoning"), "{e}");
    assert!(e.to_string().starts_with("stack.yaml:3:3: "), "{e}");
}

#[test]
fn wrong_type_names_line_and_column() {
    let e = one_error("stack: demo\nbucket:\n  versioning: 3\n");
    assert_eq!((e.line, e.column), (3, 15), "{e}");
}

#[test]
fn bad_yaml_names_line_and_column() {
    let e = one_error("stack: demo\nbucket: [\n");
    assert!(e.line >= 2, "{e}");
    assert!(e.column > 0, "{e}");
}

#[test]
fn empty_spec_says_what_is_needed() {
    let e = one_error("# nothing\n\n");
    assert!(e.hint.unwrap().contains("stack: <name>"));
}

#[test]
fn invalid_bucket_name_points_at_the_value() {
    let e = one_error("stack: demo\nbucket:\n  name: Bad_Name\n");
    assert_eq!((e.line, e.column), (3, 9), "{e}");
    assert!(e.message.contains("Bad_Name"));
    assert!(e.hint.is_some());
}

#[test]
fn bad_cors_method_points_at_the_method() {
    let e = one_error(
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://a\"]\n      allowed_methods: [PUT, PATCH]\n",
    );
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("PATCH"), "{e}");
    assert!(e.hint.unwrap().contains("GET, PUT"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let e = errors("stack: Demo\nregion: mars\nbucket:\n  name: ab\n");
    let lines: Vec<u64> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 2, 4], "{e:?}");
}

#[test]
fn policy_statements_are_checked_for_shape_and_scope() {
    let e = errors(
        "stack: demo\nbucket:\n  policy_statements:\n    - Effect: Allow\n      Action: ec2:RunInstances\n      Resource: \"arn:aws:s3:::other/*\"\n",
    );
    let text: Vec<String> = e.iter().map(|e| e.message.clone()).collect();
    assert!(text.iter().any(|m| m.contains("Principal")), "{text:?}");
    assert!(
        text.iter().any(|m| m.contains("not this stack's bucket")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|m| m.contains("not an S3 action")),
        "{text:?}"
    );
    assert!(e.iter().all(|e| e.line == 4), "{e:?}");
}

#[test]
fn policy_may_name_the_explicit_bucket_or_the_placeholder() {
    let text = "stack: demo\nbucket:\n  name: my-uploads\n  policy_statements:\n    - {Effect: Deny, Principal: \"*\", Action: \"s3:*\", Resource: [\"arn:aws:s3:::my-uploads/*\", \"arn:aws:s3:::${bucket}\"]}\n";
    parse(Path::new("s.yaml"), text).unwrap();
    let e = one_error(&text.replace(
        "arn:aws:s3:::my-uploads/*",
        "arn:aws:s3:::my-uploads-other/*",
    ));
    assert!(e.message.contains("my-uploads-other"), "{e}");
}

#[test]
fn reserved_tag_and_expiry_limits_are_refused() {
    let e = one_error("stack: demo\ntags:\n  presign-stack:stack: other\n");
    assert!(e.message.contains("reserved"), "{e}");
    let e = one_error("stack: demo\nuploads:\n  expires_seconds: 700000\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("604800"), "{e}");
}

#[test]
fn encryption_type_must_be_known() {
    let e = one_error("stack: demo\nbucket:\n  encryption:\n    type: aes\n");
    assert_eq!(e.line, 4, "{e}");
    let ok = parse(
        Path::new("s.yaml"),
        "stack: demo\nbucket:\n  encryption:\n    type: sse-kms\n    kms_key_id: alias/uploads\n",
    )
    .unwrap();
    assert_eq!(
        ok.bucket.encryption,
        Encryption::SseKms {
            key_id: Some("alias/uploads".into()),
            bucket_key: true
        }
    );
}

#[test]
fn hostile_input_never_panics() {
    for text in [
        "\u{0}",
        "stack: \"\\u0000\"",
        "stack: demo\nbucket:\n  cors: 7\n",
        "stack: demo\nbucket:\n  policy_statements: [1, [], \"x\"]\n",
        "&a [*a]",
        "stack: demo\nuploads:\n  expires_seconds: -1\n",
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: []\n      allowed_methods: []\n      max_age_seconds: 99999999999\n",
        "---\nstack: a\n---\nstack: b\n",
        &"[".repeat(10_000),
    ] {
        assert!(parse(Path::new("s.yaml"), text).is_err(), "{text:?} should be refused");
    }
}

const ENVIRONMENTS: &str = "stack: photos
tags:
  team: platform
bucket:
  versioning: false
  cors:
    - allowed_origins: [\"http://localhost:5173\"]
      allowed_methods: [PUT]
uploads:
  expires_seconds: 300
environments:
  dev: {}
  prod:
    region: eu-west-1
    tags:
      tier: production
    bucket:
      versioning: true
      cors:
        - allowed_origins: [\"https://app.example.com\"]
          allowed_methods: [PUT]
";

fn env(text: &str, name: &str) -> Result<Stack, SpecErrors> {
    parse_env(Path::new("stack.yaml"), text, Some(name))
}

#[test]
fn an_environment_is_its_own_stack_with_its_settings_merged_over_the_stacks() {
    let base = parse(Path::new("stack.yaml"), ENVIRONMENTS).unwrap();
    assert_eq!(base.name, "photos");
    let dev = env(ENVIRONMENTS, "dev").unwrap();
    assert_eq!(dev.name, "photos-dev");
    assert_eq!(dev.bucket.cors, base.bucket.cors);
    assert_eq!(dev.region, None);
    let prod = env(ENVIRONMENTS, "prod").unwrap();
    assert_eq!(prod.name, "photos-prod");
    assert_eq!(prod.region.as_deref(), Some("eu-west-1"));
    assert!(prod.bucket.versioning, "a scalar is replaced");
    assert_eq!(
        prod.bucket.cors[0].allowed_origins,
        ["https://app.example.com"],
        "a list is replaced"
    );
    assert_eq!(
        prod.tags.get("team").map(String::as_str),
        Some("platform"),
        "maps merge"
    );
    assert_eq!(
        prod.tags.get("tier").map(String::as_str),
        Some("production")
    );
    assert_eq!(
        prod.uploads.expires_seconds, 300,
        "untouched settings are the stack's"
    );
}

#[test]
fn an_unknown_environment_is_refused_naming_the_defined_ones() {
    let e = env(ENVIRONMENTS, "staging").unwrap_err().0;
    assert_eq!((e[0].line, e[0].column), (1, 8));
    assert!(e[0].message.contains("no environment \"staging\""), "{e:?}");
    assert!(e[0].hint.as_deref().unwrap().contains("dev, prod"), "{e:?}");
    let e = env("stack: photos\n", "dev").unwrap_err().0;
    assert!(
        e[0].hint.as_deref().unwrap().contains("environments:"),
        "{e:?}"
    );
    let e = env(ENVIRONMENTS, "Prod!").unwrap_err().0;
    assert!(e[0].message.contains("lowercase"), "{e:?}");
}

#[test]
fn an_explicit_name_shared_by_every_environment_is_refused() {
    let text = "stack: photos\nbucket:\n  name: acme-photos\nenvironments:\n  dev: {}\n  prod:\n    bucket:\n      name: acme-photos-prod\n";
    let e = env(text, "dev").unwrap_err().0;
    assert_eq!((e[0].line, e[0].column), (3, 9));
    assert!(
        e[0].message.contains("shared by every environment"),
        "{e:?}"
    );
    assert_eq!(
        env(text, "prod").unwrap().bucket.name.as_deref(),
        Some("acme-photos-prod")
    );
}

#[test]
fn errors_inside_an_environment_point_at_its_lines() {
    let text =
        "stack: photos\nenvironments:\n  dev:\n    uploads:\n      expires_seconds: 999999\n";
    let e = env(text, "dev").unwrap_err().0;
    assert_eq!(e[0].line, 5, "{e:?}");
}

#[test]
fn state_defaults_to_a_local_file_and_s3_gets_a_key_per_stack() {
    let local = parse(Path::new("s.yaml"), "stack: demo\n").unwrap().state;
    assert_eq!(local.backend, Backend::Local);
    assert_eq!(local.s3, None);
    assert_eq!(local.lock_lease_seconds, DEFAULT_LOCK_LEASE_SECONDS);
    let text = "stack: demo\nstate:\n  backend: s3\n  bucket: acme-state\n  kms_key_id: alias/state\nenvironments:\n  dev: {}\n";
    let s3 = parse(Path::new("s.yaml"), text).unwrap().state;
    assert_eq!(s3.backend, Backend::S3);
    let at = s3.s3.unwrap();
    assert_eq!(
        (
            at.bucket.as_str(),
            at.key.as_str(),
            at.kms_key_id.as_deref()
        ),
        ("acme-state", "presign-stack/demo.json", Some("alias/state"))
    );
    let dev = env(text, "dev").unwrap().state.s3.unwrap();
    assert_eq!(
        dev.key, "presign-stack/demo-dev.json",
        "one object per environment"
    );
}

#[test]
fn bad_state_settings_are_refused_at_their_line() {
    let e = one_error("stack: demo\nstate:\n  backend: dynamodb\n");
    assert_eq!((e.line, e.column), (3, 12));
    assert!(e.message.contains("unknown state backend"), "{e:?}");
    let e = one_error("stack: demo\nstate:\n  backend: s3\n");
    assert!(e.message.contains("needs state.bucket"), "{e:?}");
    let e = one_error("stack: demo\nstate:\n  bucket: acme-state\n  lock_lease_seconds: 1\n");
    assert_eq!(e.line, 4);
    let e = one_error("stack: demo\nstate:\n  bucket: Not_A_Bucket\n");
    assert_eq!(e.line, 3);
    let e = one_error("stack: demo\nstate:\n  bucket: acme-state\n  key: /abs.json\n");
    assert_eq!(e.line, 4);
    let e =
        one_error("stack: demo\nbucket:\n  name: acme-uploads\nstate:\n  bucket: acme-uploads\n");
    assert!(e.message.contains("upload bucket"), "{e:?}");
    let e = one_error("stack: demo\nstate:\n  bucket: acme-state\n  surprise: 1\n");
    assert_eq!(e.line, 4, "unknown fields are refused too: {e:?}");
}

#[test]
fn an_explicit_state_key_shared_by_every_environment_is_refused() {
    let text = "stack: photos\nstate:\n  bucket: acme-state\n  key: photos.json\nenvironments:\n  dev: {}\n  prod:\n    state:\n      key: photos-prod.json\n";
    let e = env(text, "dev").unwrap_err().0;
    assert!(e[0].message.contains("state.key"), "{e:?}");
    assert_eq!(
        env(text, "prod").unwrap().state.s3.unwrap().key,
        "photos-prod.json"
    );
}

#[test]
fn uppy_without_a_bucket_rule_for_post_is_a_warning_and_a_minimum_over_the_maximum_an_error() {
    let stack = parse(
        Path::new("stack.yaml"),
        "stack: demo\nuploads:\n  uppy: true\n",
    )
    .unwrap();
    assert!(stack.uploads.uppy);
    assert_eq!(stack.warnings.len(), 1, "{:?}", stack.warnings);
    let w = stack.warnings[0].to_string();
    assert!(
        w.contains("no bucket.cors rule allows POST") && w.contains(":3:"),
        "{w}"
    );
    let with_post = parse(
        Path::new("stack.yaml"),
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://a.example\"]\n      allowed_methods: [PUT, POST]\nuploads:\n  uppy: true\n",
    )
    .unwrap();
    assert!(with_post.warnings.is_empty(), "{:?}", with_post.warnings);
    let e = one_error("stack: demo\nuploads:\n  max_size_bytes: 10\n  min_size_bytes: 11\n");
    assert!(
        e.to_string()
            .contains("min_size_bytes 11 is over max_size_bytes 10"),
        "{e}"
    );
}

#[test]
fn uppys_routes_without_bucket_rules_get_a_default_rule_for_the_apis_origins() {
    let stack = parse(
        Path::new("stack.yaml"),
        "stack: demo\napi:\n  cors_origins: [\"https://app.example\"]\nuploads:\n  uppy: true\n  multipart: true\n",
    )
    .unwrap();
    assert!(stack.warnings.is_empty(), "{:?}", stack.warnings);
    assert_eq!(stack.bucket.cors.len(), 1);
    let rule = &stack.bucket.cors[0];
    assert_eq!(rule.allowed_origins, ["https://app.example"]);
    assert_eq!(rule.allowed_methods, ["PUT", "POST"]);
    assert_eq!(rule.expose_headers, ["ETag", "Location"]);
    assert_eq!(stack.uploads.abort_incomplete_after_days, 1);

    // Rules given are the user's: no default is added, and a missing PUT is a warning.
    let given = parse(
        Path::new("stack.yaml"),
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://a.example\"]\n      allowed_methods: [POST]\napi:\n  cors_origins: [\"https://a.example\"]\nuploads:\n  multipart: true\n",
    )
    .unwrap();
    assert_eq!(given.bucket.cors.len(), 1);
    assert_eq!(given.warnings.len(), 1, "{:?}", given.warnings);
    assert!(given.warnings[0]
        .to_string()
        .contains("allows PUT and exposes ETag"));

    // Without origins there is nothing to allow: the bucket gets no rule and validate says so.
    let no_origins = parse(
        Path::new("stack.yaml"),
        "stack: demo\nuploads:\n  multipart: true\n",
    )
    .unwrap();
    assert!(no_origins.bucket.cors.is_empty());
    assert_eq!(no_origins.warnings.len(), 1, "{:?}", no_origins.warnings);
}

#[test]
fn abort_incomplete_after_days_is_checked_and_warned_about_without_multipart() {
    let e =
        one_error("stack: demo\nuploads:\n  multipart: true\n  abort_incomplete_after_days: 0\n");
    assert_eq!((e.line, e.column), (4, 32), "{e}");
    assert!(e.message.contains("from 1"), "{e}");
    let alone = parse(
        Path::new("stack.yaml"),
        "stack: demo\nuploads:\n  abort_incomplete_after_days: 5\n",
    )
    .unwrap();
    assert_eq!(alone.warnings.len(), 1, "{:?}", alone.warnings);
    assert!(alone.warnings[0]
        .to_string()
        .contains("no effect without uploads.multipart"));
    let on = parse(
        Path::new("stack.yaml"),
        "stack: demo\napi:\n  cors_origins: [\"https://a.example\"]\nuploads:\n  multipart: true\n  abort_incomplete_after_days: 5\n",
    )
    .unwrap();
    assert_eq!(on.uploads.abort_incomplete_after_days, 5);
}

#[test]
fn checksum_is_one_of_three_and_uppy_is_warned_that_it_sends_none() {
    let e = one_error("stack: demo\nuploads:\n  checksum: md5\n");
    assert_eq!((e.line, e.column), (3, 13), "{e}");
    assert!(e.message.contains("unknown checksum \"md5\""), "{e}");
    let on = parse(
        Path::new("stack.yaml"),
        "stack: demo\nuploads:\n  checksum: sha256\n",
    )
    .unwrap();
    assert_eq!(on.uploads.checksum.as_deref(), Some("sha256"));
    assert!(on.warnings.is_empty(), "{:?}", on.warnings);
    let none = parse(
        Path::new("stack.yaml"),
        "stack: demo\nuploads:\n  checksum: none\n",
    )
    .unwrap();
    assert_eq!(none.uploads.checksum, None);
    let uppy = parse(
        Path::new("stack.yaml"),
        "stack: demo\napi:\n  cors_origins: [\"https://a.example\"]\nuploads:\n  multipart: true\n  checksum: crc32\n",
    )
    .unwrap();
    assert_eq!(uppy.warnings.len(), 1, "{:?}", uppy.warnings);
    assert!(uppy.warnings[0].to_string().contains("sends no checksum"));
    // The default bucket rule lets browsers send the checksum header.
    assert_eq!(
        uppy.bucket.cors[0].allowed_headers,
        ["content-type", "x-amz-checksum-crc32"]
    );
}

#[test]
fn uppy_method_is_post_or_put_and_put_lets_browsers_send_its_headers() {
    let e = one_error("stack: demo\nuploads:\n  uppy: true\n  uppy_method: patch\n");
    assert_eq!((e.line, e.column), (4, 16), "{e}");
    assert!(e.message.contains("unknown uppy_method \"patch\""), "{e}");
    let alone = parse(
        Path::new("stack.yaml"),
        "stack: demo\nuploads:\n  uppy_method: put\n",
    )
    .unwrap();
    assert_eq!(alone.warnings.len(), 1, "{:?}", alone.warnings);
    assert!(alone.warnings[0]
        .to_string()
        .contains("no effect without uploads.uppy"));
    let put = parse(
        Path::new("stack.yaml"),
        "stack: demo\napi:\n  cors_origins: [\"https://a.example\"]\nuploads:\n  uppy: true\n  uppy_method: put\n",
    )
    .unwrap();
    assert!(put.warnings.is_empty(), "{:?}", put.warnings);
    assert!(put.uploads.uppy_put);
    assert_eq!(
        put.bucket.cors[0].allowed_headers,
        ["content-type", "if-none-match", "x-amz-meta-*"]
    );
    let post = parse(
        Path::new("stack.yaml"),
        "stack: demo\napi:\n  cors_origins: [\"https://a.example\"]\nuploads:\n  uppy: true\n  uppy_method: post\n",
    )
    .unwrap();
    assert!(!post.uploads.uppy_put);
    assert_eq!(post.bucket.cors[0].allowed_headers, ["content-type"]);
}
