//! The page side of the encryption worker (`worker.js`, which loads this same
//! WebAssembly module). Each request posts `{ id, op, args }` and its future
//! resolves when the response with the same id arrives. Byte arrays move between
//! page and worker as transferred `ArrayBuffer`s, never as copies.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use dtc_crypto::password::KdfParams;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Event, MessageEvent, Worker, WorkerOptions, WorkerType};

use super::error::{UiError, js_detail};

/// The URL of `frontend/worker.js` in the Trunk output.
const WORKER_SCRIPT: &str = "/worker.js";

/// Maximum number of WebCrypto workers that encrypt or decrypt parts at once.
const MAX_PART_WORKERS: usize = 4;

thread_local! {
    static WORKER: RefCell<Option<Rc<CryptoWorker>>> = const { RefCell::new(None) };
    static PART_WORKERS: RefCell<Option<Rc<PartWorkers>>> = const { RefCell::new(None) };
}

/// Returns the page's encryption worker, starting it on first use.
pub fn crypto_worker() -> Result<Rc<CryptoWorker>, UiError> {
    WORKER.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(worker) = slot.as_ref() {
            return Ok(Rc::clone(worker));
        }
        let worker = Rc::new(CryptoWorker::start(discard_worker)?);
        *slot = Some(Rc::clone(&worker));
        Ok(worker)
    })
}

/// Forgets a worker that failed, so the next request starts a new one.
fn discard_worker() {
    WORKER.with(|slot| {
        if let Some(worker) = slot.borrow_mut().take() {
            worker.worker.terminate();
        }
    });
}

/// Returns the page's pool of part workers, starting it on first use: one worker per
/// logical core the browser reports, at least two and at most [`MAX_PART_WORKERS`].
pub fn part_workers() -> Result<Rc<PartWorkers>, UiError> {
    PART_WORKERS.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(pool) = slot.as_ref() {
            return Ok(Rc::clone(pool));
        }
        let cores = web_sys::window()
            .map(|window| window.navigator().hardware_concurrency())
            .unwrap_or(2.0);
        // A core count is a small whole number; anything odd falls back to two.
        let count = if cores.is_finite() { cores as usize } else { 2 };
        let workers = (0..count.clamp(2, MAX_PART_WORKERS))
            .map(|_| CryptoWorker::start(discard_part_workers).map(Rc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let pool = Rc::new(PartWorkers { workers });
        *slot = Some(Rc::clone(&pool));
        Ok(pool)
    })
}

/// Forgets the pool after one of its workers failed, so the next transfer starts a
/// new one. Requests still waiting in the other workers finish or fail on their own.
fn discard_part_workers() {
    PART_WORKERS.with(|slot| {
        if let Some(pool) = slot.borrow_mut().take() {
            for worker in &pool.workers {
                worker.worker.terminate();
            }
        }
    });
}

/// Workers that encrypt and decrypt file parts in parallel, each part on the worker
/// with the fewest requests waiting.
///
/// The AES-GCM step of each 16 KiB chunk runs in WebCrypto. In a CPU profile of the
/// encryption benchmark, the threads that called WebCrypto were busy several times
/// longer than the browser's own AES-GCM work, so calling from several workers
/// spreads most of the cost between cores. Measured on 2 cores, a worker that ran
/// AES-GCM in Rust beside them cost about 40% more CPU per byte and slowed the pool,
/// so every worker uses WebCrypto where the browser has it.
pub struct PartWorkers {
    workers: Vec<Rc<CryptoWorker>>,
}

impl PartWorkers {
    fn pick(&self) -> Result<&CryptoWorker, UiError> {
        self.workers
            .iter()
            .min_by_key(|worker| worker.pending.borrow().len())
            .map(Rc::as_ref)
            .ok_or_else(|| UiError::WorkerUnavailable("no part workers were started".to_owned()))
    }

    /// Runs [`CryptoWorker::encrypt_part`] on the worker [`pick`](Self::pick) chooses.
    pub async fn encrypt_part(
        &self,
        file_key: &[u8],
        salt: &[u8],
        plaintext_len: u64,
        index: u32,
        plaintext: Uint8Array,
    ) -> Result<Array, UiError> {
        self.pick()?
            .encrypt_part(file_key, salt, plaintext_len, index, plaintext)
            .await
    }

    /// Runs [`CryptoWorker::decrypt_part`] on the worker [`pick`](Self::pick) chooses.
    pub async fn decrypt_part(
        &self,
        file_key: &[u8],
        header: &[u8],
        ciphertext_len: u64,
        index: u32,
        ciphertext: Uint8Array,
    ) -> Result<Uint8Array, UiError> {
        self.pick()?
            .decrypt_part(file_key, header, ciphertext_len, index, ciphertext)
            .await
    }
}

