//! The share links of each file on the sent page: making one, showing one again from
//! its sealed secret, and revoking one.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Limits, LinkEntry, LinkState, revoke_link, server_info};
use crate::ui::components::Alert;
use crate::ui::error::UiError;
use crate::ui::format::{iso_date_time, local_date_time};
use crate::ui::link_view::{LinkCard, LinkFields, LinkOptionsFields};
use crate::ui::links::{make_link, recover_link_url};
use crate::ui::pages::list::RowHandle;

/// Every link of the account's files and the server's limits, provided as context to
/// the rows. The links load with the file list and again after each change.
#[derive(Clone, Copy)]
pub struct SentLinks {
    links: RwSignal<Vec<LinkEntry>>,
    limits: RwSignal<Option<Limits>>,
    error: RwSignal<Option<String>>,
}

impl SentLinks {
    pub fn provide() -> Self {
        let links = SentLinks {
            links: RwSignal::new(Vec::new()),
            limits: RwSignal::new(None),
            error: RwSignal::new(None),
        };
        provide_context(links);
        spawn_local(async move {
            match server_info().await {
                Ok(limits) => links.limits.set(Some(limits)),
                Err(err) => links.error.set(Some(format!(
                    "could not read the server's limits: {}",
                    UiError::from(err)
                ))),
            }
        });
        links
    }

    pub fn error(&self) -> RwSignal<Option<String>> {
        self.error
    }

    /// Fetches the links again; the rows update when they arrive.
    pub fn reload(self) {
        spawn_local(async move {
            match api::links().await {
                Ok(list) => {
                    self.links.set(list);
                    self.error.set(None);
                }
                Err(err) => self.error.set(Some(format!(
                    "loading the share links failed: {}",
                    UiError::from(err)
                ))),
            }
        });
    }

    /// Returns whether the file has any link, in any state, and subscribes to changes.
    pub fn has_links(&self, file_id: &str) -> bool {
        self.links
            .with(|links| links.iter().any(|link| link.file_id == file_id))
    }

    fn of_file(&self, file_id: &str) -> Vec<LinkEntry> {
        self.links.with(|links| {
            links
                .iter()
                .filter(|link| link.file_id == file_id)
                .cloned()
                .collect()
        })
    }
}

/// A share link on show in the sent list: its id, URL and whether it has a password.
#[derive(Clone)]
struct ShownLink {
    link_id: String,
    url: String,
    has_password: bool,
}

/// Lists the links of one sent file, with the form that makes a new one. A link just
/// made shows its URL under its own row once the list has reloaded.
#[component]
pub fn FileLinks(row: RowHandle) -> impl IntoView {
    let links = expect_context::<SentLinks>();
    let file_id = row.with_value(|row| row.entry.file_id.clone());
    let readable = row.with_value(|row| row.opened.is_ok());
    let form_open = RwSignal::new(false);
    let fields = LinkFields::new();
    fields
        .file_deleted_at_ms
        .set(Some(row.with_value(|row| row.entry.expires_at_ms)));
    let making = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let made = RwSignal::new(None::<ShownLink>);

    let make_id = file_id.clone();
    let make = move |_| {
        if making.get_untracked() {
            return;
        }
        let Some(limits) = links.limits.get_untracked() else {
            error.set(Some(
                "the server's limits are not loaded yet; try again".to_owned(),
            ));
            return;
        };
        let choice = match fields.check(&limits) {
            Ok(choice) => choice,
            Err(err) => return error.set(Some(err.to_string())),
        };
        error.set(None);
        made.set(None);
        making.set(true);
        let file_id = make_id.clone();
        spawn_local(async move {
            let file = row.get_value();
            let result = match &file.opened {
                Ok(opened) => make_link(&file_id, &opened.key, &choice).await,
                Err(message) => Err(UiError::invalid(message.clone())),
            };
            making.set(false);
            match result {
                Ok(link) => {
                    fields.clear_passwords();
                    form_open.set(false);
                    made.set(Some(ShownLink {
                        link_id: link.link_id,
                        url: link.url,
                        has_password: choice.has_password(),
                    }));
                    links.reload();
                }
                Err(err) => error.set(Some(format!("making the link failed: {err}"))),
            }
        });
    };

    let list_id = file_id.clone();
    view! {
        <div class="file-links">
            <ul class="link-list">
                <For
                    each=move || links.of_file(&list_id)
                    key=|link| (link.link_id.clone(), state_text(link.state), link.downloads_used, link.downloads_in_progress)
                    children=move |link| view! { <LinkRow row link made /> }
                />
            </ul>
            <Show when=move || readable && !form_open.get()>
                <button type="button" class="secondary" on:click=move |_| form_open.set(true)>
                    "Create link"
                </button>
            </Show>
            <Show when=move || form_open.get()>
                <LinkOptionsFields fields limits=links.limits
                    id_prefix=format!("link-{file_id}") disabled=making />
                <div class="button-row">
                    <button type="button" class="primary" on:click=make.clone()
                        disabled=move || making.get()>
                        {move || if making.get() { "Making the link…" } else { "Make link" }}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| {
                        fields.clear_passwords();
                        form_open.set(false);
                    }>"Cancel"</button>
                </div>
            </Show>
            <Alert error />
        </div>
    }
}

