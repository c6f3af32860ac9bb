//! Raw spec → validated [`Stack`]: defaults, AWS's own rules checked before any call, every
//! problem reported with its line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_saphyr::{Location, Spanned};

use super::raw::{RawBucket, RawCorsRule, RawStack, RawState};
use super::{names, Api, Bucket, CorsRule, Encryption, Function, Jwt, SpecError, SpecErrors};
use super::{Backend, S3State, StateSpec, DEFAULT_LOCK_LEASE_SECONDS};
use super::{Stack, Uploads, OWNERSHIP_TAG};

const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];
const STATEMENT_KEYS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
/// Tag limit of S3 buckets.
const MAX_TAGS: usize = 50;
/// Seven days: the longest a SigV4 pre-signed URL may live.
const MAX_PRESIGN_SECONDS: u64 = 604_800;

/// Parses and validates the text of a spec. `file` is used in messages only.
pub fn parse(file: &Path, text: &str) -> Result<Stack, SpecErrors> {
    parse_env(file, text, None)
}

/// The most environments one spec may define: far above any real use, and a bound on the work
/// `validate` does (every environment is validated).
pub const MAX_ENVIRONMENTS: usize = 100;

/// Like [`parse`], for one environment of the stack (`--env NAME`): its settings merged over
/// the stack's, deployed as the stack `<stack>-<NAME>`.
pub fn parse_env(file: &Path, text: &str, env: Option<&str>) -> Result<Stack, SpecErrors> {
    let raw = parse_raw(file, text)?;
    validate_raw(file, raw, env)
}

/// The stack and each of its environments by name, each with its own result, from one parse
/// of the text (the work is linear in the number of environments). `Err` only when the text
/// does not parse.
#[allow(clippy::type_complexity)]
pub fn parse_with_environments(
    file: &Path,
    text: &str,
) -> Result<
    (
        Result<Stack, SpecErrors>,
        Vec<(String, Result<Stack, SpecErrors>)>,
    ),
    SpecErrors,
> {
    let mut raw = parse_raw(file, text)?;
    let environments = raw.environments.take().unwrap_or_default();
    let stack = validate_raw(file, raw.clone(), None);
    let each = environments
        .into_iter()
        .map(|(name, overlay)| {
            let mut one = raw.clone();
            one.environments = Some(BTreeMap::from([(name.clone(), overlay)]));
            let result = validate_raw(file, one, Some(&name));
            (name, result)
        })
        .collect();
    Ok((stack, each))
}

/// The text parsed into the raw shape, with syntax errors placed.
fn parse_raw(file: &Path, text: &str) -> Result<RawStack, SpecErrors> {
    let has_content = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if !has_content {
        return Err(SpecErrors(vec![SpecError {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: "the spec is empty".into(),
            hint: Some(
                "a stack needs at least `stack: <name>`; see the commented example stack.yaml"
                    .into(),
            ),
        }]));
    }
    // Every shape problem at once, in our words, before serde (which stops at the first and
    // words it in the YAML library's terms).
    if let Some(tree) = super::shape::tree(text) {
        let schema = serde_json::to_value(schemars::schema_for!(RawStack)).unwrap_or_default();
        let problems = super::shape::check(file, &tree, &schema);
        if !problems.is_empty() {
            return Err(SpecErrors(problems));
        }
    }
    let raw: RawStack = serde_saphyr::from_str(text).map_err(|e| {
        // An error the parser cannot place is reported at the start of the file.
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .filter(|(l, _)| *l > 0)
            .unwrap_or((1, 1));
        SpecErrors(vec![SpecError {
            file: file.to_path_buf(),
            line,
            column,
            message: syntax_message(&e),
            hint: Some(
                "see the commented example stack.yaml, or docs/stack-yaml.md, for every field"
                    .into(),
            ),
        }])
    })?;
    if let Some((_, over)) = raw
        .environments
        .as_ref()
        .and_then(|e| e.iter().nth(MAX_ENVIRONMENTS))
    {
        let count = raw.environments.as_ref().map_or(0, |e| e.len());
        return Err(SpecErrors(vec![SpecError {
            file: file.to_path_buf(),
            line: over.referenced.line(),
            column: over.referenced.column(),
            message: format!(
                "the spec defines {count} environments; at most {MAX_ENVIRONMENTS} are allowed"
            ),
            hint: Some("split the stacks into several spec files".into()),
        }]));
    }
    Ok(raw)
}

fn validate_raw(file: &Path, raw: RawStack, env: Option<&str>) -> Result<Stack, SpecErrors> {
    let mut v = Validator {
        file,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let raw = match env {
        None => raw,
        Some(name) => match v.environment(raw, name) {
            Some(raw) => raw,
            None => return Err(SpecErrors(v.errors)),
        },
    };
    let mut stack = v.stack(raw);
    if v.errors.is_empty() {
        stack.warnings = v.warnings;
        Ok(stack)
    } else {
        Err(SpecErrors(v.errors))
    }
}

/// The parser's message without its own rendering of the position (we print that ourselves).
fn syntax_message(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    let mut first = full.lines().next().unwrap_or("invalid YAML").trim();
    first = first.strip_prefix("error:").unwrap_or(first).trim_start();
    // serde-saphyr starts with "line L column C: "; strip it.
    if first.starts_with("line ") {
        if let Some((_, rest)) = first.split_once(": ") {
            first = rest;
        }
    }
    if let Some(i) = first.rfind(" at line ") {
        first = &first[..i];
    }
    if first.starts_with("budget breached") {
        return format!(
            "the spec expands to too much data ({first}); YAML aliases may not multiply content"
        );
    }
    first.to_string()
}

struct Validator<'a> {
    file: &'a Path,
    errors: Vec<SpecError>,
    warnings: Vec<SpecError>,
}

