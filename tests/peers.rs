//! `url explain` against clients and a server we did not write. boto3 and the AWS SDK for
//! JavaScript v3 (pinned, installed by scripts/peers) make pre-signed URLs; each is sent to s3s-fs
//! (a signature-checking S3) as the client would send it and with a typical mistake; S3's answer
//! is the truth. Where s3s-fs is more lenient than S3, the answer S3 documents is used instead,
//! with the page that documents it. Then `url explain` is given what a user has (the URL, the
//! request, S3's error body, the bucket's settings) once without and once with the credentials
//! that signed it, and must agree: no problem when S3 accepts, and when S3 refuses, a problem that
//! names the cause. The test prints the whole table.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use presign_stack::presigned::explain::{explain, BucketFacts, Context, Request, Severity};
use presign_stack::presigned::{s3error, PresignedUrl};
use support::server;

const ACCESS_KEY: &str = "AKIAPEERSTEST";
const SECRET_KEY: &str = "peers-test-secret";
const BUCKET: &str = "peers";
const BODY: &str = "hello world";
/// base64(SHA-256(BODY)).
const BODY_SHA256: &str = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";

/// A URL one of the peers made, with the headers its signature covers.
#[derive(serde::Deserialize, Debug)]
struct Made {
    client: String,
    case: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

/// The URLs both peers make for the cases in tests/peers/.
fn made_urls(endpoint: &str) -> Vec<Made> {
    let config = serde_json::json!({
        "endpoint": endpoint, "bucket": BUCKET, "access_key": ACCESS_KEY, "secret": SECRET_KEY,
        "body": BODY, "sha256": BODY_SHA256,
    })
    .to_string();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers");
    let mut boto3 = Command::new(server::run_script("peers", &["python"]));
    boto3.arg(dir.join("boto3_urls.py"));
    let mut jssdk = Command::new("node");
    jssdk
        .arg(dir.join("jssdk_urls.mjs"))
        .env("PEERS_NODE", server::run_script("peers", &["node"]));
    let mut made = Vec::new();
    for mut cmd in [boto3, jssdk] {
        let out = cmd.arg(&config).output().expect("run a URL maker");
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let batch: Vec<Made> = serde_json::from_slice(&out.stdout).expect("the maker's JSON");
        made.extend(batch);
    }
    made
}

/// One request sent with a URL.
struct Send {
    label: &'static str,
    method: String,
    /// The path and query sent (the URL's own, unless the mistake changes it).
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// What `url explain` must name when S3 refuses: one problem with one of these codes, found
    /// without the credentials (`blame`) and with them (`blame_with_key`).
    blame: &'static [&'static str],
    blame_with_key: &'static [&'static str],
}

/// S3's answer where s3s-fs is more lenient: status, error body and the page documenting it.
struct Documented {
    status: u16,
    body: String,
    source: &'static str,
}

/// The codes a refusal for a signature can be explained by without the credentials.
const SIGNATURE: &[&str] = &["signature-does-not-match", "refused-without-reason"];

