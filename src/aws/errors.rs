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
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
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

impl std::error::Error for AwsError {}

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
        }
    }

    /// Wraps an SDK error, with a hint chosen by its code.
    pub fn from_sdk<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let code = code_of(&err).map(str::to_string);
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
        }
    }
}

/// The one rule for "not found": the service answered with one of `codes`, or the bucket itself
/// is gone (`NoSuchBucket`). Then `Ok(None)`; other errors name the operation and resource.
pub fn absent_as_none<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    codes: &[&str],
    operation: &'static str,
    resource: &str,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if has_code(&e, codes) || has_code(&e, super::NOT_FOUND_BUCKET) => Ok(None),
        Err(e) => Err(AwsError::from_sdk(operation, resource, e)),
    }
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
