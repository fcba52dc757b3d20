//! Argument groups several commands share, and the conversions from flag values to the
//! core's types.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::ValueEnum;
use picrypt_core::render::{self, RenderMode};
use picrypt_core::Op;

/// Where the subtraction runs: in this process, or on a function (at a URL, or a Lambda
/// function invoked directly).
#[derive(clap::Args, Clone, Default)]
pub struct RemoteArgs {
    /// Subtract on the function at this base URL (the CLI posts to URL/diff), e.g.
    /// http://127.0.0.1:9000/lambda-url/picrypt-function under cargo lambda watch.
    #[arg(long, group = "function")]
    pub url: Option<String>,
    /// Subtract on this Lambda function, invoked directly (the Invoke API, SigV4-signed by
    /// the AWS SDK): its name, ARN or NAME:ALIAS. AWS_ENDPOINT_URL_LAMBDA (or
    /// AWS_ENDPOINT_URL) names another endpoint, e.g. http://127.0.0.1:9000 for cargo
    /// lambda watch.
    #[arg(long, value_name = "NAME", group = "function")]
    pub function_name: Option<String>,
    /// Upload the ciphertexts to this S3 bucket and pass their keys (for large images).
    #[arg(long, value_name = "BUCKET", requires = "function")]
    pub s3_bucket: Option<String>,
    /// Key prefix for uploads (a folder: `picrypt` means `picrypt/`); must lie under the
    /// function's PICRYPT_PREFIX.
    #[arg(long, value_name = "PREFIX", default_value = "picrypt/")]
    pub s3_prefix: String,
    /// Keep the uploaded ciphertexts and the result in the bucket (by default they are
    /// deleted once the result is downloaded, and after any failure).
    #[arg(long, requires = "s3_bucket")]
    pub keep_s3_objects: bool,
    /// Sign requests with AWS SigV4 (automatic for Function URLs when credentials exist).
    #[arg(long, requires = "url")]
    pub sigv4: bool,
    /// Seconds to wait for the function's answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// How inline ciphertexts travel: framed (as bytes; the default) or json (base64 in
    /// JSON, for a proxy that passes only JSON). A function that does not take framed
    /// bodies is asked again in JSON on its own.
    #[arg(long, value_enum, value_name = "FORM", default_value_t = Wire::Framed, requires = "url")]
    pub wire: Wire,
}

/// The body form of an inline request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    /// `application/vnd.picrypt.framed`: the containers as bytes.
    #[default]
    Framed,
    /// `application/json`: the containers as base64 text.
    Json,
}

impl RemoteArgs {
    /// How long to wait for the function.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }

    /// Whether the subtraction runs on a function rather than in this process.
    pub fn is_remote(&self) -> bool {
        self.url.is_some() || self.function_name.is_some()
    }

    /// Where the subtraction runs, for reports: the URL, `lambda:NAME`, or `in process`.
    pub fn place(&self) -> String {
        match (&self.url, &self.function_name) {
            (Some(url), _) => url.clone(),
            (None, Some(name)) => format!("lambda:{name}"),
            (None, None) => "in process".to_string(),
        }
    }

    /// Checks the remote options before any work (encrypting, uploading): the URL parses
    /// (a loopback address without `http://` gets it), a function name is one, and the
    /// upload prefix is a folder whose keys the function's rules accept. Returns the
    /// options normalised.
    pub fn checked(&self) -> Result<RemoteArgs> {
        let mut out = self.clone();
        if let Some(url) = &self.url {
            out.url = Some(normalize_url(url)?);
        }
        if let Some(name) = &self.function_name {
            let name = name.trim();
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!("--function-name {name:?} is not a Lambda function name, ARN or NAME:ALIAS");
            }
            out.function_name = Some(name.to_string());
        }
        if self.s3_bucket.as_deref() == Some("") {
            bail!("--s3-bucket is empty: name the bucket the function uses");
        }
        if self.s3_bucket.is_some() {
            let mut prefix = self.s3_prefix.trim().to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            let probe = format!("{prefix}uploads/0123456789abcdef/a.picrypt");
            picrypt_api::check_s3_key(&probe, &prefix)
                .map_err(|e| anyhow!("--s3-prefix {:?}: {e}", self.s3_prefix))?;
            out.s3_prefix = prefix;
        }
        Ok(out)
    }
}

