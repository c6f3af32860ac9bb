//! Every validation rule, with hostile input.

use presign_signer::validate;
use presign_signer::Config;

fn cfg() -> Config {
    Config {
        bucket: "b".into(),
        prefix: "uploads/".into(),
        allowed_content_types: vec!["image/png".into(), "image/jpeg".into(), "video/*".into()],
        expires_seconds: 300,
        max_size_bytes: Some(1000),
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        allow_downloads: false,
        checksum: None,
        uppy_put: false,
        region: "us-east-1".into(),
        endpoint: None,
    }
}

#[test]
fn keys_land_under_the_prefix() {
    assert_eq!(validate::key(&cfg(), "cat.jpg").unwrap(), "uploads/cat.jpg");
    assert_eq!(
        validate::key(&cfg(), "a/b c/ünï.png").unwrap(),
        "uploads/a/b c/ünï.png"
    );
    // The caller's own "uploads/" is not trusted as the prefix: it nests.
    assert_eq!(
        validate::key(&cfg(), "uploads/x").unwrap(),
        "uploads/uploads/x"
    );
}

#[test]
fn hostile_keys_are_refused() {
    let long = "a".repeat(2048);
    for key in [
        "",
        "../etc/passwd",
        "a/../../b",
        "..",
        "./a",
        "a/./b",
        "/abs",
        "a\0b",
        "a\nb",
        "a\u{7f}b",
        "%2e%2e/x",
        "%2E%2E%2Fx",
        "a%2fb",
        "a\\..\\b",
        "a%00",
        "\u{FF0E}\u{FF0E}/x",   // fullwidth dots normalise to ".."
        "a\u{FF0F}..\u{FF0F}b", // fullwidth slashes normalise to "/"
        "\u{2024}\u{2024}/x",   // one-dot leaders normalise to "."
        long.as_str(),
    ] {
        let r = validate::key(&cfg(), key);
        assert!(r.is_err(), "{key:?} should be refused, got {r:?}");
        let r = r.unwrap_err();
        assert!(r.code.ends_with("filekey"), "{key:?}: {r:?}");
        assert!(!r.message.is_empty());
    }
}

#[test]
fn the_key_length_limit_counts_the_prefix_in_bytes() {
    let fits = "é".repeat((1024 - "uploads/".len()) / 2);
    assert!(validate::key(&cfg(), &fits).is_ok());
    let over = format!("{fits}xx");
    assert!(validate::key(&cfg(), &over).is_err());
}

#[test]
fn content_types_come_from_the_allow_list() {
    assert_eq!(
        validate::content_type(&cfg(), "image/png").unwrap(),
        "image/png"
    );
    assert_eq!(
        validate::content_type(&cfg(), "IMAGE/PNG").unwrap(),
        "image/png"
    );
    assert_eq!(
        validate::content_type(&cfg(), " image/jpeg ").unwrap(),
        "image/jpeg"
    );
    assert_eq!(
        validate::content_type(&cfg(), "video/mp4").unwrap(),
        "video/mp4"
    );
    for (raw, code) in [
        ("", "missing_content_type"),
        ("image/png; charset=utf-8", "invalid_content_type"),
        ("image", "invalid_content_type"),
        ("image/", "invalid_content_type"),
        ("image/png/x", "invalid_content_type"),
        ("image/p ng", "invalid_content_type"),
        ("image/gif", "content_type_not_allowed"),
        ("text/html", "content_type_not_allowed"),
        ("video", "invalid_content_type"),
        ("*/*", "invalid_content_type"),
    ] {
        let r = validate::content_type(&cfg(), raw).unwrap_err();
        assert_eq!(r.code, code, "{raw:?}: {r:?}");
    }
}

#[test]
fn sizes_are_numbers_within_the_limit() {
    // With a limit the size is required: it is what gets signed as Content-Length.
    assert_eq!(
        validate::size(&cfg(), None).unwrap_err().code,
        "missing_size"
    );
    let unlimited = Config {
        max_size_bytes: None,
        min_size_bytes: None,
        uppy: false,
        multipart: false,
        ..cfg()
    };
    assert_eq!(validate::size(&unlimited, None).unwrap(), None);
    assert_eq!(validate::size(&cfg(), Some("1000")).unwrap(), Some(1000));
    assert_eq!(
        validate::size(&cfg(), Some("1001")).unwrap_err().code,
        "too_large"
    );
    for raw in ["-1", "1e3", "ten"] {
        assert_eq!(
            validate::size(&cfg(), Some(raw)).unwrap_err().code,
            "invalid_size",
            "{raw}"
        );
    }
}