/// Builds the arguments of a part operation: the file key, the salt or header, the
/// message length, the part index and the part's bytes.
fn part_args(
    [file_key, salt_or_header]: [&[u8]; 2],
    message_len: u64,
    index: u32,
    bytes: &Uint8Array,
) -> Array {
    Array::of5(
        &Uint8Array::from(file_key),
        &Uint8Array::from(salt_or_header),
        &(message_len as f64).into(),
        &index.into(),
        bytes,
    )
}

/// The functions that settle one request's promise.
struct Pending {
    resolve: Function,
    reject: Function,
}

type PendingRequests = Rc<RefCell<HashMap<u32, Pending>>>;

pub struct CryptoWorker {
    worker: Worker,
    pending: PendingRequests,
    next_id: Cell<u32>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl CryptoWorker {
    /// Starts a worker. When its script fails, `on_failure` drops it (and the pool that
    /// contains it), so the next request starts a new one.
    fn start(on_failure: fn()) -> Result<Self, UiError> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(WORKER_SCRIPT, &options)
            .map_err(|err| UiError::WorkerUnavailable(js_detail(&err)))?;
        let pending = PendingRequests::default();

        let answers = Rc::clone(&pending);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            settle(&answers, &event.data());
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let failed = Rc::clone(&pending);
        // A script that fails to load fires a plain `Event`; an uncaught error in the
        // worker fires an `ErrorEvent` with a message.
        let on_error = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            let message = Reflect::get(&event, &JsValue::from_str("message"))
                .ok()
                .and_then(|message| message.as_string())
                .unwrap_or_else(|| "it could not be loaded".to_owned());
            let detail = format!("the worker script {WORKER_SCRIPT} failed: {message}");
            leptos::logging::warn!("{detail}");
            let error = js_sys::Error::new(&detail);
            for (_, request) in failed.borrow_mut().drain() {
                let _ = request.reject.call1(&JsValue::NULL, &error);
            }
            on_failure();
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Ok(CryptoWorker {
            worker,
            pending,
            next_id: Cell::new(1),
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    pub(super) fn allocate_id(&self) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1).max(1));
        id
    }

    /// Posts `{ id, op, args }` and awaits the response. `transfer` lists the
    /// `ArrayBuffer`s that move to the worker; they are unusable here afterwards.
    async fn call(
        &self,
        operation: &'static str,
        args: Array,
        transfer: Array,
    ) -> Result<JsValue, UiError> {
        let id = self.allocate_id();
        let pending = Rc::clone(&self.pending);
        let promise = Promise::new(&mut |resolve, reject| {
            pending.borrow_mut().insert(id, Pending { resolve, reject });
        });
        let message = request_message(id, operation, &args)?;
        if let Err(err) = self.worker.post_message_with_transfer(&message, &transfer) {
            self.pending.borrow_mut().remove(&id);
            return Err(UiError::WorkerUnavailable(js_detail(&err)));
        }
        JsFuture::from(promise).await.map_err(|err| {
            if err.is_instance_of::<js_sys::Error>() {
                UiError::WorkerUnavailable(js_detail(&err))
            } else {
                UiError::WorkerOperation {
                    operation,
                    message: js_detail(&err),
                }
            }
        })
    }

    pub(super) async fn call_for_bytes(
        &self,
        operation: &'static str,
        args: Array,
        transfer: Array,
    ) -> Result<Uint8Array, UiError> {
        let value = self.call(operation, args, transfer).await?;
        value
            .dyn_into::<Uint8Array>()
            .map_err(|_| UiError::WorkerOperation {
                operation,
                message: "the worker's response is not a byte array".to_owned(),
            })
    }

    /// Runs Argon2id in the worker. Returns the login key and the slot under which
    /// the worker keeps the wrapping key until the slot is dropped.
    pub async fn derive_password_keys(
        self: &Rc<Self>,
        password: &str,
        salt: &[u8],
        params: KdfParams,
    ) -> Result<(PasswordKeySlot, Vec<u8>), UiError> {
        let slot = KeySlot {
            id: self.allocate_id(),
            forget: "forget_password_keys",
            worker: Rc::clone(self),
        };
        let args: Array = [
            JsValue::from(slot.id),
            JsValue::from_str(password),
            Uint8Array::from(salt).into(),
            JsValue::from(params.memory_kib),
            JsValue::from(params.iterations),
            JsValue::from(params.parallelism),
        ]
        .iter()
        .collect();
        let login_key = self
            .call_for_bytes("derive_password_keys", args, Array::new())
            .await?;
        Ok((slot, login_key.to_vec()))
    }

    /// Encrypts a 32-byte identity private key under the wrapping key in `slot`.
    pub async fn wrap_identity(
        &self,
        slot: &PasswordKeySlot,
        secret: &[u8],
        username: &str,
    ) -> Result<Vec<u8>, UiError> {
        let args = Array::of3(&slot.id.into(), &Uint8Array::from(secret), &username.into());
        Ok(self
            .call_for_bytes("wrap_identity", args, Array::new())
            .await?
            .to_vec())
    }

