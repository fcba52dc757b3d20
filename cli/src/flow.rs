//! The whole flow `run` and `demo` share: encrypt both images, have them subtracted (here
//! or on a function), check the result against the two inputs, decrypt it.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use picrypt_core::{ops, verify, Container, Image, Key, Op, Plaintext};

use crate::args::{LegacyArgs, RemoteArgs};
use crate::output::step;
use crate::remote;

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
    let t = Instant::now();
    let ct_before = encrypt(key, before, legacy)?;
    let ct_after = encrypt(key, after, legacy)?;
    step(
        "encrypt",
        t,
        &format!("two {} images", ct_before.header().shape()),
    );
    let (a, b) = (
        Bytes::from(ct_before.into_bytes()),
        Bytes::from(ct_after.into_bytes()),
    );
    let checked = if remote.is_remote() {
        let result = remote::subtract(op, &a, &b, remote)?;
        let t = Instant::now();
        // The result is the only reference to the answer received: checked in that buffer,
        // not in a copy of it.
        let checked = match result.try_into_mut() {
            Ok(received) => verify::check_result_owned(op, &a, &b, received.into()),
            Err(shared) => verify::check_result(op, &a, &b, &shared),
        }
        .context("the function's result")?;
        (checked, t)
    } else {
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
        (checked, t)
    };
    let (checked, t) = checked;
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
