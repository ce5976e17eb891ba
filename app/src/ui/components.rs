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

/// The bytes done of a running transfer and when they were reported, from which its
/// speed and time left follow.
#[derive(Clone, Copy)]
pub struct Throughput {
    done: RwSignal<u64>,
    /// The bytes of the first report, which a resumed upload starts with; they count
    /// toward the progress but not toward the speed.
    first: RwSignal<u64>,
    /// When the first report arrived, in milliseconds since the epoch.
    started_at_ms: RwSignal<Option<f64>>,
    /// The latest report's time, in milliseconds since the epoch.
    reported_at_ms: RwSignal<f64>,
}

impl Throughput {
    pub fn new() -> Self {
        Throughput {
            done: RwSignal::new(0),
            first: RwSignal::new(0),
            started_at_ms: RwSignal::new(None),
            reported_at_ms: RwSignal::new(0.0),
        }
    }

    /// Starts over for the next transfer.
    pub fn reset(&self) {
        self.done.set(0);
        self.first.set(0);
        self.started_at_ms.set(None);
    }

    /// Records that `bytes` are done now; the first report starts the clock.
    pub fn report(&self, bytes: u64) {
        let now = js_sys::Date::now();
        if self.started_at_ms.get_untracked().is_none() {
            self.started_at_ms.set(Some(now));
            self.first.set(bytes);
        }
        self.reported_at_ms.set(now);
        self.done.set(bytes);
    }

    /// Returns the bytes done as a signal for a progress bar.
    pub fn done(&self) -> Signal<u64> {
        self.done.into()
    }

    /// Returns the average speed in bytes per second and the estimated seconds left,
    /// once a second of data has been measured.
    fn rate(&self, total: u64) -> Option<(f64, u64)> {
        let started = self.started_at_ms.get()?;
        let elapsed_s = (self.reported_at_ms.get() - started) / 1000.0;
        let done = self.done.get();
        let measured = done.saturating_sub(self.first.get());
        if elapsed_s < 1.0 || measured == 0 {
            return None;
        }
        let speed = measured as f64 / elapsed_s;
        let left_s = (total.saturating_sub(done) as f64 / speed).ceil() as u64;
        Some((speed, left_s))
    }

    /// Describes the speed and the time left, such as "12.5 MiB/s, about 3 min 5 s left".
    pub fn rate_text(&self, total: u64) -> String {
        match self.rate(total) {
            Some((speed, left_s)) => format!(
                "{}/s, about {} left",
                human_size(speed as u64),
                duration_text(left_s)
            ),
            None => "measuring speed…".to_owned(),
        }
    }
}

impl Default for Throughput {
    fn default() -> Self {
        Self::new()
    }
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
    progress: Throughput,
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
            progress: Throughput::new(),
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
        self.progress.reset();
        self.running.set(true);
        let (cancel, cancel_receiver) = oneshot::channel();
        self.cancel.set_value(Some(cancel));
        let on_progress = Box::new(move |bytes| self.progress.report(bytes));
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
}

/// Shows a download's progress over `total` bytes, its speed, the time left and a
/// Cancel button while it runs, then "Saved.", the cancel notice or its error.
#[component]
pub fn DownloadOutcome(status: DownloadStatus, total: u64) -> impl IntoView {
    let rate_text = move || status.progress.rate_text(total);
    view! {
        {move || status.running.get().then(|| view! {
            <ByteProgress done=status.progress.done() total test_id="download-progress" label="Download progress" />
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