    /// Decrypts a wrapped identity key with the wrapping key in `slot`; returns the
    /// 32-byte private scalar.
    pub async fn unwrap_identity(
        &self,
        slot: &PasswordKeySlot,
        wrapped: &[u8],
        username: &str,
    ) -> Result<Vec<u8>, UiError> {
        let args = Array::of3(
            &slot.id.into(),
            &Uint8Array::from(wrapped),
            &username.into(),
        );
        Ok(self
            .call_for_bytes("unwrap_identity", args, Array::new())
            .await?
            .to_vec())
    }

    /// Encrypts part `index` of a file of `plaintext_len` bytes and returns the part's
    /// pieces in order, each a byte array. `plaintext` must span its whole buffer,
    /// which moves to the worker.
    pub async fn encrypt_part(
        &self,
        file_key: &[u8],
        salt: &[u8],
        plaintext_len: u64,
        index: u32,
        plaintext: Uint8Array,
    ) -> Result<Array, UiError> {
        let operation = "encrypt_part";
        let args = part_args([file_key, salt], plaintext_len, index, &plaintext);
        let value = self
            .call(operation, args, Array::of1(&plaintext.buffer()))
            .await?;
        // A worker script from before pieces returns the whole part as one array.
        if value.is_instance_of::<Uint8Array>() {
            return Ok(Array::of1(&value));
        }
        value
            .dyn_into::<Array>()
            .map_err(|_| UiError::WorkerOperation {
                operation,
                message: "the worker's response is not an array of byte arrays".to_owned(),
            })
    }

    /// Decrypts and verifies part `index` of a ciphertext of `ciphertext_len` bytes.
    /// `ciphertext` must span its whole buffer, which moves to the worker. The
    /// plaintext is a view from the start of that buffer, whose rest contains ciphertext.
    pub async fn decrypt_part(
        &self,
        file_key: &[u8],
        header: &[u8],
        ciphertext_len: u64,
        index: u32,
        ciphertext: Uint8Array,
    ) -> Result<Uint8Array, UiError> {
        let args = part_args([file_key, header], ciphertext_len, index, &ciphertext);
        self.call_for_bytes("decrypt_part", args, Array::of1(&ciphertext.buffer()))
            .await
    }

    /// Tells the worker to empty a key slot, without waiting for the response.
    fn forget_slot(&self, operation: &'static str, slot: u32) {
        let args = Array::of1(&slot.into());
        let posted = request_message(self.allocate_id(), operation, &args).and_then(|message| {
            self.worker
                .post_message(&message)
                .map_err(|err| UiError::WorkerUnavailable(js_detail(&err)))
        });
        if let Err(err) = posted {
            leptos::logging::warn!("could not clear key slot {slot} ({operation}): {err}");
        }
    }
}

/// Keys held by the worker under a slot number; dropping the slot clears them there.
pub struct KeySlot {
    pub(super) id: u32,
    /// The worker operation that empties the slot.
    pub(super) forget: &'static str,
    pub(super) worker: Rc<CryptoWorker>,
}

/// The password wrapping key of a login or registration.
pub type PasswordKeySlot = KeySlot;

impl Drop for KeySlot {
    fn drop(&mut self) {
        self.worker.forget_slot(self.forget, self.id);
    }
}

fn request_message(id: u32, operation: &str, args: &Array) -> Result<Object, UiError> {
    let message = Object::new();
    let set = |name: &str, value: &JsValue| {
        Reflect::set(&message, &JsValue::from_str(name), value)
            .map(|_| ())
            .map_err(|err| UiError::WorkerUnavailable(js_detail(&err)))
    };
    set("id", &id.into())?;
    set("op", &operation.into())?;
    set("args", args)?;
    Ok(message)
}

/// Settles the pending request that a response `{ id, ok, value | message }` belongs
/// to. Responses that no request waits for (such as slot clean-up) are dropped.
fn settle(pending: &PendingRequests, response: &JsValue) {
    let field =
        |name: &str| Reflect::get(response, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let Some(id) = field("id").as_f64() else {
        leptos::logging::warn!("the encryption worker sent a response without an id");
        return;
    };
    // Ids are u32 values this page chose, so the conversion is exact.
    let Some(request) = pending.borrow_mut().remove(&(id as u32)) else {
        return;
    };
    let settled = if field("ok").as_bool() == Some(true) {
        request.resolve.call1(&JsValue::NULL, &field("value"))
    } else {
        // Operation failures reject with the message text. Only a failed worker
        // rejects with an `Error` object, so `call` can distinguish the two cases.
        request.reject.call1(&JsValue::NULL, &field("message"))
    };
    if let Err(err) = settled {
        leptos::logging::warn!("settling worker request {id} failed: {}", js_detail(&err));
    }
}
