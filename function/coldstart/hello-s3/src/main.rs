//! The bare hello plus an S3 client built from the environment before the first event, as
//! the function did before it built its client on first use.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_from_env().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    lambda_http::run(service_fn(move |_: Request| {
        let region = s3.config().region().map(ToString::to_string);
        async move { Ok::<_, Error>(Response::new(Body::from(region.unwrap_or_default()))) }
    }))
    .await
}
