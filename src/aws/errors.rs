//! AWS errors: one type that names the call, the resource and the next step, and keeps the
//! service's error code so that callers match codes, not messages.

use std::fmt;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failed AWS call.
#[derive(Debug)]
pub struct AwsError {
    /// The API operation, e.g. `PutBucketPolicy`.
    pub operation: &'static str,
    /// The resource it was for, e.g. `bucket my-uploads`.
    pub resource: String,
    /// The service's error code, when the service answered.
    pub code: Option<Box<str>>,
    pub message: String,
    pub hint: Option<String>,
    /// The SDK's error behind it, when there is one: [`std::error::Error::source`] returns it.
    /// What it says for people is already in `code` and `message`, so the command line prints
    /// it only with `-v` (see [`chain_for_people`]).
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed for {}: ", self.operation, self.resource)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An error and its causes for people, as `{:#}` prints them (`outer: cause: ...`), ending at
/// the first [`AwsError`]: its own text already says what the service said (the SDK's error
/// beneath it repeats that in its own words; [`sdk_detail`] gives it for `-v`).
pub fn chain_for_people(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for (i, cause) in e.chain().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
        if cause.is::<AwsError>() {
            break;
        }
    }
    out
}

/// The SDK's whole account of the first AWS error in `e`'s chain, if there is one.
pub fn sdk_detail(e: &anyhow::Error) -> Option<String> {
    let aws = e.chain().find_map(|c| c.downcast_ref::<AwsError>())?;
    let source = aws.source.as_deref()?;
    Some(DisplayErrorContext(source).to_string())
}

impl AwsError {
    /// An error of our own making about a resource (no service error behind it).
    pub fn new(
        operation: &'static str,
        resource: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation,
            resource: resource.into(),
            code: None,
            message: message.into(),
            hint: Some(hint.into()),
            source: None,
        }
    }

    /// Wraps an SDK error, with a hint chosen by its code.
    pub fn from_sdk<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let code: Option<Box<str>> = code_of(&err).map(Into::into);
        let message = match &err {
            SdkError::ServiceError(s) => s
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&err).to_string()),
            _ => DisplayErrorContext(&err).to_string(),
        };
        let hint = hint_for(code.as_deref(), &err, operation);
        AwsError {
            operation,
            resource: resource.into(),
            code,
            message,
            hint,
            source: Some(Box::new(err)),
        }
    }
}

/// The one rule for "not found": the service answered with an error `absent` says means the
/// resource is not there (the SDK's modelled error, e.g. `is_no_such_entity_exception`; or, for
/// the S3 answers its model does not declare, [`s3_code`]), or the bucket itself is gone
/// (`NoSuchBucket`, which S3's model declares for only a few operations). Then `Ok(None)`; other
/// errors name the operation and resource.
pub fn absent_as_none<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    absent: impl Fn(&E) -> bool,
    operation: &'static str,
    resource: &str,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().is_some_and(&absent) => Ok(None),
        Err(e) if has_code(&e, super::NOT_FOUND_BUCKET) => Ok(None),
        Err(e) => Err(AwsError::from_sdk(operation, resource, e)),
    }
}

/// An S3 error matched by its code, for the answers S3's service model does not declare: the
/// SDK then gives them only as an unmodelled error with a code (`NoSuchBucketPolicy`,
/// `ServerSideEncryptionConfigurationNotFoundError`, `OwnershipControlsNotFoundError`,
/// `NoSuchPublicAccessBlockConfiguration`, `NoSuchCORSConfiguration`, `NoSuchTagSet`,
/// `BucketNotEmpty`, `NoSuchBucket` on most operations).
pub fn s3_code<E: ProvideErrorMetadata>(code: &'static str) -> impl Fn(&E) -> bool {
    move |e| e.code() == Some(code)
}

/// The service's error code, if the service answered with one.
pub fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// Whether the service answered with one of `codes`.
pub fn has_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, codes: &[&str]) -> bool {
    code_of(err).is_some_and(|c| codes.contains(&c))
}

/// A hint for the codes any service may answer (credentials, permissions, throttling): codes,
/// because no operation's model declares them.
fn hint_for<E, R>(code: Option<&str>, err: &SdkError<E, R>, operation: &str) -> Option<String> {
    match code {
        Some("AccessDenied" | "AccessDeniedException" | "Forbidden" | "AccessDeniedFault") => Some(format!(
            "the identity deploying the stack lacks the permission for {operation} (docs/permissions.md lists what it needs), or the resource belongs to another account"
        )),
        Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken") => Some(
            "check the AWS credentials in use (AWS_PROFILE / --profile, AWS_ACCESS_KEY_ID, `aws sts get-caller-identity`)".into(),
        ),
        Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded") => Some(
            "AWS is throttling requests; run the command again in a moment (progress so far is saved)".into(),
        ),
        Some(_) => Some("run the command again; what completed is recorded in the state and will not be repeated".into()),
        None => match err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Some(
                "could not reach AWS: check the network, the region, and AWS_ENDPOINT_URL if you use an emulator (scripts/emulator start)".into(),
            ),
            SdkError::ConstructionFailure(_) => Some(
                "no usable AWS configuration: set credentials (AWS_PROFILE, aws configure) and a region (--region or AWS_REGION)".into(),
            ),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_for_people_ends_at_the_aws_error_and_keeps_the_sdk_error_as_its_source() {
        let mut aws = AwsError::new(
            "PutBucketPolicy",
            "bucket demo",
            "MalformedPolicy: bad",
            "fix it",
        );
        aws.source = Some(Box::new(std::io::Error::other("the SDK's own words")));
        let e = anyhow::Error::new(aws).context("deploying demo");
        let people = chain_for_people(&e);
        assert_eq!(
            people,
            "deploying demo: PutBucketPolicy failed for bucket demo: MalformedPolicy: bad\n  hint: fix it"
        );
        assert!(sdk_detail(&e).is_some_and(|d| d.starts_with("the SDK's own words")));
        let source = e
            .chain()
            .find_map(|c| c.downcast_ref::<AwsError>())
            .and_then(std::error::Error::source);
        assert_eq!(
            source.map(ToString::to_string).as_deref(),
            Some("the SDK's own words")
        );
        assert_eq!(
            chain_for_people(&anyhow::anyhow!("plain").context("outer")),
            "outer: plain"
        );
    }
}
