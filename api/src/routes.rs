//! The function's endpoints, for its router and for the OpenAPI document's `paths`.

/// An endpoint of the function. The last segment of a request's path names it, so a stage
/// or URL prefix in front of it is fine (`/prod/diff`, `/lambda-url/picrypt-function/diff`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /diff`: A − B of two ciphertexts.
    Diff,
    /// `GET /health`: version and what the function supports.
    Health,
    /// `GET /openapi.json`: the OpenAPI 3.1 document.
    OpenApi,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 3] = [Endpoint::Diff, Endpoint::Health, Endpoint::OpenApi];

    /// The path, as the OpenAPI document names it (`/diff`).
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::Diff => "/diff",
            Endpoint::Health => "/health",
            Endpoint::OpenApi => "/openapi.json",
        }
    }

    /// The method the endpoint answers (`GET` endpoints answer `HEAD` too).
    pub const fn method(self) -> &'static str {
        match self {
            Endpoint::Diff => "POST",
            Endpoint::Health | Endpoint::OpenApi => "GET",
        }
    }

    /// The `Allow` header of a `405 method_not_allowed` on this endpoint.
    pub const fn allow(self) -> &'static str {
        match self {
            Endpoint::Diff => "POST",
            Endpoint::Health | Endpoint::OpenApi => "GET, HEAD",
        }
    }

    /// The endpoint a request path names by its last segment, trailing slashes aside.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let segment = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        Endpoint::ALL
            .into_iter()
            .find(|e| e.path().strip_prefix('/') == Some(segment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segment_names_the_endpoint() {
        assert_eq!(Endpoint::from_path("/diff"), Some(Endpoint::Diff));
        assert_eq!(Endpoint::from_path("/prod/diff/"), Some(Endpoint::Diff));
        assert_eq!(
            Endpoint::from_path("/lambda-url/picrypt-function/health"),
            Some(Endpoint::Health)
        );
        assert_eq!(
            Endpoint::from_path("/openapi.json"),
            Some(Endpoint::OpenApi)
        );
        for none in ["/", "", "/admin", "/diff/x", "/openapi"] {
            assert_eq!(Endpoint::from_path(none), None, "{none:?}");
        }
    }
}
