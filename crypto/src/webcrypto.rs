//! File parts with the AES-GCM step run by the browser's WebCrypto.
//!
//! WebAssembly has no AES instructions, so the `aes-gcm` crate runs at about a tenth of
//! the speed of the browser's own AES-GCM. Here the Rust core still derives the key and
//! every nonce, fixes every length, writes the header and checks the commitment (see
//! [`PartSchedule`]); WebCrypto only runs AES-256-GCM with empty AAD and a 128-bit tag
//! on each 16 KiB chunk. The bytes are the same as those of
//! [`ContentsEncryptor::encrypt_part`] and [`ContentsDecryptor::decrypt_part`].
//!
//! Byte arrays stay JavaScript `Uint8Array`s: plaintext and ciphertext never pass
//! through WebAssembly memory. WebCrypto exists only in secure contexts (HTTPS and
//! `http://127.0.0.1`); [`available`] returns whether this one has it.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, CryptoKey, SubtleCrypto};

use crate::CryptoError;
use crate::chunked::NONCE_LEN;
use crate::file::{ChunkStep, ContentsDecryptor, ContentsEncryptor, PartSchedule};

/// The tag length WebCrypto is asked for, in bits (Cobblestone-256 uses 16-byte tags).
const TAG_BITS: u8 = 128;

/// Returns whether this page or worker has `crypto.subtle`.
pub fn available() -> bool {
    subtle().is_ok()
}

/// Encrypts part `index` like [`ContentsEncryptor::encrypt_part`]; `plaintext` must be
/// exactly the part's plaintext range.
pub async fn encrypt_part(
    encryptor: &ContentsEncryptor,
    index: u32,
    plaintext: &Uint8Array,
) -> Result<Uint8Array, CryptoError> {
    let pieces = encrypt_part_pieces(encryptor, index, plaintext).await?;
    let mut len = 0;
    for piece in pieces.iter() {
        len += piece.unchecked_into::<Uint8Array>().length();
    }
    let out = Uint8Array::new_with_length(len);
    let mut at = 0;
    for piece in pieces.iter() {
        let piece: Uint8Array = piece.unchecked_into();
        out.set(&piece, at);
        at += piece.length();
    }
    Ok(out)
}

/// Encrypts part `index` like [`encrypt_part`] and returns the part's pieces in order:
/// the header for part 0, then each chunk's ciphertext. A caller that wraps them in a
/// `Blob` copies the bytes once instead of twice.
pub async fn encrypt_part_pieces(
    encryptor: &ContentsEncryptor,
    index: u32,
    plaintext: &Uint8Array,
) -> Result<Array, CryptoError> {
    let schedule = encryptor.schedule(index)?;
    if plaintext.length() as usize != schedule.plaintext_len() {
        return Err(CryptoError::InvalidPartLength {
            index,
            expected: schedule.plaintext_len() as u64,
            actual: u64::from(plaintext.length()),
        });
    }
    let subtle = subtle()?;
    let key = import_key(&subtle, &schedule, "encrypt").await?;
    let chunks = schedule.chunks();
    let calls = ChunkCalls::new(chunks);
    // Every chunk is handed to WebCrypto before any result is awaited, so the browser
    // runs them while this worker issues the next ones.
    let sealed = Array::new_with_length(js_len(chunks.len()));
    for (at, step) in chunks.iter().enumerate() {
        let input = plaintext.subarray(js_len(step.plaintext.start), js_len(step.plaintext.end));
        let promise = subtle
            .encrypt_with_object_and_js_u8_array(calls.params(at)?, &key, &input)
            .map_err(failure("encrypt a chunk"))?;
        sealed.set(js_len(at), promise.into());
    }
    let sealed = JsFuture::from(Promise::all(&sealed))
        .await
        .map_err(failure("encrypt a chunk"))?;
    let sealed: Array = sealed.unchecked_into();

    let pieces = Array::new();
    if let Some(header) = schedule.header() {
        pieces.push(&Uint8Array::from(&header[..]));
    }
    for (at, step) in chunks.iter().enumerate() {
        let chunk = Uint8Array::new(&sealed.get(js_len(at)));
        if chunk.length() as usize != step.ciphertext.len() {
            return Err(CryptoError::WebCrypto {
                operation: "encrypt a chunk",
                detail: format!(
                    "chunk {} came back as {} bytes where {} were expected",
                    step.index,
                    chunk.length(),
                    step.ciphertext.len()
                ),
            });
        }
        pieces.push(&chunk);
    }
    Ok(pieces)
}

