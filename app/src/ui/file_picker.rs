//! Choosing the file to send: a file input inside a zone that also accepts a
//! dropped file.

use leptos::html::Input;
use leptos::prelude::*;
use web_sys::{DragEvent, File, HtmlInputElement};

use super::file_name::display_name;
use super::format::human_size;
use super::upload::file_size;

#[component]
pub fn FilePicker(
    /// The chosen file; the picker sets it, the page may clear it.
    file: RwSignal<Option<File>, LocalStorage>,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let input_ref = NodeRef::<Input>::new();
    // A cleared input fires `change` again when the same file is picked next.
    Effect::new(move |_| {
        if file.with(Option::is_none)
            && let Some(input) = input_ref.get()
        {
            input.set_value("");
        }
    });

    let on_change = move |event: leptos::ev::Event| {
        let input = event_target::<HtmlInputElement>(&event);
        if let Some(chosen) = input.files().and_then(|files| files.get(0)) {
            file.set(Some(chosen));
        }
    };
    let on_drag_over = move |event: DragEvent| {
        // Without this the browser opens the dropped file instead of handing it over.
        event.prevent_default();
        dragging.set(true);
    };
    let on_drop = move |event: DragEvent| {
        event.prevent_default();
        dragging.set(false);
        if disabled.get_untracked() {
            return;
        }
        let dropped = event
            .data_transfer()
            .and_then(|transfer| transfer.files())
            .and_then(|files| files.get(0));
        if let Some(dropped) = dropped {
            file.set(Some(dropped));
        }
    };

    view! {
        <div
            class="drop-zone"
            class:dragging=move || dragging.get()
            data-testid="drop-zone"
            on:dragover=on_drag_over
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <label for="file-input">"File"</label>
            <input id="file-input" type="file" data-testid="file-input" node_ref=input_ref
                on:change=on_change
                disabled=move || disabled.get() />
            <p class="muted">"or drop a file here"</p>
            {move || {
                file.with(|chosen| {
                    chosen.as_ref().map(|chosen| {
                        let summary = format!("{} — {}", display_name(&chosen.name()), human_size(file_size(chosen)));
                        view! { <p class="selected-file" data-testid="selected-file">{summary}</p> }
                    })
                })
            }}
        </div>
    }
}
