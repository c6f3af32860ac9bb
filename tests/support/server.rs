//! Local servers for tests: a child process tied to the test process (it gets SIGTERM when the
//! tests end, however they end), and polling with a deadline until it answers.
//! Shared by the root crate's tests and the signer's (`#[path]`-included there).

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Starts `cmd` as a child of a thread that lives as long as the test process, with
/// PR_SET_PDEATHSIG, so the server stops when the tests end.
pub fn spawn_tied_to_tests(mut cmd: Command) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
    });
    rx.recv()
        .expect("the spawning thread answers")
        .expect("start the server");
}

/// Polls `condition` until it holds; fails the test after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20)); // poll interval, bounded by the deadline
    }
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, limit: Duration) {
    wait_until(limit, &format!("a server on port {port}"), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// An HTTP answer: status, lower-case headers, body.
pub type HttpAnswer = (u16, Vec<(String, String)>, String);

/// One HTTP/1.1 request (`Connection: close`, `Content-Length` of `body`) to `authority`
/// (`host:port`): status, lower-case headers and body, or `None` when nothing answers.
pub fn http_exchange(
    authority: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<HttpAnswer> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(authority).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, body.to_string()))
}

/// A project script (`scripts/<name>`), found from whichever crate of the workspace runs.
pub fn script(name: &str) -> std::path::PathBuf {
    let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("scripts").join(name);
        if candidate.exists() {
            return candidate;
        }
        assert!(dir.pop(), "scripts/{name} not found above the crate");
    }
}

/// Runs `scripts/<name> <args>` and returns its standard output, trimmed; fails the test with
/// the script's standard error when it fails.
pub fn run_script(name: &str, args: &[&str]) -> String {
    let out = Command::new(script(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{name}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{name} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running s3s-fs (a signature-checking S3 server, installed by scripts/s3s-fs) with the
/// given buckets, for this test binary: its port and data folder. Stops with the tests.
pub fn start_s3s_fs(
    access_key: &str,
    secret_key: &str,
    buckets: &[&str],
) -> (u16, std::path::PathBuf) {
    let bin = run_script("s3s-fs", &["path"]);
    let root = tempfile::tempdir().unwrap().keep();
    for b in buckets {
        std::fs::create_dir_all(root.join(b)).unwrap();
    }
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", access_key, "--secret-key", secret_key])
        .arg(&root);
    spawn_tied_to_tests(cmd);
    wait_for_port(port, Duration::from_secs(30));
    (port, root)
}
