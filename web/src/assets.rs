//! The page's files, embedded from `web/page/` (the WebAssembly client among them is built
//! by `web/build.sh` and committed; `tests/web.sh` checks that a rebuild matches it).

/// One file of the page.
#[derive(Debug)]
pub struct Asset {
    /// Its name, which is also its path relative to the page (`app.js`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../page/", $name)),
        }
    };
}

/// Every file of the page; the first is the page itself.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("worker.js", "text/javascript; charset=utf-8"),
    asset!("picrypt_web.js", "text/javascript; charset=utf-8"),
    asset!("picrypt_web_bg.wasm", "application/wasm"),
    asset!("icon.svg", "image/svg+xml"),
];

/// The page's Content-Security-Policy: its own scripts (and WebAssembly compiled from its
/// own module), requests to its own origin only, pictures from itself and from the
/// `blob:` URLs it makes of the user's files and renders; nothing inline, no third party,
/// no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' blob:; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Headers every answer carrying a file of the page has. `no-cache`: a browser revalidates
/// the page instead of running a stale copy after the binary changed.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-cache"),
];

/// The file a request path names by its last segment, whatever prefix sits before it (a
/// stage, or `/lambda-url/NAME/` under `cargo lambda watch`): the page for a path ending in
/// `/` (or empty) and for `index.html`.
pub fn asset(path: &str) -> Option<&'static Asset> {
    let name = match path.rsplit('/').next() {
        None | Some("") => "index.html",
        Some(name) => name,
    };
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_files_by_their_last_segment() {
        assert_eq!(asset("/").unwrap().name, "index.html");
        assert_eq!(asset("").unwrap().name, "index.html");
        assert_eq!(
            asset("/lambda-url/picrypt-function/").unwrap().name,
            "index.html"
        );
        assert_eq!(asset("/prod/app.js").unwrap().name, "app.js");
        assert_eq!(
            asset("/picrypt_web_bg.wasm").unwrap().content_type,
            "application/wasm"
        );
        for none in [
            "/diff",
            "/health",
            "/lambda-url/picrypt-function",
            "/../Cargo.toml",
            "/x.js",
        ] {
            assert!(asset(none).is_none(), "{none:?}");
        }
    }

    /// The page loads its files by relative name only, so that it works under any prefix,
    /// and names only files that are embedded.
    #[test]
    fn the_page_names_only_embedded_files() {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap();
        for attr in ["src=\"", "href=\""] {
            for piece in html.split(attr).skip(1) {
                let target = piece.split('"').next().unwrap();
                assert!(
                    asset(target).is_some() && !target.contains('/'),
                    "index.html names {target:?}, which is not an embedded file"
                );
            }
        }
        assert!(
            !html.contains("<script>"),
            "no inline script: the CSP forbids it"
        );
        assert!(
            !html.contains("style=\""),
            "no inline style: the CSP forbids it"
        );
    }

    #[test]
    fn the_webassembly_is_built() {
        let wasm = asset("picrypt_web_bg.wasm").unwrap().body;
        assert!(
            wasm.starts_with(b"\0asm"),
            "web/page/picrypt_web_bg.wasm is not WebAssembly: run `bash web/build.sh`"
        );
    }
}