/// Decrypts and verifies part `index` like [`ContentsDecryptor::decrypt_part`]: a wrong
/// length or header fails before any chunk is decrypted, and the first chunk that
/// fails authentication is named in the error. No plaintext of a failed part is
/// returned. The plaintext is a view from the start of a copy of `ciphertext`.
pub async fn decrypt_part(
    decryptor: &ContentsDecryptor,
    index: u32,
    ciphertext: &Uint8Array,
) -> Result<Uint8Array, CryptoError> {
    let copy = ciphertext.slice(0, ciphertext.length());
    decrypt_part_in_place(decryptor, index, &copy).await
}

/// Decrypts part `index` like [`decrypt_part`], writing the plaintext over the start
/// of `ciphertext` and returning a view of those bytes. The rest of the buffer still
/// contains ciphertext. Reusing the buffer saves a new part-sized array, whose memory
/// the system provides page by page when it is first written. A failure after any
/// plaintext was written zeroes every byte of `ciphertext`.
pub async fn decrypt_part_in_place(
    decryptor: &ContentsDecryptor,
    index: u32,
    ciphertext: &Uint8Array,
) -> Result<Uint8Array, CryptoError> {
    let leading_len = ciphertext.length().min(crate::chunked::HEADER_LEN as u32);
    let leading = ciphertext.subarray(0, leading_len).to_vec();
    let schedule = decryptor.schedule(index, u64::from(ciphertext.length()), &leading)?;
    let subtle = subtle()?;
    let key = import_key(&subtle, &schedule, "decrypt").await?;
    let chunks = schedule.chunks();
    let calls = ChunkCalls::new(chunks);
    let opened = Array::new_with_length(js_len(chunks.len()));
    for (at, step) in chunks.iter().enumerate() {
        let input = ciphertext.subarray(js_len(step.ciphertext.start), js_len(step.ciphertext.end));
        let promise = subtle
            .decrypt_with_object_and_js_u8_array(calls.params(at)?, &key, &input)
            .map_err(failure("decrypt a chunk"))?;
        opened.set(js_len(at), promise.into());
    }
    // All calls settle before any result is read, so an error names the first chunk
    // that failed in file order, not the first to finish. WebCrypto copied each input
    // when it was called, so the results may now overwrite the ciphertext.
    let opened = match JsFuture::from(Promise::all_settled(&opened)).await {
        Ok(opened) => opened.unchecked_into::<Array>(),
        Err(error) => return Err(failure("decrypt a chunk")(error)),
    };
    let out = ciphertext;
    for (at, step) in chunks.iter().enumerate() {
        let outcome = opened.get(js_len(at));
        let status = Reflect::get(&outcome, &JsValue::from_str("status")).ok();
        if status.and_then(|status| status.as_string()).as_deref() != Some("fulfilled") {
            out.fill(0, 0, out.length());
            let reason =
                Reflect::get(&outcome, &JsValue::from_str("reason")).unwrap_or(JsValue::UNDEFINED);
            return Err(decrypt_error(step.index, &reason));
        }
        let value =
            Reflect::get(&outcome, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED);
        let chunk = Uint8Array::new(&value);
        if chunk.length() as usize != step.plaintext.len() {
            out.fill(0, 0, out.length());
            return Err(CryptoError::ChunkAuthenticationFailed { index: step.index });
        }
        out.set(&chunk, js_len(step.plaintext.start));
    }
    Ok(out.subarray(0, js_len(schedule.plaintext_len())))
}

