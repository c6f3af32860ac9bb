//! The signer's deployment artifact: a zip with an executable `bootstrap` at its root.
//!
//! Found in this order: `function.artifact` in the spec (relative to the spec's folder); the
//! signer crate's build output `target/lambda/bootstrap/bootstrap.zip` next to the spec — built
//! first by `scripts/build-signer` when the spec sits in a presign-stack checkout and the zip is
//! missing or older than the signer's sources; else a built-in placeholder whose `bootstrap`
//! answers every request with 503 "not built yet". The placeholder zip is byte-for-byte
//! deterministic, so deploying it twice changes nothing.

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
        }
    }
}

/// Finds the artifact for a spec in `spec_dir` (see the module docs for the order); `notify`
/// hears about a build.
pub fn load(
    spec_dir: &Path,
    configured: Option<&str>,
    notify: &dyn Fn(&str),
) -> Result<Artifact, ArtifactError> {
    let build = spec_dir.join("scripts/build-signer");
    if configured.is_none() && build.is_file() && spec_dir.join("lambda/Cargo.toml").is_file() {
        notify("building the signer if its sources changed (scripts/build-signer)...");
        let build = build.canonicalize().unwrap_or(build);
        let status = std::process::Command::new(&build)
            .current_dir(spec_dir)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| ArtifactError::SignerBuild(e.to_string()))?;
        if !status.success() {
            return Err(ArtifactError::SignerBuild(status.to_string()));
        }
    }
    let path = match configured {
        Some(p) => Some(spec_dir.join(p)),
        None => {
            Some(spec_dir.join("target/lambda/bootstrap/bootstrap.zip")).filter(|p| p.is_file())
        }
    };
    match path {
        Some(path) => {
            let bytes = std::fs::read(&path).map_err(|source| ArtifactError::Read {
                path: path.clone(),
                source,
            })?;
            Ok(Artifact::from_bytes(bytes, path.display().to_string()))
        }
        None => placeholder(),
    }
}

/// The built-in placeholder: a deterministic zip holding an executable `bootstrap` script.
pub fn placeholder() -> Result<Artifact, ArtifactError> {
    zip_bootstrap(PLACEHOLDER.as_bytes())
        .map(|b| Artifact::from_bytes(b, "built-in placeholder".into()))
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
        let a = load(dir.path(), Some("my.zip"), &|_| {}).unwrap();
        assert_eq!(a.bytes, b"zip bytes");
        assert_eq!(a.sha256, "W3onVLOJEw4TjVe6g/Hq5/BaQcZr7Kz6LdIGAUOuZts=");
        let err = load(dir.path(), Some("missing.zip"), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("missing.zip"), "{err}");
        assert_eq!(
            load(dir.path(), None, &|_| {}).unwrap().source,
            "built-in placeholder"
        );
    }
}
