//! State in an S3 bucket a team shares, with S3's conditional writes as the only coordination
//! (no DynamoDB table):
//!
//! - **Lock**: `<key>.lock`, written with `If-None-Match: *` (only one run can create it),
//!   holding who, where, since when, and the lease. The holder renews it every third of the
//!   lease with `If-Match: <its ETag>` (a heartbeat); a lock not renewed for a whole lease (its
//!   run was killed) is stale, and the next run replaces it with `If-Match` on the stale ETag, so
//!   only one of several waiting runs takes it over. Release deletes it with `If-Match`: a lock
//!   someone else holds by then is left alone.
//! - **State**: `<key>`, read with its ETag; every write carries `If-Match: <that ETag>` (or
//!   `If-None-Match: *` for the first), so a run that lost its lock can never overwrite a newer
//!   state: the write fails with 412 and the run stops ([`StateError::Conflict`]).
//!
//! Lease expiry compares the lock object's `Last-Modified` with the `Date` of the answer that
//! read it: both S3's clock, so a machine whose clock is off cannot take a live lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::box_error::BoxError;

use super::lock::{Holder, LockError};
use super::{parse, StateError, Stored};
use crate::aws::errors::{code_of, AwsError};

/// Error codes of a failed `If-Match` / `If-None-Match` (409: a concurrent conditional write).
const CONDITION_FAILED: &[&str] = &["PreconditionFailed", "ConditionalRequestConflict"];

/// Where one stack's state and lock objects are, and how they are written.
#[derive(Debug, Clone)]
struct Objects {
    client: Client,
    bucket: String,
    /// The state object's key; the lock is `<key>.lock`.
    key: String,
    kms_key_id: Option<String>,
}

impl Objects {
    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    fn lock_location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.lock_key())
    }

    /// A JSON object write to `key` (with the KMS key, when there is one).
    fn put(&self, key: String, bytes: Vec<u8>) -> PutObjectFluentBuilder {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        if let Some(k) = &self.kms_key_id {
            req = req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(k);
        }
        req
    }

    fn put_lock(&self, holder: &Holder) -> PutObjectFluentBuilder {
        self.put(self.lock_key(), super::to_bytes(holder))
    }

    /// Deletes the lock only if it still has `etag`: `Ok(false)` when it does not (someone
    /// else's now) or is gone.
    async fn delete_lock(&self, etag: &str) -> Result<bool, AwsError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.lock_key())
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) || not_found(&e) => Ok(false),
            Err(e) => Err(aws_error("DeleteObject", &self.lock_location(), e)),
        }
    }
}

/// A lock as read from S3.
#[derive(Debug)]
pub struct LockSeen {
    pub holder: Holder,
    pub etag: String,
    /// When its lease ends unless renewed (Unix seconds, S3's clock: `Last-Modified` + lease).
    pub expires: u64,
    /// When it was read (S3's clock: the answer's `Date`).
    pub now: u64,
}

/// Remembers the `Date` of S3's answer, so a lease is judged on S3's clock alone: this
/// machine's clock may be wrong by more than a lease.
#[derive(Debug, Clone, Default)]
struct ServerDate(Arc<Mutex<Option<u64>>>);

impl ServerDate {
    fn get(&self) -> Option<u64> {
        self.0.lock().ok().and_then(|d| *d)
    }
}

impl Intercept for ServerDate {
    fn name(&self) -> &'static str {
        "presign-stack server date"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| DateTime::from_str(d, DateTimeFormat::HttpDate).ok())
            .and_then(|d| u64::try_from(d.secs()).ok());
        if let (Some(d), Ok(mut slot)) = (date, self.0.lock()) {
            *slot = Some(d);
        }
        Ok(())
    }
}

/// This machine's clock, only when S3 sent no `Date`. Tests may skew it ([`crate::hooks`]) to
/// show that leases do not depend on it.
fn local_now() -> u64 {
    crate::clock::now_unix().saturating_add_signed(crate::hooks::clock_skew_seconds())
}

