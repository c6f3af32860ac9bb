//! Reliability: concurrent runs, a corrupt state, a flaky network.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use presign_stack::commands::ExitStatus::{Failure, Success};
use presign_stack::plan::Props;
use support::TestStack;

/// The binary on `stack`, sending its AWS calls to `endpoint`.
fn binary(stack: &TestStack, args: &[&str], endpoint: &str) -> Command {
    let mut cmd = support::command(args);
    cmd.arg("-f")
        .arg(stack.spec())
        .env("AWS_ENDPOINT_URL", endpoint);
    cmd
}

#[tokio::test]
async fn of_two_deploys_started_together_exactly_one_applies() {
    let stack = TestStack::new("r-race", "");
    let go = stack.dir.path().join("go");
    let first = binary(&stack, &["deploy", "--yes"], support::endpoint())
        .env("PRESIGN_STACK_TEST_HOLD_LOCK_UNTIL", &go)
        .spawn()
        .unwrap();
    let lock = stack
        .dir
        .path()
        .join(".presign-stack")
        .join(format!("{}.lock", stack.name));
    support::wait_until(
        Duration::from_secs(30), // deadline
        "the first deploy to take the lock",
        || lock.exists(),
    );

    let second = binary(&stack, &["deploy", "--yes"], support::endpoint())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is locked by"), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.id())),
        "names the holder: {stderr}"
    );
    assert!(stack.state().is_none(), "the loser wrote no state");

    std::fs::write(&go, "").unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(again.mutations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_corrupt_state_is_refused_with_exit_1_and_left_byte_identical() {
    let stack = TestStack::new("r-corrupt", "");
    stack.expect(&["deploy", "--yes"], Success).await;
    let good = std::fs::read(stack.state_path()).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let hand_edited = text.replacen("\"kind\": \"s3_bucket\"", "\"kind\": \"s3_buckets\"", 1);
    let newer = text.replacen("\"version\": 1", "\"version\": 2", 1);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("not json", b"\x00\x01garbage".to_vec()),
        ("hand-edited into invalid", hand_edited.into_bytes()),
        ("newer version", newer.into_bytes()),
    ];
    let backup_before = std::fs::read(stack.state_path().with_extension("json.backup")).unwrap();
    for (what, bytes) in cases {
        std::fs::write(stack.state_path(), &bytes).unwrap();
        for args in [
            &["deploy", "--yes"][..],
            &["diff"],
            &["destroy", "--yes"],
            &["state", "list"],
        ] {
            let run = stack.run(args).await;
            assert_eq!(run.status, Failure, "{what} {args:?}\n{}", run.output());
            assert!(run.stderr.contains("state file"), "{what}: {}", run.stderr);
            assert_eq!(
                std::fs::read(stack.state_path()).unwrap(),
                bytes,
                "{what}: the state was changed"
            );
            assert_eq!(
                run.mutations(),
                Vec::<String>::new(),
                "{what}: no change to AWS"
            );
        }
    }
    assert_eq!(
        std::fs::read(stack.state_path().with_extension("json.backup")).unwrap(),
        backup_before
    );
}

/// A proxy in front of the emulator that answers `fail_every`-th request (about 20%) with a
/// throttling error or a 503, and forwards the rest. One request per connection.
fn flaky_proxy(upstream: &str) -> (String, Arc<AtomicU64>) {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let failed = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let failed_out = failed.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (upstream, failed) = (upstream.clone(), failed.clone());
            // Every fifth request fails: 20%, alternating throttling and an unavailable service.
            let fail = (n % 5 == 3).then(|| {
                failed.fetch_add(1, Ordering::SeqCst);
                n % 2 == 0
            });
            std::thread::spawn(move || serve(client, &upstream, fail, Duration::ZERO));
        }
    });
    (format!("http://{addr}"), failed_out)
}

fn read_http_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    s.read_exact(&mut body).ok()?;
    buf.extend_from_slice(&body);
    Some(buf)
}

/// A proxy in front of the emulator that holds every request for `delay` before forwarding it:
/// a deploy through it takes seconds, long enough to interrupt it mid-way.
fn slow_proxy(upstream: &str, delay: Duration) -> String {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let upstream = upstream.clone();
            std::thread::spawn(move || serve(client, &upstream, None, delay));
        }
    });
    format!("http://{addr}")
}

