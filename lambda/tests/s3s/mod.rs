//! What the tests against s3s-fs share: one signature-checking server per test binary, a
//! signer with its credentials, and the clock.

#[path = "../../../tests/support/server.rs"]
pub mod server;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use presign_signer::{Config, Credentials, Presigner};

pub const ACCESS_KEY: &str = "AKIAS3SFSTEST";
pub const SECRET_KEY: &str = "s3s-fs-test-secret";

/// The s3s-fs server of this test binary, with `bucket`: its port and data folder.
pub fn s3(bucket: &str) -> &'static (u16, PathBuf) {
    static SERVER: OnceLock<(u16, PathBuf)> = OnceLock::new();
    SERVER.get_or_init(|| server::start_s3s_fs(ACCESS_KEY, SECRET_KEY, &[bucket]))
}

/// A signer for `cfg` with the server's credentials.
pub fn signer(cfg: &Config) -> Presigner {
    let credentials = Credentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        session_token: None,
    };
    Presigner::new(
        credentials,
        &cfg.region,
        &cfg.bucket,
        cfg.endpoint.as_deref(),
    )
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
