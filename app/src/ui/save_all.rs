//! Saving every file of a transfer at once, with its folder structure. Where the
//! browser has the File System Access API (`window.showDirectoryPicker`), the files go
//! into a folder the person picks. Elsewhere they go into one ZIP archive, written
//! while the files download and streamed by the service worker as a browser download.
//!
//! Each path from decrypted metadata is made safe first: every folder and file name
//! goes through [`path_component`], and empty, `.` and `..` components are dropped,
//! so no file lands outside the chosen folder or the archive's root. A file whose
//! path is also another file's folder gets a number, so neither hides the other.

use std::collections::HashSet;
use std::pin::pin;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::future::{Either, select};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemWritableFileStream};

use super::download::{PartSink, StoredFile, write_entry};
use super::error::UiError;
use super::file_name::{UNNAMED_FILE, display_name, path_component, save_name};
use super::files::FileRow;
use super::save::{SaveError, SaveTarget};
use super::zip::{ZipEntry, ZipWriter};

/// The end of a transfer's save that returned no error.
#[derive(Debug, PartialEq, Eq)]
pub enum SaveAllOutcome {
    /// Every file verified and is closed on disk.
    Saved,
    /// The person closed the folder dialog, so nothing started.
    Dismissed,
}

/// The reason saving a transfer stopped.
#[derive(Debug, thiserror::Error)]
pub enum SaveAllError {
    #[error("cancelled; {0}")]
    Cancelled(String),
    #[error("{message}; {saved}")]
    Failed { message: String, saved: String },
}

/// One file of the transfer with its safe path.
struct Planned {
    row: Rc<FileRow>,
    path: String,
}

/// Saves every file in `rows` (opened files of one transfer, in the order they were
/// sent). `archive_name` names the ZIP archive when there is no folder dialog.
/// `on_progress` receives the plaintext bytes written so far. A message on `cancel`
/// stops it.
pub async fn save_all(
    rows: Vec<Rc<FileRow>>,
    archive_name: &str,
    cancel: oneshot::Receiver<()>,
    on_progress: impl Fn(u64),
) -> Result<SaveAllOutcome, SaveAllError> {
    let planned = plan(rows).map_err(|message| SaveAllError::Failed {
        message,
        saved: "nothing was saved".to_owned(),
    })?;
    match directory_picker() {
        Some(picker) => save_to_folder(picker, &planned, cancel, &on_progress).await,
        None => save_as_archive(&planned, archive_name, cancel, &on_progress).await,
    }
}

/// Returns the name of the archive for a transfer, made safe and ending in `.zip`. It
/// is the common top folder when every path starts with the same one, else `fallback`.
pub fn archive_name(paths: &[String], fallback: &str) -> String {
    let first = |path: &String| path.split('/').next().map(str::to_owned);
    let top = paths.first().and_then(first).filter(|top| {
        paths
            .iter()
            .all(|path| path.contains('/') && first(path).as_deref() == Some(top))
    });
    format!(
        "{}.zip",
        save_name(&top.unwrap_or_else(|| fallback.to_owned()))
    )
}

/// Returns `name` as a relative path that stays inside the destination: each
/// component made safe, and empty, `.` and `..` components dropped.
pub fn safe_path(name: &str) -> String {
    let components: Vec<String> = name
        .split(['/', '\\'])
        .filter(|component| !matches!(component.trim(), "" | "." | ".."))
        .map(path_component)
        .collect();
    if components.is_empty() {
        UNNAMED_FILE.to_owned()
    } else {
        components.join("/")
    }
}

/// Returns `path`, or `path` with " (2)", " (3)" and so on before its extension,
/// whichever `taken` does not have yet, and adds it to `taken`.
fn unique_path(path: String, taken: &mut HashSet<String>) -> String {
    if taken.insert(path.to_lowercase()) {
        return path;
    }
    let (stem, extension) = split_extension(&path);
    let mut number = 2;
    loop {
        let candidate = format!("{stem} ({number}){extension}");
        if taken.insert(candidate.to_lowercase()) {
            return candidate;
        }
        number += 1;
    }
}

/// Splits `path` before the last `.` of its file name, keeping the dot with the
/// extension. A name without a dot, or with only a leading one, has no extension.
fn split_extension(path: &str) -> (&str, &str) {
    let name_start = path.rfind('/').map_or(0, |slash| slash + 1);
    match path[name_start..].rfind('.') {
        Some(dot) if dot > 0 => path.split_at(name_start + dot),
        _ => (path, ""),
    }
}