/// A function URL as given, or with `http://` added to a loopback address that has none.
fn normalize_url(url: &str) -> Result<String> {
    let url = url.trim();
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        let host = url.split(['/', '?']).next().unwrap_or("");
        let name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name);
        let loopback = name == "localhost"
            || name == "[::1]"
            || name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| a.is_loopback());
        if !loopback {
            bail!("--url {url:?} has no scheme: write https://{url} (or http:// for a server on this machine)");
        }
        format!("http://{url}")
    };
    let parsed = reqwest::Url::parse(&with_scheme)
        .map_err(|e| anyhow!("--url {url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("--url must be http:// or https://, not {url:?}");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        bail!("--url {url:?} names no host");
    }
    Ok(with_scheme)
}

/// The opt-in a legacy key needs before it encrypts anything.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct LegacyArgs {
    /// Allow encrypting with a legacy shuffle key, whose ciphertexts the server can break
    /// (docs/SECURITY.md); refused without it.
    #[arg(long)]
    pub insecure_shuffle: bool,
}

/// How a difference becomes a picture.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct RenderArgs {
    /// How to draw a difference [default: abs].
    #[arg(long, value_enum, value_name = "RENDER")]
    pub render: Option<RenderArg>,
    /// Differences of at most this much count as unchanged (mask and overlay renders,
    /// the heatmap's scale, and the statistics).
    #[arg(long, value_name = "N", default_value_t = render::DEFAULT_THRESHOLD)]
    pub threshold: u16,
}

impl RenderArgs {
    /// The render asked for, `abs` when none was.
    pub fn mode(&self) -> RenderMode {
        self.render.map_or(RenderMode::Abs, RenderMode::from)
    }
}

/// The renders, as flag values.
#[derive(Clone, Copy, ValueEnum)]
pub enum RenderArg {
    /// |A − B|: a moved object shows at both places.
    Abs,
    /// 128 + (A − B)/2: grey where nothing changed.
    Signed,
    /// max(A − B, 0), as OpenCV's cv2.subtract.
    Saturate,
    /// Largest |A − B| per pixel on the viridis colormap.
    Heatmap,
    /// White where a pixel changed by more than --threshold.
    Mask,
    /// The changes in red over the after image (dimmed), boxed in yellow.
    Overlay,
}

impl From<RenderArg> for RenderMode {
    fn from(r: RenderArg) -> RenderMode {
        match r {
            RenderArg::Abs => RenderMode::Abs,
            RenderArg::Signed => RenderMode::Signed,
            RenderArg::Saturate => RenderMode::Saturate,
            RenderArg::Heatmap => RenderMode::Heatmap,
            RenderArg::Mask => RenderMode::Mask,
            RenderArg::Overlay => RenderMode::Overlay,
        }
    }
}

/// The operations, as flag values.
#[derive(Clone, Copy, ValueEnum)]
pub enum OpArg {
    /// A − B, signed and exact.
    Sub,
    /// max(A − B, 0) per sample, as OpenCV's cv2.subtract (shuffle scheme only).
    #[value(name = "sub_sat")]
    SubSat,
}

impl From<OpArg> for Op {
    fn from(o: OpArg) -> Op {
        match o {
            OpArg::Sub => Op::Sub,
            OpArg::SubSat => Op::SubSat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            normalize_url("127.0.0.1:35713").unwrap(),
            "http://127.0.0.1:35713"
        );
        assert_eq!(
            normalize_url("localhost:8080/x").unwrap(),
            "http://localhost:8080/x"
        );
        assert_eq!(
            normalize_url("https://a.example/p").unwrap(),
            "https://a.example/p"
        );
        let e = normalize_url("abc.lambda-url.eu-west-1.on.aws").unwrap_err();
        assert!(e.to_string().contains("https://abc.lambda-url"), "{e}");
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("http://").is_err());
    }

    #[test]
    fn prefixes_are_folders() {
        let args = |p: &str| RemoteArgs {
            url: Some("http://127.0.0.1:1".into()),
            s3_bucket: Some("b".into()),
            s3_prefix: p.into(),
            ..RemoteArgs::default()
        };
        assert_eq!(args("picrypt").checked().unwrap().s3_prefix, "picrypt/");
        assert_eq!(args("picrypt/").checked().unwrap().s3_prefix, "picrypt/");
        assert_eq!(args("").checked().unwrap().s3_prefix, "");
        assert!(args("../x").checked().is_err());
        assert!(args("/abs").checked().is_err());
    }
}
