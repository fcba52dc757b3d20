//! The whole flow `run` and `demo` share: encrypt both images, have them subtracted (here
//! or on a function), check the result against the two inputs, decrypt it.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use picrypt_core::verify::CheckedResult;
use picrypt_core::{ops, verify, Container, Image, Key, Op, Plaintext};

use crate::args::{LegacyArgs, RemoteArgs, Wire};
use crate::output::step;
use crate::remote;
use crate::remote::http::Remote;
use crate::remote::pipeline::Pipeline;

/// What the flow produced.
pub struct Flow {
    /// The two ciphertexts sent, encoded.
    pub ct_before: Bytes,
    pub ct_after: Bytes,
    pub result: Container,
    pub plaintext: Plaintext,
    /// What the result was checked to be, in words.
    pub verified: String,
}

/// Refuses a legacy (insecure) key unless the user opted in.
pub fn check_legacy(key: &Key, legacy: LegacyArgs) -> Result<()> {
    if key.scheme().warning().is_some() && !legacy.insecure_shuffle {
        bail!(
            "this is a legacy {} key, whose ciphertexts the server can break (docs/SECURITY.md); pass --insecure-shuffle to encrypt with it anyway",
            key.scheme()
        );
    }
    Ok(())
}

/// Encrypts under any key, refusing a legacy key unless the user opted in.
pub fn encrypt(key: &Key, image: &Image, legacy: LegacyArgs) -> Result<Container> {
    check_legacy(key, legacy)?;
    Ok(key.encrypt_insecure_legacy(image)?)
}

fn encrypt_bytes(key: &Key, image: &Image, legacy: LegacyArgs) -> Result<Bytes> {
    Ok(Bytes::from(encrypt(key, image, legacy)?.into_bytes()))
}

/// Encrypts both images, computes `op` (here or on the function at `--url`), checks the
/// result against both inputs and decrypts it, printing each step.
pub fn run(
    key: &Key,
    op: Op,
    before: &Image,
    after: &Image,
    remote: &RemoteArgs,
    legacy: LegacyArgs,
) -> Result<Flow> {
    before.check_same_shape(after)?;
    if let Some(function) = overlapping(key, remote)? {
        return run_overlapped(key, op, before, after, &function, remote, legacy);
    }
    let t = Instant::now();
    let a = encrypt_bytes(key, before, legacy)?;
    let b = encrypt_bytes(key, after, legacy)?;
    step("encrypt", t, &format!("two {} images", before.shape()));
    if remote.is_remote() {
        let result = remote::subtract(op, &a, &b, remote)?;
        let t = Instant::now();
        let checked = check_received(op, &a, &b, result)?;
        return decrypted(key, a, b, checked, t);
    }
    let t = Instant::now();
    let result = ops::apply_bytes(op, &a, &b)?;
    step(
        "subtract",
        t,
        &format!(
            "on ciphertexts ({} + {} bytes in, {} out; no key)",
            a.len(),
            b.len(),
            result.len()
        ),
    );
    let t = Instant::now();
    // In process the result is this process's own buffer: checked in place.
    let checked =
        verify::check_result_owned(op, &a, &b, result).context("the function's result")?;
    decrypted(key, a, b, checked, t)
}

/// The function's client when the request can go out while it is made
/// ([`remote::pipeline`]): a framed inline diff at `--url` that is not signed (no
/// `--sigv4`, not a Function URL), and a key whose ciphertexts' lengths are known before
/// encryption.
fn overlapping(key: &Key, args: &RemoteArgs) -> Result<Option<Remote>> {
    let Some(url) = &args.url else {
        return Ok(None);
    };
    if args.s3_bucket.is_some()
        || args.wire == Wire::Json
        || args.sigv4
        || !key.encrypts_in_chunks()
    {
        return Ok(None);
    }
    let function = Remote::unsigned(url, args.timeout())?;
    Ok((!function.is_function_url() && Pipeline::applies(&function)).then_some(function))
}

/// [`run`] with A sent to the function while B is encrypted; the answer is then checked
/// whole, as on every other path.
fn run_overlapped(
    key: &Key,
    op: Op,
    before: &Image,
    after: &Image,
    function: &Remote,
    args: &RemoteArgs,
    legacy: LegacyArgs,
) -> Result<Flow> {
    let t = Instant::now();
    let encryptor = key.encryptor(before.shape())?;
    let len = encryptor.header_len() + encryptor.payload_len() as usize;
    let mut pipeline = Pipeline::start(function, op, [len, len])?;
    let a = encrypt_bytes(key, before, legacy)?;
    pipeline.send(a.clone())?;
    let b = encrypt_bytes(key, after, legacy)?;
    pipeline.send(b.clone())?;
    step(
        "encrypt",
        t,
        &format!(
            "two {} images, A sent while B was encrypted",
            before.shape()
        ),
    );
    let t = Instant::now();
    pipeline.warm_answer();
    let answered = pipeline.answer()?;
    let result = match answered.inline {
        Some((response, result)) => {
            let arrival = [answered.head_at, answered.end_at];
            remote::report_overlapped(function, t, arrival, &response, pipeline.sent());
            result
        }
        None => {
            let json = RemoteArgs {
                wire: Wire::Json,
                ..args.clone()
            };
            remote::subtract(op, &a, &b, &json)?
        }
    };
    let t = Instant::now();
    let checked = check_received(op, &a, &b, result)?;
    decrypted(key, a, b, checked, t)
}

/// Checks a result received whole against the inputs: in its own buffer when the answer
/// is the only reference to it, not in a copy.
fn check_received(op: Op, a: &[u8], b: &[u8], result: Bytes) -> Result<CheckedResult> {
    match result.try_into_mut() {
        Ok(received) => verify::check_result_owned(op, a, b, received.into()),
        Err(shared) => verify::check_result(op, a, b, &shared),
    }
    .context("the function's result")
}

/// Decrypts a checked result: the flow's end.
fn decrypted(key: &Key, a: Bytes, b: Bytes, checked: CheckedResult, t: Instant) -> Result<Flow> {
    let plaintext = checked.decrypt(key)?;
    let verified = checked.describe_as("before", "after");
    step("decrypt", t, &verified);
    Ok(Flow {
        ct_before: a,
        ct_after: b,
        result: checked.into_container(),
        plaintext,
        verified,
    })
}