fn plan(rows: Vec<Rc<FileRow>>) -> Result<Vec<Planned>, String> {
    let paths = rows
        .iter()
        .map(|row| match &row.opened {
            Ok(opened) => Ok(safe_path(&opened.metadata.name)),
            Err(message) => Err(format!(
                "file {} of this transfer could not be opened ({message})",
                row.entry.file_id
            )),
        })
        .collect::<Result<Vec<String>, String>>()?;
    Ok(rows
        .into_iter()
        .zip(distinct_paths(paths))
        .map(|(row, path)| Planned { row, path })
        .collect())
}

/// Returns `paths` with a number added to each path that repeats an earlier one or
/// names a folder of another, ignoring letter case, as file systems often do.
fn distinct_paths(paths: Vec<String>) -> Vec<String> {
    // Every folder the files need is taken first, so a file never gets a folder's path.
    let mut taken: HashSet<String> = paths
        .iter()
        .flat_map(|path| {
            path.match_indices('/')
                .map(|(slash, _)| path[..slash].to_lowercase())
        })
        .collect();
    paths
        .into_iter()
        .map(|path| unique_path(path, &mut taken))
        .collect()
}

fn directory_picker() -> Option<Function> {
    let window = web_sys::window()?;
    Reflect::get(&window, &JsValue::from_str("showDirectoryPicker"))
        .ok()
        .and_then(|picker| picker.dyn_into::<Function>().ok())
}

/// Writes each file into the folder picked in the dialog, creating its subfolders.
/// A file that fails or is cancelled is discarded; the files finished before stay.
async fn save_to_folder(
    picker: Function,
    planned: &[Planned],
    cancel: oneshot::Receiver<()>,
    on_progress: &impl Fn(u64),
) -> Result<SaveAllOutcome, SaveAllError> {
    let failed = |message: String, done: usize| SaveAllError::Failed {
        message,
        saved: saved_count(done),
    };
    let window = web_sys::window().ok_or_else(|| failed("no browser window".to_owned(), 0))?;
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &"readwrite".into());
    let chosen = picker
        .call1(&window, &options)
        .and_then(|promise| promise.dyn_into::<Promise>());
    let folder = match chosen {
        Ok(promise) => JsFuture::from(promise).await,
        Err(err) => Err(err),
    };
    let folder = match folder {
        Ok(folder) => folder.unchecked_into::<FileSystemDirectoryHandle>(),
        Err(err) if error_name(&err) == "AbortError" => return Ok(SaveAllOutcome::Dismissed),
        Err(err) => {
            return Err(failed(
                browser_failure("opening the folder dialog", &err),
                0,
            ));
        }
    };
    on_progress(0);

    let mut cancel = cancel;
    let mut done_bytes = 0;
    for (done, file) in planned.iter().enumerate() {
        let target = create_file(&folder, &file.path)
            .await
            .map_err(|err| failed(err.to_string(), done))?;
        let mut target = target;
        let written = {
            let writing = pin!(write_file(file, &mut target, done_bytes, on_progress));
            match select(writing, pin!(cancelled(&mut cancel))).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(SaveAllError::Cancelled(String::new())),
            }
        };
        match written {
            Ok(()) => {
                if let Err(err) = target.close().await {
                    return Err(failed(save_message(err), done));
                }
            }
            Err(SaveAllError::Cancelled(_)) => {
                target.abort("cancelled").await;
                return Err(SaveAllError::Cancelled(saved_count(done)));
            }
            Err(err) => {
                target.abort(&err.to_string()).await;
                return Err(failed(failure_message(err), done));
            }
        }
        done_bytes += file_size(file);
    }
    Ok(SaveAllOutcome::Saved)
}

/// Writes every file into one ZIP archive streamed as a browser download.
async fn save_as_archive(
    planned: &[Planned],
    archive_name: &str,
    cancel: oneshot::Receiver<()>,
    on_progress: &impl Fn(u64),
) -> Result<SaveAllOutcome, SaveAllError> {
    let nothing = || "nothing was saved".to_owned();
    let entries: Vec<ZipEntry> = planned
        .iter()
        .map(|file| ZipEntry {
            path: file.path.clone(),
            size: file_size(file),
            modified_ms: modified_ms(file),
        })
        .collect();
    let archive_len = ZipWriter::archive_len(&entries).map_err(|err| SaveAllError::Failed {
        message: err.to_string(),
        saved: nothing(),
    })?;
    let mut target = SaveTarget::StreamPending {
        name: archive_name.to_owned(),
        size: archive_len,
    };
    on_progress(0);

    let mut cancel = cancel;
    let written = {
        let writing = pin!(write_archive(planned, entries, &mut target, on_progress));
        match select(writing, pin!(cancelled(&mut cancel))).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(SaveAllError::Cancelled(nothing())),
        }
    };
    match written {
        Ok(()) => target
            .close()
            .await
            .map(|()| SaveAllOutcome::Saved)
            .map_err(|err| SaveAllError::Failed {
                message: save_message(err),
                saved: nothing(),
            }),
        Err(err) => {
            target.abort(&err.to_string()).await;
            Err(match err {
                SaveAllError::Cancelled(_) => SaveAllError::Cancelled(nothing()),
                other => SaveAllError::Failed {
                    message: failure_message(other),
                    saved: nothing(),
                },
            })
        }
    }
}