/// The state object of one stack in a bucket.
#[derive(Debug)]
pub struct S3Store {
    at: Objects,
    lease: Duration,
    /// Set by the lock's heartbeat when another run replaced the lock: no more state writes.
    lock_lost: Arc<AtomicBool>,
    /// The S3 endpoint is plain HTTP (an emulator): `state bootstrap` does not refuse HTTP.
    pub plain_http: bool,
    /// The state object's ETag as this run last read or wrote it (`None`: there is none).
    etag: Mutex<Option<String>>,
}

type SdkError<E> = aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>;

fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A failed `If-Match` / `If-None-Match`: 412 (or 409, a concurrent conditional write).
fn condition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    code_of(err).is_some_and(|c| CONDITION_FAILED.contains(&c)) || status(err) == Some(412)
}

/// The SDK error as an [`AwsError`]; an answer without an error code (a HEAD, or an emulator's
/// empty 403) is named by its HTTP status.
fn aws_error<E>(operation: &'static str, location: &str, err: SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match status(&err) {
        Some(st) if code_of(&err).is_none() => AwsError {
            operation,
            resource: location.to_string(),
            code: Some(
                match st {
                    403 => "Forbidden".to_string(),
                    404 => "NotFound".to_string(),
                    _ => format!("HTTP{st}"),
                }
                .into(),
            ),
            message: format!("HTTP {st} without an error body"),
            hint: None,
            source: Some(Box::new(err)),
        },
        _ => AwsError::from_sdk(operation, location.to_string(), err),
    }
}

fn not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    code_of(err).is_some_and(|c| c == "NoSuchKey" || c == "NotFound")
}

impl S3Store {
    /// The client the store reaches its bucket with.
    pub fn client(&self) -> &Client {
        &self.at.client
    }

    /// The state bucket's name.
    pub fn bucket(&self) -> &str {
        &self.at.bucket
    }

    /// The KMS key the state is encrypted with (`None`: SSE-S3).
    pub fn kms_key_id(&self) -> Option<&str> {
        self.at.kms_key_id.as_deref()
    }