/// Answers one request: with a throttling error (`Some(true)`), an unavailable service
/// (`Some(false)`), or by forwarding it after `delay`.
fn serve(mut client: TcpStream, upstream: &str, fail: Option<bool>, delay: Duration) {
    let Some(request) = read_http_request(&mut client) else {
        return;
    };
    if let Some(throttle) = fail {
        let body = if throttle {
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        } else {
            "<Error><Code>ServiceUnavailable</Code><Message>try again</Message></Error>"
        };
        let status = if throttle {
            "503 Slow Down"
        } else {
            "503 Service Unavailable"
        };
        let _ = write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    // Forward with `Connection: close`, so the upstream answer ends at EOF.
    let header_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(0)
        + 4;
    let text = String::from_utf8_lossy(&request[..header_end]).into_owned();
    let head: Vec<&str> = text
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    std::thread::sleep(delay); // the proxy's latency, not a synchronisation
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = write!(up, "{}\r\nConnection: close\r\n\r\n", head.join("\r\n"));
    let _ = up.write_all(&request[header_end..]);
    let mut response = Vec::new();
    let _ = up.read_to_end(&mut response);
    let _ = client.write_all(&response);
}

#[tokio::test]
async fn a_full_deploy_and_destroy_succeed_through_a_network_that_fails_a_fifth_of_calls() {
    let stack = TestStack::new("r-flaky", "bucket:\n  cors:\n    - allowed_origins: [\"https://a.example\"]\n      allowed_methods: [PUT]\napi:\n  cors_origins: [\"https://a.example\"]\n");
    let (proxy, failed) = flaky_proxy(support::endpoint());
    let deploy = binary(&stack, &["deploy", "--yes", "-v"], &proxy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&deploy.stderr);
    assert_eq!(deploy.status.code(), Some(0), "{stderr}");
    assert!(failed.load(Ordering::SeqCst) > 3, "the proxy failed calls");
    let retries: u64 = stderr
        .split(" retries")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(retries > 0, "-v shows the retries: {stderr}");
    stack.expect(&["diff"], Success).await;

    let destroy = binary(&stack, &["destroy", "--yes", "-v"], &proxy)
        .output()
        .unwrap();
    assert_eq!(
        destroy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&destroy.stderr)
    );
    assert!(stack.state().unwrap().resources.is_empty());
}

#[tokio::test]
async fn a_failed_step_skips_its_dependents_lets_the_rest_finish_and_records_it_all() {
    let stack = TestStack::new("r-partial", "");
    let out = binary(&stack, &["deploy", "--yes"], support::endpoint())
        .env("PRESIGN_STACK_FAILPOINT_FAIL_OPERATION", "CreateRole")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed role ("), "{stderr}");
    assert!(
        stderr.contains("skipped (they depend on what failed): role_policy, function"),
        "{stderr}"
    );
    // The API needs neither to exist: it was made, all but the invoke permission, which waits
    // for the function and its policy (the function is never invocable without its grants).
    assert!(
        stderr.contains("without its invoke permission: function did not finish"),
        "{stderr}"
    );
    let state = stack.state().unwrap();
    for done in ["bucket", "bucket_policy", "log_group", "api"] {
        assert!(
            state.resources.contains_key(done),
            "{done} recorded: {stderr}"
        );
    }
    let Props::HttpApi(api) = &state.resources["api"].props else {
        panic!("the api is an HTTP API")
    };
    assert!(api.invoke_permission.is_none(), "recorded as made: {api:?}");
    for skipped in ["role", "role_policy", "function"] {
        assert!(
            !state.resources.contains_key(skipped),
            "{skipped} not recorded"
        );
    }
    let resumed = stack.expect(&["deploy", "--yes"], Success).await;
    let mut created = resumed.mutations();
    created.sort();
    for made in [
        "CreateRole",
        "PutRolePolicy",
        "CreateFunction",
        "AddPermission",
    ] {
        assert!(created.contains(&made.to_string()), "{made}: {created:?}");
    }
    assert!(
        !created.contains(&"CreateBucket".to_string())
            && !created.contains(&"CreateApi".to_string()),
        "completed work is not redone: {created:?}"
    );
    stack.expect(&["diff"], Success).await;
}

#[tokio::test]
async fn state_list_show_and_unlock() {
    let stack = TestStack::new("r-state", "");
    stack.expect(&["deploy", "--yes"], Success).await;
    let list = stack.expect(&["state", "list"], Success).await;
    assert!(
        list.stdout.contains("bucket") && list.stdout.contains(&stack.bucket()),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("lambda_function"), "{}", list.stdout);
    assert!(list.calls.is_empty(), "state commands make no AWS call");
    let show = stack.expect(&["state", "show", "bucket"], Success).await;
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["physical_id"], stack.bucket());
    let missing = stack.expect(&["state", "show", "nope"], Failure).await;
    assert!(
        missing.stderr.contains("the resources are"),
        "{}",
        missing.stderr
    );

    let dir = stack.dir.path().join(".presign-stack");
    let held = presign_stack::state::lock::LockGuard::acquire(&dir, &stack.name, "deploy").unwrap();
    let refused = stack.expect(&["state", "unlock"], Failure).await;
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    stack.expect(&["state", "unlock", "--force"], Success).await;
    assert!(!dir.join(format!("{}.lock", stack.name)).exists());
    std::mem::forget(held); // its file is gone already
    let free = stack.expect(&["state", "unlock"], Success).await;
    assert!(free.stdout.contains("was not locked"), "{}", free.stdout);
}