#[test]
fn configuration_is_checked_when_the_function_starts() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let ok = Config::from_env(env(&[
        ("PRESIGN_BUCKET", "b"),
        ("PRESIGN_PREFIX", "in/"),
        ("PRESIGN_ALLOWED_CONTENT_TYPES", "image/png, IMAGE/*"),
        ("AWS_REGION", "eu-west-1"),
    ]))
    .unwrap();
    assert_eq!(ok.expires_seconds, 300, "bounded default");
    assert_eq!(ok.allowed_content_types, ["image/png", "image/*"]);
    for bad in [
        &[
            ("PRESIGN_ALLOWED_CONTENT_TYPES", "image/png"),
            ("AWS_REGION", "r"),
        ][..],
        &[("PRESIGN_BUCKET", "b"), ("AWS_REGION", "r")],
        &[
            ("PRESIGN_BUCKET", "b"),
            ("PRESIGN_ALLOWED_CONTENT_TYPES", "a/b"),
            ("AWS_REGION", "r"),
            ("PRESIGN_EXPIRES_SECONDS", "604801"),
        ],
        &[
            ("PRESIGN_BUCKET", "b"),
            ("PRESIGN_ALLOWED_CONTENT_TYPES", "a/b"),
            ("AWS_REGION", "r"),
            ("PRESIGN_PREFIX", "../x/"),
        ],
    ] {
        let pairs: &'static [(&'static str, &'static str)] =
            Box::leak(bad.to_vec().into_boxed_slice());
        assert!(Config::from_env(env(pairs)).is_err(), "{bad:?}");
    }
}

/// Regression (issue 14, finding 9): bidi and zero-width characters, slash look-alikes that NFKC
/// does not fold, and bytes that were not UTF-8 (decoded as U+FFFD) were signed into keys.
#[test]
fn regression_invisible_and_look_alike_characters_are_refused_in_keys() {
    for key in [
        "invoice\u{202E}gpj.exe", // RIGHT-TO-LEFT OVERRIDE: shows as invoiceexe.jpg
        "cat\u{200B}.jpg",        // ZERO WIDTH SPACE
        "a\u{2066}b",             // LEFT-TO-RIGHT ISOLATE
        "\u{FEFF}cat.jpg",        // BYTE ORDER MARK
        "a\u{E0041}b",            // TAG LATIN CAPITAL LETTER A
        "a\u{2215}..\u{2215}b",   // DIVISION SLASH
        "a\u{2044}b",             // FRACTION SLASH
        "a\u{29F8}b",             // BIG SOLIDUS
        "a\u{FF3C}b",             // FULLWIDTH REVERSE SOLIDUS
        "bad\u{FFFD}bytes.jpg",   // what a lossy decoder makes of invalid UTF-8
    ] {
        let r = validate::key(&cfg(), key).unwrap_err();
        assert_eq!(r.code, "invalid_filekey", "{key:?}");
        assert!(r.message.contains("U+"), "{key:?}: {}", r.message);
    }
    // Letters of any script stay welcome.
    for key in ["猫.png", "ünïcødé/ß.jpg", "файл.png", "صورة.jpg"] {
        assert!(validate::key(&cfg(), key).is_ok(), "{key:?}");
    }
}

/// Regression (issue 14, finding 8): `image/*` admitted `image/svg+xml`, which a browser runs as
/// a document with script. Such types pass only when listed by name.
#[test]
fn regression_a_family_never_admits_types_that_carry_script() {
    let families = Config {
        allowed_content_types: vec!["image/*".into(), "text/*".into(), "application/*".into()],
        ..cfg()
    };
    for t in validate::ACTIVE_CONTENT_TYPES {
        let r = validate::content_type(&families, t).unwrap_err();
        assert_eq!(r.code, "content_type_not_allowed", "{t}");
    }
    assert!(validate::content_type(&families, "image/png").is_ok());
    assert!(validate::content_type(&families, "text/plain").is_ok());
    let by_name = Config {
        allowed_content_types: vec!["image/svg+xml".into()],
        ..cfg()
    };
    assert_eq!(
        validate::content_type(&by_name, "image/svg+xml").unwrap(),
        "image/svg+xml"
    );
}
