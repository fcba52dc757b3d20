//! The same handler as a plain local HTTP/1.1 server (`picrypt serve`), for users without
//! cargo-lambda and for tests. Bodies over Lambda's 6 MB limit are refused with 413, as
//! Lambda itself would.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use tokio::net::TcpListener;

use crate::api::ApiError;
use crate::handler::{handle, App};
use crate::LAMBDA_PAYLOAD_LIMIT;

/// Binds `addr` and serves until the process is stopped.
pub async fn serve(app: App, addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "picrypt function listening");
    serve_on(Arc::new(app), listener).await
}

/// Serves connections from an already bound listener (tests bind port 0).
pub async fn serve_on(app: Arc<App>, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(bridge(&app, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Converts between hyper's types and the Lambda handler's.
async fn bridge(app: &App, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let e = ApiError::too_large(
            "request_too_large",
            format!("request body exceeds the {LAMBDA_PAYLOAD_LIMIT}-byte limit: upload the ciphertexts to S3 and send their keys"),
        );
        plain_error(&e)
    };
    if declared.is_some_and(|n| n > LAMBDA_PAYLOAD_LIMIT as u64) {
        return too_large();
    }
    let bytes = match Limited::new(body, LAMBDA_PAYLOAD_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large()
        }
        Err(_) => {
            return plain_error(&ApiError::bad_request(
                "bad_request",
                "the request body could not be read",
            ))
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    let response = handle(app, lambda_http::Request::from_parts(parts, body)).await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// An error answered before the handler runs, with a request id of its own like every
/// answer (in `x-request-id` and the body).
fn plain_error(e: &ApiError) -> hyper::Response<Full<Bytes>> {
    let request_id = crate::handler::random_request_id();
    tracing::info!(
        request_id,
        status = e.status,
        code = e.code,
        "refused before the handler"
    );
    hyper::Response::builder()
        .status(e.status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .header("x-request-id", &request_id)
        .header(hyper::header::CONNECTION, "close")
        .body(Full::new(Bytes::from(e.body(&request_id))))
        .expect("a hex request id is a valid header value")
}