/// The path and query of the URL as the peer made it.
fn own_target(made: &Made) -> &str {
    let rest = made.url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

fn sends(made: &Made) -> Vec<Send> {
    let target = own_target(made).to_string();
    let body = if made.method == "PUT" {
        BODY.as_bytes().to_vec()
    } else {
        Vec::new()
    };
    let with = |extra: &[(&str, &str)]| {
        let mut h = made.headers.clone();
        for (n, v) in extra {
            h.retain(|(name, _)| !name.eq_ignore_ascii_case(n));
            h.push((n.to_string(), v.to_string()));
        }
        h
    };
    let base = |label| Send {
        label,
        method: made.method.clone(),
        target: target.clone(),
        headers: made.headers.clone(),
        body: body.clone(),
        blame: &[],
        blame_with_key: &[],
    };
    let mut out = vec![Send {
        blame: match made.case.as_str() {
            "put-acl-public" => &["signed-acl"],
            "put-wrong-region" => &["region-mismatch"],
            "put-expired" => &["expired"],
            _ => &[],
        },
        blame_with_key: match made.case.as_str() {
            "put-acl-public" => &["signed-acl"],
            "put-wrong-region" => &["region-mismatch"],
            "put-expired" => &["expired"],
            _ => &[],
        },
        ..base("as the client sends it")
    }];
    match made.case.as_str() {
        "put-type" => {
            out.push(Send {
                headers: with(&[("content-type", "image/jpeg")]),
                blame: SIGNATURE,
                blame_with_key: &["signed-header-value"],
                ..base("another Content-Type")
            });
            out.push(Send {
                method: "GET".into(),
                body: Vec::new(),
                blame: SIGNATURE,
                blame_with_key: &["method-mismatch"],
                ..base("GET on the PUT URL")
            });
            out.push(Send {
                headers: with(&[("x-amz-meta-note", "hi")]),
                blame: &["unsigned-amz-header"],
                blame_with_key: &["unsigned-amz-header"],
                ..base("an unsigned x-amz-meta header")
            });
        }
        "put-charset" => out.push(Send {
            headers: with(&[("content-type", "text/plain;charset=UTF-8")]),
            blame: SIGNATURE,
            blame_with_key: &["signed-header-value"],
            ..base("the browser's spelling of the type")
        }),
        "put-length" => out.push(Send {
            body: format!("{BODY}!").into_bytes(),
            headers: with(&[("content-length", &(BODY.len() + 1).to_string())]),
            blame: SIGNATURE,
            blame_with_key: &["signed-value-differs"],
            ..base("a longer body")
        }),
        "put-checksum-header" => out.push(Send {
            body: BODY.to_ascii_uppercase().into_bytes(),
            blame: &["checksum-mismatch"],
            blame_with_key: &["checksum-mismatch"],
            ..base("another body of the same length")
        }),
        "put-odd-key" => out.push(Send {
            target: target.replace("%20", "+"),
            blame: SIGNATURE,
            blame_with_key: &["signature-mismatch", "key-encoding"],
            ..base("the key re-encoded (+ for space)")
        }),
        "get-plain" => out.push(Send {
            method: "HEAD".into(),
            blame: SIGNATURE,
            blame_with_key: &["method-mismatch"],
            ..base("HEAD on the GET URL")
        }),
        _ => {}
    }
    // Whatever a send sets, the body's length is what goes on the wire.
    for s in &mut out {
        s.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-length"));
    }
    out
}

/// S3's documented answer for the sends s3s-fs (0.14.1) accepts but S3 refuses.
fn documented(made: &Made, send: &Send) -> Option<Documented> {
    let error = |code: &str, message: &str, extra: &str| {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>0</RequestId><HostId>0</HostId></Error>")
    };
    match (made.case.as_str(), send.label) {
        ("put-acl-public", "as the client sends it") => Some(Documented {
            status: 400,
            body: error("AccessControlListNotSupported", "The bucket does not allow ACLs", ""),
            source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html (ACLs disabled, the default for new buckets since April 2023)",
        }),
        ("put-wrong-region", _) => Some(Documented {
            status: 400,
            body: error(
                "AuthorizationQueryParametersError",
                "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
                "<Region>us-east-1</Region>",
            ),
            source: "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList (AuthorizationQueryParametersError)",
        }),
        (_, "an unsigned x-amz-meta header") => Some(Documented {
            status: 403,
            body: error(
                "AccessDenied",
                "There were headers present in the request which were not signed",
                "<HeadersNotSigned>x-amz-meta-note</HeadersNotSigned>",
            ),
            source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html (AccessDenied with HeadersNotSigned)",
        }),
        _ => None,
    }
}

/// What explain found: the problem codes (and every code, for the table).
fn verdict(
    made: &Made,
    send: &Send,
    answer: (u16, &str),
    with_key: bool,
    now: u64,
) -> Vec<(String, Severity)> {
    let sent_url = {
        let (scheme, rest) = made.url.split_once("://").unwrap();
        let host = &rest[..rest.find('/').unwrap()];
        format!("{scheme}://{host}{}", send.target)
    };
    let url = PresignedUrl::parse(&sent_url).expect("a pre-signed URL");
    let (status, body) = answer;
    let s3_error = (!(200..300).contains(&status)).then(|| {
        if body.trim().is_empty() {
            s3error::S3Error::empty()
        } else {
            s3error::parse(body).expect("an S3 error body")
        }
    });
    let ctx = Context {
        now,
        request: Request {
            method: Some(send.method.clone()),
            headers: send
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .chain([("content-length".to_string(), send.body.len().to_string())])
                .filter(|(n, _)| n != "content-length" || send.method == "PUT")
                .collect(),
        },
        credentials: with_key.then(|| (ACCESS_KEY.to_string(), SECRET_KEY.to_string())),
        s3_error,
        // What --check-bucket reads: the bucket's region, and ACLs disabled (S3's default).
        bucket: Some(BucketFacts {
            region: Some("us-east-1".into()),
            acls_disabled: Some(true),
            ..BucketFacts::default()
        }),
        ..Context::default()
    };
    explain(&url, &ctx)
        .findings
        .into_iter()
        .map(|f| (f.code.to_string(), f.severity))
        .collect()
}

#[test]
fn url_explain_agrees_with_s3_on_urls_made_by_boto3_and_the_js_sdk() {
    let (port, _root) = server::start_s3s_fs(ACCESS_KEY, SECRET_KEY, &[BUCKET]);
    let authority = format!("127.0.0.1:{port}");
    let made = made_urls(&format!("http://{authority}"));
    let clients: BTreeMap<&str, usize> = made.iter().fold(BTreeMap::new(), |mut m, u| {
        *m.entry(u.client.as_str()).or_default() += 1;
        m
    });
    assert!(
        clients.get("boto3").is_some_and(|n| *n >= 10)
            && clients.get("js-sdk-v3").is_some_and(|n| *n >= 12),
        "both peers make their URLs: {clients:?}"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut table = String::new();
    let mut disagreements = Vec::new();
    let mut total = 0;
    // Uploads first, so the downloads find their object.
    let mut ordered: Vec<&Made> = made.iter().filter(|m| m.method == "PUT").collect();
    ordered.extend(made.iter().filter(|m| m.method != "PUT"));
    for m in ordered {
        if m.case == "put-custom-domain" {
            // A CNAME bucket (bucketEndpoint): the host is the bucket; nothing to send here.
            let url = PresignedUrl::parse(&m.url).expect("a pre-signed URL");
            assert_eq!(
                url.bucket.as_deref(),
                Some("files.example.com"),
                "{}",
                m.url
            );
            assert_eq!(url.key.as_deref(), Some("uploads/a b.png"), "{}", m.url);
            table.push_str(&format!(
                "{:<10} {:<20} custom domain: bucket and key read right\n",
                m.client, m.case
            ));
            continue;
        }
        for send in sends(m) {
            total += 1;
            let headers: Vec<(&str, &str)> = send
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let (status, _, body) =
                server::http_exchange(&authority, &send.method, &send.target, &headers, &send.body)
                    .unwrap_or_else(|| panic!("no answer from s3s-fs for {}", m.url));
            let code = |status: u16, body: &str| {
                if (200..300).contains(&status) {
                    format!("{status}")
                } else {
                    s3error::parse(body)
                        .map(|e| format!("{status} {}", e.code))
                        .unwrap_or_else(|| format!("{status} (no body)"))
                }
            };
            let seen = code(status, &body);
            let (truth, truth_body, source) = match documented(m, &send) {
                Some(d) => {
                    let shown =
                        format!("{} (s3s-fs: {seen}; {})", code(d.status, &d.body), d.source);
                    (d.status, d.body, shown)
                }
                None => (status, body.clone(), format!("{seen} (s3s-fs)")),
            };
            let accepted = (200..300).contains(&truth);
            let mut line = format!(
                "{:<10} {:<20} {:<35} S3: {source}\n",
                m.client, m.case, send.label
            );
            for with_key in [false, true] {
                let found = verdict(m, &send, (truth, &truth_body), with_key, now);
                let problems: Vec<&str> = found
                    .iter()
                    .filter(|(_, s)| *s == Severity::Problem)
                    .map(|(c, _)| c.as_str())
                    .collect();
                let blame = if with_key {
                    send.blame_with_key
                } else {
                    send.blame
                };
                let agrees = if accepted {
                    problems.is_empty()
                } else {
                    problems.iter().any(|p| blame.contains(p))
                        // With the key and an unchanged URL, never blame the URL.
                        && !(with_key
                            && send.target == own_target(m)
                            && problems.contains(&"signature-mismatch"))
                };
                let all: Vec<String> = found
                    .iter()
                    .map(|(c, s)| {
                        if *s == Severity::Problem {
                            c.clone()
                        } else {
                            format!("({c})")
                        }
                    })
                    .collect();
                line.push_str(&format!(
                    "    explain {}: {} {}\n",
                    if with_key {
                        "with the key   "
                    } else {
                        "without the key"
                    },
                    if all.is_empty() {
                        "no finding".to_string()
                    } else {
                        all.join(" ")
                    },
                    if agrees { "✓" } else { "✗ DISAGREES" }
                ));
                if !agrees {
                    disagreements.push(format!(
                        "{} {} / {} ({}): S3 {} but explain found {all:?} (expected one of {blame:?})",
                        m.client,
                        m.case,
                        send.label,
                        if with_key { "with the key" } else { "without the key" },
                        if accepted { "accepts".to_string() } else { format!("refuses ({})", code(truth, &truth_body)) },
                    ));
                }
            }
            table.push_str(&line);
        }
    }
    println!("{table}");
    println!(
        "url explain agreed with S3 in {} of {} verdicts ({total} requests, each without and with the key)",
        2 * total - disagreements.len(),
        2 * total
    );
    assert!(
        disagreements.is_empty(),
        "{}\n\n{table}",
        disagreements.join("\n")
    );
}