impl Validator<'_> {
    fn at(&self, at: &Location, message: impl Into<String>, hint: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.to_path_buf(),
            line: at.line(),
            column: at.column(),
            message: message.into(),
            hint: Some(hint.into()).filter(|h: &String| !h.is_empty()),
        }
    }

    fn warn(&mut self, at: &Location, message: impl Into<String>, hint: impl Into<String>) {
        let w = self.at(at, message, hint);
        self.warnings.push(w);
    }

    fn err(&mut self, at: &Location, message: impl Into<String>, hint: impl Into<String>) {
        let e = self.at(at, message, hint);
        self.errors.push(e);
    }

    /// The stack with environment `name` merged in, or `None` (with errors) when it cannot be.
    fn environment(&mut self, mut raw: RawStack, name: &str) -> Option<RawStack> {
        let valid_name = (1..=20).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid_name {
            self.errors.push(SpecError {
                file: self.file.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("environment name {name:?} must be 1 to 20 lowercase letters, digits or hyphens"),
                hint: Some("e.g. --env dev or --env prod".into()),
            });
            return None;
        }
        let mut environments = raw.environments.take().unwrap_or_default();
        let Some(overlay) = environments.remove(name) else {
            let known: Vec<&String> = environments.keys().collect();
            self.err(
                &raw.stack.referenced,
                format!("--env {name}: the spec defines no environment {name:?}"),
                if known.is_empty() {
                    format!("add `environments:` with an entry `{name}:` (its settings override the stack's), or leave out --env / PRESIGN_STACK_ENV")
                } else {
                    format!("defined: {}", known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))
                },
            );
            return None;
        };
        // A name set for the stack would be shared by every environment.
        let o = overlay.value;
        let shared = [
            (
                "bucket.name",
                raw.bucket.as_ref().and_then(|b| b.name.as_ref()),
                o.bucket.as_ref().is_some_and(|b| b.name.is_some()),
            ),
            (
                "function.name",
                raw.function.as_ref().and_then(|f| f.name.as_ref()),
                o.function.as_ref().is_some_and(|f| f.name.is_some()),
            ),
            (
                "state.key",
                raw.state.as_ref().and_then(|s| s.key.as_ref()),
                o.state.as_ref().is_some_and(|s| s.key.is_some()),
            ),
        ];
        for (field, value, overridden) in shared {
            if let (Some(v), false) = (value, overridden) {
                self.err(
                    &v.referenced,
                    format!("{field} {:?} would be shared by every environment", v.value),
                    format!("set environments.{name}.{field} too, or leave {field} out (the default includes the environment)"),
                );
            }
        }
        if !self.errors.is_empty() {
            return None;
        }
        raw.stack.value = format!("{}-{name}", raw.stack.value);
        Some(raw.with_environment(o))
    }

    fn stack(&mut self, raw: RawStack) -> Stack {
        if let Err(m) = names::check_stack_name(&raw.stack.value) {
            self.err(
                &raw.stack.referenced,
                m,
                "use a short name such as photo-uploads; it appears in resource names",
            );
        }
        let region = raw.region.map(|r| {
            if let Err(m) = names::check_spec_region(&r.value) {
                self.err(
                    &r.referenced,
                    m,
                    "set region: to an AWS region; for one newer than this release, leave region: out and pass --region",
                );
            }
            r.value
        });
        let stack_tags = self.tags(raw.tags, BTreeMap::new());
        let public_at = raw
            .bucket
            .as_ref()
            .and_then(|b| b.public_read.as_ref())
            .map(|p| p.value.prefix.referenced);
        let cors_given = raw.bucket.as_ref().is_some_and(|b| b.cors.is_some());
        let mut bucket = self.bucket(raw.bucket.unwrap_or_default(), stack_tags.clone());
        if let Some(f) = raw.function.as_ref().and_then(|f| f.name.as_ref()) {
            let ok = (1..=64).contains(&f.value.len())
                && f.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                self.err(
                    &f.referenced,
                    format!("function name {:?} must be 1 to 64 letters, digits, hyphens or underscores", f.value),
                    "or leave it out: the default is <stack>-signer",
                );
            }
        }
        let uppy_at = raw
            .uploads
            .as_ref()
            .and_then(|u| u.uppy.as_ref())
            .map(|u| u.referenced);
        let multipart_at = raw
            .uploads
            .as_ref()
            .and_then(|u| u.multipart.as_ref())
            .map(|u| u.referenced);
        let uploads = self.uploads(raw.uploads);
        if let (Some(public), Some(at)) = (&bucket.public_read_prefix, &public_at) {
            let (p, u) = (public.as_str(), uploads.prefix.as_str());
            if u.starts_with(p) || p.starts_with(u) {
                self.err(
                    at,
                    format!("public_read prefix {p:?} overlaps the upload prefix {u:?}: uploads would be readable by anyone"),
                    "give public files a prefix of their own, e.g. public/ beside uploads/",
                );
            }
        }
        let function = self.function(raw.function);
        let api = self.api(raw.api);
        if !cors_given && (uploads.uppy || uploads.multipart) && !api.cors_origins.is_empty() {
            bucket.cors = vec![uppy_bucket_cors(&api.cors_origins, &uploads)];
        }
        let posts = |r: &CorsRule| r.allowed_methods.iter().any(|m| m == "POST");
        let puts_parts = |r: &CorsRule| {
            r.allowed_methods.iter().any(|m| m == "PUT")
                && r.expose_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case("etag"))
        };
        if let (true, Some(at)) = (uploads.multipart, &multipart_at) {
            if !bucket.cors.iter().any(puts_parts) {
                self.warn(
                    at,
                    "uploads.multipart: no bucket.cors rule allows PUT and exposes ETag, so browsers cannot upload parts or read the ETag Uppy needs to complete",
                    "add PUT to allowed_methods and ETag to expose_headers of the rule for your origins, or leave bucket.cors out and list them in api.cors_origins (the default rule allows what Uppy needs)",
                );
            }
        }
        if let (true, Some(at)) = (uploads.uppy, &uppy_at) {
            if !bucket.cors.iter().any(posts) {
                self.warn(
                    at,
                    "uploads.uppy: no bucket.cors rule allows POST, so browsers cannot send Uppy's forms to the bucket",
                    "add POST to allowed_methods of the rule for your origins (and ETag, Location to expose_headers), or leave bucket.cors out and list them in api.cors_origins (the default rule allows what Uppy needs)",
                );
            }
        }
        let state = self.state(raw.state, &raw.stack.value, bucket.name.as_deref());
        Stack {
            name: raw.stack.value,
            region,
            tags: stack_tags,
            bucket,
            uploads,
            function,
            api,
            state,
            warnings: Vec::new(),
        }
    }

    fn state(
        &mut self,
        raw: Option<RawState>,
        stack: &str,
        upload_bucket: Option<&str>,
    ) -> StateSpec {
        let raw = raw.unwrap_or_default();
        let backend = match &raw.backend {
            None => Backend::Local,
            Some(b) => match b.value.as_str() {
                "local" => Backend::Local,
                "s3" => Backend::S3,
                other => {
                    self.err(
                        &b.referenced,
                        format!("unknown state backend {other:?}"),
                        "use local (the default) or s3",
                    );
                    Backend::Local
                }
            },
        };
        let lock_lease_seconds = match &raw.lock_lease_seconds {
            None => DEFAULT_LOCK_LEASE_SECONDS,
            Some(l) => {
                if !(3..=3600).contains(&l.value) {
                    self.err(
                        &l.referenced,
                        format!("lock_lease_seconds {} must be between 3 and 3600", l.value),
                        "a run renews its lock every third of the lease; 60 (the default) suits most",
                    );
                }
                l.value
            }
        };
        if let Some(r) = &raw.region {
            if let Err(m) = names::check_spec_region(&r.value) {
                self.err(
                    &r.referenced,
                    m,
                    "or leave state.region out: the default is the stack's region",
                );
            }
        }
        if let Some(k) = &raw.key {
            let key = &k.value;
            if key.is_empty() || key.len() > 1000 || key.starts_with('/') || key.ends_with('/') {
                self.err(
                    &k.referenced,
                    format!("state.key {key:?} must be 1 to 1000 characters, not starting or ending with /"),
                    format!("e.g. presign-stack/{stack}.json"),
                );
            }
        }
        let s3 = match raw.bucket {
            Some(b) => {
                if let Err(m) = names::check_bucket_name(&b.value) {
                    self.err(
                        &b.referenced,
                        m,
                        "name the bucket `presign-stack state bootstrap` creates for state",
                    );
                } else if upload_bucket == Some(b.value.as_str()) {
                    self.err(
                        &b.referenced,
                        format!("state.bucket {:?} is the stack's own upload bucket", b.value),
                        "keep state in a bucket that is not part of the stack (destroy would delete it); see `presign-stack state bootstrap`",
                    );
                }
                Some(S3State {
                    bucket: b.value,
                    key: raw
                        .key
                        .map(|k| k.value)
                        .unwrap_or_else(|| format!("presign-stack/{stack}.json")),
                    region: raw.region.map(|r| r.value),
                    kms_key_id: raw.kms_key_id.map(|k| k.value),
                })
            }
            None => {
                if backend == Backend::S3 {
                    let at = raw.backend.as_ref().map(|b| b.referenced);
                    if let Some(at) = at {
                        self.err(
                            &at,
                            "backend: s3 needs state.bucket",
                            "add `bucket: <name>` under state: (create it with `presign-stack state bootstrap`)",
                        );
                    }
                }
                None
            }
        };
        StateSpec {
            backend,
            s3,
            lock_lease_seconds,
        }
    }

    fn tags(
        &mut self,
        raw: Option<Spanned<BTreeMap<String, String>>>,
        mut base: BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let Some(raw) = raw else { return base };
        for (k, v) in &raw.value {
            if k == OWNERSHIP_TAG {
                self.err(
                    &raw.referenced,
                    format!("tag {k:?} is reserved: presign-stack sets it to the stack name"),
                    "remove this tag",
                );
            } else if k.to_ascii_lowercase().starts_with("aws:") {
                self.err(
                    &raw.referenced,
                    format!("tag key {k:?} uses the reserved prefix aws:"),
                    "choose another tag key",
                );
            } else if k.is_empty() || k.chars().count() > 128 {
                self.err(
                    &raw.referenced,
                    format!("tag key {k:?} must be 1 to 128 characters long"),
                    "",
                );
            } else if v.chars().count() > 256 {
                self.err(
                    &raw.referenced,
                    format!("the value of tag {k:?} is longer than 256 characters"),
                    "",
                );
            }
            base.insert(k.clone(), v.clone());
        }
        if base.len() + 1 > MAX_TAGS {
            self.err(
                &raw.referenced,
                format!(
                    "{} tags, plus the ownership tag, exceed S3's limit of {MAX_TAGS}",
                    base.len()
                ),
                "remove some tags",
            );
        }
        base
    }

    fn bucket(&mut self, raw: RawBucket, stack_tags: BTreeMap<String, String>) -> Bucket {
        let name = raw.name.map(|n| {
            if let Err(m) = names::check_upload_bucket_name(&n.value) {
                self.err(
                    &n.referenced,
                    m,
                    "bucket names are global: use lowercase letters, digits and hyphens, e.g. acme-photo-uploads",
                );
            }
            n.value
        });
        let encryption = match raw.encryption {
            None => Encryption::SseS3,
            Some(e) => match e.value.kind.value.as_str() {
                "sse-s3" => {
                    if let Some(k) = &e.value.kms_key_id {
                        self.err(
                            &k.referenced,
                            "kms_key_id applies only to type: sse-kms",
                            "remove kms_key_id, or set type: sse-kms",
                        );
                    }
                    Encryption::SseS3
                }
                "sse-kms" => Encryption::SseKms {
                    key_id: e.value.kms_key_id.map(|k| k.value),
                    bucket_key: e.value.bucket_key.unwrap_or(true),
                },
                other => {
                    self.err(
                        &e.value.kind.referenced,
                        format!("unknown encryption type {other:?}"),
                        "use sse-s3 (the default) or sse-kms",
                    );
                    Encryption::SseS3
                }
            },
        };
        let public_read_prefix = raw.public_read.map(|p| {
            let prefix = p.value.prefix.value;
            if prefix.is_empty() || prefix.starts_with('/') || prefix.contains('*') {
                self.err(
                    &p.value.prefix.referenced,
                    format!("public_read prefix {prefix:?} must be a non-empty key prefix without a leading / or *"),
                    "e.g. prefix: public/ — everything under it becomes readable by anyone",
                );
            }
            prefix
        });
        let cors = raw
            .cors
            .unwrap_or_default()
            .into_iter()
            .map(|r| self.cors_rule(r))
            .collect::<Vec<_>>();
        if cors.len() > 100 {
            self.errors.push(SpecError {
                file: self.file.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("{} CORS rules exceed S3's limit of 100", cors.len()),
                hint: None,
            });
        }
        let public_sids: Vec<Spanned<String>> = raw.public_statements.unwrap_or_default();
        let policy_statements = self.statements(
            raw.policy_statements.unwrap_or_default(),
            name.as_deref(),
            &public_sids,
        );
        let tags = self.tags(raw.tags, stack_tags);
        Bucket {
            name,
            versioning: raw.versioning.unwrap_or(false),
            encryption,
            force_destroy: raw.force_destroy.unwrap_or(false),
            protect: raw.protect.unwrap_or(false),
            public_read_prefix,
            enforce_tls: raw.enforce_tls.unwrap_or(true),
            cors,
            policy_statements,
            tags,
        }
    }

    fn cors_rule(&mut self, raw: Spanned<RawCorsRule>) -> CorsRule {
        let r = raw.value;
        if r.allowed_origins.value.is_empty() {
            self.err(
                &r.allowed_origins.referenced,
                "a CORS rule needs at least one allowed origin",
                "e.g. allowed_origins: [\"https://app.example.com\"]",
            );
        }
        for o in &r.allowed_origins.value {
            if o.value == "*" {
                self.warn(
                    &o.referenced,
                    "allowed_origins \"*\" lets a page on any site upload through a URL it holds",
                    "list the origins of your pages, e.g. https://app.example.com",
                );
            }
            if o.value.matches('*').count() > 1 {
                self.err(
                    &o.referenced,
                    format!("origin {:?} has more than one *", o.value),
                    "S3 allows one wildcard per origin",
                );
            }
        }
        if r.allowed_methods.value.is_empty() {
            self.err(
                &r.allowed_methods.referenced,
                "a CORS rule needs at least one allowed method",
                "browser uploads need PUT",
            );
        }
        let mut methods = Vec::new();
        for m in &r.allowed_methods.value {
            let upper = m.value.to_ascii_uppercase();
            if CORS_METHODS.contains(&upper.as_str()) {
                methods.push(upper);
            } else {
                self.err(
                    &m.referenced,
                    format!("{:?} is not a method S3 CORS allows", m.value),
                    format!("use one of {}", CORS_METHODS.join(", ")),
                );
            }
        }
        let max_age_seconds = r
            .max_age_seconds
            .and_then(|m| match i32::try_from(m.value) {
                Ok(v) if v >= 0 => Some(v),
                _ => {
                    self.err(
                        &m.referenced,
                        format!("max_age_seconds {} is out of range", m.value),
                        "use a number of seconds between 0 and 2147483647, e.g. 3000",
                    );
                    None
                }
            });
        CorsRule {
            id: r.id,
            allowed_origins: r
                .allowed_origins
                .value
                .into_iter()
                .map(|o| o.value)
                .collect(),
            allowed_methods: methods,
            allowed_headers: r.allowed_headers,
            expose_headers: r.expose_headers,
            max_age_seconds,
        }
    }

    /// Checks user policy statements; `bucket` is the explicit bucket name, when the spec sets one.
    fn statements(
        &mut self,
        raw: Vec<Spanned<serde_json::Value>>,
        bucket: Option<&str>,
        public_sids: &[Spanned<String>],
    ) -> Vec<serde_json::Value> {
        // The policy as S3 receives it: presign-stack's own statements, then these, with
        // ${bucket} replaced (by the longest name a bucket can have when the name is not set).
        let longest = "b".repeat(63);
        let bucket_text = bucket.unwrap_or(&longest);
        let mut policy_bytes = OWN_STATEMENTS_BYTES;
        let mut over_limit_reported = false;
        let own_arns: Vec<String> = std::iter::once("arn:aws:s3:::${bucket}".to_string())
            .chain(bucket.map(|b| format!("arn:aws:s3:::{b}")))
            .collect();
        let mut sids = BTreeSet::new();
        let mut out = Vec::new();
        for s in raw {
            let at = s.referenced;
            let Some(obj) = s.value.as_object() else {
                self.err(
                    &at,
                    "a policy statement must be a mapping",
                    "e.g. {Effect: Deny, Principal: \"*\", Action: s3:DeleteObject, Resource: \"arn:aws:s3:::${bucket}/*\"}",
                );
                continue;
            };
            for key in obj.keys() {
                if !STATEMENT_KEYS.contains(&key.as_str()) {
                    self.err(
                        &at,
                        format!("unknown policy statement key {key:?}"),
                        format!("statement keys are {}", STATEMENT_KEYS.join(", ")),
                    );
                }
            }
            match obj.get("Effect").and_then(|e| e.as_str()) {
                Some("Allow" | "Deny") => {}
                _ => self.err(&at, "a statement needs Effect: Allow or Effect: Deny", ""),
            }
            if !obj.contains_key("Principal") && !obj.contains_key("NotPrincipal") {
                self.err(
                    &at,
                    "a bucket policy statement needs a Principal",
                    "e.g. Principal: {AWS: \"arn:aws:iam::123456789012:root\"} or Principal: \"*\"",
                );
            }
            for (a, b, what) in [
                ("Action", "NotAction", "actions"),
                ("Resource", "NotResource", "resources"),
            ] {
                match (obj.get(a), obj.get(b)) {
                    (Some(_), Some(_)) => self.err(
                        &at,
                        format!("a statement has either {a} or {b}, not both"),
                        "",
                    ),
                    (None, None) => self.err(&at, format!("a statement needs {a}"), ""),
                    (Some(v), None) | (None, Some(v)) => {
                        if !is_string_or_strings(v) {
                            self.err(
                                &at,
                                format!("{what} must be a string or a list of strings"),
                                "",
                            );
                        }
                    }
                }
            }
            for key in ["Resource", "NotResource"] {
                for r in strings(obj.get(key)) {
                    let own = own_arns.iter().any(|arn| {
                        r == arn
                            || r.strip_prefix(arn.as_str())
                                .is_some_and(|rest| rest.starts_with('/'))
                    });
                    if !own {
                        self.err(
                            &at,
                            format!("resource {r:?} is not this stack's bucket"),
                            "a bucket policy may only name its own bucket: write arn:aws:s3:::${bucket} or arn:aws:s3:::${bucket}/<prefix>*",
                        );
                    }
                }
            }
            for key in ["Action", "NotAction"] {
                for a in strings(obj.get(key)) {
                    if !(a == "*" || a.starts_with("s3:")) {
                        self.err(
                            &at,
                            format!("action {a:?} is not an S3 action"),
                            "bucket policies take s3:* actions",
                        );
                    }
                }
            }
            let allow = obj.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
            if allow {
                for key in ["NotPrincipal", "NotAction"] {
                    if obj.contains_key(key) {
                        self.err(
                            &at,
                            format!(
                                "an Allow statement with {key} grants everything it does not name"
                            ),
                            format!("name what the statement allows with {} instead", &key[3..]),
                        );
                    }
                }
                let sid = obj.get("Sid").and_then(|s| s.as_str());
                let opted_in = sid.is_some_and(|sid| public_sids.iter().any(|p| p.value == sid));
                if obj.get("Principal").is_some_and(names_everyone) && !opted_in {
                    self.err(
                        &at,
                        "an Allow statement for Principal \"*\" grants these actions to anyone on the internet",
                        match sid {
                            Some(sid) => format!("name the accounts or roles that need access; if the bucket must be public for this, list it by name: bucket.public_statements: [{sid}]"),
                            None => "name the accounts or roles that need access (for public reads of a prefix, use bucket.public_read)".to_string(),
                        },
                    );
                }
            }
            if let Some(c) = obj.get("Condition") {
                if let Err(m) = check_condition(c) {
                    self.err(
                        &at,
                        format!("malformed Condition: {m}"),
                        "write Condition: {Operator: {key: value}}, e.g. {StringEquals: {\"aws:PrincipalTag/team\": platform}}",
                    );
                }
            }
            let rendered = substitute_bucket(&s.value, bucket_text).to_string().len();
            policy_bytes += rendered + 1;
            if policy_bytes > MAX_POLICY_BYTES && !over_limit_reported {
                over_limit_reported = true;
                self.err(
                    &at,
                    format!("the bucket policy passes S3's limit of {MAX_POLICY_BYTES} bytes at this statement"),
                    "merge statements, or list several actions and resources in one statement",
                );
            }
            if let Some(sid) = obj.get("Sid") {
                match sid.as_str() {
                    Some(sid) if sid.starts_with("PresignStack") => self.err(
                        &at,
                        format!("Sid {sid:?} is reserved for the statements presign-stack writes"),
                        "choose another Sid",
                    ),
                    Some(sid) if !sid.chars().all(|c| c.is_ascii_alphanumeric()) => self.err(
                        &at,
                        format!("Sid {sid:?} may contain only letters and digits"),
                        "",
                    ),
                    Some(sid) => {
                        if !sids.insert(sid.to_string()) {
                            self.err(
                                &at,
                                format!("Sid {sid:?} is used twice"),
                                "Sids must be unique",
                            );
                        }
                    }
                    None => self.err(&at, "Sid must be a string", ""),
                }
            }
            out.push(s.value);
        }
        for p in public_sids {
            if !sids.contains(&p.value) {
                self.err(
                    &p.referenced,
                    format!(
                        "public_statements names Sid {:?}, which no policy statement has",
                        p.value
                    ),
                    "list the Sids of policy_statements entries that may grant to everyone",
                );
            }
        }
        out
    }

    fn uploads(&mut self, raw: Option<super::raw::RawUploads>) -> Uploads {
        let Some(raw) = raw else {
            return Uploads::default();
        };
        let d = Uploads::default();
        let prefix = raw.prefix.map_or(d.prefix, |p| {
            if p.value.starts_with('/') || p.value.contains("..") || p.value.is_empty() {
                self.err(
                    &p.referenced,
                    format!(
                        "upload prefix {:?} must be non-empty, without a leading / or ..",
                        p.value
                    ),
                    "e.g. prefix: uploads/",
                );
            } else if p.value.contains(['*', '?']) {
                // The prefix ends up in the role's policy as `<bucket>/<prefix>*`, where IAM
                // reads * and ? as wildcards: "*" would grant the whole bucket.
                self.err(
                    &p.referenced,
                    format!("upload prefix {:?} must not contain * or ?", p.value),
                    "IAM reads them as wildcards in the signer's policy; write a literal prefix such as uploads/",
                );
            }
            p.value
        });
        let allowed_content_types = match raw.allowed_content_types {
            None => d.allowed_content_types,
            Some(v) => self.content_types(v),
        };
        let expires_seconds = raw.expires_seconds.map_or(d.expires_seconds, |e| {
            if e.value == 0 || e.value > MAX_PRESIGN_SECONDS {
                self.err(
                    &e.referenced,
                    format!("expires_seconds {} must be between 1 and {MAX_PRESIGN_SECONDS} (7 days, the SigV4 limit)", e.value),
                    "keep it short: a pre-signed URL can be reused until it expires; 300 is a good default",
                );
            }
            e.value
        });
        let min_size_bytes = raw.min_size_bytes.map(|m| {
            if raw.max_size_bytes.is_some_and(|max| m.value > max) {
                self.err(
                    &m.referenced,
                    format!(
                        "min_size_bytes {} is over max_size_bytes {}",
                        m.value,
                        raw.max_size_bytes.unwrap_or_default()
                    ),
                    "no upload could satisfy both: lower min_size_bytes or raise max_size_bytes",
                );
            }
            m.value
        });
        let multipart = raw.multipart.as_ref().is_some_and(|u| u.value);
        let abort_incomplete_after_days = raw.abort_incomplete_after_days.map_or(
            d.abort_incomplete_after_days,
            |days| {
                if days.value == 0 || days.value > i32::MAX as u64 {
                    self.err(
                        &days.referenced,
                        format!(
                            "abort_incomplete_after_days {} must be a whole number of days from 1",
                            days.value
                        ),
                        "S3 counts from the upload's start; 1 lets a slow upload finish and clears abandoned parts the next day",
                    );
                } else if !multipart {
                    self.warn(
                        &days.referenced,
                        "uploads.abort_incomplete_after_days has no effect without uploads.multipart: true",
                        "turn multipart on, or leave the setting out",
                    );
                }
                days.value.min(i32::MAX as u64) as u32
            },
        );
        let uppy = raw.uppy.as_ref().is_some_and(|u| u.value);
        let uppy_put = match &raw.uppy_method {
            None => false,
            Some(m) => {
                let put = match m.value.as_str() {
                    "post" => false,
                    "put" => true,
                    other => {
                        self.err(
                            &m.referenced,
                            format!("unknown uppy_method {other:?}"),
                            "use post (a form S3 checks, what Uppy 6 sends; the default) or put (a pre-signed PUT and its headers)",
                        );
                        false
                    }
                };
                if !uppy {
                    self.warn(
                        &m.referenced,
                        "uploads.uppy_method has no effect without uploads.uppy: true",
                        "turn uppy on, or leave the setting out",
                    );
                }
                put
            }
        };
        let checksum = raw.checksum.and_then(|c| match c.value.as_str() {
            "sha256" | "crc32" => {
                if multipart || (uppy && !uppy_put) {
                    self.warn(
                        &c.referenced,
                        format!("uploads.checksum {}: Uppy's @uppy/aws-s3 sends no checksum, so the signer refuses its part URLs (and its POST forms carry none)", c.value),
                        "keep it for clients that send &checksum=<base64>, or set checksum: none for Uppy",
                    );
                }
                Some(c.value)
            }
            "none" => None,
            other => {
                self.err(
                    &c.referenced,
                    format!("unknown checksum {other:?}"),
                    "use sha256, crc32 or none (the default)",
                );
                None
            }
        });
        Uploads {
            prefix,
            allowed_content_types,
            expires_seconds,
            max_size_bytes: raw.max_size_bytes,
            min_size_bytes,
            allow_downloads: raw.allow_downloads.unwrap_or(false),
            uppy,
            multipart,
            abort_incomplete_after_days,
            checksum,
            uppy_put,
        }
    }

    /// `uploads.allowed_content_types`: a non-empty list of strict `type/subtype` tokens (or
    /// `type/*`); the signer receives them comma-joined, so a comma or a parameter would smuggle
    /// in another type.
    fn content_types(&mut self, v: Spanned<Vec<Spanned<String>>>) -> Vec<String> {
        if v.value.is_empty() {
            self.err(
                &v.referenced,
                "allowed_content_types is empty: the signer would refuse every upload",
                "list the types to accept, e.g. [image/jpeg, image/png]",
            );
        }
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        v.value
            .into_iter()
            .map(|t| {
                let lower = t.value.to_ascii_lowercase();
                let ok = lower.split_once('/').is_some_and(|(a, b)| {
                    token(a) && (token(b) || b == "*")
                });
                if !ok {
                    self.err(
                        &t.referenced,
                        format!("{:?} is not a content type", t.value),
                        "write one type/subtype per entry (no commas, spaces or parameters), or type/* for a whole family, e.g. image/jpeg or image/*",
                    );
                } else if presign_signer::validate::ACTIVE_CONTENT_TYPES.contains(&lower.as_str()) {
                    self.warn(
                        &t.referenced,
                        format!("{lower} can carry script: a browser opening such an upload from the bucket runs it"),
                        "accept it only if you serve uploads from another domain or with Content-Disposition: attachment",
                    );
                }
                lower
            })
            .collect()
    }

    fn function(&mut self, raw: Option<super::raw::RawFunction>) -> Function {
        let d = Function::default();
        let Some(raw) = raw else { return d };
        let memory_mb = raw.memory_mb.map_or(d.memory_mb, |m| {
            if !(128..=10240).contains(&m.value) {
                self.err(
                    &m.referenced,
                    format!("memory_mb {} must be between 128 and 10240", m.value),
                    "128 is plenty for the signer",
                );
            }
            m.value
        });
        let timeout_seconds = raw.timeout_seconds.map_or(d.timeout_seconds, |t| {
            if !(1..=900).contains(&t.value) {
                self.err(
                    &t.referenced,
                    format!("timeout_seconds {} must be between 1 and 900", t.value),
                    "",
                );
            }
            t.value
        });
        let log_retention_days = raw.log_retention_days.map_or(d.log_retention_days, |r| {
            const ALLOWED: [u32; 22] = [
                1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                2557, 2922, 3288, 3653,
            ];
            if !ALLOWED.contains(&r.value) {
                self.err(
                    &r.referenced,
                    format!(
                        "log_retention_days {} is not a value CloudWatch Logs accepts",
                        r.value
                    ),
                    format!("use one of {ALLOWED:?}"),
                );
            }
            r.value
        });
        Function {
            name: raw.name.map(|n| n.value),
            memory_mb,
            timeout_seconds,
            log_retention_days,
            artifact: raw.artifact,
        }
    }

    fn api(&mut self, raw: Option<super::raw::RawApi>) -> Api {
        let d = Api::default();
        let Some(raw) = raw else { return d };
        let route = raw.route.map_or(d.route, |r| {
            if !r.value.starts_with('/') || r.value.contains(char::is_whitespace) {
                self.err(
                    &r.referenced,
                    format!(
                        "route {:?} must start with / and contain no spaces",
                        r.value
                    ),
                    "e.g. route: /sign",
                );
            }
            r.value
        });
        if let Some(t) = &raw.throttle {
            if !(t.value.rate_limit.is_finite() && t.value.rate_limit > 0.0)
                || t.value.burst_limit == 0
            {
                self.err(
                    &t.referenced,
                    "throttle needs a rate_limit above 0 (requests per second) and a burst_limit of at least 1",
                    "e.g. throttle: {rate_limit: 10, burst_limit: 20}",
                );
            }
        }
        if let Some(j) = &raw.jwt {
            if !j.issuer.value.starts_with("https://") {
                self.err(
                    &j.issuer.referenced,
                    format!("JWT issuer {:?} must be an https:// URL", j.issuer.value),
                    "e.g. issuer: https://cognito-idp.us-east-1.amazonaws.com/<pool id>",
                );
            }
        }
        for o in raw.cors_origins.iter().flatten() {
            if o.value == "*" {
                self.warn(
                    &o.referenced,
                    "api.cors_origins \"*\" lets a page on any site ask the API for upload URLs",
                    "list the origins of your pages, e.g. https://app.example.com",
                );
            }
        }
        Api {
            route,
            cors_origins: raw
                .cors_origins
                .map_or(d.cors_origins, |o| o.into_iter().map(|o| o.value).collect()),
            throttle_rate_limit: raw
                .throttle
                .as_ref()
                .map_or(d.throttle_rate_limit, |t| t.value.rate_limit),
            throttle_burst_limit: raw
                .throttle
                .as_ref()
                .map_or(d.throttle_burst_limit, |t| t.value.burst_limit),
            jwt: raw.jwt.map(|j| Jwt {
                issuer: j.issuer.value,
                audience: j.audience,
            }),
        }
    }
}

