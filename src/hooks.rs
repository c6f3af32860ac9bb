//! Test hooks: failure points, a skewed clock and a pause inside the lock, for the crash,
//! lease and locking tests. They exist only with the cargo feature `test-hooks`, which the
//! test build turns on (the crate's dev-dependency on itself) and a release build does not:
//! without it every hook is inert and the names below are not in the binary (scripts/test
//! checks the release binary for them).

#[cfg(feature = "test-hooks")]
mod enabled {
    use std::time::Duration;

    fn var(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    /// `PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS=N`: abort right after the Nth mutating call.
    pub fn abort_after_mutations() -> Option<u64> {
        var("PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS").and_then(|v| v.parse().ok())
    }

    /// `PRESIGN_STACK_FAILPOINT_FAIL_OPERATION=Op`: every call of `Op` fails without being sent.
    pub fn fail_operation() -> Option<String> {
        var("PRESIGN_STACK_FAILPOINT_FAIL_OPERATION")
    }

    /// `PRESIGN_STACK_TEST_CLOCK_SKEW_SECONDS=N`: this machine's clock as the S3 lock sees it.
    pub fn clock_skew_seconds() -> i64 {
        var("PRESIGN_STACK_TEST_CLOCK_SKEW_SECONDS")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// `PRESIGN_STACK_TEST_HOLD_LOCK_UNTIL=FILE`: a run holding the lock, having read the state,
    /// waits here until FILE exists (at most a minute), so a test can act inside its lock.
    pub async fn hold_point() {
        if let Some(go) = var("PRESIGN_STACK_TEST_HOLD_LOCK_UNTIL") {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !std::path::Path::new(&go).exists() && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[cfg(not(feature = "test-hooks"))]
mod enabled {
    pub fn abort_after_mutations() -> Option<u64> {
        None
    }

    pub fn fail_operation() -> Option<String> {
        None
    }

    pub fn clock_skew_seconds() -> i64 {
        0
    }

    pub async fn hold_point() {}
}

pub use enabled::*;
