//! The Lambda entry point: wires [`picrypt_function::invoke`] to the runtime. The payload
//! arrives as the JSON text Lambda sent; `invoke` tells an HTTP event from a direct
//! invocation.

#![deny(unsafe_code)]

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    picrypt_function::return_large_buffers_to_the_os();
    picrypt_function::init_tracing();
    let app = Arc::new(picrypt_function::App::from_env()?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = app.clone();
        // Boxed: the runtime's future around the handler's is otherwise too deep a type
        // for the compiler's layout queries.
        async move {
            let answer = Box::pin(picrypt_function::invoke(&app, event)).await;
            Ok::<_, std::convert::Infallible>(answer)
        }
    }))
    .await
}
