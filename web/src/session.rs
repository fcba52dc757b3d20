//! The page's client: everything that touches a key or a pixel, in WebAssembly, inside the
//! page's Web Worker. JavaScript moves bytes between this, the user's files and one
//! `POST diff` to the page's own origin; it never sees the key's bytes unless the user
//! saves the key file.

use base64::Engine;
use picrypt_api::limits::{self, RequestTooLarge};
use picrypt_api::{DiffRequest, DiffResponse, ErrorBody, ErrorCode, ResultLocation};
use picrypt_core::render::{self, RenderMode};
use picrypt_core::verify::{self, Expect};
use picrypt_core::{image_io, npy, preview, Container, Error, Image, Key, Op, Plaintext, Scheme};
use serde_json::json;
use wasm_bindgen::prelude::*;

/// What the user gave the page and what came of it, in one place.
#[wasm_bindgen]
#[derive(Default)]
pub struct Session {
    key: Option<Key>,
    /// The two images, before (0) and after (1), decoded the right way up.
    images: [Option<Image>; 2],
    /// Their containers under the current key.
    containers: [Option<Vec<u8>>; 2],
    /// The result container, checked.
    result: Option<Vec<u8>>,
    /// Its decryption.
    difference: Option<Plaintext>,
}

fn error(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

/// `which` as an index: 0 is the image before, 1 the image after.
fn slot(which: usize) -> Result<usize, JsError> {
    if which < 2 {
        Ok(which)
    } else {
        Err(error("an image is 0 (before) or 1 (after)"))
    }
}

const WHICH: [&str; 2] = ["before", "after"];

#[wasm_bindgen]
impl Session {
    /// An empty session: no key, no images.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Session {
        Session::default()
    }

    /// A fresh mask key from the browser's CSPRNG (`crypto.getRandomValues`). Returns its id.
    pub fn generate_key(&mut self) -> Result<String, JsError> {
        let key = Key::generate(Scheme::MASK).map_err(error)?;
        Ok(self.set_key(key))
    }

    /// Loads a key file (one `picrypt keygen` wrote, or one this page saved). Returns its id.
    pub fn load_key(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let key = Key::parse(bytes).map_err(|e| match e {
            Error::NotBuilt(_) => error(
                "this key is not for the mask scheme: the page encrypts with mask keys only; use the command line for bfv and shuffle keys",
            ),
            e => error(format_args!("not a PICRYPT key file: {e}")),
        })?;
        if key.scheme() != Scheme::MASK {
            return Err(error(format_args!(
                "this is a {} key: the page encrypts with mask keys only; use the command line for it",
                key.scheme()
            )));
        }
        if !key.is_secret() {
            return Err(error(
                "this is a public key (KEY.pub): it cannot decrypt; load the secret key file",
            ));
        }
        Ok(self.set_key(key))
    }

    fn set_key(&mut self, key: Key) -> String {
        let id = key.id().to_string();
        self.key = Some(key);
        // Anything made or checked under another key is gone.
        self.containers = [None, None];
        self.result = None;
        self.difference = None;
        id
    }

    /// The current key's id, if there is a key.
    pub fn key_id(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.id().to_string())
    }

    /// The key file of the current key, as `picrypt keygen` writes it.
    pub fn key_file(&self) -> Result<Vec<u8>, JsError> {
        let key = self.key()?;
        Ok(key.to_bytes().to_vec())
    }

    fn key(&self) -> Result<&Key, JsError> {
        self.key
            .as_ref()
            .ok_or_else(|| error("no key yet: generate one or load a key file"))
    }

    /// Decodes image `which` (PNG, JPEG) the way the CLI does, EXIF orientation applied.
    /// Returns `{"width", "height", "channels", "orientation"}` as JSON.
    pub fn set_image(&mut self, which: usize, bytes: &[u8]) -> Result<String, JsError> {
        let which = slot(which)?;
        let (image, orientation) = image_io::decode_oriented(bytes).map_err(|e| {
            error(format_args!(
                "the {} image cannot be read: {e}",
                WHICH[which]
            ))
        })?;
        let info = json!({
            "width": image.width(),
            "height": image.height(),
            "channels": image.channels(),
            "orientation": orientation.to_string(),
        });
        self.images[which] = Some(image);
        self.containers[which] = None;
        self.result = None;
        self.difference = None;
        Ok(info.to_string())
    }

    /// Checks that the two images can be subtracted and fit one request, before any work.
    pub fn check_pair(&self) -> Result<(), JsError> {
        let (before, after) = self.pair()?;
        before.check_same_shape(after).map_err(|_| {
            error(format_args!(
                "the two images differ in size: before is {}×{} with {} channels, after is {}×{} with {}; use two pictures of the same scene at the same size",
                before.width(),
                before.height(),
                before.channels(),
                after.width(),
                after.height(),
                after.channels()
            ))
        })?;
        // A container is about 9 bits per sample; the exact check follows encryption.
        let samples = before.data().len() as u64;
        let estimate = 2 * (samples * 9).div_ceil(8) + 4096;
        if limits::check_framed_request_size(estimate).is_err() {
            return Err(too_large(estimate));
        }
        Ok(())
    }

    fn pair(&self) -> Result<(&Image, &Image), JsError> {
        match &self.images {
            [Some(a), Some(b)] => Ok((a, b)),
            _ => Err(error("choose two images first: before and after")),
        }
    }

    /// Encrypts image `which` under the current key (fresh nonce).
    pub fn encrypt(&mut self, which: usize) -> Result<(), JsError> {
        let which = slot(which)?;
        let image = self.images[which]
            .as_ref()
            .ok_or_else(|| error(format_args!("no {} image yet", WHICH[which])))?;
        let container = self.key()?.encrypt(image).map_err(error)?;
        self.containers[which] = Some(container.to_bytes());
        self.result = None;
        self.difference = None;
        Ok(())
    }

    /// Container `which` (0 before, 1 after; 2 the checked result), as a `.picrypt` file.
    pub fn container(&self, which: usize) -> Result<Vec<u8>, JsError> {
        let bytes = match which {
            0 | 1 => self.containers[which].as_ref(),
            2 => self.result.as_ref(),
            _ => None,
        };
        bytes
            .cloned()
            .ok_or_else(|| error("that ciphertext does not exist yet"))
    }

    /// What the server sees of container `which` (0, 1, or 2 for the result), drawn as a
    /// PNG: the ciphertext's values as pixels, which look like noise.
    pub fn ciphertext_png(&self, which: usize) -> Result<Vec<u8>, JsError> {
        let bytes = self.container(which)?;
        let container = Container::parse(&bytes).map_err(error)?;
        let picture = preview::ciphertext(&container).map_err(error)?;
        image_io::encode_png(&picture).map_err(error)
    }

    /// The body of the one request: `POST diff` of the two containers, framed
    /// (`application/vnd.picrypt.framed`).
    pub fn request_body(&self) -> Result<Vec<u8>, JsError> {
        let [Some(a), Some(b)] = &self.containers else {
            return Err(error("encrypt both images first"));
        };
        let body = DiffRequest::framed_inline(a, b, picrypt_api::DEFAULT_OP);
        if limits::check_framed_request_size(body.len() as u64).is_err() {
            return Err(too_large(body.len() as u64));
        }
        Ok(body)
    }

    /// Reads the function's answer: a refusal becomes a readable error; a result is checked
    /// against the two containers sent (exactly A − B of them, tag verified) and only then
    /// decrypted. Returns `{"verified", "server_ms", "request_id", "bytes"}` as JSON.
    pub fn accept_response(
        &mut self,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) -> Result<String, JsError> {
        let [Some(a), Some(b)] = &self.containers else {
            return Err(error("encrypt both images first"));
        };
        if status != 200 {
            return Err(refusal(status, body));
        }
        let (response, result) = if picrypt_api::framed::is_media_type(content_type) {
            let (response, part) = DiffResponse::from_framed(body).map_err(|_| cheated())?;
            (response, body[part].to_vec())
        } else {
            let response: DiffResponse = serde_json::from_slice(body).map_err(|_| cheated())?;
            let ResultLocation::Inline(text) = &response.result else {
                return Err(cheated());
            };
            let result = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| cheated())?;
            (response, result)
        };
        let key = self.key.as_ref().ok_or_else(|| error("no key"))?;
        // The same check as the CLI's: exactly A − B of these inputs, or nothing.
        let checked = verify::check_result(Op::Sub, a, b, &result).map_err(|_| cheated())?;
        let difference = checked.decrypt(key).map_err(|_| cheated())?;
        let summary = json!({
            "verified": checked.describe_as("before", "after"),
            "server_ms": response.server_ms,
            "request_id": response.request_id,
            "bytes": result.len(),
        });
        self.result = Some(result);
        self.difference = Some(difference);
        Ok(summary.to_string())
    }

    /// Opens a `.picrypt` difference made elsewhere (by the CLI): its tag is verified under
    /// the current key before it is decrypted. Returns `{"verified", "width", "height"}`.
    pub fn open_result(&mut self, bytes: &[u8]) -> Result<String, JsError> {
        let key = self.key()?;
        let container = Container::parse(bytes)
            .map_err(|e| error(format_args!("not a PICRYPT ciphertext: {e}")))?;
        let expect = Expect::claimed_by(container.header());
        if expect == Expect::Image {
            return Err(error(
                "this is an encrypted image, not a difference: open the result of `picrypt run` or `picrypt diff`",
            ));
        }
        let difference = verify::decrypt(key, &container, expect).map_err(|e| match e {
            Error::KeyMismatch(m) | Error::SchemeMismatch(m) => {
                error(format_args!("wrong key file: {m}"))
            }
            Error::Verification => error(
                "this ciphertext was tampered with or corrupted: its tag does not verify under this key, so nothing was decrypted",
            ),
            e => error(e),
        })?;
        let verified = verify::describe(container.header(), expect);
        let shape = difference.shape();
        self.result = Some(bytes.to_vec());
        self.difference = Some(difference);
        Ok(json!({
            "verified": verified,
            "width": shape.width(),
            "height": shape.height(),
        })
        .to_string())
    }

    /// Change statistics of the difference at `threshold`, as the CLI prints them (JSON,
    /// with `summary`, the CLI's line).
    pub fn stats(&self, threshold: u16) -> Result<String, JsError> {
        let stats = render::stats(self.difference()?, threshold);
        let mut value = serde_json::to_value(&stats).map_err(error)?;
        value["summary"] = json!(stats.summary());
        value["percent_changed"] = json!(stats.percent_changed());
        Ok(value.to_string())
    }

    /// The difference rendered as a PNG (`abs`, `signed`, `saturate`, `heatmap`, `mask`,
    /// `overlay`), as `picrypt decrypt --render MODE --threshold T` draws it.
    pub fn render_png(&self, mode: &str, threshold: u16) -> Result<Vec<u8>, JsError> {
        let mode =
            RenderMode::from_name(mode).ok_or_else(|| error(format_args!("no render {mode:?}")))?;
        let after = self.images[1].as_ref();
        if mode.needs_after_image() && after.is_none() {
            return Err(error(
                "the overlay draws the changes over the after image: choose it above",
            ));
        }
        let picture = render::render(self.difference()?, mode, threshold, after).map_err(error)?;
        image_io::encode_png(&picture).map_err(error)
    }

    /// The exact difference as `.npy` (int16), as `picrypt run … diff.npy` writes it.
    pub fn npy(&self) -> Result<Vec<u8>, JsError> {
        let d = self.difference()?;
        Ok(npy::encode_i16(&d.shape(), d.values()))
    }

    fn difference(&self) -> Result<&Plaintext, JsError> {
        self.difference
            .as_ref()
            .ok_or_else(|| error("no difference yet"))
    }
}

