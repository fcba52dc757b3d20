//! `picrypt web`: the page (embedded in this binary) on loopback, computing in process or
//! forwarding its one request to a function; and `--check URL`, which compares the page a
//! function serves with the embedded one.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use picrypt_function::{Forward, ForwardFuture, Forwarded, LocalServer};

use crate::cmd::serve::resolve;
use crate::remote::http::Remote;
use crate::remote::runtime;

/// Examples, under `picrypt web --help`.
pub const EXAMPLES: &str = "Examples:
  picrypt web                              # the page at http://127.0.0.1:8090, computing here
  picrypt web --url https://ID.lambda-url.REGION.on.aws
                                           # the page here, the subtraction on Lambda (signed)
  picrypt web --check https://ID.lambda-url.REGION.on.aws
                                           # is the page that function serves this one?

The page encrypts and decrypts in the browser; only the two ciphertexts go to this server,
which subtracts them here or sends them on to --url. Keys and pictures never leave the page.";

/// Arguments of `picrypt web`.
#[derive(clap::Args)]
pub struct Args {
    /// Loopback address to serve the page on, HOST:PORT (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8090")]
    addr: String,
    /// Send the page's requests to the function at this base URL instead of computing them
    /// here, signed with SigV4 for Function URLs (as `picrypt run --url` does).
    #[arg(long, conflicts_with = "check")]
    url: Option<String>,
    /// Sign forwarded requests with AWS SigV4 (automatic for Function URLs when credentials
    /// exist).
    #[arg(long, requires = "url")]
    sigv4: bool,
    /// Seconds to wait for the function's answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    /// Print the page's address without opening a browser.
    #[arg(long)]
    no_open: bool,
    /// Compare the page a function serves at URL with the one in this binary, file by
    /// file, byte for byte; exit non-zero when any differs.
    #[arg(long, value_name = "URL")]
    check: Option<String>,
}

/// Serves the page until Ctrl-C, or checks one.
pub fn run(args: &Args) -> Result<()> {
    runtime()?.block_on(async move {
        if let Some(url) = &args.check {
            return check(url, Duration::from_secs(args.timeout)).await;
        }
        let addr = resolve(&args.addr).await?;
        if !addr.ip().is_loopback() {
            bail!(
                "--addr {addr}: `picrypt web` serves the page on loopback only (127.0.0.1 or [::1]); the page is for this machine's browser"
            );
        }
        let forward: Option<Arc<dyn Forward>> = match &args.url {
            Some(url) => {
                let remote =
                    Remote::new(url, args.sigv4, Duration::from_secs(args.timeout)).await?;
                Some(Arc::new(ToFunction(remote)))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (is another `picrypt web` running? pass --addr 127.0.0.1:0 for a free port)")
        })?;
        let local = listener.local_addr()?;
        let page = format!("http://{local}/");
        let computed = match &args.url {
            Some(url) => format!("subtracting on {url}"),
            None => "subtracting in this process".to_string(),
        };
        println!("picrypt web: the page is at {page} ({computed}); Ctrl-C stops");
        use std::io::Write;
        std::io::stdout().flush()?;
        if !args.no_open {
            open_browser(&page);
        }
        tokio::select! {
            r = LocalServer::page(forward).serve(listener) => r.context("server failed"),
            _ = tokio::signal::ctrl_c() => {
                println!("stopped");
                Ok(())
            }
        }
    })
}

/// The page's `POST diff`, sent on to a function.
struct ToFunction(Remote);

impl Forward for ToFunction {
    fn diff(
        &self,
        content_type: Option<String>,
        accept: Option<String>,
        body: bytes::Bytes,
    ) -> ForwardFuture<'_> {
        Box::pin(async move {
            let content_type = content_type.unwrap_or_else(|| "application/json".to_string());
            let answer = self
                .0
                .post(vec![body], &content_type, accept.as_deref())
                .await
                .map_err(|e| format!("{e:#}"))?;
            Ok(Forwarded {
                status: answer.status.as_u16(),
                content_type: answer.content_type,
                request_id: None,
                body: answer.body,
            })
        })
    }
}

/// Opens `url` in the desktop's browser, when there is one; the address is printed either way.
fn open_browser(url: &str) {
    let opener: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd", "/c", "start", ""]
    } else {
        &["xdg-open"]
    };
    let spawned = std::process::Command::new(opener[0])
        .args(&opener[1..])
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        println!("open {url} in your browser");
    }
}

/// `--check URL`: every file of the embedded page against what URL serves.
async fn check(url: &str, timeout: Duration) -> Result<()> {
    let base = reqwest::Url::parse(url).with_context(|| format!("invalid --check URL {url:?}"))?;
    if !matches!(base.scheme(), "http" | "https") {
        bail!("--check URL must be http:// or https://, not {url:?}");
    }
    let base = format!("{}/", url.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("picrypt/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot create an HTTP client")?;
    let mut differ = Vec::new();
    for asset in picrypt_web::ASSETS {
        let file_url = if asset.name == "index.html" {
            base.clone()
        } else {
            format!("{base}{}", asset.name)
        };
        let response = http
            .get(&file_url)
            .send()
            .await
            .with_context(|| format!("cannot fetch {file_url}"))?;
        let status = response.status();
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .with_context(|| format!("cannot read {file_url}"))?;
        let verdict = if !status.is_success() {
            format!("HTTP {}", status.as_u16())
        } else if body.as_ref() != asset.body {
            format!(
                "differs ({} bytes, embedded {})",
                body.len(),
                asset.body.len()
            )
        } else if csp.as_deref() != Some(picrypt_web::CONTENT_SECURITY_POLICY) {
            "same bytes, but a different Content-Security-Policy".to_string()
        } else {
            println!("same    {file_url}");
            continue;
        };
        println!("DIFFERS {file_url}: {verdict}");
        differ.push(asset.name);
    }
    if !differ.is_empty() {
        bail!(
            "the page at {base} is not the one in this binary ({} of {} files differ: {}): do not give it your keys; use `picrypt web --url {url}` to run this binary's page against that function",
            differ.len(),
            picrypt_web::ASSETS.len(),
            differ.join(", ")
        );
    }
    println!(
        "the page at {base} is byte for byte the one in this binary (picrypt {})",
        env!("CARGO_PKG_VERSION")
    );
    Ok(())
}
