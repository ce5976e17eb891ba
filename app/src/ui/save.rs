//! The destination of a download: a file the person picks through the File System
//! Access API (`window.showSaveFilePicker`) where the browser has it, or else a
//! browser download streamed through the service worker. Either way each verified
//! part goes to disk as it arrives, and a failed or cancelled download is discarded.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemFileHandle, FileSystemWritableFileStream};

use super::error::{UiError, js_detail};
use super::stream_save::StreamSave;

/// The reason writing a download stopped.
#[derive(Debug)]
pub enum SaveError {
    /// The person cancelled the download in the browser's download list.
    Cancelled,
    Failed(UiError),
}

/// The open destination of one download.
pub enum SaveTarget {
    /// A file chosen in the save dialog. Chromium writes to a temporary file and
    /// moves it into place only on `close`.
    Picked {
        handle: FileSystemFileHandle,
        writable: FileSystemWritableFileStream,
    },
    /// A browser download through the service worker, which begins with the first
    /// verified part, so that a file whose first part fails never shows in the
    /// browser's download list.
    Streamed(StreamSave),
    /// The name and size of a streamed download that has not begun yet.
    StreamPending { name: String, size: u64 },
}

impl SaveTarget {
    /// Opens the destination of a file of `size` bytes saved as `name`. Returns
    /// `None` when the person closed the save dialog without choosing a file.
    ///
    /// The save dialog needs the click that started the download, so call this
    /// before any other await of the download.
    pub async fn open(name: &str, size: u64) -> Result<Option<SaveTarget>, UiError> {
        let window =
            web_sys::window().ok_or_else(|| UiError::invalid("no browser window to save from"))?;
        let picker = Reflect::get(&window, &JsValue::from_str("showSaveFilePicker"))
            .ok()
            .and_then(|picker| picker.dyn_into::<Function>().ok());
        let Some(picker) = picker else {
            return Ok(Some(SaveTarget::StreamPending {
                name: name.to_owned(),
                size,
            }));
        };

        let options = Object::new();
        let _ = Reflect::set(&options, &"suggestedName".into(), &name.into());
        let chosen = picker
            .call1(&window, &options)
            .and_then(|promise| promise.dyn_into::<Promise>());
        let handle = match chosen {
            Ok(promise) => JsFuture::from(promise).await,
            Err(err) => Err(err),
        };
        let handle = match handle {
            Ok(handle) => handle.unchecked_into::<FileSystemFileHandle>(),
            Err(err) if error_name(&err) == "AbortError" => return Ok(None),
            Err(err) => return Err(UiError::browser("opening the save dialog")(err)),
        };
        let writable = JsFuture::from(handle.create_writable())
            .await
            .map_err(UiError::browser("opening the chosen file for writing"))?
            .unchecked_into::<FileSystemWritableFileStream>();
        Ok(Some(SaveTarget::Picked { handle, writable }))
    }

    /// Writes `part` after the bytes written so far.
    pub async fn write(&mut self, part: &Uint8Array) -> Result<(), SaveError> {
        match self {
            SaveTarget::Picked { writable, .. } => {
                let written = writable
                    .write_with_js_u8_array(part)
                    .map_err(UiError::browser("writing the file"))
                    .map_err(SaveError::Failed)?;
                JsFuture::from(written)
                    .await
                    .map(|_| ())
                    .map_err(|err| SaveError::Failed(UiError::browser("writing the file")(err)))
            }
            SaveTarget::Streamed(stream) => stream.write(part).await,
            SaveTarget::StreamPending { name, size } => {
                let mut stream = StreamSave::open(name, *size)
                    .await
                    .map_err(SaveError::Failed)?;
                let written = stream.write(part).await;
                *self = SaveTarget::Streamed(stream);
                written
            }
        }
    }

    /// Finishes the file: the chosen file takes its contents, or the download stream
    /// ends.
    pub async fn close(self) -> Result<(), SaveError> {
        match self {
            SaveTarget::Picked { writable, .. } => JsFuture::from(writable.close())
                .await
                .map(|_| ())
                .map_err(|err| SaveError::Failed(UiError::browser("closing the file")(err))),
            SaveTarget::Streamed(stream) => stream.close().await,
            // An empty file has no part to write, so its download begins here.
            SaveTarget::StreamPending { name, size } => {
                StreamSave::open(&name, size)
                    .await
                    .map_err(SaveError::Failed)?
                    .close()
                    .await
            }
        }
    }

    /// Discards everything written, with `reason` for the browser's download list.
    pub async fn abort(self, reason: &str) {
        match self {
            SaveTarget::Picked { handle, writable } => {
                if let Err(err) = JsFuture::from(writable.abort()).await {
                    leptos::logging::warn!(
                        "discarding the partly written file failed: {}",
                        js_detail(&err)
                    );
                }
                remove_empty_file(&handle).await;
            }
            SaveTarget::Streamed(stream) => stream.abort(reason),
            SaveTarget::StreamPending { .. } => {}
        }
    }
}

/// Deletes the file of a discarded download. The save dialog created it, or emptied
/// an existing file, when the person chose it (File System Access, "showSaveFilePicker"
/// step 7), so it is empty. `FileSystemHandle.remove()` is Chromium's own (from
/// version 110), so elsewhere the empty file stays.
async fn remove_empty_file(handle: &FileSystemFileHandle) {
    let Some(remove) = Reflect::get(handle, &JsValue::from_str("remove"))
        .ok()
        .and_then(|remove| remove.dyn_into::<Function>().ok())
    else {
        return;
    };
    let removed = remove
        .call0(handle)
        .and_then(|promise| promise.dyn_into::<Promise>());
    let result = match removed {
        Ok(promise) => JsFuture::from(promise).await.map(|_| ()),
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        leptos::logging::warn!(
            "removing the empty file of a failed download failed: {}",
            js_detail(&err)
        );
    }
}

/// Returns the `name` of a `DOMException` or other error value, such as "AbortError".
fn error_name(value: &JsValue) -> String {
    Reflect::get(value, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_default()
}
