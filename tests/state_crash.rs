//! The state file survives a killed process: it is always the previous or the new version,
//! never truncated. A child process (this test binary, running the ignored `writer` test)
//! rewrites a large state in a loop and is killed with SIGKILL mid-flight, many times.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use presign_stack::plan::{Kind, Props};
use presign_stack::state::local::LocalStore;
use presign_stack::state::{RecordedResource, State};

const STACK: &str = "crash";

/// A state of about 1 MiB, so that a write takes long enough to be interrupted.
fn big_state(serial: u64) -> State {
    let mut state = State::new(STACK, "us-east-1");
    state.lineage = "fixed-lineage".into();
    state.serial = serial;
    for i in 0..2000 {
        let tags = (0..8)
            .map(|t| (format!("tag{t}"), format!("{serial:0>400}")))
            .collect();
        state.resources.insert(
            format!("r{i}"),
            RecordedResource {
                kind: Kind::S3Bucket,
                physical_id: format!("b{i}"),
                depends_on: vec![],
                props: Props::S3Bucket(presign_stack::plan::resources::BucketProps {
                    name: format!("b{i}"),
                    region: "us-east-1".into(),
                    tags,
                }),
            },
        );
    }
    state
}

/// Not a test of its own: the child process that writes until it is killed.
#[test]
#[ignore = "run by state_is_never_truncated_by_a_kill as a child process"]
fn writer() {
    let Ok(dir) = std::env::var("CRASH_STATE_DIR") else {
        return;
    };
    let store = LocalStore::new(std::path::Path::new(&dir), STACK);
    let start = serial_on_disk(&store).unwrap_or(0) + 1;
    for serial in start.. {
        store.save(&big_state(serial)).unwrap();
    }
}

fn serial_on_disk(store: &LocalStore) -> Option<u64> {
    let text = std::fs::read_to_string(store.path()).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["serial"].as_u64()
}

#[test]
fn state_is_never_truncated_by_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path(), STACK);
    let me = std::env::current_exe().unwrap();
    for round in 0..12u64 {
        let before = serial_on_disk(&store).unwrap_or(0);
        let mut child = Command::new(&me)
            .args(["writer", "--exact", "--ignored", "--nocapture"])
            .env("CRASH_STATE_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different point each round: after 1 to 3 completed writes of this child,
        // while it is in the middle of the next one.
        let target = before + 1 + round % 3;
        support::wait_until(
            Duration::from_secs(60), // deadline
            "the writer to make progress",
            || serial_on_disk(&store).is_some_and(|s| s >= target),
        );
        child.kill().unwrap();
        child.wait().unwrap();

        let state = store
            .load(STACK)
            .unwrap_or_else(|e| panic!("round {round}: state unreadable after kill: {e}"));
        let state = state.expect("a state exists");
        assert_eq!(
            state,
            big_state(state.serial),
            "round {round}: a whole version"
        );
        assert!(
            state.serial >= target,
            "round {round}: the state never goes back"
        );
        if state.serial > 1 {
            let backup = std::fs::read_to_string(store.backup_path()).unwrap();
            let backup: State = serde_json::from_str(&backup).expect("the backup is whole too");
            assert_eq!(
                backup,
                big_state(backup.serial),
                "round {round}: a whole backup"
            );
            assert!(backup.serial < state.serial);
        }
    }
}
