//! `stack.yaml`: raw serde types ([`raw`]), turned into a validated [`Stack`] ([`validate`]).
//!
//! Pure: no AWS, no tokio. Every error carries the file, line and column it refers to, and a hint.

pub mod names;
pub mod path;
pub mod raw;
pub mod shape;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use path::path_at;
pub use validate::{parse, parse_env, parse_with_environments, MAX_ENVIRONMENTS};

/// The tag key that marks a resource as created by a stack; its value is the stack name.
pub const OWNERSHIP_TAG: &str = "presign-stack:stack";

/// A validated stack: defaults filled in, names resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub name: String,
    /// The region written in the spec, if any (the command line and environment may supply one).
    pub region: Option<String>,
    /// Stack-wide tags (the bucket's own tags are merged into `bucket.tags`).
    pub tags: BTreeMap<String, String>,
    pub bucket: Bucket,
    pub uploads: Uploads,
    pub function: Function,
    pub api: Api,
    pub state: StateSpec,
    /// What is allowed but worth a second look (a type that can carry script, say): shown by
    /// `validate` and before a deploy, never an error.
    pub warnings: Vec<SpecError>,
}

/// Where the stack's state lives (`state:` in the spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpec {
    /// Which store runs read and write.
    pub backend: Backend,
    /// The S3 location, when the spec names a state bucket (needed by `backend: s3`; also what
    /// `state bootstrap` and `state migrate` use).
    pub s3: Option<S3State>,
    /// How long a lock on S3 stays valid unless its holder renews it.
    pub lock_lease_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3State {
    pub bucket: String,
    /// The state object's key; the lock is `<key>.lock`.
    pub key: String,
    /// `None`: the stack's region.
    pub region: Option<String>,
    pub kms_key_id: Option<String>,
}

/// The default lease of a lock on S3.
pub const DEFAULT_LOCK_LEASE_SECONDS: u64 = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// `None`: the deterministic default, [`names::default_bucket_name`] (it needs the region).
    pub name: Option<String>,
    pub versioning: bool,
    pub encryption: Encryption,
    pub force_destroy: bool,
    /// `destroy` refuses to delete the bucket.
    pub protect: bool,
    pub public_read_prefix: Option<String>,
    pub enforce_tls: bool,
    pub cors: Vec<CorsRule>,
    /// Extra statements, with `${bucket}` still unresolved (the name may depend on the region).
    pub policy_statements: Vec<serde_json::Value>,
    /// User tags (stack-wide merged with bucket-level); the ownership tag is added at expansion.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    SseS3,
    SseKms {
        key_id: Option<String>,
        bucket_key: bool,
    },
}

/// One CORS rule of the bucket: as the spec gives it and, normalised
/// ([`crate::plan::normalize::cors_rule`]), as the plan, the state and S3 hold it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Uploads {
    pub prefix: String,
    pub allowed_content_types: Vec<String>,
    pub expires_seconds: u64,
    pub max_size_bytes: Option<u64>,
    /// The smallest upload, where S3 enforces a range (Uppy's POST forms).
    pub min_size_bytes: Option<u64>,
    pub allow_downloads: bool,
    /// Serve Uppy's `@uppy/aws-s3` routes beside the signing route.
    pub uppy: bool,
    /// Serve Uppy's multipart routes (the function calls S3 for them).
    pub multipart: bool,
    /// With `multipart`: the bucket's lifecycle rule aborts uploads incomplete after this many days.
    pub abort_incomplete_after_days: u32,
    /// `sha256` or `crc32`: the checksum every upload URL signs; `None` for none.
    pub checksum: Option<String>,
    /// With `uppy`: `/s3/params` answers a pre-signed PUT rather than a POST form.
    pub uppy_put: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: Option<String>,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub log_retention_days: u32,
    pub artifact: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub route: String,
    pub cors_origins: Vec<String>,
    pub throttle_rate_limit: f64,
    pub throttle_burst_limit: u32,
    pub jwt: Option<Jwt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    pub issuer: String,
    pub audience: Vec<String>,
}

/// One problem in a spec, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    /// 1-based; 0 when the position is unknown.
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a spec (validation reports them all, not just the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The largest spec file read: far above any real stack, small enough to parse at once.
pub const MAX_SPEC_BYTES: u64 = 1024 * 1024;

/// Reads and validates a spec file.
pub fn load(path: &Path) -> Result<Stack, LoadError> {
    load_env(path, None)
}

/// [`load`] for one environment of the stack (`--env NAME`; see `environments:`).
pub fn load_env(path: &Path, env: Option<&str>) -> Result<Stack, LoadError> {
    let text = read_spec(path)?;
    parse_env(path, &text, env).map_err(LoadError::Invalid)
}

/// Reads a spec file's text: at most [`MAX_SPEC_BYTES`], whatever kind of file it is. The size
/// the file system reports is not trusted (it is 0 for `/dev/zero`, a FIFO or `<(...)`): the read
/// itself stops one byte past the cap.
pub fn read_spec(path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let read_error = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let at_start = |message: String, hint: &str| {
        LoadError::Invalid(SpecErrors(vec![SpecError {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message,
            hint: Some(hint.into()),
        }]))
    };
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(at_start(
            format!("the spec is over {MAX_SPEC_BYTES} bytes, the most a stack.yaml may have"),
            "is -f pointing at the right file?",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        at_start(
            format!(
                "the spec is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save stack.yaml as UTF-8",
        )
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}\n  hint: pass the spec with -f FILE, or run in the folder that holds stack.yaml", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(SpecErrors),
}

#[cfg(test)]
mod tests;
