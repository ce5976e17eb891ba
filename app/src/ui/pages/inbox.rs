//! The inbox: files sent to this account, opened and downloaded in the browser.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ui::components::{Alert, ByteProgress};
use crate::ui::download::{StoredFile, download_file, save_blob};
use crate::ui::file_name::{display_name, save_name};
use crate::ui::files::{Direction, FileRow, sender_fingerprint};
use crate::ui::format::{human_size, iso_date_time, local_date_time};
use crate::ui::pages::list::{FileList, RowHandle};

#[component]
pub fn InboxPage() -> impl IntoView {
    view! {
        <FileList
            title="Inbox"
            empty="No files have been sent to you yet."
            direction=Direction::Received
            row=|row| view! { <InboxRow row /> }
        />
    }
}

#[component]
fn InboxRow(row: RowHandle) -> impl IntoView {
    let file: Rc<FileRow> = row.get_value();
    let entry = &file.entry;
    let date = local_date_time(entry.created_at_ms);
    let datetime = iso_date_time(entry.created_at_ms);
    let sender = entry.sender.clone();
    let fingerprint = sender_fingerprint(entry).unwrap_or_else(|| "invalid key".to_owned());

    let opened = match &file.opened {
        Ok(opened) => opened,
        Err(message) => {
            let message = format!(
                "The key or details of this file from {sender} could not be opened \
                 ({message}). Ask {sender} to send it again."
            );
            return view! {
                <li class="file-row unreadable" data-testid="inbox-row">
                    <span class="file-name" data-testid="file-name">"Unreadable file"</span>
                    <span class="file-meta">"from " <span data-testid="file-sender">{sender}</span></span>
                    <time class="file-meta" datetime=datetime>{date}</time>
                    <p class="alert" role="alert">{message}</p>
                </li>
            }
            .into_any();
        }
    };
    let name = display_name(&opened.metadata.name);
    let size = opened.metadata.size;

    let progress = RwSignal::new(None::<u64>);
    let done = RwSignal::new(0u64);
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let download = move |_| {
        if progress.get_untracked().is_some() {
            return;
        }
        error.set(None);
        saved.set(false);
        done.set(0);
        progress.set(Some(0));
        let file = row.get_value();
        spawn_local(async move {
            let result = download_and_save(&file, |bytes| done.set(bytes)).await;
            progress.set(None);
            match result {
                Ok(()) => saved.set(true),
                Err(message) => error.set(Some(message)),
            }
        });
    };

    view! {
        <li class="file-row" data-testid="inbox-row">
            <span class="file-name" data-testid="file-name">{name}</span>
            <span class="file-meta">
                "from " <span data-testid="file-sender" title=format!("Key fingerprint {fingerprint}")>{sender}</span>
            </span>
            <span class="file-meta" data-testid="file-size">{human_size(size)}</span>
            <time class="file-meta" datetime=datetime>{date}</time>
            <button type="button" class="secondary" on:click=download
                disabled=move || progress.get().is_some()>
                "Download"
            </button>
            {move || progress.get().map(|_| view! {
                <ByteProgress done total=size test_id="download-progress" label="Download progress" />
            })}
            {move || saved.get().then(|| view! { <p class="success" data-testid="download-done">"Saved."</p> })}
            <Alert error />
        </li>
    }
    .into_any()
}

/// Downloads and verifies every part, then saves; returns the message to show on failure.
async fn download_and_save(file: &FileRow, on_progress: impl Fn(u64)) -> Result<(), String> {
    let opened = file.opened.as_ref().map_err(Clone::clone)?;
    let metadata = &opened.metadata;
    let shown_name = display_name(&metadata.name);
    let blob = download_file(
        &StoredFile::from_entry(&file.entry),
        &opened.key,
        &shown_name,
        &metadata.media_type,
        on_progress,
    )
    .await
    .map_err(|err| err.to_string())?;
    save_blob(&blob, &save_name(&metadata.name))
        .map_err(|err| format!("saving \"{shown_name}\" failed: {err}"))
}