fn state_text(state: LinkState) -> &'static str {
    match state {
        LinkState::Active => "active",
        LinkState::Expired => "expired",
        LinkState::UsedUp => "used up",
        LinkState::Revoked => "revoked",
    }
}

/// Renders one link of a file: state, downloads, expiry, "Show link" and "Revoke",
/// which takes a confirming second click before it revokes. `made` is the link just
/// made, which this row takes over and shows when it is that link.
#[component]
fn LinkRow(row: RowHandle, link: LinkEntry, made: RwSignal<Option<ShownLink>>) -> impl IntoView {
    let links = expect_context::<SentLinks>();
    let active = link.state == LinkState::Active;
    let downloads = format!(
        "{} of {} downloads used",
        link.downloads_used, link.download_limit
    );
    let in_progress = (link.downloads_in_progress > 0).then(|| {
        format!(
            "{} in progress or interrupted (counts as used until it finishes or its \
             reservation ends within 10 minutes)",
            link.downloads_in_progress
        )
    });
    let expires = local_date_time(link.expires_at_ms);
    let expires_iso = iso_date_time(link.expires_at_ms);
    let has_password = link.has_password;
    let just_made = made
        .get_untracked()
        .filter(|shown| shown.link_id == link.link_id);
    if just_made.is_some() {
        made.set(None);
    }
    let shown = RwSignal::new(just_made);
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let link = Rc::new(link);

    let show_link = Rc::clone(&link);
    let show = move |_| {
        if shown.get_untracked().is_some() {
            return shown.set(None);
        }
        let link = Rc::clone(&show_link);
        spawn_local(async move {
            let file = row.get_value();
            let result = match &file.opened {
                Ok(opened) => recover_link_url(&opened.key, &link).await,
                Err(message) => Err(UiError::invalid(message.clone())),
            };
            match result {
                Ok(url) => shown.set(Some(ShownLink {
                    link_id: link.link_id.clone(),
                    url,
                    has_password: link.has_password,
                })),
                Err(err) => error.set(Some(format!("showing the link failed: {err}"))),
            }
        });
    };
    let link_id = link.link_id.clone();
    let revoke = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let link_id = link_id.clone();
        spawn_local(async move {
            match revoke_link(link_id).await {
                Ok(()) => {
                    shown.set(None);
                    confirming.set(false);
                    links.reload();
                }
                Err(err) => {
                    error.set(Some(format!(
                        "revoking the link failed: {}",
                        UiError::from(err)
                    )));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <li class="link-row" class:inactive=!active data-testid="link-row">
            <span class=format!("link-state state-{}", state_text(link.state).replace(' ', "-"))
                data-testid="link-state">{state_text(link.state)}</span>
            <span class="file-meta" data-testid="link-downloads">{downloads}</span>
            {in_progress.map(|text| view! { <span class="file-meta" data-testid="link-in-progress">{text}</span> })}
            {has_password.then(|| view! { <span class="file-meta">"password"</span> })}
            <span class="file-meta">"expires " <time datetime=expires_iso>{expires}</time></span>
            <span class="button-row">
                {active.then(|| view! {
                    <button type="button" class="secondary" on:click=show>
                        {move || if shown.get().is_some() { "Hide link" } else { "Show link" }}
                    </button>
                })}
                <Show when=move || active && !confirming.get()>
                    <button type="button" class="danger" on:click=move |_| confirming.set(true)>
                        "Revoke"
                    </button>
                </Show>
                <Show when=move || active && confirming.get()>
                    <span class="confirm-revoke" data-testid="confirm-revoke">
                        "The link stops working at once. "
                        <button type="button" class="danger" on:click=revoke.clone()
                            disabled=move || busy.get()>
                            {move || if busy.get() { "Revoking…" } else { "Yes, revoke" }}
                        </button>
                        <button type="button" class="secondary"
                            on:click=move |_| confirming.set(false) disabled=move || busy.get()>
                            "Keep link"
                        </button>
                    </span>
                </Show>
            </span>
            {move || shown.get().filter(|_| active).map(|shown| view! {
                <LinkCard url=shown.url has_password=shown.has_password />
            })}
            <Alert error />
        </li>
    }
}
