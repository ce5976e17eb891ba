//! The inbox: files sent to this account, opened and downloaded in the browser.

use std::rc::Rc;

use leptos::prelude::*;

use crate::ui::components::{DownloadEnd, DownloadOutcome, DownloadStatus, DownloadTask};
use crate::ui::download::{DownloadError, SaveOutcome, StoredFile, save_file};
use crate::ui::file_name::display_name;
use crate::ui::files::{Direction, FileRow, sender_fingerprint};
use crate::ui::format::{human_size, iso_date_time, local_date_time};
use crate::ui::pages::list::{FileList, ListRows, RowHandle};
use crate::ui::save_all::{SaveAllError, SaveAllOutcome, archive_name, safe_path, save_all};

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
    let expiry = local_date_time(entry.expires_at_ms);
    let expiry_iso = iso_date_time(entry.expires_at_ms);
    let sender = entry.sender.clone();
    let fingerprint = sender_fingerprint(entry).unwrap_or_else(|| "invalid key".to_owned());

    // The first row of a transfer of several files shows its summary, whether or not
    // this row's own file opens.
    let transfer = entry
        .transfer
        .clone()
        .filter(|transfer| {
            let rows = expect_context::<ListRows>();
            rows.leads_transfer(&entry.file_id, &entry.sender, transfer)
                && rows.transfer_rows(&entry.sender, transfer).len() > 1
        })
        .map(|transfer| view! { <TransferSummary sender=entry.sender.clone() transfer /> });

    let opened = match &file.opened {
        Ok(opened) => opened,
        Err(message) => {
            let message = format!(
                "The key or details of this file from {sender} could not be opened \
                 ({message}). Ask {sender} to send it again."
            );
            return view! {
                {transfer}
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

    let status = DownloadStatus::new();
    let download = move |_| {
        let file = row.get_value();
        status.start(move |task| async move { download_and_save(&file, task).await });
    };

    view! {
        {transfer}
        <li class="file-row" data-testid="inbox-row">
            <span class="file-name" data-testid="file-name">{name}</span>
            <span class="file-meta">
                "from " <span data-testid="file-sender" title=format!("Key fingerprint {fingerprint}")>{sender}</span>
            </span>
            <span class="file-meta" data-testid="file-size">{human_size(size)}</span>
            <time class="file-meta" datetime=datetime>{date}</time>
            <span class="file-meta" data-testid="file-expiry">
                "Expires on " <time datetime=expiry_iso>{expiry}</time>
            </span>
            <button type="button" class="secondary" on:click=download
                disabled=move || status.is_running()>
                "Download"
            </button>
            <DownloadOutcome status total=size />
        </li>
    }
    .into_any()
}

/// Downloads, verifies and saves every part as it arrives.
async fn download_and_save(file: &FileRow, task: DownloadTask) -> DownloadEnd {
    let opened = match &file.opened {
        Ok(opened) => opened,
        Err(message) => return DownloadEnd::Failed(message.clone()),
    };
    let metadata = &opened.metadata;
    let saved = save_file(
        &StoredFile::from_entry(&file.entry),
        &opened.key,
        &metadata.name,
        &display_name(&metadata.name),
        task.cancel,
        task.on_progress,
    )
    .await;
    match saved {
        Ok(SaveOutcome::Saved) => DownloadEnd::Saved,
        Ok(SaveOutcome::Dismissed) => DownloadEnd::Dismissed,
        Err(DownloadError::Cancelled { .. }) => DownloadEnd::Cancelled,
        Err(err) => DownloadEnd::Failed(err.to_string()),
    }
}

/// Shows the files `sender` sent together as `transfer`: their count and size, and a
/// button that saves them all with their folders.
#[component]
fn TransferSummary(sender: String, transfer: String) -> impl IntoView {
    let rows = expect_context::<ListRows>().transfer_rows(&sender, &transfer);
    let count = rows.len();
    let total: u64 = rows
        .iter()
        .filter_map(|row| row.opened.as_ref().ok())
        .map(|opened| opened.metadata.size)
        .sum();
    let paths: Vec<String> = rows
        .iter()
        .filter_map(|row| row.opened.as_ref().ok())
        .map(|opened| safe_path(&opened.metadata.name))
        .collect();
    let archive = archive_name(&paths, &format!("{count} files from {sender}"));
    let status = DownloadStatus::new();
    let rows = StoredValue::new_local(rows);
    let save = move |_| {
        let rows = rows.get_value();
        let archive = archive.clone();
        status.start(move |task| async move {
            match save_all(rows, &archive, task.cancel, task.on_progress).await {
                Ok(SaveAllOutcome::Saved) => DownloadEnd::Saved,
                Ok(SaveAllOutcome::Dismissed) => DownloadEnd::Dismissed,
                Err(SaveAllError::Cancelled(_)) => DownloadEnd::Cancelled,
                Err(err) => DownloadEnd::Failed(err.to_string()),
            }
        });
    };
    view! {
        <li class="transfer-row" data-testid="transfer">
            <span class="file-name">{format!("{count} files sent together")}</span>
            <span class="file-meta">"from " {sender}</span>
            <span class="file-meta">{human_size(total)}</span>
            <button type="button" class="secondary" on:click=save
                disabled=move || status.is_running()>
                "Save all"
            </button>
            <DownloadOutcome status total />
        </li>
    }
}