/// S3's limit on a bucket policy's size.
const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Room kept for the statements presign-stack writes itself (TLS only, public read).
const OWN_STATEMENTS_BYTES: usize = 1024;

/// The operators IAM's condition blocks know (before `IfExists` and the set qualifiers).
const CONDITION_OPERATORS: [&str; 27] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Whether a statement's `Principal` includes everyone: `"*"`, `{"AWS": "*"}` or a list with it.
pub fn names_everyone(principal: &serde_json::Value) -> bool {
    match principal {
        serde_json::Value::String(s) => s == "*",
        serde_json::Value::Array(items) => items.iter().any(names_everyone),
        serde_json::Value::Object(map) => map.values().any(names_everyone),
        _ => false,
    }
}

/// A `Condition` block's shape: operator → condition key → value or list of values.
fn check_condition(c: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let Some(ops) = c.as_object().filter(|o| !o.is_empty()) else {
        return Err("it must be a mapping of operators".into());
    };
    for (op, keys) in ops {
        let base = op
            .strip_prefix("ForAllValues:")
            .or_else(|| op.strip_prefix("ForAnyValue:"))
            .unwrap_or(op);
        let base = base.strip_suffix("IfExists").unwrap_or(base);
        if !CONDITION_OPERATORS.contains(&base) {
            return Err(format!("{op:?} is not a condition operator"));
        }
        let Some(keys) = keys.as_object().filter(|k| !k.is_empty()) else {
            return Err(format!("{op} must map condition keys to values"));
        };
        for (key, value) in keys {
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(format!("{key:?} under {op} is not a condition key"));
            }
            let scalar =
                |v: &Value| matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_));
            let ok = match value {
                Value::Array(items) => !items.is_empty() && items.iter().all(scalar),
                v => scalar(v),
            };
            if !ok {
                return Err(format!(
                    "the value of {key} under {op} must be a string, number, boolean or a list of them"
                ));
            }
        }
    }
    Ok(())
}

