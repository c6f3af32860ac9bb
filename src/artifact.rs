//! The signer's deployment artifact: a zip with an executable `bootstrap` at its root.
//!
//! Found in this order: `function.artifact` in the spec (relative to the spec's folder); the
//! signer crate's build output `<target>/lambda/bootstrap/bootstrap.zip` next to the spec
//! (`<target>` is `$CARGO_TARGET_DIR` when set, else `target/`) — built first by
//! `scripts/build-signer` when the spec sits in a presign-stack checkout, the zip is missing or
//! older than the signer's sources, and the command may build (deploy; `diff` never builds);
//! else a built-in placeholder whose `bootstrap` answers every request with 503 "not built yet",
//! which deploy warns about. The placeholder zip is byte-for-byte deterministic, so deploying it
//! twice changes nothing.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// A zip ready to upload.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub bytes: Vec<u8>,
    /// Base64 SHA-256, as Lambda reports `CodeSha256`.
    pub sha256: String,
    /// Where it came from, for messages.
    pub source: String,
    /// The built-in placeholder (answers 503): deploy says so.
    pub placeholder: bool,
    /// A checkout whose signer sources are newer than this zip, when the command did not build
    /// (`diff`): deploy would build and upload new code.
    pub stale: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot read the function artifact {}: {source}\n  hint: build it, or fix function.artifact in the spec", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the placeholder artifact: {0}")]
    Build(String),
    #[error("building the signer failed ({0})\n  hint: run scripts/build-signer to see why, or set function.artifact to a zip you built")]
    SignerBuild(String),
}

const PLACEHOLDER: &str = r#"#!/bin/sh
# presign-stack placeholder signer: the real signer (lambda/) is not built yet.
# Answers every invocation with 503 through the Lambda Runtime API.
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  headers=$(mktemp)
  curl -sS -D "$headers" -o /dev/null "$api/next"
  id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | cut -d: -f2 | tr -d '[:space:]')
  rm -f "$headers"
  curl -sS -X POST "$api/$id/response" -o /dev/null \
    -d '{"statusCode":503,"headers":{"content-type":"application/json"},"body":"{\"error\":\"not_built\",\"message\":\"the signer is not built yet\"}"}'
done
"#;

impl Artifact {
    pub fn from_bytes(bytes: Vec<u8>, source: String) -> Artifact {
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        Artifact {
            bytes,
            sha256,
            source,
            placeholder: false,
            stale: false,
        }
    }
}

/// The signer's zip in a checkout at `dir`: under `$CARGO_TARGET_DIR` when set (relative to the
/// checkout, as cargo reads it there), else `target/`.
fn built_zip(dir: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    dir.join(target).join("lambda/bootstrap/bootstrap.zip")
}

/// Whether a file of the signer's sources is newer than `zip` (or `zip` is missing).
fn sources_newer(dir: &Path, zip: &Path) -> bool {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_dir() {
            return meta.modified().ok();
        }
        std::fs::read_dir(path)
            .ok()?
            .flatten()
            .filter_map(|e| newest(&e.path()))
            .max()
    }
    let Some(built) = std::fs::metadata(zip).and_then(|m| m.modified()).ok() else {
        return true;
    };
    ["lambda/src", "lambda/Cargo.toml", "Cargo.lock"]
        .iter()
        .filter_map(|p| newest(&dir.join(p)))
        .any(|t| t > built)
}

/// Finds the artifact for a spec in `spec_dir` (see the module docs for the order). With
/// `may_build`, a checkout's signer is built first when its sources changed; `notify` hears
/// about that.
pub fn load(
    spec_dir: &Path,
    configured: Option<&str>,
    may_build: bool,
    notify: &dyn Fn(&str),
) -> Result<Artifact, ArtifactError> {
    let build = spec_dir.join("scripts/build-signer");
    let checkout =
        configured.is_none() && build.is_file() && spec_dir.join("lambda/Cargo.toml").is_file();
    let mut built = None;
    if checkout && may_build {
        notify("building the signer if its sources changed (scripts/build-signer)...");
        let build = build.canonicalize().unwrap_or(build);
        let out = std::process::Command::new(&build)
            .current_dir(spec_dir)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| ArtifactError::SignerBuild(e.to_string()))?;
        if !out.status.success() {
            return Err(ArtifactError::SignerBuild(out.status.to_string()));
        }
        // It prints where the zip is when it builds; otherwise the zip is where it was.
        built = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(|l| spec_dir.join(l.trim()))
            .filter(|p| p.is_file());
    }
    let path = match configured {
        Some(p) => Some(spec_dir.join(p)),
        None => built.or_else(|| Some(built_zip(spec_dir)).filter(|p| p.is_file())),
    };
    match path {
        Some(path) => {
            let bytes = std::fs::read(&path).map_err(|source| ArtifactError::Read {
                path: path.clone(),
                source,
            })?;
            let stale = checkout && !may_build && sources_newer(spec_dir, &path);
            Ok(Artifact {
                stale,
                ..Artifact::from_bytes(bytes, path.display().to_string())
            })
        }
        None => Ok(Artifact {
            stale: checkout && !may_build,
            ..placeholder()?
        }),
    }
}

/// The built-in placeholder: a deterministic zip holding an executable `bootstrap` script.
pub fn placeholder() -> Result<Artifact, ArtifactError> {
    zip_bootstrap(PLACEHOLDER.as_bytes()).map(|b| Artifact {
        placeholder: true,
        ..Artifact::from_bytes(b, "built-in placeholder".into())
    })
}

/// A zip with `bootstrap` (mode 755, fixed timestamp) at its root.
pub fn zip_bootstrap(content: &[u8]) -> Result<Vec<u8>, ArtifactError> {
    let build = |e: zip::result::ZipError| ArtifactError::Build(e.to_string());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    zip.start_file("bootstrap", options).map_err(build)?;
    zip.write_all(content)
        .map_err(|e| ArtifactError::Build(e.to_string()))?;
    Ok(zip.finish().map_err(build)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_is_deterministic_with_an_executable_bootstrap_at_the_root() {
        let a = placeholder().unwrap();
        let b = placeholder().unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.sha256, b.sha256);
        let mut zip = zip::ZipArchive::new(Cursor::new(a.bytes)).unwrap();
        assert_eq!(zip.len(), 1);
        let entry = zip.by_index(0).unwrap();
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
    }

    #[test]
    fn a_configured_artifact_is_read_and_a_missing_one_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("my.zip"), b"zip bytes").unwrap();
        let a = load(dir.path(), Some("my.zip"), true, &|_| {}).unwrap();
        assert_eq!(a.bytes, b"zip bytes");
        assert_eq!(a.sha256, "W3onVLOJEw4TjVe6g/Hq5/BaQcZr7Kz6LdIGAUOuZts=");
        let err = load(dir.path(), Some("missing.zip"), true, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("missing.zip"), "{err}");
        assert_eq!(
            load(dir.path(), None, true, &|_| {}).unwrap().source,
            "built-in placeholder"
        );
    }
}
