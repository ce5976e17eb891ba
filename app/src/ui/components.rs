//! Small pieces shared by the pages: error alerts, status lines and progress bars.

use leptos::prelude::*;

use super::format::human_size;

/// Shows an error message with `role="alert"` while `error` contains one.
#[component]
pub fn Alert(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|message| {
            view! { <p class="alert" role="alert">{message}</p> }
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
