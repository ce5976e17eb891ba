//! Small pieces shared by the pages: error alerts, status lines, progress bars and
//! the state of a file download.

use futures::channel::oneshot;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::format::{duration_text, human_size, sentence};

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

/// The end of a download, as the page shows it.
pub enum DownloadEnd {
    /// Every part verified and the file is closed on disk.
    Saved,
    /// The person closed the save dialog, so no download started and nothing shows.
    Dismissed,
    /// The person cancelled; nothing was saved.
    Cancelled,
    /// The download failed with this message; nothing was saved.
    Failed(String),
}

/// The progress callback and cancel signal that `DownloadStatus` passes to a running
/// download.
pub struct DownloadTask {
    /// Takes the count of bytes written so far. The first report, 0 once the
    /// destination is open, starts the clock of the speed shown.
    pub on_progress: Box<dyn Fn(u64)>,
    /// Receives a message when the person presses Cancel.
    pub cancel: oneshot::Receiver<()>,
}

/// The state of one file download on a page: running, bytes written, speed, saved,
/// cancelled or failed.
#[derive(Clone, Copy)]
pub struct DownloadStatus {
    running: RwSignal<bool>,
    done: RwSignal<u64>,
    /// When the first progress report arrived, in milliseconds since the epoch.
    started_at_ms: RwSignal<Option<f64>>,
    /// The latest progress report's time, in milliseconds since the epoch.
    reported_at_ms: RwSignal<f64>,
    cancel: StoredValue<Option<oneshot::Sender<()>>, LocalStorage>,
    cancelling: RwSignal<bool>,
    cancelled: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    saved: RwSignal<bool>,
}

impl DownloadStatus {
    pub fn new() -> Self {
        DownloadStatus {
            running: RwSignal::new(false),
            done: RwSignal::new(0),
            started_at_ms: RwSignal::new(None),
            reported_at_ms: RwSignal::new(0.0),
            cancel: StoredValue::new_local(None),
            cancelling: RwSignal::new(false),
            cancelled: RwSignal::new(false),
            error: RwSignal::new(None),
            saved: RwSignal::new(false),
        }
    }

    /// Returns whether a download is running and subscribes to changes.
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Starts `download` unless one is running already, then shows how it ended.
    pub fn start<F, Fut>(self, download: F)
    where
        F: FnOnce(DownloadTask) -> Fut,
        Fut: Future<Output = DownloadEnd> + 'static,
    {
        if self.running.get_untracked() {
            return;
        }
        self.error.set(None);
        self.saved.set(false);
        self.cancelled.set(false);
        self.cancelling.set(false);
        self.done.set(0);
        self.started_at_ms.set(None);
        self.running.set(true);
        let (cancel, cancel_receiver) = oneshot::channel();
        self.cancel.set_value(Some(cancel));
        let on_progress = Box::new(move |bytes| {
            let now = js_sys::Date::now();
            if self.started_at_ms.get_untracked().is_none() {
                self.started_at_ms.set(Some(now));
            }
            self.reported_at_ms.set(now);
            self.done.set(bytes);
        });
        let running = download(DownloadTask {
            on_progress,
            cancel: cancel_receiver,
        });
        spawn_local(async move {
            let end = running.await;
            self.cancel.set_value(None);
            self.running.set(false);
            match end {
                DownloadEnd::Saved => self.saved.set(true),
                DownloadEnd::Dismissed => {}
                DownloadEnd::Cancelled => self.cancelled.set(true),
                DownloadEnd::Failed(message) => self.error.set(Some(message)),
            }
        });
    }

    /// Asks the running download to stop.
    pub fn cancel(self) {
        if let Some(cancel) = self.cancel.try_update_value(Option::take).flatten() {
            self.cancelling.set(true);
            let _ = cancel.send(());
        }
    }

    /// Returns the average speed in bytes per second and the estimated seconds left,
    /// once a second of data has been measured.
    fn rate(&self, total: u64) -> Option<(f64, u64)> {
        let started = self.started_at_ms.get()?;
        let elapsed_s = (self.reported_at_ms.get() - started) / 1000.0;
        let done = self.done.get();
        if elapsed_s < 1.0 || done == 0 {
            return None;
        }
        let speed = done as f64 / elapsed_s;
        let left_s = (total.saturating_sub(done) as f64 / speed).ceil() as u64;
        Some((speed, left_s))
    }
}

/// Shows a download's progress over `total` bytes, its speed, the time left and a
/// Cancel button while it runs, then "Saved.", the cancel notice or its error.
#[component]
pub fn DownloadOutcome(status: DownloadStatus, total: u64) -> impl IntoView {
    let rate_text = move || match status.rate(total) {
        Some((speed, left_s)) => format!(
            "{}/s, about {} left",
            human_size(speed as u64),
            duration_text(left_s)
        ),
        None => "measuring speed…".to_owned(),
    };
    view! {
        {move || status.running.get().then(|| view! {
            <ByteProgress done=status.done total test_id="download-progress" label="Download progress" />
            <div class="progress">
                <span class="progress-caption" data-testid="download-rate">{rate_text}</span>
                <button type="button" class="secondary" data-testid="download-cancel"
                    disabled=move || status.cancelling.get()
                    on:click=move |_| status.cancel()>
                    "Cancel"
                </button>
            </div>
        })}
        {move || status.saved.get().then(|| view! {
            <p class="success" data-testid="download-done">"Saved."</p>
        })}
        {move || status.cancelled.get().then(|| view! {
            <p class="notice" role="status" data-testid="download-cancelled">
                "Download cancelled. Nothing was saved."
            </p>
        })}
        <Alert error=status.error />
    }
}
