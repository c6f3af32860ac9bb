//! The integration-test harness: a moto server on 127.0.0.1 (started once per test binary, or
//! the one named by PRESIGN_STACK_TEST_ENDPOINT), stacks in temporary folders, and ways to run
//! commands in-process (with an SDK interceptor counting calls) or as the real binary.

#![allow(dead_code)]

pub mod delays;
pub mod server;
pub mod writeup;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser;
use presign_stack::aws::Clients;
use presign_stack::cli::Cli;
use presign_stack::commands::ExitStatus;
use presign_stack::output::Printer;

pub const REGION: &str = "us-east-1";

/// The emulator's endpoint, e.g. `http://127.0.0.1:40123`.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let endpoint = match std::env::var("PRESIGN_STACK_TEST_ENDPOINT") {
            Ok(e) if !e.is_empty() => e,
            _ => start_moto(),
        };
        check_emulator_version(&endpoint);
        endpoint
    })
}

/// Fails the tests at once when the emulator is not the moto version they know (the pin is in
/// scripts/emulator; 5.2.x breaks every `diff`).
fn check_emulator_version(endpoint: &str) {
    let port = endpoint.rsplit(':').next().unwrap_or_default();
    server::run_script("emulator", &["check", port]);
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts moto (with `scripts/moto_ext.py`) on a free port, tied to the test process.
fn start_moto() -> String {
    let out = Command::new(repo().join("scripts/emulator"))
        .arg("python")
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/emulator python");
    assert!(
        out.status.success(),
        "scripts/emulator could not install moto"
    );
    let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = server::free_port();
    let mut cmd = Command::new(&python);
    cmd.arg(repo().join("scripts/moto_ext.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_DISABLE_GLOBAL_CORS", "true");
    server::spawn_tied_to_tests(cmd);
    wait_until(
        Duration::from_secs(60), // deadline
        &format!("moto to answer on port {port}"),
        || http(port, "GET", "/moto-api/", "").is_some(),
    );
    let status = http(
        port,
        "POST",
        "/moto-api/config",
        r#"{"lambda": {"use_docker": false}}"#,
    );
    assert!(
        status.is_some_and(|s| (200..300).contains(&s)),
        "configuring moto: {status:?}"
    );
    format!("http://127.0.0.1:{port}")
}

pub use server::wait_until;

/// A JSON POST/GET to the emulator's own API; the status code, or `None` when nothing answers.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<u16> {
    try_http(
        &format!("127.0.0.1:{port}"),
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
    .map(|(status, _, _)| status)
}

pub use server::HttpAnswer;

/// One HTTP/1.1 request (`Connection: close`) to `authority`: (status, lower-case headers,
/// body), or `None` when nothing answers.
fn try_http(
    authority: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<HttpAnswer> {
    server::http_exchange(authority, method, path_and_query, headers, body.as_bytes())
}

/// The repository's example stack.yaml, minus its `stack:` and `region:` lines (a
/// [`TestStack`] writes its own).
pub fn example() -> String {
    include_str!("../../stack.yaml")
        .lines()
        .filter(|l| !l.starts_with("stack:") && !l.starts_with("region:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// SDK settings pointing at the emulator with dummy credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// An S3 client for out-of-band changes and for checking what deploy did.
pub async fn s3() -> aws_sdk_s3::Client {
    let config = sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

macro_rules! client_fn {
    ($name:ident, $sdk:ident) => {
        pub async fn $name() -> $sdk::Client {
            $sdk::Client::new(&sdk_config().await)
        }
    };
}
client_fn!(iam, aws_sdk_iam);
client_fn!(lambda, aws_sdk_lambda);
client_fn!(apigw, aws_sdk_apigatewayv2);
client_fn!(logs, aws_sdk_cloudwatchlogs);

/// Removes statement `sid` from the policy of stack `name`'s function, as someone out of band.
pub async fn remove_statement(name: &str, sid: &str) {
    lambda()
        .await
        .remove_permission()
        .function_name(format!("{name}-signer"))
        .statement_id(sid)
        .send()
        .await
        .unwrap();
}

/// Deploys `stack`, lets `change` alter AWS out of band, then checks that `diff` reports drift
/// naming `resource` and `attribute` (exit 2), `deploy` repairs it, and `diff` is clean again.
/// Modelled on the Terraform provider's `_disappears` tests.
pub async fn drift_is_reported_and_repaired<F, Fut>(
    stack: &TestStack,
    resource: &str,
    attribute: &str,
    change: F,
) where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use presign_stack::commands::ExitStatus::{Differences, Success};
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.expect(&["diff"], Success).await;

    change(stack.name.clone()).await;

    let diff = stack.expect(&["diff"], Differences).await;
    let drift_section = diff.stdout.split("Pending changes").next().unwrap();
    assert!(
        drift_section.contains(resource),
        "drift should name {resource}\n{}",
        diff.output()
    );
    assert!(
        drift_section.contains(attribute),
        "drift should name {attribute}\n{}",
        diff.output()
    );
    assert!(
        diff.stdout.contains("Pending changes: none"),
        "{}",
        diff.output()
    );
    assert_eq!(diff.mutations(), Vec::<String>::new(), "diff is read-only");

    let repair = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(!repair.mutations().is_empty(), "{}", repair.output());
    stack.expect(&["diff"], Success).await;
}

/// What one command run produced.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Operation name → count, from an interceptor on the run's S3 client.
    pub calls: std::collections::BTreeMap<String, u64>,
}

impl Run {
    pub fn mutations(&self) -> Vec<String> {
        self.calls
            .keys()
            .filter(|op| !presign_stack::aws::CallCounter::is_read(op))
            .cloned()
            .collect()
    }

    pub fn output(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// A stack in its own temporary folder, with a name no other test uses.
pub struct TestStack {
    pub dir: tempfile::TempDir,
    pub name: String,
}

impl TestStack {
    /// `body` is the spec after the `stack:` and `region:` lines.
    pub fn new(label: &str, body: &str) -> TestStack {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("{label}-{}-{n}", std::process::id() % 100_000);
        let dir = tempfile::tempdir().unwrap();
        let stack = TestStack { dir, name };
        stack.write_spec(body);
        stack
    }

    pub fn write_spec(&self, body: &str) {
        std::fs::write(
            self.spec(),
            format!("stack: {}\nregion: {REGION}\n{body}", self.name),
        )
        .unwrap();
    }

    pub fn spec(&self) -> PathBuf {
        self.dir.path().join("stack.yaml")
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(".presign-stack")
            .join(format!("{}.json", self.name))
    }

    pub fn state(&self) -> Option<presign_stack::state::State> {
        let text = std::fs::read_to_string(self.state_path()).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    pub fn bucket(&self) -> String {
        format!("{}-uploads-{REGION}", self.name)
    }

    /// Runs `presign-stack <args> -f <spec>` in-process, counting AWS calls.
    pub async fn run(&self, args: &[&str]) -> Run {
        let spec = self.spec();
        let mut argv = vec!["presign-stack"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["-f", spec.to_str().unwrap()]);
        let cli = Cli::try_parse_from(argv).unwrap();
        let clients = Clients::new(&sdk_config().await, REGION);
        let (printer, out, err) = Printer::capture();
        let status = presign_stack::run(cli, &printer, Some(clients.clone())).await;
        Run {
            status,
            stdout: out.text(),
            stderr: err.text(),
            calls: clients.calls.snapshot(),
        }
    }

    /// Runs `run` and asserts the exit status.
    pub async fn expect(&self, args: &[&str], status: ExitStatus) -> Run {
        let run = self.run(args).await;
        assert_eq!(
            run.status,
            status,
            "presign-stack {args:?}\n{}",
            run.output()
        );
        run
    }

    /// Runs the real binary, with the emulator's settings and no terminal on stdin.
    pub fn bin(&self, args: &[&str]) -> std::process::Output {
        self.bin_with(&[], args)
    }

    /// [`TestStack::bin`] with extra environment variables.
    pub fn bin_with(
        &self,
        env: &[(&str, &std::ffi::OsStr)],
        args: &[&str],
    ) -> std::process::Output {
        command(args)
            .arg("-f")
            .arg(self.spec())
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .output()
            .expect("run presign-stack")
    }
}

/// The real binary with `args`, the emulator's standard AWS settings, and no terminal.
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    cmd.args(args)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn bin_in(dir: &Path, args: &[&str], spec: &Path) -> std::process::Output {
    command(args)
        .arg("-f")
        .arg(spec)
        .current_dir(dir)
        .output()
        .expect("run presign-stack")
}

/// What a running child writes to stderr, collected as it comes, so a test can wait for a line.
pub struct StderrLog {
    pub text: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl StderrLog {
    /// Takes `child`'s stderr (it must be piped, as [`command`] does).
    pub fn of(child: &mut std::process::Child) -> StderrLog {
        let mut pipe = child.stderr.take().expect("a piped stderr");
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        StderrLog { text, reader }
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.text.lock().is_ok_and(|s| s.contains(needle))
    }

    /// Everything, once the child has closed its stderr (call after it exited).
    pub fn all(self) -> String {
        let _ = self.reader.join();
        self.text.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// `presign-stack dev` running on a free port against the emulator; stopped when dropped.
pub struct DevServer {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// What it printed after the address line, until it was read (for failure messages).
    pub banner: String,
    /// Everything it wrote to stderr so far (logs, warnings).
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl DevServer {
    /// Starts `dev` for `spec` and waits (with a deadline) for its "Listening on" line.
    pub fn start(spec: &Path) -> DevServer {
        DevServer::start_with(spec, &[])
    }

    /// [`DevServer::start`] with extra environment variables.
    pub fn start_with(spec: &Path, env: &[(&str, &str)]) -> DevServer {
        DevServer::start_args(spec, &[], env)
    }

    /// [`DevServer::start_with`] with extra arguments for `dev`.
    pub fn start_args(spec: &Path, args: &[&str], env: &[(&str, &str)]) -> DevServer {
        let mut argv = vec!["dev", "--port", "0", "-f", spec.to_str().unwrap()];
        argv.extend_from_slice(args);
        let mut child = command(&argv)
            .envs(env.iter().copied())
            .spawn()
            .expect("start presign-stack dev");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = StderrLog::of(&mut child).text;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let err = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                    panic!("dev did not say where it listens within 60 s\n{banner}\n{err}");
                }
            };
            banner.push_str(&line);
            banner.push('\n');
            if let Some(rest) = line.strip_prefix("Listening on ") {
                let authority = rest.trim_start_matches("http://");
                let authority = authority.split('/').next().unwrap_or(authority);
                let base = format!("http://{authority}");
                return DevServer {
                    child,
                    base,
                    banner,
                    stderr,
                };
            }
        }
    }
}

impl DevServer {
    /// The local token `dev` printed for `sub` (started with `--token-for <sub>`).
    pub fn token_for(&self, sub: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(&format!("{sub}: Authorization: Bearer "))
            })
            .unwrap_or_else(|| panic!("dev printed no token for {sub}:\n{}", self.banner))
            .to_string()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to a local server (`http://host:port`): (status, lower-case headers,
/// body). Fails the test when nothing answers.
pub fn http_request(
    base: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> HttpAnswer {
    try_http(
        base.trim_start_matches("http://"),
        method,
        path_and_query,
        headers,
        "",
    )
    .unwrap_or_else(|| panic!("no HTTP answer from {base}{path_and_query}"))
}