/// The algorithm parameters of a part's chunk calls. WebCrypto copies the parameters
/// when `encrypt` or `decrypt` is called, so one object serves every chunk: its `iv`
/// is set to a view of that chunk's nonce in one array holding all the part's nonces.
struct ChunkCalls {
    params: AesGcmParams,
    nonces: Uint8Array,
}

impl ChunkCalls {
    fn new(chunks: &[ChunkStep]) -> Self {
        let mut all = Vec::with_capacity(chunks.len() * NONCE_LEN);
        for step in chunks {
            all.extend_from_slice(&step.nonce);
        }
        let nonces = Uint8Array::from(&all[..]);
        let params = AesGcmParams::new_with_u8_array("AES-GCM", &nonces.subarray(0, 0));
        params.set_tag_length(TAG_BITS);
        Self { params, nonces }
    }

    /// Returns the parameters for chunk `at` of the part, with that chunk's nonce.
    fn params(&self, at: usize) -> Result<&Object, CryptoError> {
        let start = js_len(at * NONCE_LEN);
        let iv = self.nonces.subarray(start, start + js_len(NONCE_LEN));
        Reflect::set(&self.params, &JsValue::from_str("iv"), &iv)
            .map_err(failure("set a chunk nonce"))?;
        Ok(self.params.as_ref())
    }
}

/// `crypto.subtle` of the page or the worker this runs in.
fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let missing = |detail: &str| CryptoError::WebCrypto {
        operation: "start",
        detail: format!("{detail}; open the site over HTTPS or on localhost"),
    };
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|crypto| crypto.dyn_into::<web_sys::Crypto>().ok())
        .ok_or_else(|| missing("this browser context has no crypto object"))?;
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle"))
        .ok()
        .filter(|subtle| !subtle.is_undefined() && !subtle.is_null())
        .ok_or_else(|| missing("crypto.subtle exists only in secure contexts"))?;
    Ok(subtle.unchecked_into())
}

async fn import_key(
    subtle: &SubtleCrypto,
    schedule: &PartSchedule,
    usage: &str,
) -> Result<CryptoKey, CryptoError> {
    let raw = Uint8Array::from(&schedule.expose_aead_key()[..]);
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"AES-GCM".into())
        .map_err(failure("import the part key"))?;
    let usages = Array::of1(&JsValue::from_str(usage));
    let promise = subtle
        .import_key_with_object("raw", &raw, &algorithm, false, &usages)
        .map_err(failure("import the part key"))?;
    let key = JsFuture::from(promise).await;
    // The key bytes were copied into the CryptoKey, so the JavaScript copy is wiped.
    raw.fill(0, 0, raw.length());
    key.map_err(failure("import the part key"))?
        .dyn_into::<CryptoKey>()
        .map_err(failure("import the part key"))
}

/// Maps a rejected `decrypt`: an `OperationError` means the tag did not verify, and
/// anything else means WebCrypto itself failed.
fn decrypt_error(index: u64, error: &JsValue) -> CryptoError {
    let name = Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string());
    if name.as_deref() == Some("OperationError") {
        CryptoError::ChunkAuthenticationFailed { index }
    } else {
        failure("decrypt a chunk")(error.clone())
    }
}

fn failure(operation: &'static str) -> impl Fn(JsValue) -> CryptoError {
    move |error| CryptoError::WebCrypto {
        operation,
        detail: describe(&error),
    }
}

fn describe(error: &JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    error
        .as_string()
        .unwrap_or_else(|| "an error without a message".to_owned())
}

/// Offsets within one part (at most about 4 MiB) always fit a `u32`.
fn js_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
