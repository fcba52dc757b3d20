//! The committed OpenAPI document (`api/openapi.json`, which the function serves) must be
//! exactly what the types generate. `PICRYPT_BLESS=1` rewrites it instead of failing.

use picrypt_api::openapi::{document_json, JSON, REGENERATE};

#[test]
fn committed_document_is_generated_from_the_types() {
    let fresh = document_json();
    if fresh == JSON {
        return;
    }
    if std::env::var_os("PICRYPT_BLESS").is_some_and(|v| v == "1") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        std::fs::write(path, &fresh).expect("write api/openapi.json");
        eprintln!("rewrote {path}");
        return;
    }
    let line = fresh
        .lines()
        .zip(JSON.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| fresh.lines().count().min(JSON.lines().count()));
    panic!(
        "api/openapi.json is not what the API types generate (first difference at line {}: committed {:?}, generated {:?}).\n\
         Regenerate it with:\n    {REGENERATE}\n(or PICRYPT_BLESS=1 cargo test -p picrypt-api --test openapi) and review the diff.",
        line + 1,
        JSON.lines().nth(line).unwrap_or("<end of file>"),
        fresh.lines().nth(line).unwrap_or("<end of file>"),
    );
}

/// The constraints the hand-written document had stay in the generated one.
#[test]
fn constraints_survive() {
    let doc: serde_json::Value = serde_json::from_str(JSON).unwrap();
    let schemas = &doc["components"]["schemas"];
    let text = schemas.to_string();
    assert!(text.contains(r#""maxLength":1024"#), "{text}");
    assert!(text.contains(r#""minLength":1"#), "{text}");
    assert!(text.contains(r#""contentEncoding":"base64""#), "{text}");
    assert_eq!(schemas["DiffRequest"]["additionalProperties"], false);
    assert_eq!(
        schemas["DiffRequest"]["required"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/diff", "/health", "/openapi.json"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