/// `${bucket}` replaced in every string of a user statement.
pub fn substitute_bucket(v: &serde_json::Value, bucket: &str) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(s.replace("${bucket}", bucket)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| substitute_bucket(i, bucket)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_bucket(v, bucket)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_string_or_strings(v: &serde_json::Value) -> bool {
    v.is_string()
        || v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.is_string()))
}

/// A policy element that is a string or a list of strings (`Action`, `Resource`, ...), as a list.
pub fn strings(v: Option<&serde_json::Value>) -> Vec<&str> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// The bucket CORS rule the Uppy routes need when the spec gives none: the API's origins may
/// `PUT` (parts, and the signing route's URLs) and, with `uploads.uppy`, `POST` forms, and read
/// the `ETag` (Uppy completes with it) and `Location` headers.
pub fn uppy_bucket_cors(origins: &[String], uploads: &Uploads) -> CorsRule {
    let mut methods = vec!["PUT".to_string()];
    if uploads.uppy {
        methods.push("POST".into());
    }
    CorsRule {
        id: Some("presign-stack-uploads".into()),
        allowed_origins: origins.to_vec(),
        allowed_methods: methods,
        allowed_headers: std::iter::once("content-type".to_string())
            .chain(
                uploads
                    .checksum
                    .as_ref()
                    .map(|c| format!("x-amz-checksum-{c}")),
            )
            // A PUT from /s3/params sends these as the signed headers it was given.
            .chain(
                (uploads.uppy && uploads.uppy_put)
                    .then(|| ["if-none-match".to_string(), "x-amz-meta-*".to_string()])
                    .into_iter()
                    .flatten(),
            )
            .collect(),
        expose_headers: vec!["ETag".into(), "Location".into()],
        max_age_seconds: Some(3000),
    }
}

impl Default for Uploads {
    fn default() -> Self {
        Uploads {
            prefix: "uploads/".into(),
            allowed_content_types: vec!["image/jpeg".into(), "image/png".into()],
            expires_seconds: 300,
            max_size_bytes: None,
            min_size_bytes: None,
            allow_downloads: false,
            uppy: false,
            multipart: false,
            abort_incomplete_after_days: 1,
            checksum: None,
            uppy_put: false,
        }
    }
}

impl Default for Function {
    fn default() -> Self {
        Function {
            name: None,
            memory_mb: 128,
            timeout_seconds: 10,
            log_retention_days: 14,
            artifact: None,
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Api {
            route: "/sign".into(),
            cors_origins: Vec::new(),
            throttle_rate_limit: 10.0,
            throttle_burst_limit: 20,
            jwt: None,
        }
    }
}
