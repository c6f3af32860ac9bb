//! A new user's first hour (issue 15): exit codes scripts can trust and shell completions that
//! work below the top level.

mod support;

use std::process::Command;

fn bin(args: &[&str]) -> std::process::Output {
    support::command(args).output().expect("run presign-stack")
}

/// Regression (issue 15, point 4): usage errors exited 2, the code that means "differences
/// found", so a CI drift job read a mistyped flag as drift.
#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    for args in [
        &["diff", "--bogus"][..],
        &["deploy", "--yes", "extra"],
        &["no-such-command"],
        &["url", "explain"],
        &["--parallelism", "many", "diff"],
    ] {
        let out = bin(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    for args in [
        &["--help"][..],
        &["diff", "--help"],
        &["--version"],
        &["help", "deploy"],
    ] {
        let out = bin(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

/// What bash offers for the words `line` (the last one is being completed), through the
/// completion function the generated script registers.
fn bash_completes(script: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let cword = line.len() - 1;
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\nfn=$(complete -p presign-stack | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\"$fn\" presign-stack '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" "),
        line.join(" "),
        line[cword],
        line[cword.saturating_sub(1)],
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Regression (issue 15, point 5): `presign-stack deploy --y<TAB>` completed nothing: for a
/// hyphenated binary name, clap_complete labels the subcommands' cases differently from the
/// state its word loop computes (clap-rs/clap#6421).
#[test]
fn bash_completion_completes_subcommands_and_their_flags() {
    let out = bin(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("presign-stack.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    assert!(bash_completes(&script, &["presign-stack", "dep"]).contains(&"deploy".to_string()));
    assert_eq!(
        bash_completes(&script, &["presign-stack", "deploy", "--y"]),
        ["--yes"]
    );
    assert_eq!(
        bash_completes(&script, &["presign-stack", "destroy", "--force-e"]),
        ["--force-empty"]
    );
    assert_eq!(
        bash_completes(&script, &["presign-stack", "state", "l"]),
        ["list"]
    );
    assert_eq!(
        bash_completes(&script, &["presign-stack", "url", "sign", "--content-t"]),
        ["--content-type"]
    );
    // zsh and fish get scripts too (their shells are not installed here to run them).
    for shell in ["zsh", "fish"] {
        let out = bin(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("force-empty") && text.contains("deploy"),
            "{shell}"
        );
    }
}

/// Point 8: the emulator pin is checked. A server on the port that is not the pinned moto (here,
/// one that answers every request with 200 and no version) is refused by `scripts/emulator
/// start`, with the reason; the harness's own moto passes the same check.
#[test]
fn the_emulator_script_refuses_a_server_that_is_not_the_pinned_moto() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(16) {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            );
        }
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/emulator");
    let out = Command::new(&script)
        .args(["start", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pin = String::from_utf8(Command::new(&script).arg("pin").output().unwrap().stdout).unwrap();
    assert!(
        stderr.contains(&format!("is not moto {}", pin.trim())) && stderr.contains("5.2.x"),
        "{stderr}"
    );

    let moto_port = support::endpoint().rsplit(':').next().unwrap().to_string();
    let out = Command::new(&script)
        .args(["check", &moto_port])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