/// The one error for every answer that is not exactly A − B of the inputs sent.
fn cheated() -> JsError {
    error("the function's answer is not the difference of your two images: it was refused and nothing was decrypted (the function is faulty or cheating)")
}

fn too_large(bytes: u64) -> JsError {
    error(format_args!(
        "these images are too large for one request ({}; the limit is {} MB as Lambda counts it): use the command line's S3 mode for pairs this large, e.g. `picrypt run --url URL --s3-bucket BUCKET before.png after.png diff.png`",
        RequestTooLarge { bytes: Some(bytes), framed: true },
        limits::MAX_REQUEST_BYTES / (1024 * 1024)
    ))
}

/// A refusal (`{"error": {"code", "message"}}`) as one readable line.
fn refusal(status: u16, body: &[u8]) -> JsError {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(body) else {
        return error(format_args!(
            "the server answered HTTP {status} without a PICRYPT error: is it a PICRYPT function?"
        ));
    };
    let detail = body.error;
    match detail.error_code() {
        Some(ErrorCode::RequestTooLarge) => error(format_args!(
            "these images are too large for one request: use the command line's S3 mode for pairs this large, e.g. `picrypt run --url URL --s3-bucket BUCKET before.png after.png diff.png` ({})",
            detail.message
        )),
        _ => error(format_args!(
            "the function refused the request (HTTP {status}, {}): {}",
            detail.code, detail.message
        )),
    }
}
