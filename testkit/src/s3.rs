//! Test helpers: a real S3-protocol server on loopback and clients for it.
//!
//! [`S3Server::start`] uses the server named by `PICRYPT_TEST_S3_ENDPOINT` when it is set
//! (tests/run.sh starts one for the whole run), and otherwise starts `moto_server` (PyPI
//! `moto[server]`) on a free loopback port for the lifetime of the value. [`FaultProxy`]
//! sits in front of it (or of a function: `picrypt serve`) and breaks requests on demand: throttling, delays, bodies cut
//! short or stalled, uploads dropped midway, objects deleted just before they are read,
//! and the server refusing connections altogether.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use picrypt_api::s3::Settings;

/// Environment for AWS clients talking to the loopback server: fixed test credentials, a
/// region, and no instance-metadata lookups (tests must never leave loopback).
pub const AWS_TEST_ENV: [(&str, &str); 5] = [
    ("AWS_ACCESS_KEY_ID", "picrypt-test"),
    ("AWS_SECRET_ACCESS_KEY", "picrypt-test-secret"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
];

pub struct S3Server {
    pub endpoint: String,
    child: Option<Child>,
}

impl S3Server {
    pub fn start() -> S3Server {
        match std::env::var("PICRYPT_TEST_S3_ENDPOINT") {
            Ok(endpoint) => S3Server {
                endpoint,
                child: None,
            },
            Err(_) => S3Server::spawn_own(),
        }
    }

    /// Starts a `moto_server` of its own even when a shared one is configured: for tests
    /// that [`kill`](S3Server::kill) it.
    pub fn spawn_own() -> S3Server {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]' (tests/run.sh does)")
            });
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        wait_for_port(port, Duration::from_secs(30));
        server
    }

    /// Stops this value's own server now: S3 going away in the middle of a run.
    pub fn kill(&mut self) {
        let child = self
            .child
            .as_mut()
            .expect("only a server from S3Server::spawn_own can be killed");
        let _ = child.kill();
        let _ = child.wait();
        self.child = None;
    }

    /// Clients for an endpoint this value does not manage (e.g. one where nothing listens).
    pub fn at(endpoint: String) -> S3Server {
        S3Server {
            endpoint,
            child: None,
        }
    }

    /// An S3 client for this server, with the SDK's default retries and timeouts.
    pub fn client(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(client_config(&self.endpoint).build())
    }

    /// An S3 client for this server configured as the function configures its own.
    pub fn client_with(&self, settings: &Settings) -> aws_sdk_s3::Client {
        client_with(&self.endpoint, settings)
    }

    /// Stores an object directly on this server.
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.client()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {e}"));
    }

    /// Creates a bucket with a unique name and returns the name.
    pub async fn bucket(&self, stem: &str) -> String {
        let mut suffix = [0u8; 6];
        getrandom::getrandom(&mut suffix).unwrap();
        let name = format!(
            "{stem}-{}",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        self.client()
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        name
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on the loopback port.
pub fn wait_for_port(port: u16, limit: Duration) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < limit,
            "nothing listening on {addr} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client_config(endpoint: &str) -> aws_sdk_s3::config::Builder {
    let creds = aws_sdk_s3::config::Credentials::new(
        AWS_TEST_ENV[0].1,
        AWS_TEST_ENV[1].1,
        None,
        None,
        "picrypt-test",
    );
    aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .force_path_style(true)
}

/// A client for `endpoint` with the function's retry and timeout `settings`. Each gets
/// a retry partition (token bucket) of its own, so the retries of one test never run
/// another out of tokens.
pub fn client_with(endpoint: &str, settings: &Settings) -> aws_sdk_s3::Client {
    static PARTITIONS: AtomicUsize = AtomicUsize::new(0);
    let partition = aws_sdk_s3::config::retry::RetryPartition::new(format!(
        "picrypt-test-{}",
        PARTITIONS.fetch_add(1, Ordering::Relaxed)
    ));
    let config = settings
        .apply(client_config(endpoint))
        .retry_partition(partition)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// What a [`FaultProxy`] does to a request it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers `503 SlowDown`, S3's throttling error, without forwarding the request.
    SlowDown,
    /// Answers `status` (429 throttling, 503 overloaded, …) with this `Retry-After` value
    /// when given and a small JSON body, as Lambda's front end does when a function is
    /// throttled, without forwarding the request.
    Refuse {
        status: u16,
        retry_after: Option<String>,
    },
    /// Forwards the request and holds the response this long before sending it on.
    Delay(Duration),
    /// Sends on the response head and this many body bytes, then closes the connection.
    CutResponse(usize),
    /// Sends on the response head and this many body bytes, then nothing more.
    StallResponse(usize),
    /// Forwards the request head and this many body bytes, then closes both connections.
    CutRequest(usize),
    /// Deletes the object the request names (a real `DELETE` on the server), then forwards
    /// the request.
    DeleteObject,
    /// Replaces the object the request names with its first this many bytes (a real `GET`
    /// and `PUT` on the server), then forwards the request.
    TruncateObject(usize),
}

/// A fault and the requests it applies to: by method, by a part of the path, and for the
/// next `times` of them (all, by default).
#[derive(Clone, Debug)]
pub struct Injection {
    fault: Fault,
    method: Option<String>,
    path: Option<String>,
    times: usize,
}

impl Injection {
    /// `fault` on every request.
    pub fn new(fault: Fault) -> Injection {
        Injection {
            fault,
            method: None,
            path: None,
            times: usize::MAX,
        }
    }

    /// Only the next `n` matching requests; the ones after pass through.
    pub fn times(mut self, n: usize) -> Injection {
        self.times = n;
        self
    }

    /// Only requests with this method (`GET`, `PUT`, …).
    pub fn method(mut self, method: &str) -> Injection {
        self.method = Some(method.to_string());
        self
    }

    /// Only requests whose path (and query) contains `part`.
    pub fn path(mut self, part: &str) -> Injection {
        self.path = Some(part.to_string());
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        self.times > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| target.contains(p))
    }
}

