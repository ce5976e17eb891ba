//! Saving a download through the service worker `sw.js`, for browsers without the
//! File System Access API. The page registers the download with the worker, opens
//! the worker's one-time URL in a hidden frame, and responds to each pull of the
//! response stream with the next decrypted part. The browser writes the stream to
//! disk as it arrives, so memory contains about two parts whatever the file's size.

use futures::channel::mpsc;
use futures::future::{Either, select};
use futures::{FutureExt, StreamExt};
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{
    HtmlIFrameElement, MessageChannel, MessageEvent, MessagePort, RegistrationOptions,
    ServiceWorker, ServiceWorkerRegistration,
};

use super::error::UiError;
use super::save::SaveError;
use super::transport::sleep;

/// The URL of `frontend/sw.js` in the Trunk output.
const WORKER_SCRIPT: &str = "/sw.js";
/// The worker's scope: only the download URLs, so the worker controls no page and
/// no API request passes through it.
const WORKER_SCOPE: &str = "/download/";
/// How long a new worker may take to install and activate.
const ACTIVATION_TIMEOUT_MS: i32 = 10_000;
/// How long the worker may take to confirm a registration, and the browser to request
/// the download URL after the frame opened it.
const START_TIMEOUT_MS: i32 = 30_000;
/// The interval of the messages that keep the worker running. Chromium stops a
/// service worker that received no event for 30 s, and messages on a
/// `MessagePort` are no such event.
const KEEP_ALIVE_INTERVAL_MS: i32 = 10_000;
/// How long the hidden frame stays after the download ended, so that removing it
/// cannot interrupt the browser while it writes the last bytes.
const FRAME_LIFETIME_MS: i32 = 60_000;
/// Poll interval while a new worker activates.
const ACTIVATION_POLL_MS: i32 = 50;

/// A message from the worker about one download.
#[derive(Debug)]
enum WorkerMessage {
    /// The download is registered under this one-time URL. `takes_length` is set by a
    /// worker that accepts a chunk's length beside its buffer, so that a part that
    /// fills only the start of its buffer is passed on without a copy.
    Registered { url: String, takes_length: bool },
    /// The browser requested the download URL, so the download has begun.
    Started,
    /// The browser wants the next chunk.
    Pull,
    /// The stream ended after the last chunk.
    Closed,
    /// The person cancelled the download in the browser.
    Cancel,
    /// The worker rejected the download, with its reason.
    Abort(String),
    /// The worker's end of the port went away, because the worker stopped.
    PortClosed,
}

/// A download in progress through the service worker.
pub struct StreamSave {
    port: MessagePort,
    messages: mpsc::UnboundedReceiver<WorkerMessage>,
    frame: Option<HtmlIFrameElement>,
    keep_alive_timer: Option<i32>,
    /// Whether the worker accepts a `length` with each chunk.
    takes_length: bool,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut()>,
    /// Posts a keepalive message to the worker; a timer calls it.
    keep_alive: Closure<dyn FnMut()>,
}