async fn write_archive(
    planned: &[Planned],
    entries: Vec<ZipEntry>,
    target: &mut SaveTarget,
    on_progress: &impl Fn(u64),
) -> Result<(), SaveAllError> {
    let failed = |message: String| SaveAllError::Failed {
        message,
        saved: String::new(),
    };
    let mut zip = ZipWriter::new();
    let mut done_bytes = 0;
    for (file, entry) in planned.iter().zip(entries) {
        let header = zip
            .start_file(entry)
            .map_err(|err| failed(err.to_string()))?;
        write_bytes(target, &header).await?;
        let mut sink = ZipSink {
            target: &mut *target,
            zip: &mut zip,
        };
        write_file(file, &mut sink, done_bytes, on_progress).await?;
        let descriptor = zip.finish_file().map_err(|err| failed(err.to_string()))?;
        write_bytes(target, &descriptor).await?;
        done_bytes += file_size(file);
    }
    let end = zip.finish().map_err(|err| failed(err.to_string()))?;
    write_bytes(target, &end).await
}

async fn write_bytes(target: &mut SaveTarget, bytes: &[u8]) -> Result<(), SaveAllError> {
    target
        .write(&Uint8Array::from(bytes))
        .await
        .map_err(|err| match err {
            SaveError::Cancelled => SaveAllError::Cancelled(String::new()),
            SaveError::Failed(source) => SaveAllError::Failed {
                message: source.to_string(),
                saved: String::new(),
            },
        })
}

/// Passes each verified part to the archive's CRC-32 and then to the download.
struct ZipSink<'a> {
    target: &'a mut SaveTarget,
    zip: &'a mut ZipWriter,
}

impl PartSink for ZipSink<'_> {
    async fn write(&mut self, part: &Uint8Array) -> Result<(), SaveError> {
        self.zip
            .update(&part.to_vec())
            .map_err(|err| SaveError::Failed(UiError::invalid(err.to_string())))?;
        self.target.write(part).await
    }
}

/// Downloads one file of the transfer into `sink`.
async fn write_file(
    file: &Planned,
    sink: &mut impl PartSink,
    done_before: u64,
    on_progress: &impl Fn(u64),
) -> Result<(), SaveAllError> {
    let Ok(opened) = &file.row.opened else {
        return Err(SaveAllError::Failed {
            message: format!("file {} could not be opened", file.row.entry.file_id),
            saved: String::new(),
        });
    };
    let entry = StoredFile::from_entry(&file.row.entry);
    let shown = display_name(&opened.metadata.name);
    write_entry(&entry, &opened.key, sink, &shown, done_before, on_progress)
        .await
        .map_err(|err| match err {
            super::download::DownloadError::Cancelled { .. } => {
                SaveAllError::Cancelled(String::new())
            }
            other => SaveAllError::Failed {
                message: other.to_string(),
                saved: String::new(),
            },
        })
}

/// Opens `path` under `folder` for writing, creating its subfolders. An existing file
/// of that name stays: the new one gets " (2)" and so on before its extension.
async fn create_file(
    folder: &FileSystemDirectoryHandle,
    path: &str,
) -> Result<SaveTarget, UiError> {
    let mut components: Vec<&str> = path.split('/').collect();
    let name = components.pop().unwrap_or(UNNAMED_FILE);
    let mut current = folder.clone();
    for component in components {
        let options = web_sys::FileSystemGetDirectoryOptions::new();
        options.set_create(true);
        current = JsFuture::from(current.get_directory_handle_with_options(component, &options))
            .await
            .map_err(UiError::browser("creating a folder"))?
            .unchecked_into::<FileSystemDirectoryHandle>();
    }
    let mut candidate = name.to_owned();
    let mut number = 2;
    while JsFuture::from(current.get_file_handle(&candidate))
        .await
        .is_ok()
    {
        let (stem, extension) = split_extension(name);
        candidate = format!("{stem} ({number}){extension}");
        number += 1;
    }
    let options = web_sys::FileSystemGetFileOptions::new();
    options.set_create(true);
    let handle = JsFuture::from(current.get_file_handle_with_options(&candidate, &options))
        .await
        .map_err(UiError::browser("creating a file"))?
        .unchecked_into::<FileSystemFileHandle>();
    let writable = JsFuture::from(handle.create_writable())
        .await
        .map_err(UiError::browser("opening a file for writing"))?
        .unchecked_into::<FileSystemWritableFileStream>();
    Ok(SaveTarget::Picked { handle, writable })
}

