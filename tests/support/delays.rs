//! AWS's own delays in front of the tests' moto: scripts/aws_delays.py (IAM propagation, Lambda's
//! Pending and InProgress states, with AWS's errors), started on a free port for the test
//! process, and what it did, read back from it.

use std::process::Command;
use std::time::Duration;

use super::{endpoint, repo, server};

/// The proxy, in front of the tests' emulator.
pub struct Delays {
    pub port: u16,
}

impl Delays {
    /// A proxy that refuses a new role for `propagation` seconds and keeps a created or updated
    /// function Pending / InProgress for `pending` seconds.
    pub fn start(propagation: f64, pending: f64) -> Delays {
        let upstream = endpoint().rsplit(':').next().unwrap().to_string();
        let port = server::free_port();
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("scripts/aws_delays.py"))
            .args(["--upstream", &upstream, "--port", &port.to_string()])
            .args(["--propagation", &propagation.to_string()])
            .args(["--pending", &pending.to_string()]);
        server::spawn_tied_to_tests(cmd);
        let delays = Delays { port };
        server::wait_until(
            Duration::from_secs(30),
            &format!("the delay proxy to answer on port {port}"),
            || delays.try_counts().is_some(),
        );
        delays
    }

    /// `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn try_counts(&self) -> Option<serde_json::Value> {
        let (status, _, body) = server::http_exchange(
            &format!("127.0.0.1:{}", self.port),
            "GET",
            "/__delays",
            &[],
            b"",
        )?;
        (status == 200)
            .then(|| serde_json::from_str(&body).ok())
            .flatten()
    }

    /// What the proxy did so far: `propagation_refusals`, `conflicts`, `pending_reads`,
    /// `in_progress_reads`, `calls`.
    pub fn counts(&self) -> serde_json::Value {
        self.try_counts().expect("the delay proxy answers")
    }
}
