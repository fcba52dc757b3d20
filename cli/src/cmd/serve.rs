//! `picrypt serve`: the function's handler as a plain local HTTP server.

use std::net::SocketAddr;

use anyhow::{anyhow, Context, Result};

use crate::remote::{runtime, s3};

/// Arguments of `picrypt serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port and prints it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The only S3 bucket the function may use (default: PICRYPT_BUCKET).
    #[arg(long)]
    bucket: Option<String>,
    /// Key prefix inputs and outputs must lie under (default: PICRYPT_PREFIX).
    #[arg(long)]
    prefix: Option<String>,
}

/// Serves until Ctrl-C.
pub fn run(args: &Args) -> Result<()> {
    let mut config = picrypt_function::Config::from_env().map_err(|e| anyhow!(e))?;
    if args.bucket.is_some() {
        config.bucket = args.bucket.clone();
    }
    if let Some(prefix) = &args.prefix {
        config.prefix = prefix.clone();
    }
    let addr = args.addr;
    runtime()?.block_on(async move {
        let s3 = match config.bucket {
            Some(_) => Some(s3::client_from_env().await?),
            None => None,
        };
        let bucket_note = match &config.bucket {
            Some(b) => format!("S3 bucket {b}, prefix {:?}", config.prefix),
            None => "no S3 bucket: inline only".to_string(),
        };
        let app = std::sync::Arc::new(picrypt_function::App { config, s3 });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("picrypt function listening on http://{local} ({bucket_note}); POST /diff, GET /health; Ctrl-C stops");
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::select! {
            r = picrypt_function::serve::serve_on(app, listener) => r.context("server failed"),
            _ = tokio::signal::ctrl_c() => {
                println!("stopped");
                Ok(())
            }
        }
    })
}
