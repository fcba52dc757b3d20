//! The Lambda entry point: wires [`picrypt_function::handle`] to the runtime.

#![deny(unsafe_code)]

use std::sync::Arc;

use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    picrypt_function::init_tracing();
    let app = Arc::new(picrypt_function::App::from_env()?);
    lambda_http::run(service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(picrypt_function::handle(&app, req).await) }
    }))
    .await
}
