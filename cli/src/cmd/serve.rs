//! `picrypt serve`: the function's handler as a plain local HTTP server
//! ([`picrypt_function::LocalServer`], the CLI's one use of the function crate).

use std::net::SocketAddr;

use anyhow::{anyhow, Context, Result};
use picrypt_function::LocalServer;

use crate::remote::runtime;

/// Examples and environment, under `picrypt serve --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt serve                                                      # http://127.0.0.1:8080, inline only
  picrypt serve --addr 127.0.0.1:0 --bucket BUCKET --prefix picrypt/ # with S3 inputs and outputs

Environment: PICRYPT_BUCKET, PICRYPT_PREFIX, PICRYPT_MAX_OBJECT_BYTES, PICRYPT_S3_ATTEMPTS,
PICRYPT_S3_BACKOFF_MS, PICRYPT_S3_TIMEOUT_MS; with a bucket AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL (an S3-compatible server); PICRYPT_LOG
(log filter).";

/// Arguments of `picrypt serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on, HOST:PORT (a name such as localhost:8080 or an IP; port 0
    /// picks a free port and prints it). Anything but loopback exposes a server without
    /// authentication.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,
    /// The only S3 bucket the function may use (default: PICRYPT_BUCKET).
    #[arg(long)]
    bucket: Option<String>,
    /// Key prefix inputs and outputs must lie under (default: PICRYPT_PREFIX).
    #[arg(long)]
    prefix: Option<String>,
}

/// Serves until Ctrl-C.
pub fn run(args: &Args) -> Result<()> {
    runtime()?.block_on(async move {
        let addr = resolve(&args.addr).await?;
        if !addr.ip().is_loopback() {
            eprintln!(
                "picrypt: warning: serving on {addr}, which is not a loopback address: `picrypt serve` has no authentication, so anyone who can reach it can run computations{}",
                if args.bucket.is_some() || std::env::var_os("PICRYPT_BUCKET").is_some() {
                    " and make it read and write objects under its prefix"
                } else {
                    ""
                }
            );
        }
        picrypt_function::return_large_buffers_to_the_os();
        let server = LocalServer::from_env(args.bucket.clone(), args.prefix.clone())
            .await
            .map_err(|e| anyhow!(e))?;
        let bucket_note = match server.bucket() {
            Some(b) => format!("S3 bucket {b}, prefix {:?}", server.prefix()),
            None => "no S3 bucket: inline only".to_string(),
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("picrypt function listening on http://{local} ({bucket_note}); POST /diff, GET /health; Ctrl-C stops");
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::select! {
            r = server.serve(listener) => r.context("server failed"),
            _ = tokio::signal::ctrl_c() => {
                println!("stopped");
                Ok(())
            }
        }
    })
}

/// The first address a `HOST:PORT` resolves to.
pub(crate) async fn resolve(addr: &str) -> Result<SocketAddr> {
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(a);
    }
    if addr
        .rsplit_once(':')
        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        anyhow::bail!(
            "--addr {addr:?} is not HOST:PORT (for example 127.0.0.1:8080 or localhost:8080)"
        );
    }
    tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("--addr {addr:?}: cannot resolve the host name"))?
        .next()
        .ok_or_else(|| anyhow!("--addr {addr:?}: the host name resolves to no address"))
}
