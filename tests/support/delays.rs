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
        Delays::with_latency(0.0, propagation, pending)
    }

    /// The same, adding `latency_ms` to every call, as a region's round trip does.
    pub fn with_latency(latency_ms: f64, propagation: f64, pending: f64) -> Delays {
        let upstream = endpoint().rsplit(':').next().unwrap().to_string();
        let port = server::free_port();
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("scripts/aws_delays.py"))
            .args(["--upstream", &upstream, "--port", &port.to_string()])
            .args(["--latency-ms", &latency_ms.to_string()])
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
        self.get("/__delays")
    }

    fn get(&self, path: &str) -> Option<serde_json::Value> {
        let (status, _, body) =
            server::http_exchange(&format!("127.0.0.1:{}", self.port), "GET", path, &[], b"")?;
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

/// One call through the proxy: its operation, when the proxy got it and when it answered.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Call(pub String, pub f64, pub f64);

impl Delays {
    /// The calls since the last `trace` (or the start).
    pub fn trace(&self) -> Vec<Call> {
        serde_json::from_value(self.get("/__trace").expect("the delay proxy answers"))
            .expect("a trace of calls")
    }
}

/// The longest sequence of calls each starting after the previous one ended: how many calls
/// the run made one after another.
pub fn longest_chain(calls: &[Call]) -> usize {
    let mut calls = calls.to_vec();
    calls.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut best: Vec<usize> = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let prior = (0..i)
            .filter(|&j| calls[j].2 <= c.1)
            .map(|j| best[j])
            .max()
            .unwrap_or(0);
        best.push(prior + 1);
    }
    best.into_iter().max().unwrap_or(0)
}