/// Waits for a message on `cancel`; a dropped sender, as a page that goes away
/// leaves, never ends the wait.
async fn cancelled(cancel: &mut oneshot::Receiver<()>) {
    if cancel.await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn file_size(file: &Planned) -> u64 {
    file.row
        .opened
        .as_ref()
        .map_or(0, |opened| opened.metadata.size)
}

fn modified_ms(file: &Planned) -> i64 {
    file.row
        .opened
        .as_ref()
        .map_or(0, |opened| opened.metadata.modified_ms)
}

fn saved_count(done: usize) -> String {
    match done {
        0 => "nothing was saved".to_owned(),
        1 => "the first file was saved".to_owned(),
        count => format!("the first {count} files were saved"),
    }
}

fn save_message(error: SaveError) -> String {
    match error {
        SaveError::Cancelled => "the download was cancelled in the browser".to_owned(),
        SaveError::Failed(source) => source.to_string(),
    }
}

fn failure_message(error: SaveAllError) -> String {
    match error {
        SaveAllError::Cancelled(_) => "cancelled".to_owned(),
        SaveAllError::Failed { message, .. } => message,
    }
}

fn browser_failure(operation: &str, error: &JsValue) -> String {
    format!("{operation} failed: {}", super::error::js_detail(error))
}

/// Returns the `name` of a `DOMException`, such as "AbortError".
fn error_name(value: &JsValue) -> String {
    Reflect::get(value, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_destination() {
        assert_eq!(
            safe_path("Holiday/2024/beach.jpg"),
            "Holiday/2024/beach.jpg"
        );
        assert_eq!(safe_path("../../etc/passwd"), "etc/passwd");
        assert_eq!(safe_path("/abs/./x"), "abs/x");
        assert_eq!(safe_path("a\\..\\b"), "a/b");
        assert_eq!(safe_path("dir/.hidden"), "dir/.hidden");
        assert_eq!(safe_path("proj/.env"), "proj/.env");
        assert_eq!(safe_path("a/ /b"), "a/b");
        assert_eq!(safe_path("../.."), UNNAMED_FILE);
        assert_eq!(safe_path("x/\u{202e}fdp.exe"), "x/\u{fffd}fdp.exe");
    }

    #[test]
    fn repeated_paths_get_numbers() {
        let mut taken = HashSet::new();
        assert_eq!(unique_path("a/b.txt".to_owned(), &mut taken), "a/b.txt");
        assert_eq!(unique_path("a/B.txt".to_owned(), &mut taken), "a/B (2).txt");
        assert_eq!(unique_path("a/b.txt".to_owned(), &mut taken), "a/b (3).txt");
        assert_eq!(unique_path("a.d/noext".to_owned(), &mut taken), "a.d/noext");
        assert_eq!(
            unique_path("a.d/noext".to_owned(), &mut taken),
            "a.d/noext (2)"
        );
    }

    #[test]
    fn distinct_paths_keep_files_off_folders() {
        let paths = [
            "proj/env",
            "proj/env/bin/activate",
            "proj/.env",
            "proj/main.py",
        ];
        let distinct = distinct_paths(paths.iter().map(|path| path.to_string()).collect());
        assert_eq!(
            distinct,
            [
                "proj/env (2)",
                "proj/env/bin/activate",
                "proj/.env",
                "proj/main.py"
            ]
        );
        let folders = distinct_paths(vec!["A".to_owned(), "a/b".to_owned()]);
        assert_eq!(folders, ["A (2)", "a/b"]);
    }

    #[test]
    fn archive_named_after_common_folder() {
        let paths = |list: &[&str]| list.iter().map(|path| path.to_string()).collect::<Vec<_>>();
        assert_eq!(
            archive_name(&paths(&["Trip/a", "Trip/b/c"]), "3 files"),
            "Trip.zip"
        );
        assert_eq!(
            archive_name(&paths(&["Trip/a", "Other/b"]), "2 files"),
            "2 files.zip"
        );
        assert_eq!(archive_name(&paths(&["a", "b"]), "2 files"), "2 files.zip");
    }
}
