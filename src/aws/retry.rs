//! Retries as predicates with a time budget (as terraform-provider-aws' `tfresource` does):
//! name the error to retry, back off, and give up with a message that says what was awaited.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::errors::AwsError;

/// Delays within a time budget: `first` each time while the wait is young (`steady`, the time
/// AWS usually takes: a few seconds), then twice as long each time up to `max`, never past the
/// deadline. Steady first, because how late a wait ends is at most one delay: doubling from the
/// start ends a 6 s IAM propagation at 7.5 s, a steady 0.5 s at 6.5 s at most; growing after,
/// so that a long wait (a VPC function) does not poll AWS several times a second for minutes.
/// The one backoff of the effect layer (IAM propagation, Lambda's asynchronous states); the
/// SDK's own retries cover throttling and transient errors.
#[derive(Debug)]
pub struct Backoff {
    delay: Duration,
    max: Duration,
    grow_after: Instant,
    deadline: Instant,
    /// When the attempt now ending began: the next begins one delay after it.
    attempt: Instant,
}

impl Backoff {
    pub fn new(first: Duration, steady: Duration, max: Duration, budget: Duration) -> Backoff {
        let now = Instant::now();
        Backoff {
            delay: first,
            max,
            grow_after: now + steady,
            deadline: now + budget,
            attempt: now,
        }
    }

    /// Whether the budget is spent.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Waits until one delay after the last attempt began (attempts begin every delay, so a
    /// call's own round trip does not stretch the cadence), but at least half a delay (a slow
    /// attempt, such as an upload, is not followed at once); cut short at the deadline.
    pub async fn wait(&mut self) {
        let now = Instant::now();
        let gap = (self.attempt + self.delay)
            .saturating_duration_since(now)
            .max(self.delay / 2);
        let left = self.deadline.saturating_duration_since(now);
        tokio::time::sleep(gap.min(left)).await;
        self.attempt = Instant::now();
        if self.attempt >= self.grow_after {
            self.delay = (self.delay * 2).min(self.max);
        }
    }
}

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
/// Waits 0.5 s at a time for the first 15 s (IAM usually takes 5 to 10), then twice as long each
/// time up to 8 s; `waiting` is told what is awaited.
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
    let mut backoff = Backoff::new(
        Duration::from_millis(500),
        Duration::from_secs(15),
        Duration::from_secs(8),
        budget,
    );
    let mut said = false;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) => {
                if backoff.expired() {
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
                backoff.wait().await;
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

    #[tokio::test(start_paused = true)]
    async fn attempts_begin_every_delay_whatever_each_takes_but_a_slow_one_gets_half_a_delay() {
        let ms = |n| Duration::from_millis(n);
        let t0 = Instant::now();
        let mut backoff = Backoff::new(ms(500), Duration::from_secs(15), ms(8000), ms(60_000));
        let mut starts = Vec::new();
        for took in [100, 100, 450] {
            starts.push(t0.elapsed());
            tokio::time::sleep(ms(took)).await; // the attempt's round trip
            backoff.wait().await;
        }
        starts.push(t0.elapsed());
        // 0, 0.5, 1.0 (a 0.1 s call does not push the next one back); after a 0.45 s attempt,
        // half a delay more: 1.45 + 0.25.
        assert_eq!(starts, vec![ms(0), ms(500), ms(1000), ms(1700)]);
    }
}