/// A request the proxy saw, and the fault it applied to it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    injection: Option<Injection>,
    seen: Vec<Seen>,
}

enum Control {
    Stop(mpsc::Sender<()>),
    Resume(mpsc::Sender<()>),
}

/// An HTTP/1.1 proxy on loopback in front of a real S3-protocol server that breaks
/// requests on demand ([`FaultProxy::inject`]) or refuses connections
/// ([`FaultProxy::stop`]), and records every request it sees.
///
/// Every exchange gets a connection of its own (`Connection: close` both ways), so a
/// fault hits exactly the request it was meant for. The proxy runs on a thread and
/// runtime of its own: it serves async tests and blocking ones alike.
pub struct FaultProxy {
    /// Its base URL, to use as the S3 endpoint.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    control: Option<tokio::sync::mpsc::UnboundedSender<Control>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy for the server at `upstream` (`http://host:port`), passing
    /// everything through until told otherwise.
    pub fn start(upstream: &str) -> FaultProxy {
        FaultProxy::start_routed(upstream, &[])
    }

    /// [`FaultProxy::start`], sending requests whose path starts with one of `routes`'
    /// prefixes to that route's server instead: one endpoint for several services (say S3,
    /// and the Lambda Invoke API at `/2015-03-31/functions/`).
    pub fn start_routed(upstream: &str, routes: &[(&str, &str)]) -> FaultProxy {
        let upstream = socket_addr(upstream);
        let routes: Arc<Vec<(String, SocketAddr)>> = Arc::new(
            routes
                .iter()
                .map(|(prefix, server)| (prefix.to_string(), socket_addr(server)))
                .collect(),
        );
        let state = Arc::new(Mutex::new(State::default()));
        let (control, mut commands) = tokio::sync::mpsc::unbounded_channel();
        let (bound, address) = mpsc::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the fault proxy");
                runtime.block_on(async move {
                    let first = listen(SocketAddr::from(([127, 0, 0, 1], 0)))
                        .expect("a loopback port for the fault proxy");
                    let addr = first.local_addr().expect("bound address");
                    bound.send(addr).expect("FaultProxy::start is waiting");
                    let mut listener = Some(first);
                    let mut connections = tokio::task::JoinSet::new();
                    loop {
                        tokio::select! {
                            accepted = accept(listener.as_ref()) => {
                                if let Ok(client) = accepted {
                                    connections.spawn(exchange(client, upstream, routes.clone(), shared.clone()));
                                }
                                while connections.try_join_next().is_some() {}
                            }
                            command = commands.recv() => match command {
                                Some(Control::Stop(done)) => {
                                    listener = None;
                                    connections.abort_all();
                                    while connections.join_next().await.is_some() {}
                                    let _ = done.send(());
                                }
                                Some(Control::Resume(done)) => {
                                    listener = Some(relisten(addr).await);
                                    let _ = done.send(());
                                }
                                None => break,
                            },
                        }
                    }
                });
            })
            .expect("a thread for the fault proxy");
        let addr = address.recv().expect("the fault proxy did not start");
        FaultProxy {
            endpoint: format!("http://{addr}"),
            state,
            control: Some(control),
            thread: Some(thread),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `injection` from now on, in place of any earlier one.
    pub fn inject(&self, injection: Injection) {
        self.state().injection = Some(injection);
    }

    /// Passes everything through again.
    pub fn clear(&self) {
        self.state().injection = None;
    }

    fn command(&self, make: impl FnOnce(mpsc::Sender<()>) -> Control) {
        let (done, wait) = mpsc::channel();
        self.control
            .as_ref()
            .expect("running")
            .send(make(done))
            .expect("the fault proxy thread is running");
        wait.recv().expect("the fault proxy thread answers");
    }

    /// Closes the port, so connections are refused, and breaks every open exchange.
    /// Returns once that is done.
    pub fn stop(&self) {
        self.command(Control::Stop);
    }

    /// Listens again on the same port.
    pub fn resume(&self) {
        self.command(Control::Resume);
    }

    /// Every request seen so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// How many requests with `method` were seen.
    pub fn requests(&self, method: &str) -> usize {
        self.requests_to(method, "")
    }

    /// How many requests with `method` and `part` in their path were seen.
    pub fn requests_to(&self, method: &str, part: &str) -> usize {
        self.state()
            .seen
            .iter()
            .filter(|s| s.method == method && s.target.contains(part))
            .count()
    }

    /// How many requests a fault was applied to.
    pub fn faulted(&self) -> usize {
        self.state()
            .seen
            .iter()
            .filter(|s| s.fault.is_some())
            .count()
    }

    /// Forgets the requests seen so far.
    pub fn reset_counts(&self) {
        self.state().seen.clear();
    }

    /// A client for the proxy with the function's retry and timeout `settings`.
    pub fn client(&self, settings: &Settings) -> aws_sdk_s3::Client {
        client_with(&self.endpoint, settings)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Closing the channel ends the accept loop; the runtime drops every exchange.
        self.control = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listen(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// Binds `addr` again after a stop, waiting out a port still held by the old socket.
async fn relisten(addr: SocketAddr) -> tokio::net::TcpListener {
    let start = Instant::now();
    loop {
        match listen(addr) {
            Ok(l) => return l,
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                panic!("cannot listen on {addr} again: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn accept(listener: Option<&tokio::net::TcpListener>) -> io::Result<tokio::net::TcpStream> {
    match listener {
        Some(l) => l.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// The address of an `http://host:port` server.
fn socket_addr(url: &str) -> SocketAddr {
    let authority = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("FaultProxy needs an http:// upstream, not {url:?}"))
        .trim_end_matches('/');
    authority
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("cannot resolve {authority}: {e}"))
        .next()
        .unwrap_or_else(|| panic!("{authority} resolves to nothing"))
}

/// One request and its response, with the fault (if any) that applies to it.
async fn exchange(
    mut client: tokio::net::TcpStream,
    upstream: SocketAddr,
    routes: Arc<Vec<(String, SocketAddr)>>,
    state: Arc<Mutex<State>>,
) -> io::Result<()> {
    let Some((head, early_body)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let request = Head::parse(&head)?;
    let (method, target) = request.request_line()?;
    let upstream = routes
        .iter()
        .find(|(prefix, _)| target.starts_with(prefix.as_str()))
        .map_or(upstream, |(_, server)| *server);
    let fault = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = match &mut state.injection {
            Some(i) if i.matches(&method, &target) => {
                i.times -= 1;
                Some(i.fault.clone())
            }
            _ => None,
        };
        state.seen.push(Seen {
            method: method.clone(),
            target: target.clone(),
            fault: fault.clone(),
        });
        fault
    };
    match fault {
        Some(Fault::SlowDown) => {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId><HostId>picrypt-fault-proxy</HostId></Error>";
            let head = format!(
                "HTTP/1.1 503 Slow Down\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nx-amz-request-id: FAULTPROXY\r\nconnection: close\r\n\r\n",
                body.len()
            );
            return answer_unforwarded(client, &request, early_body.len(), head + body).await;
        }
        Some(Fault::Refuse {
            status,
            retry_after,
        }) => {
            let body = format!("{{\"Message\":\"refused by the fault proxy with {status}\"}}");
            let retry_after = retry_after
                .map(|v| format!("retry-after: {v}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} Refused\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry_after}connection: close\r\n\r\n",
                body.len()
            );
            return answer_unforwarded(client, &request, early_body.len(), head + &body).await;
        }
        Some(Fault::DeleteObject) => {
            let auth = request.header("authorization");
            expect_ok(raw(upstream, "DELETE", &target, auth, &[]).await?, &target)?;
        }
        Some(Fault::TruncateObject(keep)) => {
            let auth = request.header("authorization");
            let mut whole = expect_ok(raw(upstream, "GET", &target, auth, &[]).await?, &target)?;
            whole.truncate(keep);
            expect_ok(raw(upstream, "PUT", &target, auth, &whole).await?, &target)?;
        }
        _ => {}
    }

    let mut server = tokio::net::TcpStream::connect(upstream).await?;
    server.write_all(&request.closing()).await?;
    if let Some(Fault::CutRequest(keep)) = fault {
        // Part of the body reaches the server, then both connections go away.
        let first = early_body.len().min(keep);
        server.write_all(&early_body[..first]).await?;
        let rest = (keep - first) as u64;
        tokio::io::copy(&mut (&mut client).take(rest), &mut server).await?;
        return Ok(());
    }
    server.write_all(&early_body).await?;
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_client, mut to_client) = client.into_split();
    let upload =
        tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
    let result = async {
        let (head, body_start) = loop {
            let Some((head, rest)) = read_head(&mut from_server).await? else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            let response = Head::parse(&head)?;
            if response.is_interim() {
                // 100 Continue: pass it on and wait for the real answer.
                to_client.write_all(&head).await?;
                continue;
            }
            break (response, rest);
        };
        if let Some(Fault::Delay(d)) = fault {
            tokio::time::sleep(d).await;
        }
        to_client.write_all(&head.closing()).await?;
        match fault {
            Some(Fault::CutResponse(keep)) | Some(Fault::StallResponse(keep)) => {
                let first = body_start.len().min(keep);
                to_client.write_all(&body_start[..first]).await?;
                let rest = (keep - first) as u64;
                tokio::io::copy(&mut (&mut from_server).take(rest), &mut to_client).await?;
                to_client.flush().await?;
                if matches!(fault, Some(Fault::StallResponse(_))) {
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
            _ => {
                to_client.write_all(&body_start).await?;
                tokio::io::copy(&mut from_server, &mut to_client).await?;
                to_client.shutdown().await
            }
        }
    }
    .await;
    upload.abort();
    result
}

/// Sends `response` (head and body) in place of the server's, after reading the request's
/// body (if it declared one) so the client sees the answer rather than a reset.
async fn answer_unforwarded(
    mut client: tokio::net::TcpStream,
    request: &Head,
    body_read: usize,
    response: String,
) -> io::Result<()> {
    let expects_continue = request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if !expects_continue {
        if let Some(len) = request.content_length() {
            let rest = len.saturating_sub(body_read as u64);
            tokio::io::copy(&mut (&mut client).take(rest), &mut tokio::io::sink()).await?;
        }
    }
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await?;
    // Let a chunked body or an unsent one drain until the client hangs up.
    let mut sink = [0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while client.read(&mut sink).await.map(|n| n > 0).unwrap_or(false) {}
    })
    .await;
    Ok(())
}

/// Sends one request for the object at `target` (path-style `/bucket/key`, query
/// dropped) to the server itself; its status and body. The intercepted request's
/// `authorization` goes along: moto tells S3 requests from those of other services by its
/// credential scope (and checks no signature).
async fn raw(
    upstream: SocketAddr,
    method: &str,
    target: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> io::Result<(u16, Vec<u8>)> {
    let path = target.split('?').next().unwrap_or(target);
    let mut server = tokio::net::TcpStream::connect(upstream).await?;
    let authorization = authorization
        .map(|a| format!("authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {upstream}\r\n{authorization}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    server.write_all(head.as_bytes()).await?;
    server.write_all(body).await?;
    let (head, mut body) = read_head(&mut server)
        .await?
        .ok_or(io::ErrorKind::UnexpectedEof)?;
    server.read_to_end(&mut body).await?;
    let status = Head::parse(&head)?.status().unwrap_or(0);
    Ok((status, body))
}

fn expect_ok((status, body): (u16, Vec<u8>), target: &str) -> io::Result<Vec<u8>> {
    match status {
        200..=299 => Ok(body),
        _ => Err(io::Error::other(format!(
            "the fault proxy's own request for {target} answered {status}"
        ))),
    }
}

/// Reads an HTTP head up to its blank line: the head, and what followed it in the same
/// reads. `None` when the peer closed before sending anything.
async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "HTTP head over 64 KiB",
            ));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return match buf.is_empty() {
                true => Ok(None),
                false => Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A parsed HTTP/1.1 request or response head.
struct Head {
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(bytes: &[u8]) -> io::Result<Head> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "HTTP head is not UTF-8"))?;
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let start = lines.next().unwrap_or("").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Head { start, headers })
    }

    fn request_line(&self) -> io::Result<(String, String)> {
        let mut parts = self.start.split(' ');
        match (parts.next(), parts.next()) {
            (Some(method), Some(target)) => Ok((method.to_string(), target.to_string())),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a request line: {:?}", self.start),
            )),
        }
    }

    fn status(&self) -> Option<u16> {
        self.start.split(' ').nth(1)?.parse().ok()
    }

    fn is_interim(&self) -> bool {
        self.status().is_some_and(|s| (100..200).contains(&s))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.parse().ok()
    }

    /// The head again, saying the connection closes after this exchange.
    fn closing(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("keep-alive") {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str("connection: close\r\n\r\n");
        out.into_bytes()
    }
}
