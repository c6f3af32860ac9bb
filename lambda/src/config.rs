//! The signer's configuration: environment variables set by the provisioner.

use std::fmt;

/// SigV4 caps pre-signed URLs at seven days.
pub const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// The checksum S3 verifies on each upload body, when the stack turns it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Sha256,
    Crc32,
}

impl Checksum {
    /// The header S3 reads the body's checksum from (lower case, as signed).
    pub fn header(self) -> &'static str {
        match self {
            Checksum::Sha256 => "x-amz-checksum-sha256",
            Checksum::Crc32 => "x-amz-checksum-crc32",
        }
    }

    /// The name S3 gives the algorithm (`x-amz-checksum-algorithm`).
    pub fn algorithm(self) -> &'static str {
        match self {
            Checksum::Sha256 => "SHA256",
            Checksum::Crc32 => "CRC32",
        }
    }

    /// The element of a part in ListParts and CompleteMultipartUpload.
    pub fn part_element(self) -> &'static str {
        match self {
            Checksum::Sha256 => "ChecksumSHA256",
            Checksum::Crc32 => "ChecksumCRC32",
        }
    }

    /// The digest's length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Checksum::Sha256 => 32,
            Checksum::Crc32 => 4,
        }
    }

    /// The checksum of an empty body, base64: what a client that hashed before the body was
    /// attached declares (aws-sdk-js-v3#6810), which S3 then refuses for every real file.
    pub fn of_empty_body(self) -> &'static str {
        match self {
            Checksum::Sha256 => "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            Checksum::Crc32 => "AAAAAA==",
        }
    }

    /// `sha256` or `crc32` as in stack.yaml.
    pub fn name(self) -> &'static str {
        match self {
            Checksum::Sha256 => "sha256",
            Checksum::Crc32 => "crc32",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub bucket: String,
    /// Every key is put under this prefix (the caller's key is appended, never trusted alone).
    pub prefix: String,
    /// Exact types (`image/png`) or families (`image/*`), lower case.
    pub allowed_content_types: Vec<String>,
    pub expires_seconds: u64,
    pub max_size_bytes: Option<u64>,
    /// The smallest upload S3 accepts on the paths where it enforces a range (POST forms).
    pub min_size_bytes: Option<u64>,
    /// Serve Uppy's `@uppy/aws-s3` routes (`/s3/...`) beside the signing route.
    pub uppy: bool,
    /// Serve Uppy's multipart routes (`/s3/multipart...`), which call S3 themselves.
    pub multipart: bool,
    /// `/s3/params` answers a pre-signed `PUT` (`{"method": "PUT", "url", "headers"}`) instead
    /// of a POST form: for clients that send a body with headers rather than a form.
    pub uppy_put: bool,
    pub allow_downloads: bool,
    /// The checksum every upload URL signs (the caller declares it); `None`: no checksum.
    pub checksum: Option<Checksum>,
    pub region: String,
    /// For tests and emulators: `http://127.0.0.1:9000` (path-style URLs on that host).
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signer configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the configuration through `var` (the process environment in the function).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let need = |name: &str| {
            var(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError(format!("{name} is not set")))
        };
        let number = |name: &str, default: Option<u64>| -> Result<Option<u64>, ConfigError> {
            match var(name).filter(|v| !v.is_empty()) {
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| ConfigError(format!("{name}={v:?} is not a whole number"))),
                None => Ok(default),
            }
        };
        let expires_seconds = number("PRESIGN_EXPIRES_SECONDS", Some(300))?.unwrap_or(300);
        if expires_seconds == 0 || expires_seconds > MAX_EXPIRES_SECONDS {
            return Err(ConfigError(format!(
                "PRESIGN_EXPIRES_SECONDS={expires_seconds} must be between 1 and {MAX_EXPIRES_SECONDS}"
            )));
        }
        let allowed_content_types: Vec<String> = need("PRESIGN_ALLOWED_CONTENT_TYPES")?
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if allowed_content_types.is_empty() {
            return Err(ConfigError(
                "PRESIGN_ALLOWED_CONTENT_TYPES lists no type".into(),
            ));
        }
        let prefix = var("PRESIGN_PREFIX").unwrap_or_default();
        if prefix.starts_with('/') || prefix.split('/').any(|s| s == "..") {
            return Err(ConfigError(format!(
                "PRESIGN_PREFIX={prefix:?} must not start with / or contain .."
            )));
        }
        let checksum = match var("PRESIGN_CHECKSUM").unwrap_or_default().as_str() {
            "" | "none" => None,
            "sha256" => Some(Checksum::Sha256),
            "crc32" => Some(Checksum::Crc32),
            other => {
                return Err(ConfigError(format!(
                    "PRESIGN_CHECKSUM={other:?} must be sha256, crc32 or none"
                )))
            }
        };
        let uppy_put = match var("PRESIGN_UPPY_METHOD").unwrap_or_default().as_str() {
            "" | "post" => false,
            "put" => true,
            other => {
                return Err(ConfigError(format!(
                    "PRESIGN_UPPY_METHOD={other:?} must be post or put"
                )))
            }
        };
        Ok(Config {
            bucket: need("PRESIGN_BUCKET")?,
            prefix,
            allowed_content_types,
            expires_seconds,
            max_size_bytes: number("PRESIGN_MAX_SIZE_BYTES", None)?,
            min_size_bytes: number("PRESIGN_MIN_SIZE_BYTES", None)?,
            uppy: var("PRESIGN_UPPY").is_some_and(|v| v == "true"),
            multipart: var("PRESIGN_MULTIPART").is_some_and(|v| v == "true"),
            uppy_put,
            allow_downloads: var("PRESIGN_ALLOW_DOWNLOADS").is_some_and(|v| v == "true"),
            checksum,
            region: need("AWS_REGION")?,
            endpoint: var("PRESIGN_S3_ENDPOINT").filter(|v| !v.is_empty()),
        })
    }
}
