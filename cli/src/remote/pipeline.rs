//! One inline diff over plain HTTP whose request goes out while it is still being made:
//! the request and container A while B is encrypted, B as soon as it is. The exchange
//! runs on a thread of its own, with a runtime of its own, so the network moves while the
//! caller's thread encrypts. The answer is read whole and then checked as any other
//! (`picrypt_core::verify`): nothing about the checks changes.
//!
//! Two things make this path faster than the buffered one, and both need a connection of
//! our own, so it is for `http://` URLs (a local `picrypt serve`, `cargo lambda watch`, a
//! function behind a private endpoint):
//! * the body is sent before its last byte exists. A SigV4 signature covers the hash of
//!   the whole body, so a signed request (a Function URL with `AuthType: AWS_IAM`) cannot
//!   be sent this way;
//! * the socket takes the answer into a receive buffer of megabytes. Grown from its
//!   default by the kernel, it takes a 2 MB answer in several rounds instead of one
//!   (docs/PERFORMANCE.md, "The network path"). reqwest does not let a caller set it.

use std::pin::Pin;
use std::sync::mpsc as std_mpsc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use picrypt_api::limits::{fits_one_invocation_framed, framed_event_bytes};
use picrypt_api::{framed, DiffRequest, DiffResponse};
use picrypt_core::Op;
use tokio::sync::mpsc;

use super::http::{framed_accept, too_large_for_one_invocation, Answer, AnswerBody, Remote};
use super::Sent;

/// The receive buffer asked for: an answer within Lambda's limit fits it whole. The
/// kernel caps it at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 6 << 20;

/// How long connecting may take, as for every other request (remote/http.rs).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A framed `POST URL/diff` whose containers are handed over as they are made.
pub struct Pipeline {
    remote: Remote,
    frames: mpsc::UnboundedSender<Bytes>,
    /// The announced length of each container, and the head that goes before B.
    lens: [usize; 2],
    head_b: Bytes,
    parts_sent: usize,
    sent: Sent,
    answer: std_mpsc::Receiver<Result<Received>>,
    /// Memory for the answer, handed to the exchange's thread ([`Pipeline::warm_answer`]).
    warm: std_mpsc::Sender<Vec<u8>>,
}

/// The whole answer, and when it came.
struct Received {
    answer: Answer,
    head_at: Instant,
    end_at: Instant,
}

/// The answer to the request, and when its head and its last byte came (for reports).
pub struct Answered {
    /// The document and the result (framed or JSON), or `None` when the function does
    /// not take framed bodies (415) and is to be asked again in JSON.
    pub inline: Option<(DiffResponse, Bytes)>,
    pub head_at: Instant,
    pub end_at: Instant,
}

impl Pipeline {
    /// Whether a diff on `remote` can be sent this way: an unsigned request to an
    /// `http://` URL.
    pub fn applies(remote: &Remote) -> bool {
        !remote.signs() && remote.url().starts_with("http://")
    }

    /// Starts `op` of two containers of `lens` bytes on `remote`: the request and its
    /// head go out now, the containers as [`Pipeline::send`] hands them over. A body over
    /// what one Lambda invocation takes is refused before anything is sent.
    pub fn start(remote: &Remote, op: Op, lens: [usize; 2]) -> Result<Pipeline> {
        if !Pipeline::applies(remote) {
            bail!("only an unsigned request to an http:// URL is sent before its body is made");
        }
        let heads = DiffRequest::framed_inline_heads(lens[0], lens[1], op.name());
        let total = heads.iter().map(Vec::len).sum::<usize>() + lens[0] + lens[1];
        if !fits_one_invocation_framed(total) {
            return Err(too_large_for_one_invocation(
                lens[0] + lens[1],
                framed_event_bytes(total),
            ));
        }
        let [head_a, head_b]: [Vec<u8>; 2] = heads
            .try_into()
            .map_err(|_| anyhow!("a framed request with two parts has two heads"))?;
        let (frames, receiver) = mpsc::unbounded_channel();
        frames
            .send(Bytes::from(head_a))
            .map_err(|_| anyhow!("the request's channel closed"))?;
        let body = ChannelBody {
            frames: receiver,
            remaining: total as u64,
        };
        let (answered, answer) = std_mpsc::channel();
        let (warm, warmed) = std_mpsc::channel();
        let exchange = remote.clone();
        std::thread::Builder::new()
            .name("picrypt-http".into())
            .spawn(move || {
                let _ = answered.send(run_exchange(&exchange, body, warmed));
            })
            .context("cannot start the request's thread")?;
        Ok(Pipeline {
            remote: remote.clone(),
            frames,
            lens,
            head_b: Bytes::from(head_b),
            parts_sent: 0,
            sent: Sent {
                bytes: total,
                framed: true,
            },
            answer,
            warm,
        })
    }

