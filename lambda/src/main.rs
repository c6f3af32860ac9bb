//! The `bootstrap` binary: the Lambda runtime loop around [`presign_signer::handler::handle_all`].
//! Logs one JSON line per request (request id, outcome, key prefix, latency); never keys,
//! URLs or credentials.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use presign_signer::handler::{self, Event, ProxyResponse};
use presign_signer::s3::{shared_client, S3};
use presign_signer::{credentials_from_env, Config, Presigner};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).ok();
    let cfg = Config::from_env(env)?;
    let credentials =
        credentials_from_env(env).ok_or("AWS credentials are not in the environment")?;
    let signer = Presigner::new(
        credentials,
        &cfg.region,
        &cfg.bucket,
        cfg.endpoint.as_deref(),
    );
    let (cfg, signer) = (&cfg, &signer);
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        let started = Instant::now();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let s3 = S3::new(signer, shared_client());
        let (response, outcome) = handler::handle_all(cfg, &s3, &event.payload, now).await;
        let log = serde_json::json!({
            "request_id": event.context.request_id,
            "outcome": outcome,
            "status": response.status_code,
            "key_prefix": cfg.prefix,
            "latency_us": started.elapsed().as_micros() as u64,
        });
        println!("{log}");
        Ok::<ProxyResponse, Error>(response)
    }))
    .await
}
