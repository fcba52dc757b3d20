//! Prints the OpenAPI document generated from the API types, as committed in
//! `api/openapi.json`:
//!
//! ```sh
//! cargo run -p picrypt-api --example openapi > api/openapi.json
//! ```

fn main() {
    print!("{}", picrypt_api::openapi::document_json());
}
