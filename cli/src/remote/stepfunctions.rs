//! The fan-out state machine (template.yaml `FanOut=step-functions`) through the SDK's
//! Step Functions client: starting an execution, and following it (DescribeExecution, and
//! DescribeMapRun's item counts). `AWS_ENDPOINT_URL_SFN` (or `AWS_ENDPOINT_URL`) points it
//! at another endpoint. Nothing it says is trusted beyond what to wait for: every result is
//! checked against its inputs by the caller.

use anyhow::{anyhow, Result};
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::ExecutionStatus;

/// A client for Step Functions, from the standard AWS chain.
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
}

/// An execution as DescribeExecution reports it.
#[derive(Debug)]
pub struct Execution {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    /// The execution's output, once it succeeded (JSON text).
    pub output: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Execution {
    /// Whether it is over: anything but running (a failed run waiting for a redrive is over
    /// until someone redrives it).
    pub fn finished(&self) -> bool {
        self.status != ExecutionStatus::Running.as_str()
    }

    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded.as_str()
    }
}

/// What a Map Run has done with its items (DescribeMapRun `itemCounts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub running: i64,
    pub pending: i64,
    pub aborted: i64,
    pub timed_out: i64,
}

impl std::fmt::Display for ItemCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} succeeded, {} failed, {} running, {} pending",
            self.succeeded,
            self.failed + self.timed_out + self.aborted,
            self.running,
            self.pending
        )
    }
}

impl StepFunctions {
    /// A client from the environment, after checking that it names a region and holds
    /// credentials (each missing piece one line saying what to set).
    pub async fn from_env() -> Result<StepFunctions> {
        if let Ok(value) = std::env::var("AWS_ENDPOINT_URL_SFN") {
            match reqwest::Url::parse(&value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => anyhow::bail!(
                    "AWS_ENDPOINT_URL_SFN={value:?} is not an http:// or https:// URL (for example http://127.0.0.1:5000)"
                ),
            }
        }
        super::s3::check_aws_environment().await?;
        let sdk = aws_config::load_from_env().await;
        Ok(StepFunctions {
            client: aws_sdk_sfn::Client::new(&sdk),
        })
    }

    /// Starts `state_machine` with `input` as the execution named `name`; its ARN. Starting
    /// the same name with the same input while it runs returns the same execution.
    pub async fn start(&self, state_machine: &str, name: &str, input: &str) -> Result<String> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(state_machine)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|e| describe(e, &format!("cannot start {state_machine}")))?;
        Ok(started.execution_arn().to_string())
    }

    /// The execution's state, or `None` when there is no such execution.
    pub async fn describe(&self, execution: &str) -> Result<Option<Execution>> {
        let described = self
            .client
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await;
        let described = match described {
            Ok(d) => d,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(describe(e, &format!("cannot follow {execution}"))),
        };
        Ok(Some(Execution {
            status: described.status().as_str().to_string(),
            output: described.output().map(str::to_string),
            error: described.error().map(str::to_string),
            cause: described.cause().map(str::to_string),
        }))
    }

    /// The execution's Map Run (the one the fan-out has), once it started: its ARN.
    pub async fn map_run(&self, execution: &str) -> Result<Option<String>> {
        let runs = self
            .client
            .list_map_runs()
            .execution_arn(execution)
            .send()
            .await
            .map_err(|e| describe(e, &format!("cannot list the Map Runs of {execution}")))?;
        Ok(runs.map_runs().first().map(|r| r.map_run_arn().to_string()))
    }

    /// What a Map Run has done with its items.
    pub async fn item_counts(&self, map_run: &str) -> Result<Option<ItemCounts>> {
        let run = self
            .client
            .describe_map_run()
            .map_run_arn(map_run)
            .send()
            .await
            .map_err(|e| describe(e, &format!("cannot describe {map_run}")))?;
        Ok(run.item_counts().map(|c| ItemCounts {
            total: c.total(),
            succeeded: c.succeeded(),
            failed: c.failed(),
            running: c.running(),
            pending: c.pending(),
            aborted: c.aborted(),
            timed_out: c.timed_out(),
        }))
    }
}

/// A Step Functions error as one line: the service's code and message, or why the request
/// did not get an answer, with what to do where there is something to do.
fn describe<E: ProvideErrorMetadata + std::fmt::Debug, R>(
    e: SdkError<E, R>,
    what: &str,
) -> anyhow::Error {
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("");
    let hint = match code {
        "StateMachineDoesNotExist" | "InvalidArn" => {
            " (check --state-machine: the stack's FanOutStateMachineArn output, and AWS_REGION)"
        }
        "AccessDeniedException" => {
            " (these credentials may not start or describe executions of this state machine: docs/DEPLOY.md, \"Fan-out with Step Functions\")"
        }
        _ => "",
    };
    anyhow!("{what}: {}{hint}", picrypt_api::s3::explain(&e))
}