    pub fn new(
        client: Client,
        bucket: &str,
        key: &str,
        kms_key_id: Option<String>,
        lease: Duration,
    ) -> S3Store {
        S3Store {
            at: Objects {
                client,
                bucket: bucket.to_string(),
                key: key.to_string(),
                kms_key_id,
            },
            lease,
            lock_lost: Arc::default(),
            plain_http: false,
            etag: Mutex::new(None),
        }
    }

    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.at.bucket, self.at.key)
    }

    /// What to do about a failed call on the state bucket.
    fn next_step(&self, err: &AwsError) -> String {
        match err.code.as_deref() {
            Some("NoSuchBucket") => format!(
                "the state bucket {} does not exist: create it with `presign-stack state bootstrap`",
                self.at.bucket
            ),
            Some("AccessDenied" | "Forbidden") => format!(
                "your credentials need s3:GetObject, s3:PutObject and s3:DeleteObject on {}/{}* (docs/permissions.md, state bucket), and the bucket's policy must allow them",
                self.at.bucket, self.at.key
            ),
            _ => "check state: in stack.yaml and your AWS credentials; the state was left as it was".into(),
        }
    }

    /// An error of a call on the state object, with the next step.
    fn failed(&self, action: &'static str, err: AwsError) -> StateError {
        StateError::Io {
            action,
            location: self.location(),
            detail: format!(
                "{} failed: {}: {}",
                err.operation,
                err.code.as_deref().unwrap_or("error"),
                err.message
            ),
            hint: self.next_step(&err),
        }
    }

    /// An error of a call on the lock object, with the next step.
    fn lock_error(&self, err: AwsError) -> LockError {
        LockError::Io {
            location: self.at.lock_location(),
            detail: format!(
                "{} failed: {}: {}\n  hint: {}",
                err.operation,
                err.code.as_deref().unwrap_or("error"),
                err.message,
                self.next_step(&err)
            ),
        }
    }

    /// The state object's bytes (remembering its ETag for the next write); `None` when absent.
    pub async fn read_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        let got = self
            .at
            .client
            .get_object()
            .bucket(&self.at.bucket)
            .key(&self.at.key)
            .send()
            .await;
        let (etag, bytes) = match got {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_string);
                let body = out.body.collect().await.map_err(|e| StateError::Io {
                    action: "read",
                    location: self.location(),
                    detail: e.to_string(),
                    hint: "a network error: run the command again".into(),
                })?;
                (etag, Some(body.into_bytes().to_vec()))
            }
            Err(e) if not_found(&e) => (None, None),
            Err(e) => return Err(self.failed("read", aws_error("GetObject", &self.location(), e))),
        };
        if let Ok(mut slot) = self.etag.lock() {
            *slot = etag;
        }
        Ok(bytes)
    }

    pub async fn load_stored(&self, stack: &str) -> Result<Option<Stored>, StateError> {
        let recovery = format!(
            "earlier versions are in the bucket's version history (aws s3api list-object-versions --bucket {} --prefix {})",
            self.at.bucket, self.at.key
        );
        match self.read_bytes().await? {
            None => Ok(None),
            Some(bytes) => parse(&bytes, &self.location(), &recovery, stack).map(Some),
        }
    }

    /// Writes the state object only if it is still the one this run last read or wrote.
    pub async fn write_bytes(&self, bytes: &[u8]) -> Result<(), StateError> {
        let expected = self.etag.lock().ok().and_then(|e| e.clone());
        if self.lock_lost.load(Ordering::SeqCst) {
            return Err(StateError::LockLost {
                location: self.location(),
                lock: self.at.lock_location(),
            });
        }
        let mut req = self.at.put(self.at.key.clone(), bytes.to_vec());
        req = match expected {
            Some(etag) => req.if_match(etag),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => {
                if let Ok(mut slot) = self.etag.lock() {
                    *slot = out.e_tag().map(str::to_string);
                }
                Ok(())
            }
            Err(e) if condition_failed(&e) => Err(StateError::Conflict {
                location: self.location(),
            }),
            Err(e) => Err(self.failed("write", aws_error("PutObject", &self.location(), e))),
        }
    }

    /// Takes the stack's lock, waiting up to `wait` while another run holds it; a lock whose
    /// lease ran out is taken over (the returned lock's `took_over` names its holder).
    pub async fn lock(
        &self,
        stack: &str,
        command: &str,
        wait: Duration,
        notify: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<S3Lock, LockError> {
        let deadline = std::time::Instant::now() + wait;
        let lease_seconds = self.lease.as_secs();
        let location = self.at.lock_location();
        loop {
            let mut holder = Holder::current(command);
            holder.lease_seconds = Some(lease_seconds);
            holder.renewed = Some(holder.since.clone());
            match self.at.put_lock(&holder).if_none_match("*").send().await {
                Ok(out) => return Ok(self.held(out.e_tag(), holder, None, notify)),
                Err(e) if condition_failed(&e) => {}
                Err(e) => return Err(self.lock_error(aws_error("PutObject", &location, e))),
            }
            // Someone holds it: who, and is their lease still running?
            let Some(LockSeen {
                holder: theirs,
                etag: their_etag,
                expires,
                now,
            }) = self.lock_holder().await?
            else {
                continue; // released in between
            };
            if now >= expires {
                // Stale: replace exactly the lock we looked at; if another waiting run got
                // there first, the condition fails and we look again.
                match self.at.put_lock(&holder).if_match(&their_etag).send().await {
                    Ok(out) => return Ok(self.held(out.e_tag(), holder, Some(theirs), notify)),
                    Err(e) if condition_failed(&e) || not_found(&e) => continue,
                    Err(e) => return Err(self.lock_error(aws_error("PutObject", &location, e))),
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(LockError::Held {
                    stack: stack.to_string(),
                    holder: Box::new(theirs),
                    stale: false,
                    location,
                    expires: Some(crate::clock::rfc3339(expires)),
                });
            }
            let until_expiry = Duration::from_secs(expires.saturating_sub(now));
            tokio::time::sleep(left.min(until_expiry).min(Duration::from_millis(500))).await;
        }
    }

    /// Starts the heartbeat of a lock just taken.
    fn held(
        &self,
        etag: Option<&str>,
        holder: Holder,
        took_over: Option<Holder>,
        notify: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> S3Lock {
        let etag = Arc::new(tokio::sync::Mutex::new(
            etag.unwrap_or_default().to_string(),
        ));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let at = self.at.clone();
        let lost = self.lock_lost.clone();
        let period = self.lease / 3;
        let current = etag.clone();
        let heartbeat = tokio::spawn(async move {
            let mut holder = holder;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = stopped.changed() => return,
                }
                // The ETag stays locked while the renewal is in flight, so release never
                // deletes with an ETag that is about to change.
                let mut etag = current.lock().await;
                holder.renewed = Some(crate::clock::now_rfc3339());
                match at.put_lock(&holder).if_match(etag.as_str()).send().await {
                    Ok(out) => *etag = out.e_tag().unwrap_or_default().to_string(),
                    Err(e) if condition_failed(&e) || not_found(&e) => {
                        lost.store(true, Ordering::SeqCst);
                        notify(&format!(
                            "Lost the lock {}: another run replaced it. This run writes no more state and starts no more changes.",
                            at.lock_location()
                        ));
                        return;
                    }
                    // A transient failure: the lease allows two more tries.
                    Err(e) => notify(&format!(
                        "could not renew the lock {}: {}",
                        at.lock_location(),
                        aws_error("PutObject", &at.lock_location(), e)
                    )),
                }
            }
        });
        S3Lock {
            at: self.at.clone(),
            etag,
            stop,
            heartbeat: Some(heartbeat),
            took_over,
        }
    }

    /// Reads the lock (`None` when unlocked): its holder, its ETag, and when its lease ends,
    /// with the time of reading, both on S3's clock.
    pub async fn lock_holder(&self) -> Result<Option<LockSeen>, LockError> {
        let location = self.at.lock_location();
        let date = ServerDate::default();
        let out = match self
            .at
            .client
            .get_object()
            .bucket(&self.at.bucket)
            .key(self.at.lock_key())
            .customize()
            .interceptor(date.clone())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(self.lock_error(aws_error("GetObject", &location, e))),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let modified = out
            .last_modified()
            .map(|t| u64::try_from(t.secs()).unwrap_or(0))
            .unwrap_or(0);
        let holder = out
            .body
            .collect()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Holder>(&b.into_bytes()).ok())
            .unwrap_or_else(Holder::unknown);
        let expires = modified
            + holder
                .lease_seconds
                .unwrap_or(crate::spec::DEFAULT_LOCK_LEASE_SECONDS);
        Ok(Some(LockSeen {
            holder,
            etag,
            expires,
            now: date.get().unwrap_or_else(local_now),
        }))
    }

    /// Deletes the lock if it is still the one with `etag` (`state unlock`).
    pub async fn remove_lock(&self, etag: &str) -> Result<bool, LockError> {
        self.at
            .delete_lock(etag)
            .await
            .map_err(|e| self.lock_error(e))
    }
}

/// A lock on S3 this run holds, renewed in the background until released.
#[derive(Debug)]
pub struct S3Lock {
    at: Objects,
    etag: Arc<tokio::sync::Mutex<String>>,
    stop: tokio::sync::watch::Sender<bool>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// The holder of a stale lock this one replaced.
    pub took_over: Option<Holder>,
}

impl S3Lock {
    /// Stops the heartbeat and deletes the lock, only if it is still ours (`If-Match`).
    pub async fn release(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.heartbeat.take() {
            let _ = h.await;
        }
        let etag = self.etag.lock().await.clone();
        let _ = self.at.delete_lock(&etag).await;
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        // Not released (a bug, or the runtime is going away): stop renewing, so the lease runs out.
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}