    /// Hands the exchange's thread a buffer for the answer, its pages already faulted in:
    /// a fresh process pays a microsecond or more for each 4 KiB page it first touches
    /// (docs/PERFORMANCE.md), and here it pays while the function computes rather than
    /// while the answer arrives. Sized for a framed answer to these containers; a larger
    /// answer grows it.
    pub fn warm_answer(&self) {
        let len = self.lens[0].max(self.lens[1]) + framed::MAX_JSON_BYTES + 64;
        // Written, not `vec![0; len]`: calloc maps zero pages without touching them.
        #[allow(clippy::slow_vector_initialization)]
        let mut buffer = Vec::with_capacity(len);
        buffer.resize(len, 0);
        buffer.clear();
        let _ = self.warm.send(buffer);
    }

    /// Sends the next container (A, then B), of the length announced for it.
    pub fn send(&mut self, part: Bytes) -> Result<()> {
        let i = self.parts_sent;
        let Some(&announced) = self.lens.get(i) else {
            bail!("a diff request carries two containers");
        };
        if part.len() != announced {
            bail!(
                "ciphertext {} is {} bytes, not the {announced} its request announced",
                ["A", "B"][i],
                part.len()
            );
        }
        // A closed channel means the exchange already ended: [`Pipeline::answer`] says how.
        if i == 1 {
            let _ = self.frames.send(self.head_b.clone());
        }
        let _ = self.frames.send(part);
        self.parts_sent += 1;
        Ok(())
    }

    /// Waits for the whole answer. A refusal is the function's error as one line.
    pub fn answer(&self) -> Result<Answered> {
        let received = self
            .answer
            .recv()
            .unwrap_or_else(|_| Err(anyhow!("the request's thread stopped without an answer")))?;
        Ok(Answered {
            inline: self.remote.inline_from(&received.answer)?,
            head_at: received.head_at,
            end_at: received.end_at,
        })
    }

    /// What the request sends.
    pub fn sent(&self) -> Sent {
        self.sent
    }
}

/// The exchange, on a runtime of this thread's own, within `--timeout`.
fn run_exchange(
    remote: &Remote,
    body: ChannelBody,
    warmed: std_mpsc::Receiver<Vec<u8>>,
) -> Result<Received> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let exchange =
            crate::output::with_spinner("waiting for the function", exchange(remote, body, warmed));
        match tokio::time::timeout(remote.timeout(), exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(remote.timed_out().into()),
        }
    })
}

async fn exchange(
    remote: &Remote,
    body: ChannelBody,
    warmed: std_mpsc::Receiver<Vec<u8>>,
) -> Result<Received> {
    let head = remote.head(framed::MEDIA_TYPE, Some(&framed_accept()))?;
    let (mut parts, ()) = head.into_parts();
    let authority = parts
        .uri
        .authority()
        .cloned()
        .context("an http:// URL names a host")?;
    let stream = connect(remote, &authority).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| remote.failed(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
    parts.headers.insert(
        http::header::HOST,
        authority
            .as_str()
            .parse()
            .context("the URL's host is not a header value")?,
    );
    // On a connection of its own the request names only the path.
    parts.uri = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()
        .context("the URL's path is not a request target")?;
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, body.remaining.into());
    let response = sender
        .send_request(http::Request::from_parts(parts, body))
        .await
        .map_err(|e| remote.failed(&e))?;
    let head_at = Instant::now();
    let (head, mut incoming) = response.into_parts();
    let declared = head
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let buffer = warmed.try_recv().unwrap_or_default();
    let mut body = AnswerBody::into(remote, declared, buffer)?;
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| remote.failed(&e))?;
        if let Ok(data) = frame.into_data() {
            body.push(&data)?;
        }
    }
    Ok(Received {
        answer: Answer::new(head.status, &head.headers, body.done()),
        head_at,
        end_at: Instant::now(),
    })
}

/// A connection to `authority` (of an `http://` URL) with a receive buffer an answer fits
/// in whole.
async fn connect(
    remote: &Remote,
    authority: &http::uri::Authority,
) -> Result<tokio::net::TcpStream> {
    let port = authority.port_u16().unwrap_or(80);
    // A bracketed IPv6 literal is looked up without its brackets.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let connecting = async {
        let addresses = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| remote.cannot_connect(&e.to_string()))?;
        let mut last = None;
        for address in addresses {
            let socket = match address {
                std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
                std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
            }
            .map_err(|e| remote.cannot_connect(&e.to_string()))?;
            if let Err(e) = socket.set_recv_buffer_size(RECEIVE_BUFFER as u32) {
                tracing::debug!(error = %e, "cannot enlarge the receive buffer");
            }
            match socket.connect(address).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        let cause = last.map_or_else(|| format!("{host} has no address"), |e| e.to_string());
        Err(remote.cannot_connect(&cause))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(connected) => Ok(connected?),
        Err(_) => Err(remote.cannot_connect("timed out").into()),
    }
}

