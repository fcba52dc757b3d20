//! Argument groups several commands share, and the conversions from flag values to the
//! core's types.

use std::time::Duration;

use clap::ValueEnum;
use picrypt_core::render::{self, RenderMode};
use picrypt_core::Op;

/// Where the subtraction runs: in this process, or on a function.
#[derive(clap::Args, Clone, Default)]
pub struct RemoteArgs {
    /// Subtract on the function at this base URL (the CLI posts to URL/diff), e.g.
    /// http://127.0.0.1:9000/lambda-url/picrypt-function under cargo lambda watch.
    #[arg(long)]
    pub url: Option<String>,
    /// Upload the ciphertexts to this S3 bucket and pass their keys (for large images).
    #[arg(long, requires = "url")]
    pub s3_bucket: Option<String>,
    /// Key prefix for uploads; must lie under the function's PICRYPT_PREFIX.
    #[arg(long, default_value = "picrypt/")]
    pub s3_prefix: String,
    /// Sign requests with AWS SigV4 (automatic for Function URLs when credentials exist).
    #[arg(long, requires = "url")]
    pub sigv4: bool,
    /// Seconds to wait for the function's answer.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

impl RemoteArgs {
    /// How long to wait for the function.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
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
