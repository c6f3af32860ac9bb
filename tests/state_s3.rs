//! State on S3 (issue #9), against the emulator: `state bootstrap`, two racing deploys, a state
//! write after the lock was stolen, a holder killed with SIGKILL, `state migrate` both ways,
//! and environments with their own state objects. The runs are the real binary, as users and CI
//! jobs run it.

mod support;

use std::process::{Child, Output};
use std::time::Duration;

use presign_stack::state::State;
use support::{s3, TestStack};

/// A stack whose state lives in the bucket `<name>-state`, with a lock lease of `lease` seconds.
fn s3_stack(label: &str, lease: u64) -> TestStack {
    let stack = TestStack::new(label, "");
    write_state_spec(&stack, "s3", &format!("  lock_lease_seconds: {lease}\n"));
    stack
}

/// Writes the spec with `state:` on `backend` in the stack's state bucket; `more` follows
/// (further `state:` fields indented by two, then other sections).
fn write_state_spec(stack: &TestStack, backend: &str, more: &str) {
    stack.write_spec(&format!(
        "state:\n  backend: {backend}\n  bucket: {}\n{more}",
        state_bucket(stack)
    ));
}

fn state_bucket(stack: &TestStack) -> String {
    format!("{}-state", stack.name)
}

fn state_key(stack: &TestStack) -> String {
    format!("presign-stack/{}.json", stack.name)
}

fn run(stack: &TestStack, args: &[&str]) -> Output {
    stack.bin(args)
}

