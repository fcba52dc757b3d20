//! Step Functions on loopback that really runs state machines: a `moto_server` of its own
//! with moto's `execute_state_machine` on, so that its ASL interpreter (the one moto ships,
//! from LocalStack) runs a definition — a Distributed Map's `ItemReader`, `ItemSelector`,
//! the Lambda task, `Retry`, `Choice`, `Fail` and `ResultWriter`. The interpreter reaches
//! other services at `http://localhost:$MOTO_PORT`; here that is a [`FaultProxy`] which
//! sends the Lambda Invoke API to a function of the test's choosing (the real handler
//! behind a [`CheatServer`](crate::CheatServer), say) and everything else (the Map's S3
//! reads and writes) to the S3 server that function uses.
//!
//! What moto 5.2's interpreter does not do as AWS does, as found with
//! `statemachine/fanout.asl.json` (so tests must not rely on it): its `ResultWriter` writes
//! the summary's `manifest.json` with empty `ResultFiles` (no `SUCCEEDED_n.json` or
//! `FAILED_n.json`); `ToleratedFailurePercentage` is not enforced (a run whose items all
//! fail still succeeds), and its grammar takes only a decimal there (`10.0`, not `10`);
//! `ListMapRuns` answers 500 until the Map has started.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::s3::{free_port, wait_for_port, FaultProxy};

/// The Lambda Invoke API's paths.
const INVOKE: &str = "/2015-03-31/functions/";

/// moto's Step Functions, executing, with its calls routed; stopped when dropped.
pub struct StepFunctions {
    /// Its endpoint (`AWS_ENDPOINT_URL_SFN`).
    pub endpoint: String,
    /// What the interpreter's own calls go through: S3, and the function's invocations.
    pub calls: FaultProxy,
    child: Child,
}

impl StepFunctions {
    /// Starts one whose state machines reach S3 at `s3_endpoint` and invoke the function
    /// at `lambda_endpoint` (a server answering `POST /2015-03-31/functions/NAME/invocations`).
    pub fn start(s3_endpoint: &str, lambda_endpoint: &str) -> StepFunctions {
        let calls = FaultProxy::start_routed(s3_endpoint, &[(INVOKE, lambda_endpoint)]);
        let calls_port = calls
            .endpoint
            .rsplit(':')
            .next()
            .expect("http://127.0.0.1:PORT")
            .to_string();
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", calls_port)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}); install it with: pip install 'moto[server]' (tests/run.sh does)")
            });
        let server = StepFunctions {
            endpoint: format!("http://127.0.0.1:{port}"),
            calls,
            child,
        };
        wait_for_port(port, Duration::from_secs(30));
        server.configure(r#"{"stepfunctions": {"execute_state_machine": true}}"#);
        server
    }

    /// `POST /moto-api/config`.
    fn configure(&self, config: &str) {
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("moto accepts connections");
        write!(
            stream,
            "POST /moto-api/config HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{config}",
            config.len()
        )
        .expect("the request is sent");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("moto answers the config request");
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert!(status.starts_with('2'), "moto refused {config}: {answer}");
    }
}

impl Drop for StepFunctions {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
