//! Retries as predicates with a time budget (as terraform-provider-aws' `tfresource` does):
//! name the error to retry, back off, and give up with a message that says what was awaited.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::errors::AwsError;

/// Lambda's answers while a new or changed role has not reached it yet. Messages, because that is
/// all AWS gives: they arrive as `InvalidParameterValueException`, the code of every bad
/// parameter, and only the message says it is the role (terraform-provider-aws matches the same
/// texts).
const PROPAGATION_MESSAGES: [&str; 4] = [
    "cannot be assumed by Lambda",
    "The role defined for the function cannot be assumed",
    "is not authorized to perform",
    "The provided execution role does not have permissions",
];

/// Whether `e` is Lambda saying the execution role has not propagated yet.
pub fn is_role_propagation(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValueException")
        && PROPAGATION_MESSAGES.iter().any(|m| e.message.contains(m))
}

/// Runs `op` until it succeeds, fails with an error `retryable` rejects, or `budget` runs out.
/// Waits 0.5 s, then twice as long each time up to 8 s; `waiting` is told what is awaited.
pub async fn retry_within<T, F, Fut>(
    budget: Duration,
    awaited: &str,
    retryable: impl Fn(&AwsError) -> bool,
    waiting: &(dyn Fn(&str) + Send + Sync),
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let deadline = Instant::now() + budget;
    let mut delay = Duration::from_millis(500);
    let mut said = false;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(AwsError {
                        message: format!(
                            "gave up after {}s waiting for {awaited}; last answer: {}",
                            budget.as_secs(),
                            e.message
                        ),
                        hint: Some(format!(
                            "AWS can take minutes to propagate IAM changes: run deploy again, or allow longer with --propagation-timeout (now {}s)",
                            budget.as_secs()
                        )),
                        ..e
                    });
                }
                if !said {
                    waiting(&format!(
                        "waiting for {awaited} (IAM propagation; up to {}s)...",
                        budget.as_secs()
                    ));
                    said = true;
                }
                tokio::time::sleep(delay.min(deadline - now)).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use super::*;

    fn not_assumable() -> AwsError {
        AwsError {
            operation: "CreateFunction",
            resource: "function demo-signer".into(),
            code: Some("InvalidParameterValueException".into()),
            message: "The role defined for the function cannot be assumed by Lambda.".into(),
            hint: None,
            source: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_propagation_error_is_retried_until_it_clears() {
        let attempts = AtomicU32::new(0);
        let said = Mutex::new(Vec::new());
        let result = retry_within(
            Duration::from_secs(120),
            "role demo-signer to be assumable by Lambda",
            is_role_propagation,
            &|m: &str| said.lock().unwrap().push(m.to_string()),
            || async {
                if attempts.fetch_add(1, Ordering::SeqCst) < 4 {
                    Err(not_assumable())
                } else {
                    Ok("created")
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), "created");
        assert_eq!(attempts.load(Ordering::SeqCst), 5);
        let said = said.lock().unwrap();
        assert_eq!(said.len(), 1, "says once what it waits for: {said:?}");
        assert!(said[0].contains("role demo-signer"), "{said:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn it_gives_up_at_the_budget_naming_the_role() {
        let start = Instant::now();
        let attempts = AtomicU32::new(0);
        let err = retry_within(
            Duration::from_secs(30),
            "role demo-signer to be assumable by Lambda",
            is_role_propagation,
            &|_: &str| {},
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(not_assumable())
            },
        )
        .await
        .unwrap_err();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
        assert!(err.to_string().contains("role demo-signer"), "{err}");
        assert!(err.to_string().contains("gave up after 30s"), "{err}");
        assert!(attempts.load(Ordering::SeqCst) > 3);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried() {
        let attempts = AtomicU32::new(0);
        let err = retry_within(
            Duration::from_secs(30),
            "anything",
            is_role_propagation,
            &|_: &str| {},
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(AwsError {
                    message: "Memory size must be a multiple of 1 MB".into(),
                    ..not_assumable()
                })
            },
        )
        .await
        .unwrap_err();
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        assert!(err.message.contains("Memory size"));
    }
}
