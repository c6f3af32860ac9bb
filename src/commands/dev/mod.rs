//! `presign-stack dev`: the stack's API on 127.0.0.1, served by the signer's own code (the
//! `lambda/` crate as a library, same validation, same response) with the API's CORS rules,
//! signing with the caller's credentials for the stack's bucket, on the emulator or on AWS.

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{ExitStatus, Session};
use crate::cli::{DevArgs, Global};
use crate::output::Printer;

mod api;
mod jwt;

pub use api::{query_parameters, Answer, Api, DevRequest};
pub use jwt::LocalJwt;

/// The subject of the token `dev` prints when no `--token-for` names one.
const DEFAULT_SUB: &str = "presign-stack-dev";

async fn serve(
    api: Arc<Api>,
    printer: Printer,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    // The multipart routes' bodies are small; anything over the signer's own limit is refused
    // by it, so reading one byte more is enough to tell.
    let limit = presign_signer::multipart::MAX_BODY_BYTES + 1;
    let body = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::from(vec![0u8; limit]),
    };
    let answer = api
        .answer(
            &DevRequest {
                method: &method,
                path: &path,
                query: parts.uri.query().unwrap_or_default(),
                origin: header("origin"),
                authorization: header("authorization"),
                body: &body,
            },
            crate::clock::now_unix(),
        )
        .await;
    // One line per request: never the key or the signed URL.
    printer.progress(&format!(
        "{method} {path} → {} {}",
        answer.status, answer.outcome
    ));
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
            response.headers_mut().append(name, v);
        }
    }
    Ok(response)
}

/// The API `dev` serves for the session's stack: the signer's code with the caller's
/// credentials, the spec's route, CORS and (local) JWT check.
pub async fn local_api(session: &Session) -> anyhow::Result<Api> {
    let cfg = super::url::signer_config(session)?;
    let signer = super::url::local_presigner(session, &cfg).await?;
    Ok(Api {
        route: session.stack.api.route.clone(),
        cors_origins: session.stack.api.cors_origins.clone(),
        cors_allow_headers: crate::plan::desired::api_cors(&session.stack)
            .map(|c| c.allow_headers)
            .unwrap_or_default(),
        jwt: session
            .stack
            .api
            .jwt
            .as_ref()
            .map(|j| LocalJwt::new(&j.issuer, &j.audience)),
        cfg,
        signer,
    })
}

/// Serves `api` on `listener` until the task is dropped or aborted.
pub async fn serve_on(listener: TcpListener, api: Arc<Api>, printer: Printer) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                printer.info(&format!("accept failed: {e}"));
                continue;
            }
        };
        let (api, printer) = (api.clone(), printer.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(api.clone(), printer.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

pub async fn run(global: &Global, args: &DevArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let session = Session::open(global, printer, None).await?;
    let api = Arc::new(local_api(&session).await?);
    // Uploads need the bucket: say so now rather than at the first PUT.
    if let Err(e) = session
        .run
        .clients
        .s3
        .head_bucket()
        .bucket(&api.cfg.bucket)
        .send()
        .await
    {
        let missing = e.as_service_error().is_some_and(|s| s.is_not_found());
        printer.info(&if missing {
            format!(
                "warning: bucket {} does not exist yet: uploads will fail until you run `presign-stack deploy`",
                api.cfg.bucket
            )
        } else {
            format!(
                "warning: could not check bucket {}: {}",
                api.cfg.bucket,
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{}\n  hint: pick another --port (0 picks a free one)",
                args.port
            )
        })?;
    let addr = listener.local_addr()?;
    let target = match &api.cfg.endpoint {
        Some(e) => format!("{e} (path-style)"),
        None => format!("AWS, {}", api.cfg.region),
    };
    let token_note = match &api.jwt {
        Some(jwt) if args.token_for.is_empty() => format!(
            "api.jwt is on: requests need a token. A local one (valid 1 h, accepted only by this server):\n  Authorization: Bearer {}\n",
            jwt.mint(DEFAULT_SUB, crate::clock::now_unix())
        ),
        Some(jwt) => {
            let mut note = "api.jwt is on: requests need a token. Local ones (valid 1 h, accepted only by this server):\n".to_string();
            for sub in &args.token_for {
                note.push_str(&format!(
                    "  {sub}: Authorization: Bearer {}\n",
                    jwt.mint(sub, crate::clock::now_unix())
                ));
            }
            note
        }
        None => String::new(),
    };
    printer.result(&format!(
        "{token_note}Listening on http://{addr}{route}\n  bucket {bucket} on {target}, signing with your credentials\n  CORS origins: {origins}\n  try: curl 'http://{addr}{route}?filekey=cat.jpg&contentType=image/jpeg'\nPress Ctrl-C to stop.\n",
        route = api.route,
        bucket = api.cfg.bucket,
        origins = if api.cors_origins.is_empty() { "(none: browsers are refused)".to_string() } else { api.cors_origins.join(", ") },
    ));
    tokio::select! {
        _ = serve_on(listener, api, printer.clone()) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    printer.info("Stopped.");
    Ok(ExitStatus::Success)
}
