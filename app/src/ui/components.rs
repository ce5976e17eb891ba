//! Small pieces shared by the pages: error alerts, status lines, progress bars and
//! the state of a file download.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::format::{human_size, sentence};

/// Shows an error message as a sentence with `role="alert"` while `error` contains one.
#[component]
pub fn Alert(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|message| {
            view! { <p class="alert" role="alert">{sentence(&message)}</p> }
        })
    }
}

/// Shows a status line for long steps, announced politely to screen readers.
#[component]
pub fn Status(#[prop(into)] status: Signal<Option<String>>) -> impl IntoView {
    move || {
        status.get().map(|text| {
            view! { <p class="status" role="status">{text}</p> }
        })
    }
}

/// Shows a progress bar over `total` bytes with a "done of total" caption.
#[component]
pub fn ByteProgress(
    #[prop(into)] done: Signal<u64>,
    total: u64,
    test_id: &'static str,
    label: &'static str,
) -> impl IntoView {
    // An empty file has no bytes to count, so its bar shows full from the start.
    let max = total.max(1) as f64;
    let value = move || if total == 0 { max } else { done.get() as f64 };
    view! {
        <div class="progress">
            <progress data-testid=test_id aria-label=label max=max value=value></progress>
            <span class="progress-caption">
                {move || format!("{} of {}", human_size(done.get()), human_size(total))}
            </span>
        </div>
    }
}

/// The state of one file download on a page: running, bytes verified, saved or failed.
#[derive(Clone, Copy)]
pub struct DownloadStatus {
    running: RwSignal<bool>,
    done: RwSignal<u64>,
    error: RwSignal<Option<String>>,
    saved: RwSignal<bool>,
}

impl DownloadStatus {
    pub fn new() -> Self {
        DownloadStatus {
            running: RwSignal::new(false),
            done: RwSignal::new(0),
            error: RwSignal::new(None),
            saved: RwSignal::new(false),
        }
    }

    /// Returns whether a download is running and subscribes to changes.
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Starts `download` unless one is running already, then shows its outcome. The
    /// download receives a callback for the count of plaintext bytes verified so far
    /// and returns the message to show on failure.
    pub fn start<F, Fut>(self, download: F)
    where
        F: FnOnce(Box<dyn Fn(u64)>) -> Fut,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        if self.running.get_untracked() {
            return;
        }
        self.error.set(None);
        self.saved.set(false);
        self.done.set(0);
        self.running.set(true);
        let running = download(Box::new(move |bytes| self.done.set(bytes)));
        spawn_local(async move {
            let result = running.await;
            self.running.set(false);
            match result {
                Ok(()) => self.saved.set(true),
                Err(message) => self.error.set(Some(message)),
            }
        });
    }
}

/// Shows a download's progress bar over `total` bytes while it runs, then "Saved." or
/// its error.
#[component]
pub fn DownloadOutcome(status: DownloadStatus, total: u64) -> impl IntoView {
    view! {
        {move || status.running.get().then(|| view! {
            <ByteProgress done=status.done total test_id="download-progress" label="Download progress" />
        })}
        {move || status.saved.get().then(|| view! {
            <p class="success" data-testid="download-done">"Saved."</p>
        })}
        <Alert error=status.error />
    }
}