fn spawn(stack: &TestStack, args: &[&str], hold_until: &std::path::Path) -> Child {
    support::command(args)
        .arg("-f")
        .arg(stack.spec())
        .current_dir(stack.dir.path())
        .env("PRESIGN_STACK_TEST_HOLD_LOCK_UNTIL", hold_until)
        .spawn()
        .expect("start presign-stack")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn expect_ok(stack: &TestStack, args: &[&str]) -> Output {
    let out = run(stack, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
    out
}

fn bootstrap(stack: &TestStack) {
    expect_ok(stack, &["state", "bootstrap"]);
}

fn lock_key(stack: &TestStack) -> String {
    format!("{}.lock", state_key(stack))
}

/// The lock object's bytes; `None` when unlocked.
async fn lock_object(stack: &TestStack) -> Option<Vec<u8>> {
    object(&state_bucket(stack), &lock_key(stack)).await
}

/// Writes an object out of band, as another run or a person would.
async fn put(bucket: &str, key: &str, bytes: impl Into<Vec<u8>>) {
    s3().await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(bytes.into().into())
        .send()
        .await
        .unwrap();
}

/// A lock as another holder writes it.
fn foreign_lock(user: &str, host: &str, pid: u32, lease_seconds: u64) -> String {
    format!(
        r#"{{"user": "{user}", "host": "{host}", "pid": {pid}, "since": "2026-01-01T00:00:00Z", "command": "deploy", "lease_seconds": {lease_seconds}}}"#
    )
}

async fn object(bucket: &str, key: &str) -> Option<Vec<u8>> {
    match s3().await.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

/// Every stored version of the state object, oldest first, parsed.
async fn state_history(stack: &TestStack) -> Vec<State> {
    let client = s3().await;
    let listed = client
        .list_object_versions()
        .bucket(state_bucket(stack))
        .prefix(state_key(stack))
        .send()
        .await
        .unwrap();
    let mut versions: Vec<_> = listed
        .versions()
        .iter()
        .filter(|v| v.key() == Some(state_key(stack).as_str()))
        .collect();
    // Listed newest first; oldest first is the order they were written in.
    versions.reverse();
    let mut states = Vec::new();
    for v in versions {
        let got = client
            .get_object()
            .bucket(state_bucket(stack))
            .key(state_key(stack))
            .version_id(v.version_id().unwrap())
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        states.push(serde_json::from_slice(&bytes).unwrap());
    }
    states
}

/// One history: one lineage, every write one serial after the one before it.
fn assert_no_lost_update(history: &[State]) {
    assert!(!history.is_empty(), "no state was written");
    for pair in history.windows(2) {
        assert_eq!(pair[0].lineage, pair[1].lineage, "one lineage");
        assert_eq!(
            pair[1].serial,
            pair[0].serial + 1,
            "each write follows the one before it (serials {:?})",
            history.iter().map(|s| s.serial).collect::<Vec<_>>()
        );
    }
}

/// A deploy of `stack` that has taken the lock and read the state, and waits there until the
/// file `go` exists (the test hook), or until it is killed.
fn held_deploy(stack: &TestStack) -> (Child, std::path::PathBuf) {
    let go = stack.dir.path().join("go");
    let child = spawn(stack, &["deploy", "--yes"], &go);
    wait_for_lock(stack);
    (child, go)
}

fn wait_for_lock(stack: &TestStack) {
    let (bucket, key) = (state_bucket(stack), lock_key(stack));
    let rt = tokio::runtime::Handle::current();
    support::wait_until(Duration::from_secs(60), "the run to take the lock", || {
        tokio::task::block_in_place(|| rt.block_on(object(&bucket, &key))).is_some()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_makes_a_versioned_encrypted_private_bucket_and_can_run_again() {
    let stack = s3_stack("s-boot", 60);
    bootstrap(&stack);
    let again = expect_ok(&stack, &["state", "bootstrap"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("is ready"),
        "{}",
        text(&again)
    );
    let client = s3().await;
    let bucket = state_bucket(&stack);
    let versioning = client
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    let block = client
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let c = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let encryption = client
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );
    let ownership = client
        .get_bucket_ownership_controls()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );

    // The state bucket is not the stack's: a deploy and destroy leave it (and its history).
    expect_ok(&stack, &["deploy", "--yes"]);
    expect_ok(&stack, &["destroy", "--yes"]);
    client.head_bucket().bucket(&bucket).send().await.unwrap();
    let history = state_history(&stack).await;
    assert_no_lost_update(&history);
    assert!(history.last().unwrap().resources.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_deploys_racing_on_s3_one_takes_the_lock_and_the_other_fails_fast_naming_it() {
    let stack = s3_stack("s-race", 60);
    bootstrap(&stack);
    let (first, go) = held_deploy(&stack);

    let second = run(&stack, &["deploy", "--yes"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(stderr.contains("is locked by"), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.id())),
        "names the holder: {stderr}"
    );
    assert!(stderr.contains("running `deploy`"), "{stderr}");
    assert!(stderr.contains("lease runs until"), "{stderr}");

    std::fs::write(&go, "").unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(
        lock_object(&stack).await,
        None,
        "the winner released the lock"
    );
    // Every state write is in the bucket's history, one after the other.
    let history = state_history(&stack).await;
    assert_no_lost_update(&history);
    assert_eq!(history.first().unwrap().serial, 1, "{history:?}");
    assert!(!history.last().unwrap().resources.is_empty());

    // Both runs racing again on a deployed stack: one applies nothing, the other is refused or
    // waits; either way the history stays one line.
    let go2 = stack.dir.path().join("go2");
    let again = spawn(&stack, &["deploy", "--yes"], &go2);
    wait_for_lock(&stack);
    let waiting = support::command(&["deploy", "--yes", "--lock-timeout", "60"])
        .arg("-f")
        .arg(stack.spec())
        .current_dir(stack.dir.path())
        .spawn()
        .unwrap();
    std::fs::write(&go2, "").unwrap();
    let (again, waiting) = (
        again.wait_with_output().unwrap(),
        waiting.wait_with_output().unwrap(),
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(waiting.status.code(), Some(0), "{}", text(&waiting));
    assert_no_lost_update(&state_history(&stack).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_write_after_the_lock_was_stolen_is_refused_and_nothing_is_lost() {
    let stack = s3_stack("s-stolen", 60);
    bootstrap(&stack);
    expect_ok(&stack, &["deploy", "--yes"]);
    // A change to apply, so the held run has a state write to make.
    write_state_spec(
        &stack,
        "s3",
        "  lock_lease_seconds: 60\nuploads:\n  expires_seconds: 120\n",
    );
    let (held, go) = held_deploy(&stack);

    // Out of band, while the run holds the lock and has read the state: another holder
    // replaces the lock, and writes a newer state.
    let (bucket, key) = (state_bucket(&stack), state_key(&stack));
    let thief = foreign_lock("thief", "elsewhere", 7, 60);
    put(&bucket, &lock_key(&stack), thief.clone()).await;
    let mut newer: State = serde_json::from_slice(&object(&bucket, &key).await.unwrap()).unwrap();
    newer.serial += 1;
    newer
        .outputs
        .insert("written_by".into(), "the other run".into());
    let newer_bytes = serde_json::to_vec_pretty(&newer).unwrap();
    put(&bucket, &key, newer_bytes.clone()).await;

    std::fs::write(&go, "").unwrap();
    let out = held.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("was changed by another run") && stderr.contains("ETag"),
        "the If-Match condition refused the write: {stderr}"
    );
    assert_eq!(
        object(&bucket, &key).await.as_deref(),
        Some(&newer_bytes[..]),
        "the newer state is intact"
    );
    assert_eq!(
        lock_object(&stack).await.as_deref(),
        Some(thief.as_bytes()),
        "the other holder's lock was not released by the refused run"
    );
    // The refused run stopped at its first state write: before any AWS change.
    let function = support::lambda()
        .await
        .get_function_configuration()
        .function_name(format!("{}-signer", stack.name))
        .send()
        .await
        .unwrap();
    let env = function.environment().unwrap().variables().unwrap();
    assert_eq!(
        env.get("PRESIGN_EXPIRES_SECONDS").map(String::as_str),
        Some("300")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_holders_lease_expires_and_the_next_run_takes_over_saying_so() {
    let stack = s3_stack("s-kill", 6);
    bootstrap(&stack);
    let go = stack.dir.path().join("never");
    let mut holder = spawn(&stack, &["deploy", "--yes"], &go);
    let pid = holder.id();
    wait_for_lock(&stack);
    holder.kill().unwrap(); // SIGKILL: no release, no more renewals
    holder.wait().unwrap();

    // The lease (6 s, renewed every 2 s) is still running: a run that will not wait is refused.
    let refused = run(&stack, &["deploy", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("pid {pid}")),
        "{}",
        text(&refused)
    );

    // A run that waits takes the lock over once the lease has run out, and says so.
    let next = expect_ok(&stack, &["deploy", "--yes", "--lock-timeout", "60"]);
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(stderr.contains("Took over a stale lock"), "{stderr}");
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert!(stderr.contains("6 s lease"), "{stderr}");
    assert_eq!(lock_object(&stack).await, None);
    // And the stack is whole: a further deploy has nothing to do.
    let again = expect_ok(&stack, &["deploy", "--yes"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("No changes"),
        "{}",
        text(&again)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unlock_removes_an_expired_lock_and_needs_force_for_a_live_one() {
    let stack = s3_stack("s-unlock", 60);
    bootstrap(&stack);
    let (bucket, key) = (state_bucket(&stack), lock_key(&stack));
    let out = expect_ok(&stack, &["state", "unlock"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("was not locked"));
    let live = foreign_lock("ci", "runner-1", 99, 3600);
    put(&bucket, &key, live).await;
    let refused = run(&stack, &["state", "unlock"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert!(object(&bucket, &key).await.is_some());
    let forced = expect_ok(&stack, &["state", "unlock", "--force"]);
    assert!(
        String::from_utf8_lossy(&forced.stdout).contains("ci on runner-1 (pid 99"),
        "{}",
        text(&forced)
    );
    assert_eq!(object(&bucket, &key).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_local_to_s3_and_back_keeps_the_state_byte_for_byte() {
    let stack = TestStack::new("s-migrate", "");
    let bucket = state_bucket(&stack);
    // The S3 settings are there from the start; the backend is still local.
    let spec = |backend: &str| write_state_spec(&stack, backend, "  lock_lease_seconds: 60\n");
    spec("local");
    expect_ok(&stack, &["deploy", "--yes"]);
    bootstrap(&stack);
    let original = std::fs::read(stack.state_path()).unwrap();
    let before: State = serde_json::from_slice(&original).unwrap();

    // local → s3
    let out = expect_ok(&stack, &["state", "migrate", "--to", "s3"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("backend: s3"),
        "says what to change next: {}",
        text(&out)
    );
    assert_eq!(
        object(&bucket, &state_key(&stack)).await.as_deref(),
        Some(&original[..]),
        "S3 holds the same bytes"
    );
    // The local file now points to S3: a run still on the local backend stops.
    let stale = run(&stack, &["deploy", "--yes"]);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale));
    assert!(
        String::from_utf8_lossy(&stale.stderr).contains("moved to s3://"),
        "{}",
        text(&stale)
    );
    spec("s3");
    expect_ok(&stack, &["diff"]);
    let listed = expect_ok(&stack, &["state", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&format!("s3://{bucket}/")));

    // s3 → local: the same bytes again, lineage and serial preserved.
    expect_ok(&stack, &["state", "migrate", "--to", "local"]);
    let back = std::fs::read(stack.state_path()).unwrap();
    assert_eq!(back, original, "round trip is byte-for-byte");
    let after: State = serde_json::from_slice(&back).unwrap();
    assert_eq!(
        (after.lineage, after.serial),
        (before.lineage.clone(), before.serial)
    );
    let stale = run(&stack, &["diff"]);
    assert_eq!(
        stale.status.code(),
        Some(1),
        "S3 now points back: {}",
        text(&stale)
    );
    spec("local");
    expect_ok(&stack, &["diff"]);

    // A destination with another history is refused, and nothing changes.
    let mut other = State::new(&stack.name, support::REGION);
    other.serial = 1;
    let other_bytes = presign_stack::state::to_bytes(&other);
    put(&bucket, &state_key(&stack), other_bytes.clone()).await;
    let refused = run(&stack, &["state", "migrate", "--to", "s3"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("lineage"),
        "{}",
        text(&refused)
    );
    assert_eq!(std::fs::read(stack.state_path()).unwrap(), original);
    assert_eq!(object(&bucket, &state_key(&stack)).await, Some(other_bytes));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_state_is_not_forked_by_switching_to_s3_without_migrating() {
    let stack = TestStack::new("s-fork", "");
    let bucket = state_bucket(&stack);
    expect_ok(&stack, &["deploy", "--yes"]);
    write_state_spec(&stack, "s3", "");
    bootstrap(&stack);
    let out = run(&stack, &["deploy", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("state migrate --to s3"),
        "{}",
        text(&out)
    );
    assert_eq!(object(&bucket, &state_key(&stack)).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn environments_on_s3_have_their_own_state_objects() {
    let stack = TestStack::new("s-envs", "");
    let bucket = state_bucket(&stack);
    write_state_spec(&stack, "s3", "environments:\n  dev: {}\n  prod: {}\n");
    bootstrap(&stack);
    expect_ok(&stack, &["deploy", "--yes", "--env", "dev"]);
    expect_ok(&stack, &["deploy", "--yes", "--env", "prod"]);
    let read = |env: &'static str| {
        let bucket = bucket.clone();
        let key = format!("presign-stack/{}-{env}.json", stack.name);
        async move {
            serde_json::from_slice::<State>(&object(&bucket, &key).await.expect("state object"))
                .unwrap()
        }
    };
    let (dev, prod) = (read("dev").await, read("prod").await);
    assert_ne!(dev.lineage, prod.lineage);
    assert_eq!(dev.stack, format!("{}-dev", stack.name));
    expect_ok(&stack, &["destroy", "--yes", "--env", "dev"]);
    let out = run(&stack, &["diff", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(read("prod").await.resources.len() > 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_holder_renews_its_lease_so_it_outlives_it() {
    let stack = s3_stack("s-renew", 3);
    bootstrap(&stack);
    let (holder, go) = held_deploy(&stack);
    // Wait until the lock has been renewed past its first lease (every 1 s for a 3 s lease).
    let (bucket, key) = (state_bucket(&stack), lock_key(&stack));
    let rt = tokio::runtime::Handle::current();
    let lock_age = || -> u64 {
        let bytes = tokio::task::block_in_place(|| rt.block_on(object(&bucket, &key)));
        let held: presign_stack::state::lock::Holder =
            serde_json::from_slice(&bytes.expect("the lock is held")).unwrap();
        let at = |t: Option<&str>| t.and_then(presign_stack::clock::parse_rfc3339).unwrap();
        at(held.renewed.as_deref()) - at(Some(&held.since))
    };
    support::wait_until(
        Duration::from_secs(30),
        "the holder to renew its lock beyond one lease",
        || lock_age() > 4,
    );
    let refused = run(&stack, &["deploy", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("pid {}", holder.id())),
        "a renewed lock is not stale: {}",
        text(&refused)
    );
    std::fs::write(&go, "").unwrap();
    let out = holder.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_killed_mid_way_on_s3_is_completed_by_the_next_run() {
    let stack = s3_stack("s-crash", 3);
    bootstrap(&stack);
    // Abort (as kill -9 would) right after the 5th AWS change: no release, no record of it.
    let crashed = support::command(&["deploy", "--yes"])
        .arg("-f")
        .arg(stack.spec())
        .current_dir(stack.dir.path())
        .env("PRESIGN_STACK_FAILPOINT_AFTER_MUTATIONS", "5")
        .output()
        .unwrap();
    assert_ne!(crashed.status.code(), Some(0), "{}", text(&crashed));
    let journal: State = serde_json::from_slice(
        &object(&state_bucket(&stack), &state_key(&stack))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        !journal.pending.is_empty(),
        "the journal names what was under way"
    );

    let next = expect_ok(&stack, &["deploy", "--yes", "--lock-timeout", "30"]);
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(stderr.contains("Took over a stale lock"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let again = expect_ok(&stack, &["deploy", "--yes"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("No changes"),
        "{}",
        text(&again)
    );
    assert_no_lost_update(&state_history(&stack).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kms_key_encrypts_the_state_and_is_the_buckets_default() {
    let stack = TestStack::new("s-kms", "");
    let bucket = state_bucket(&stack);
    write_state_spec(&stack, "s3", "  kms_key_id: alias/team-state\n");
    bootstrap(&stack);
    expect_ok(&stack, &["deploy", "--yes"]);
    let client = s3().await;
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(state_key(&stack))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(head.ssekms_key_id(), Some("alias/team-state"));
    let encryption = client
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let default = encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .clone();
    assert_eq!(default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(default.kms_master_key_id(), Some("alias/team-state"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_holder_that_loses_its_lock_stops_before_its_next_state_write() {
    let stack = s3_stack("s-lost", 3);
    bootstrap(&stack);
    expect_ok(&stack, &["deploy", "--yes"]);
    let versions_before = state_history(&stack).await.len();
    write_state_spec(
        &stack,
        "s3",
        "  lock_lease_seconds: 3\nuploads:\n  expires_seconds: 120\n",
    );
    let (mut held, go) = held_deploy(&stack);
    let stderr = support::StderrLog::of(&mut held);
    let (bucket, key) = (state_bucket(&stack), lock_key(&stack));
    let thief = foreign_lock("thief", "elsewhere", 7, 3600);
    put(&bucket, &key, thief.clone()).await;
    support::wait_until(
        Duration::from_secs(30),
        "the holder's heartbeat to notice",
        || stderr.contains("Lost the lock"),
    );
    std::fs::write(&go, "").unwrap();
    let status = held.wait().unwrap();
    let stderr = stderr.all();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lost its lock"), "{stderr}");
    assert_eq!(
        state_history(&stack).await.len(),
        versions_before,
        "no state written after the lock was lost"
    );
    assert_eq!(
        object(&bucket, &key).await.as_deref(),
        Some(thief.as_bytes())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_releases_its_lock_and_exits_130() {
    let stack = s3_stack("s-int", 60);
    bootstrap(&stack);
    let (held, _never_released) = held_deploy(&stack);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &held.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = held.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing was changed"),
        "{}",
        text(&out)
    );
    assert_eq!(
        lock_object(&stack).await,
        None,
        "the lock was released: the team is not locked out for a lease"
    );
    expect_ok(&stack, &["deploy", "--yes"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_are_judged_on_s3s_clock_not_this_machines() {
    let stack = s3_stack("s-clock", 60);
    bootstrap(&stack);
    let (bucket, key) = (state_bucket(&stack), lock_key(&stack));
    let put_lock = |lease: u64| {
        let (bucket, key) = (bucket.clone(), key.clone());
        async move {
            put(&bucket, &key, foreign_lock("ci", "runner-9", 4242, lease)).await;
        }
    };
    let skewed = |skew: &str, args: &[&str]| {
        support::command(args)
            .arg("-f")
            .arg(stack.spec())
            .current_dir(stack.dir.path())
            .env("PRESIGN_STACK_TEST_CLOCK_SKEW_SECONDS", skew)
            .output()
            .unwrap()
    };

    // A live lock (an hour's lease, just written) stays live for a machine two hours ahead.
    put_lock(3600).await;
    let ahead = skewed("7200", &["deploy", "--yes"]);
    assert_eq!(ahead.status.code(), Some(1), "{}", text(&ahead));
    assert!(
        String::from_utf8_lossy(&ahead.stderr).contains("pid 4242"),
        "{}",
        text(&ahead)
    );
    assert!(object(&bucket, &key).await.is_some(), "not taken over");

    // A lock whose 3 s lease ran out is taken over by a machine two hours behind.
    put_lock(3).await;
    let behind = skewed("-7200", &["deploy", "--yes", "--lock-timeout", "60"]);
    assert_eq!(behind.status.code(), Some(0), "{}", text(&behind));
    assert!(
        String::from_utf8_lossy(&behind.stderr).contains("Took over a stale lock"),
        "{}",
        text(&behind)
    );
}
