//! The S3 calls the multipart routes make themselves: create, list parts, complete and abort.
//!
//! Each request is signed by the same SigV4 code as the URLs handed out ([`Presigner::presign`],
//! query-string authentication with `UNSIGNED-PAYLOAD`, which S3 accepts for every operation)
//! and sent by hyper over rustls (ring, webpki roots compiled in): the runtime's own HTTP stack
//! (`lambda_runtime` already links hyper 1), with a TLS provider that needs no C toolchain and
//! no certificate files at start. The client is built on the first multipart call, so the
//! signing path and its cold start pay nothing for it. See docs/signer.md.
//!
//! S3 answers in XML; the few fields read here are taken out by [`crate::xml`].

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::sign::{PresignRequest, Presigner, SigningTime};
use crate::xml::{decode, element, elements, escape_into};

/// The most of an S3 answer read into memory: a page of 1,000 parts is about 250 KB.
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;
/// How long one S3 call may take before the route answers 502 `storage_unreachable`.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the signatures of the function's own calls are valid.
const CALL_EXPIRES_SECONDS: u64 = 60;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;
/// The HTTPS client the calls share.
pub type HttpClient = Client<Https, Full<Bytes>>;

/// S3 for the multipart routes: the bucket's presigner and a lazily built HTTPS client.
pub struct S3<'a> {
    signer: &'a Presigner,
    client: &'a OnceLock<Result<HttpClient, String>>,
}

/// One part as S3 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub number: u32,
    /// With its quotes, as S3 sends it; empty when the store does not say (s3s-fs).
    pub etag: String,
    pub size: u64,
    /// The part's checksum (base64) when the upload was created with an algorithm.
    pub checksum: Option<String>,
}

/// One part of a complete call: its number, ETag and, when the upload was created with a
/// checksum algorithm, its checksum under that algorithm's element (`ChecksumSHA256`), which
/// S3 then requires for every part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed<'a> {
    pub number: u32,
    pub etag: &'a str,
    pub checksum: Option<(&'static str, &'a str)>,
}

/// Why an S3 call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Error {
    /// S3 answered with an error: its HTTP status, code and message.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer (connection, TLS, timeout) or one that could not be read.
    Unreachable(String),
}

/// The client every call of this process shares (one connection pool).
pub fn shared_client() -> &'static OnceLock<Result<HttpClient, String>> {
    static CLIENT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    &CLIENT
}

fn build_client() -> Result<HttpClient, String> {
    // The provider is named, not taken from the process default: a build that links both
    // ring and aws-lc-rs (the workspace's tests do) would otherwise have none.
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("TLS could not be set up: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(50))
        .build(connector))
}

/// One HTTP(S) exchange with the shared client (for `presign-stack smoke`, which talks to the
/// API and the bucket as a browser would): the status, the headers (names lower case) and up
/// to [`MAX_ANSWER_BYTES`] of the body, within [`CALL_TIMEOUT`].
pub async fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, Vec<(String, String)>, String), String> {
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("the request could not be built: {e}"))?;
    let client = shared_client()
        .get_or_init(build_client)
        .as_ref()
        .map_err(Clone::clone)?;
    tokio::time::timeout(CALL_TIMEOUT, async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("the answer could not be read: {e}"))?
            .to_bytes();
        Ok((
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    })
    .await
    .map_err(|_| format!("no answer within {} s", CALL_TIMEOUT.as_secs()))?
}

impl<'a> S3<'a> {
    pub fn new(signer: &'a Presigner, client: &'a OnceLock<Result<HttpClient, String>>) -> Self {
        S3 { signer, client }
    }

    /// The presigner the calls (and the part URLs) are signed with.
    pub fn signer(&self) -> &Presigner {
        self.signer
    }

    /// Starts a multipart upload of `key` with this content type (and checksum algorithm,
    /// `SHA256`, when every part must carry one, and the object's `x-amz-meta-*` headers):
    /// the upload id.
    pub async fn create(
        &self,
        key: &str,
        content_type: &str,
        checksum_algorithm: Option<&str>,
        metadata: &[(String, String)],
        now: u64,
    ) -> Result<String, S3Error> {
        let mut headers = vec![("content-type", content_type)];
        if let Some(alg) = checksum_algorithm {
            headers.push(("x-amz-checksum-algorithm", alg));
        }
        headers.extend(metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let body = self
            .call("POST", key, &headers, &[("uploads", "")], Bytes::new(), now)
            .await?;
        element(&body, "UploadId")
            .map(decode)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| S3Error::Unreachable("S3 answered without an UploadId".into()))
    }

