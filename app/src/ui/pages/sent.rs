//! The sent list: files this account sent, with their share links and their deletion.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::delete_file;
use crate::ui::components::Alert;
use crate::ui::error::UiError;
use crate::ui::file_name::display_name;
use crate::ui::files::{Direction, FileRow};
use crate::ui::format::{human_size, iso_date_time, local_date_time};
use crate::ui::pages::list::{FileList, ListRows, RowHandle};
use crate::ui::pages::sent_links::{FileLinks, SentLinks};
use crate::ui::session::Session;

#[component]
pub fn SentPage() -> impl IntoView {
    let links = SentLinks::provide();
    view! {
        <Alert error=links.error() />
        <FileList
            title="Sent"
            empty="You have not sent any files yet."
            direction=Direction::Sent
            row=|row| view! { <SentRow row /> }
            on_load=Callback::new(move |()| links.reload())
        />
    }
}

#[component]
fn SentRow(row: RowHandle) -> impl IntoView {
    let list = expect_context::<ListRows>();
    let links = expect_context::<SentLinks>();
    let file: Rc<FileRow> = row.get_value();
    let entry = &file.entry;
    let file_id = entry.file_id.clone();
    let own_username = Session::expect().keys().map(|keys| keys.username.clone());
    // A link-only file is sent to the sender's own account.
    let to_self = own_username.as_deref() == Some(entry.recipient.as_str());
    let recipient = entry.recipient.clone();
    let links_id = file_id.clone();
    let recipient_text = move || match to_self {
        true if links.has_links(&links_id) => "link only".to_owned(),
        true => "to yourself".to_owned(),
        false => format!("to {recipient}"),
    };
    let date = local_date_time(entry.created_at_ms);
    let datetime = iso_date_time(entry.created_at_ms);
    let expiry = local_date_time(entry.expires_at_ms);
    let expiry_iso = iso_date_time(entry.expires_at_ms);
    let (name, size, open_error) = match &file.opened {
        Ok(opened) => (
            display_name(&opened.metadata.name),
            Some(opened.metadata.size),
            None,
        ),
        Err(message) => (
            "Unreadable file".to_owned(),
            None,
            Some(format!(
                "The key or details of this file could not be opened ({message}). \
                 Delete it and send the file again."
            )),
        ),
    };

    let unreadable = open_error.is_some();
    let deleting = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let delete = move |_| {
        if deleting.get_untracked() {
            return;
        }
        deleting.set(true);
        error.set(None);
        let file_id = file_id.clone();
        spawn_local(async move {
            match delete_file(file_id.clone()).await {
                Ok(()) => list.remove(&file_id),
                Err(err) => {
                    error.set(Some(format!(
                        "deleting the file failed: {}",
                        UiError::from(err)
                    )));
                    deleting.set(false);
                }
            }
        });
    };

    view! {
        <li class="file-row" class:unreadable=unreadable data-testid="sent-row">
            <span class="file-name" data-testid="file-name">{name}</span>
            <span class="file-meta" data-testid="file-recipient">{recipient_text}</span>
            {size.map(|size| view! { <span class="file-meta" data-testid="file-size">{human_size(size)}</span> })}
            <time class="file-meta" datetime=datetime>{date}</time>
            <span class="file-meta" data-testid="file-expiry">
                "Expires on " <time datetime=expiry_iso>{expiry}</time>
            </span>
            <button type="button" class="danger" on:click=delete disabled=move || deleting.get()>
                "Delete"
            </button>
            {open_error.map(|message| view! { <p class="alert" role="alert">{message}</p> })}
            <Alert error />
            <FileLinks row />
        </li>
    }
}
