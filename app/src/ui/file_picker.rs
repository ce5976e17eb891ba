//! Choosing what to send: one or more files, or a whole folder, through file inputs
//! inside a zone that also accepts dropped files.

use js_sys::Reflect;
use leptos::html::Input;
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use web_sys::{DragEvent, File, FileList, HtmlInputElement};

use super::file_name::display_name;
use super::format::human_size;
use super::upload::file_size;

/// A file to send and its path inside the chosen folder, such as
/// `Holiday/2024/beach.jpg`; a file chosen on its own has its name as path.
#[derive(Clone)]
pub struct ChosenFile {
    pub file: File,
    pub path: String,
}

impl ChosenFile {
    fn new(file: File) -> Self {
        // Set by folder inputs; empty for files chosen one by one or dropped.
        let relative = Reflect::get(&file, &JsValue::from_str("webkitRelativePath"))
            .ok()
            .and_then(|path| path.as_string())
            .filter(|path| !path.is_empty());
        let path = relative.unwrap_or_else(|| file.name());
        ChosenFile { file, path }
    }
}

/// Returns the files of `list` in the order the browser gives them.
fn chosen_files(list: Option<FileList>) -> Vec<ChosenFile> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|index| list.get(index))
        .map(ChosenFile::new)
        .collect()
}

/// Returns the total size of `files` in bytes.
pub fn total_size(files: &[ChosenFile]) -> u64 {
    files.iter().map(|chosen| file_size(&chosen.file)).sum()
}

#[component]
pub fn FilePicker(
    /// The chosen files; the picker sets them, the page may clear them.
    files: RwSignal<Vec<ChosenFile>, LocalStorage>,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let file_input = NodeRef::<Input>::new();
    let folder_input = NodeRef::<Input>::new();
    // A cleared input fires `change` again when the same file is picked next.
    Effect::new(move |_| {
        if files.with(Vec::is_empty) {
            for input in [file_input.get(), folder_input.get()].into_iter().flatten() {
                input.set_value("");
            }
        }
    });

    // The view macro has no `webkitdirectory` attribute, so the property is set on the
    // element once it exists.
    Effect::new(move |_| {
        if let Some(input) = folder_input.get() {
            input.set_webkitdirectory(true);
        }
    });

    let on_change = move |event: leptos::ev::Event| {
        let input = event_target::<HtmlInputElement>(&event);
        let chosen = chosen_files(input.files());
        if !chosen.is_empty() {
            files.set(chosen);
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
        let dropped = chosen_files(event.data_transfer().and_then(|transfer| transfer.files()));
        if !dropped.is_empty() {
            files.set(dropped);
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
            <label for="file-input">"Files"</label>
            <input id="file-input" type="file" multiple data-testid="file-input"
                node_ref=file_input on:change=on_change
                disabled=move || disabled.get() />
            <label for="folder-input">"Folder"</label>
            <input id="folder-input" type="file" data-testid="folder-input"
                node_ref=folder_input on:change=on_change
                disabled=move || disabled.get() />
            <p class="muted">"or drop files here"</p>
            {move || files.with(|chosen| summary(chosen))}
        </div>
    }
}

/// Shows one line for a single file, and a count, the total and the list for several.
fn summary(chosen: &[ChosenFile]) -> Option<AnyView> {
    match chosen {
        [] => None,
        [single] => {
            let text = format!(
                "{} — {}",
                display_name(&single.path),
                human_size(file_size(&single.file))
            );
            Some(
                view! { <p class="selected-file" data-testid="selected-file">{text}</p> }
                    .into_any(),
            )
        }
        several => {
            let text = format!(
                "{} files — {}",
                several.len(),
                human_size(total_size(several))
            );
            let rows = several
                .iter()
                .map(|chosen| {
                    let row = format!(
                        "{} — {}",
                        display_name(&chosen.path),
                        human_size(file_size(&chosen.file))
                    );
                    view! { <li>{row}</li> }
                })
                .collect_view();
            Some(
                view! {
                    <p class="selected-file" data-testid="selected-file">{text}</p>
                    <ul class="selected-list" data-testid="selected-list">{rows}</ul>
                }
                .into_any(),
            )
        }
    }
}