    /// Every part uploaded so far, in part-number order (all pages).
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
        now: u64,
    ) -> Result<Vec<Part>, S3Error> {
        let mut parts = Vec::new();
        let mut marker = String::new();
        // S3 allows 10,000 parts and lists at most 1,000 a page; the bound stops a store
        // that keeps answering "truncated".
        for _ in 0..11 {
            let mut query = vec![];
            if !marker.is_empty() {
                query.push(("part-number-marker", marker.as_str()));
            }
            query.push(("uploadId", upload_id));
            let body = self
                .call("GET", key, &[], &query, Bytes::new(), now)
                .await?;
            for part in elements(&body, "Part") {
                let number = element(part, "PartNumber").and_then(|n| n.trim().parse().ok());
                let size = element(part, "Size").and_then(|n| n.trim().parse().ok());
                if let (Some(number), Some(size)) = (number, size) {
                    parts.push(Part {
                        number,
                        etag: element(part, "ETag").map(decode).unwrap_or_default(),
                        size,
                        checksum: ["ChecksumSHA256", "ChecksumCRC32"]
                            .iter()
                            .find_map(|name| element(part, name))
                            .map(decode),
                    });
                }
            }
            let truncated = element(&body, "IsTruncated").is_some_and(|t| t.trim() == "true");
            match element(&body, "NextPartNumberMarker").map(decode) {
                Some(next) if truncated && !next.is_empty() && next != marker => marker = next,
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.number);
        parts.dedup_by_key(|p| p.number);
        Ok(parts)
    }

    /// Completes the upload from these parts; with `If-None-Match: *`, so an existing object
    /// is never replaced. S3 may answer 200 with an error in the body: that is an error here.
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[Completed<'_>],
        now: u64,
    ) -> Result<(), S3Error> {
        let mut xml = String::with_capacity(64 + parts.len() * 140);
        xml.push_str("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for part in parts {
            xml.push_str("<Part><PartNumber>");
            xml.push_str(&part.number.to_string());
            xml.push_str("</PartNumber><ETag>");
            escape_into(&mut xml, part.etag);
            xml.push_str("</ETag>");
            if let Some((element, value)) = part.checksum {
                for piece in ["<", element, ">"] {
                    xml.push_str(piece);
                }
                escape_into(&mut xml, value);
                for piece in ["</", element, ">"] {
                    xml.push_str(piece);
                }
            }
            xml.push_str("</Part>");
        }
        xml.push_str("</CompleteMultipartUpload>");
        let body = self
            .call(
                "POST",
                key,
                &[("content-type", "application/xml"), ("if-none-match", "*")],
                &[("uploadId", upload_id)],
                Bytes::from(xml),
                now,
            )
            .await?;
        if let Some(code) = element(&body, "Code").filter(|_| element(&body, "Error").is_some()) {
            return Err(S3Error::Refused {
                status: 200,
                code: decode(code),
                message: element(&body, "Message").map(decode).unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Aborts the upload and frees its parts.
    pub async fn abort(&self, key: &str, upload_id: &str, now: u64) -> Result<(), S3Error> {
        self.call(
            "DELETE",
            key,
            &[],
            &[("uploadId", upload_id)],
            Bytes::new(),
            now,
        )
        .await
        .map(drop)
    }

    /// One signed call: the answer's body when S3 says 2xx.
    async fn call(
        &self,
        method: &str,
        key: &str,
        headers: &[(&str, &str)],
        query: &[(&str, &str)],
        body: Bytes,
        now: u64,
    ) -> Result<String, S3Error> {
        let url = self.signer.presign(&PresignRequest {
            method,
            key,
            expires_seconds: CALL_EXPIRES_SECONDS,
            headers,
            query,
            time: SigningTime { unix: now },
        });
        let mut request = hyper::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| S3Error::Unreachable(format!("the request could not be built: {e}")))?;
        let client = self
            .client
            .get_or_init(build_client)
            .as_ref()
            .map_err(|e| S3Error::Unreachable(e.clone()))?;
        let answer = tokio::time::timeout(CALL_TIMEOUT, async {
            let response = client
                .request(request)
                .await
                .map_err(|e| S3Error::Unreachable(format!("S3 did not answer: {e}")))?;
            let status = response.status().as_u16();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| S3Error::Unreachable(format!("S3's answer could not be read: {e}")))?
                .to_bytes();
            Ok::<_, S3Error>((status, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .await
        .map_err(|_| S3Error::Unreachable("S3 did not answer in time".into()))??;
        let (status, text) = answer;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        Err(S3Error::Refused {
            status,
            code: element(&text, "Code").map(decode).unwrap_or_default(),
            message: element(&text, "Message").map(decode).unwrap_or_default(),
        })
    }
}
