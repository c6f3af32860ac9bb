//! The presign-stack signer: a Lambda function behind an API Gateway HTTP API that hands out
//! short-lived pre-signed S3 upload URLs.
//!
//! `GET <route>?filekey=<key>&contentType=<type>` → `200 {"signed_url", "method": "PUT",
//! "headers": {"Content-Type": ...}, "key", "expires_at"}`; bad input → `400 {"error",
//! "message"}`. The key always lands under the configured prefix; content types come from an
//! allow-list; the expiry is fixed by configuration. Credentials and signed URLs are never logged.

pub mod config;
pub mod handler;
pub mod multipart;
pub mod s3;
pub mod sign;
pub mod upload;
pub mod validate;
pub mod xml;

pub use config::Config;
pub use sign::{Credentials, Presigner};

/// The Lambda environment's credentials (the role's temporary ones, with the session token).
pub fn credentials_from_env(var: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
    Some(Credentials {
        access_key_id: var("AWS_ACCESS_KEY_ID")?,
        secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
        session_token: var("AWS_SESSION_TOKEN").filter(|t| !t.is_empty()),
    })
}