impl StreamSave {
    /// Registers a download of `size` bytes named `name` with the service worker and
    /// opens it in a hidden frame. Returns once the browser requested it.
    pub async fn open(name: &str, size: u64) -> Result<StreamSave, UiError> {
        let window =
            web_sys::window().ok_or_else(|| UiError::invalid("no browser window to save from"))?;
        let navigator = window.navigator();
        let has_workers = Reflect::get(&navigator, &JsValue::from_str("serviceWorker"))
            .is_ok_and(|container| !container.is_undefined());
        if !has_workers {
            return Err(UiError::invalid(
                "this browser cannot save large files: it offers neither a save dialog \
                 to pages nor service workers (they need HTTPS); use a current Chrome, \
                 Edge or Firefox over HTTPS",
            ));
        }
        let worker = active_worker(&navigator.service_worker()).await?;

        let channel =
            MessageChannel::new().map_err(UiError::browser("opening a message channel"))?;
        let port = channel.port1();
        let (sender, messages) = mpsc::unbounded();
        let on_message = {
            let sender = sender.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let _ = sender.unbounded_send(parse_message(&event.data()));
            })
        };
        port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_close = Closure::<dyn FnMut()>::new(move || {
            let _ = sender.unbounded_send(WorkerMessage::PortClosed);
        });
        port.add_event_listener_with_callback("close", on_close.as_ref().unchecked_ref())
            .map_err(UiError::browser("watching the message channel"))?;

        let keep_alive = {
            let worker = worker.clone();
            Closure::<dyn FnMut()>::new(move || {
                let _ = worker.post_message(&message("keepalive", &[]));
            })
        };
        let mut save = StreamSave {
            port,
            messages,
            frame: None,
            keep_alive_timer: None,
            takes_length: false,
            _on_message: on_message,
            _on_close: on_close,
            keep_alive,
        };

        let request = message(
            "download",
            &[
                ("size", JsValue::from_f64(size as f64)),
                ("disposition", JsValue::from_str(&content_disposition(name))),
            ],
        );
        worker
            .post_message_with_transferable(&request, &Array::of1(&channel.port2()))
            .map_err(UiError::browser(
                "starting the download in the service worker",
            ))?;
        save.keep_alive_timer = window
            .set_interval_with_callback_and_timeout_and_arguments_0(
                save.keep_alive.as_ref().unchecked_ref(),
                KEEP_ALIVE_INTERVAL_MS,
            )
            .ok();

        let url = match save.next_message(START_TIMEOUT_MS).await? {
            WorkerMessage::Registered { url, takes_length } => {
                save.takes_length = takes_length;
                url
            }
            other => return Err(unexpected(&other)),
        };
        save.frame = Some(open_frame(&url)?);
        match save.next_message(START_TIMEOUT_MS).await? {
            WorkerMessage::Started => Ok(save),
            other => Err(unexpected(&other)),
        }
    }

    /// Waits until the browser requests the next chunk, then hands it `part`. When the
    /// worker takes lengths and `part` starts its buffer, that buffer moves to the
    /// worker. Otherwise a copy of exactly the part's bytes does.
    pub async fn write(&mut self, part: &Uint8Array) -> Result<(), SaveError> {
        loop {
            match self.messages.next().await {
                Some(WorkerMessage::Pull) => break,
                Some(WorkerMessage::Cancel) => return Err(SaveError::Cancelled),
                Some(WorkerMessage::Started | WorkerMessage::Registered { .. }) => continue,
                Some(other) => return Err(SaveError::Failed(unexpected(&other))),
                None => return Err(SaveError::Failed(stopped())),
            }
        }
        // A part that starts its buffer goes with its length, and the worker reads
        // only those bytes. A worker from before lengths gets an exact copy.
        let (buffer, length) = if self.takes_length && part.byte_offset() == 0 {
            (part.buffer(), part.length())
        } else {
            let buffer = whole_buffer(part);
            let length = buffer.byte_length();
            (buffer, length)
        };
        let fields = [
            ("buffer", buffer.clone().into()),
            ("length", JsValue::from(length)),
        ];
        self.port
            .post_message_with_transferable(&message("chunk", &fields), &Array::of1(&buffer))
            .map_err(|err| {
                SaveError::Failed(UiError::browser("passing a part to the download")(err))
            })
    }

    /// Ends the stream after the last chunk and waits until the worker closed it.
    pub async fn close(mut self) -> Result<(), SaveError> {
        self.port
            .post_message(&message("end", &[]))
            .map_err(|err| SaveError::Failed(UiError::browser("ending the download")(err)))?;
        loop {
            match self.messages.next().await {
                Some(WorkerMessage::Closed) => return Ok(()),
                Some(WorkerMessage::Cancel) => return Err(SaveError::Cancelled),
                Some(WorkerMessage::Pull | WorkerMessage::Started) => continue,
                Some(other) => return Err(SaveError::Failed(unexpected(&other))),
                None => return Err(SaveError::Failed(stopped())),
            }
        }
    }

    /// Errors the stream with `reason`, so the browser marks the download failed and
    /// never moves it into place under its name.
    ///
    /// NOTE: whether Chromium also deletes its partial `.crdownload` file was not
    /// checked; the tests see only that the download failed and has no saved file.
    pub fn abort(self, reason: &str) {
        let _ = self
            .port
            .post_message(&message("abort", &[("message", JsValue::from_str(reason))]));
    }

    /// Returns the next message, or an error after `timeout_ms` without one.
    async fn next_message(&mut self, timeout_ms: i32) -> Result<WorkerMessage, UiError> {
        let timeout = sleep(timeout_ms).boxed_local();
        match select(self.messages.next(), timeout).await {
            Either::Left((Some(message), _)) => Ok(message),
            Either::Left((None, _)) => Err(stopped()),
            Either::Right(_) => Err(UiError::invalid(format!(
                "the download service worker did not respond within {} s; reload the page \
                 and try again",
                timeout_ms / 1000
            ))),
        }
    }
}

impl Drop for StreamSave {
    fn drop(&mut self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Some(timer) = self.keep_alive_timer.take() {
            window.clear_interval_with_handle(timer);
        }
        // A download dropped before `close` must fail rather than wait for chunks that
        // never come. After `close` or `abort` the worker has closed its end, and this
        // message goes nowhere.
        let _ = self.port.post_message(&message(
            "abort",
            &[(
                "message",
                JsValue::from_str("the page stopped the download"),
            )],
        ));
        self.port.set_onmessage(None);
        self.port.close();
        if let Some(frame) = self.frame.take() {
            leptos::task::spawn_local(async move {
                sleep(FRAME_LIFETIME_MS).await;
                frame.remove();
            });
        }
    }
}