#[tokio::test]
async fn an_interrupt_during_changes_finishes_those_under_way_records_them_and_stops() {
    let stack = TestStack::new("r-int", "");
    let proxy = slow_proxy(support::endpoint(), Duration::from_millis(150));
    let mut run = binary(&stack, &["deploy", "--yes"], &proxy)
        .spawn()
        .unwrap();
    let stderr = support::StderrLog::of(&mut run);
    support::wait_until(
        Duration::from_secs(60),
        "the deploy to complete its first change",
        || stderr.contains("created"),
    );
    let sent = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = run.wait().unwrap();
    let stderr = stderr.all();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Interrupted: finishing"), "{stderr}");
    assert!(stderr.contains("deploy interrupted:"), "{stderr}");
    assert!(
        stderr.contains("skipped"),
        "what was not started is listed: {stderr}"
    );
    let state = stack.state().expect("the state records what was done");
    assert!(
        state.pending.is_empty(),
        "every change under way finished and was recorded: {:?}",
        state.pending
    );
    // The role (one call) ends first; the bucket (created, then tagged) is still under way
    // then, so the settings that wait for it never start.
    assert!(
        !state.resources.is_empty() && !state.resources.contains_key("bucket_public_access_block"),
        "stopped part-way: {:?}",
        state.resources.keys().collect::<Vec<_>>()
    );
    // The API, under way from the start, was finished as far as it could go: its invoke
    // permission only if everything it waits for was made.
    if let Some(api) = state.resources.get("api") {
        let Props::HttpApi(api) = &api.props else {
            panic!("the api is an HTTP API")
        };
        let waited_for = ["function", "role_policy", "log_group"]
            .iter()
            .all(|id| state.resources.contains_key(*id));
        assert_eq!(api.invoke_permission.is_some(), waited_for, "{api:?}");
    }
    assert!(
        !stack
            .dir
            .path()
            .join(".presign-stack")
            .join(format!("{}.lock", stack.name))
            .exists(),
        "the lock was released"
    );
    // The next run finishes the rest, and then there is nothing left to do.
    let rest = stack.expect(&["deploy", "--yes"], Success).await;
    assert!(!rest.mutations().is_empty(), "{}", rest.output());
    let again = stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(again.mutations(), Vec::<String>::new());
}

/// The API starts at once and waits inside for the function (its invoke permission): with one
/// change at a time, it must never hold the only slot while the function waits for it. The run
/// ends (within a deadline) with everything made, the permission included.
#[tokio::test]
async fn one_change_at_a_time_still_finishes_every_step() {
    let stack = TestStack::new("r-serial", "");
    let mut run = binary(
        &stack,
        &["deploy", "--yes", "--parallelism", "1"],
        support::endpoint(),
    )
    .spawn()
    .unwrap();
    let mut status = None;
    support::wait_until(Duration::from_secs(120), "the serial deploy to end", || {
        status = run.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let state = stack.state().unwrap();
    let Props::HttpApi(api) = &state.resources["api"].props else {
        panic!("the api is an HTTP API")
    };
    assert!(api.invoke_permission.is_some(), "{api:?}");
    stack.expect(&["diff"], Success).await;
}