/// A request body of a declared length whose buffers are handed over as they are made.
/// Ends in an error if its sender goes away before the last byte, so a half-made request
/// is never taken for a whole one.
struct ChannelBody {
    frames: mpsc::UnboundedReceiver<Bytes>,
    remaining: u64,
}

/// The body's sender stopped before the declared length: the request is abandoned.
#[derive(Debug)]
struct Abandoned;

impl std::fmt::Display for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request was abandoned before its body was complete")
    }
}

impl std::error::Error for Abandoned {}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Abandoned;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Abandoned>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.frames.poll_recv(cx) {
            Poll::Ready(Some(buffer)) if buffer.len() as u64 <= self.remaining => {
                self.remaining -= buffer.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(buffer))))
            }
            Poll::Ready(_) => Poll::Ready(Some(Err(Abandoned))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server on loopback that reads one request to its end (or to EOF, or for at most
    /// five seconds), answers `answer`, and hands back what it read.
    fn one_request(answer: Vec<u8>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let read = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap();
                    if got.len() >= end + 4 + length {
                        let _ = s.write_all(&answer);
                        break;
                    }
                }
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            got
        });
        (url, read)
    }

    fn containers() -> (Bytes, Bytes) {
        (
            Bytes::from(vec![1u8; 300_000]),
            Bytes::from(vec![2u8; 300_000]),
        )
    }

    #[test]
    fn the_body_sent_is_the_framed_request_and_a_refusal_is_one_line() {
        let refusal = r#"{"error":{"code":"bad_container","message":"not mine"}}"#;
        let (url, read) = one_request(
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{refusal}",
                refusal.len()
            )
            .into_bytes(),
        );
        let remote = Remote::unsigned(&url, Duration::from_secs(10)).unwrap();
        let (a, b) = containers();
        let mut pipeline = Pipeline::start(&remote, Op::Sub, [a.len(), b.len()]).unwrap();
        pipeline.send(a.clone()).unwrap();
        pipeline.send(b.clone()).unwrap();
        let refused = pipeline.answer().err().unwrap().to_string();
        assert_eq!(
            refused,
            "server refused the request: 400 bad_container: not mine"
        );
        let got = read.join().unwrap();
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
        assert!(head.starts_with("post /diff http/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("host: {}", url.trim_start_matches("http://"))));
        assert!(head.contains("content-type: application/vnd.picrypt.framed"));
        let heads = DiffRequest::framed_inline_heads(a.len(), b.len(), "sub");
        let expected = [&heads[0][..], &a, &heads[1], &b].concat();
        assert!(
            got[end + 4..] == expected[..],
            "the body is head, A, head, B"
        );
        assert_eq!(pipeline.sent().bytes, expected.len());
    }

    #[test]
    fn a_request_given_up_before_b_is_cut_short_and_never_taken_for_whole() {
        let (url, read) = one_request(Vec::new());
        let remote = Remote::unsigned(&url, Duration::from_secs(10)).unwrap();
        let (a, b) = containers();
        let mut pipeline = Pipeline::start(&remote, Op::Sub, [a.len(), b.len()]).unwrap();
        // A container of another length than announced is refused, and nothing is sent.
        let short = a.slice(1..);
        assert!(pipeline
            .send(short)
            .unwrap_err()
            .to_string()
            .contains("not the 300000 its request announced"));
        pipeline.send(a).unwrap();
        // Encrypting B failed, say: the pipeline is dropped.
        drop(pipeline);
        // The server sees the connection close before B: at most the head and A, short of
        // the length the request declares.
        let got = read.join().unwrap();
        assert!(
            got.len() < 300_000 + 1024,
            "{} bytes arrived, more than the head and A",
            got.len()
        );
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let declared: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("a request declares its length");
            assert!(
                got.len() - end - 4 < declared,
                "a short body declared whole"
            );
        }
    }

    #[test]
    fn only_unsigned_http_urls_are_sent_as_they_are_made() {
        let timeout = Duration::from_secs(1);
        assert!(Pipeline::applies(
            &Remote::unsigned("http://127.0.0.1:8080", timeout).unwrap()
        ));
        assert!(!Pipeline::applies(
            &Remote::unsigned("https://example.com", timeout).unwrap()
        ));
    }
}