/// Registers `sw.js` (or finds it registered) and returns its active worker once no
/// newer version is installing, so that no update replaces it mid-download.
async fn active_worker(
    container: &web_sys::ServiceWorkerContainer,
) -> Result<ServiceWorker, UiError> {
    let options = RegistrationOptions::new();
    options.set_scope(WORKER_SCOPE);
    let registration = wasm_bindgen_futures::JsFuture::from(
        container.register_with_options(WORKER_SCRIPT, &options),
    )
    .await
    .map_err(UiError::browser("registering the download service worker"))?
    .unchecked_into::<ServiceWorkerRegistration>();
    let mut waited_ms = 0;
    loop {
        let updating = registration.installing().is_some() || registration.waiting().is_some();
        match registration.active() {
            Some(worker) if !updating => return Ok(worker),
            _ if waited_ms >= ACTIVATION_TIMEOUT_MS => {
                return Err(UiError::invalid(format!(
                    "the download service worker {WORKER_SCRIPT} did not start within {} s; \
                     reload the page and try again",
                    ACTIVATION_TIMEOUT_MS / 1000
                )));
            }
            _ => {
                sleep(ACTIVATION_POLL_MS).await;
                waited_ms += ACTIVATION_POLL_MS;
            }
        }
    }
}

/// Adds a hidden frame that opens `url`, to which the service worker responds with
/// the download.
fn open_frame(url: &str) -> Result<HtmlIFrameElement, UiError> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| UiError::invalid("no document to save the file from"))?;
    let frame = document
        .create_element("iframe")
        .map_err(UiError::browser("starting the download"))?
        .unchecked_into::<HtmlIFrameElement>();
    frame.set_hidden(true);
    frame.set_src(url);
    let body = document
        .body()
        .ok_or_else(|| UiError::invalid("no document body to save the file from"))?;
    body.append_child(&frame)
        .map_err(UiError::browser("starting the download"))?;
    Ok(frame)
}

fn parse_message(data: &JsValue) -> WorkerMessage {
    let field = |name: &str| {
        Reflect::get(data, &JsValue::from_str(name))
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_default()
    };
    match field("type").as_str() {
        "registered" => WorkerMessage::Registered {
            url: field("url"),
            takes_length: Reflect::get(data, &JsValue::from_str("takesLength"))
                .is_ok_and(|value| value.is_truthy()),
        },
        "started" => WorkerMessage::Started,
        "pull" => WorkerMessage::Pull,
        "closed" => WorkerMessage::Closed,
        "cancel" => WorkerMessage::Cancel,
        "abort" => WorkerMessage::Abort(field("message")),
        other => WorkerMessage::Abort(format!("unknown message type {other:?}")),
    }
}

/// Builds `{ type, ...fields }`.
fn message(kind: &str, fields: &[(&str, JsValue)]) -> Object {
    let message = Object::new();
    let _ = Reflect::set(&message, &"type".into(), &kind.into());
    for (name, value) in fields {
        let _ = Reflect::set(&message, &JsValue::from_str(name), value);
    }
    message
}

/// Returns a buffer that contains exactly the bytes of `part`: its own buffer when the
/// view spans all of it, or else a copy.
fn whole_buffer(part: &Uint8Array) -> ArrayBuffer {
    let buffer = part.buffer();
    if part.byte_offset() == 0 && part.byte_length() == buffer.byte_length() {
        buffer
    } else {
        part.slice(0, part.length()).buffer()
    }
}

fn unexpected(message: &WorkerMessage) -> UiError {
    match message {
        WorkerMessage::Abort(reason) => UiError::invalid(format!(
            "the download service worker rejected the download: {reason}"
        )),
        WorkerMessage::PortClosed => stopped(),
        other => UiError::invalid(format!(
            "the download service worker sent {other:?} out of order; reload the page and \
             try again"
        )),
    }
}

fn stopped() -> UiError {
    UiError::invalid("the download service worker stopped; reload the page and try again")
}

/// Returns the `Content-Disposition` value that saves the file as `name`, percent-encoded
/// as UTF-8 (RFC 8187), so that any character of the name survives.
pub fn content_disposition(name: &str) -> String {
    let mut value = String::from("attachment; filename*=UTF-8''");
    for byte in name.bytes() {
        // The attr-char set of RFC 8187, section 3.2.1.
        let plain = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if plain {
            value.push(char::from(byte));
        } else {
            value.push_str(&format!("%{byte:02X}"));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_keeps_plain_names() {
        assert_eq!(
            content_disposition("report-2024.pdf"),
            "attachment; filename*=UTF-8''report-2024.pdf"
        );
    }

    #[test]
    fn disposition_encodes_spaces_and_quotes() {
        assert_eq!(
            content_disposition("a b\"c';(d)*.txt"),
            "attachment; filename*=UTF-8''a%20b%22c%27%3B%28d%29%2A.txt"
        );
    }

    #[test]
    fn disposition_encodes_utf8() {
        assert_eq!(
            content_disposition("résumé ✓.txt"),
            "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%9C%93.txt"
        );
    }

    #[test]
    fn disposition_encodes_separators_and_controls() {
        assert_eq!(
            content_disposition("a/b\\c\r\n.txt"),
            "attachment; filename*=UTF-8''a%2Fb%5Cc%0D%0A.txt"
        );
    }
}
