//! The signer's deployment artifact, as `scripts/build-signer` makes it: `bootstrap` at the
//! root of the zip, executable, and needing at most glibc 2.34 (Amazon Linux 2023).

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the artifact if it is missing or stale (a no-op when scripts/test already did).
fn built_zip() -> PathBuf {
    let status = Command::new(repo().join("scripts/build-signer"))
        .current_dir(repo())
        .status()
        .expect("run scripts/build-signer");
    assert!(status.success(), "scripts/build-signer failed");
    repo().join("target/lambda/bootstrap/bootstrap.zip")
}

/// (major, minor) of the highest `GLIBC_x.y` symbol version the binary needs.
fn highest_glibc(binary: &std::path::Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .expect("objdump (binutils) is needed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("a dynamically linked binary names glibc versions")
}

#[test]
fn the_zip_holds_an_executable_bootstrap_at_its_root_that_runs_on_al2023() {
    let zip_path = built_zip();
    let bytes = std::fs::read(&zip_path).unwrap();
    assert!(
        bytes.len() <= 3 * 1024 * 1024,
        "zip is {} bytes, over 3 MB",
        bytes.len()
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(zip.len(), 1, "only bootstrap in the zip");
    let mut entry = zip
        .by_name("bootstrap")
        .expect("bootstrap at the root of the zip");
    assert_eq!(
        entry.unix_mode().unwrap() & 0o111,
        0o111,
        "bootstrap is executable"
    );
    let mut binary = Vec::new();
    entry.read_to_end(&mut binary).unwrap();
    assert_eq!(&binary[..4], b"\x7fELF");
    assert_eq!(binary[4], 2, "64-bit");
    assert_eq!(u16::from_le_bytes([binary[18], binary[19]]), 62, "x86_64");

    let dir = tempfile::tempdir().unwrap();
    let extracted = dir.path().join("bootstrap");
    std::fs::write(&extracted, &binary).unwrap();
    let (major, minor) = highest_glibc(&extracted);
    assert!(
        (major, minor) <= (2, 34),
        "needs GLIBC_{major}.{minor}; Amazon Linux 2023 has 2.34"
    );
}
