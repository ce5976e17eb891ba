//! The share-link page `/s/LINK_ID#SECRET`, which needs no account. It reads the
//! secret from the fragment and shows a password field when the link has one. Then it
//! unlocks the link and downloads, verifies and decrypts the file in the worker.

use std::rc::Rc;

use dtc_crypto::file::{FileKey, decrypt_metadata};
use dtc_crypto::metadata::FileMetadata;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::api::{
    ErrorCode, LinkDownload, PasswordParams, UnlockLinkRequest, confirm_download, open_link,
    unlock_link,
};
use crate::ui::components::{Alert, DownloadEnd, DownloadOutcome, DownloadStatus, DownloadTask};
use crate::ui::download::{DownloadError, SaveOutcome, StoredFile, save_file};
use crate::ui::error::UiError;
use crate::ui::file_name::display_name;
use crate::ui::format::{
    human_size, iso_date_time, local_date_time, parse_file_id, parse_link_id, sentence,
};
use crate::ui::link_keys::PasswordInput;
use crate::ui::links::parse_fragment;
use crate::ui::transport::sleep;
use crate::ui::worker::crypto_worker;

/// A link whose id and secret parsed, as the page keeps it while unlocking.
#[derive(Clone)]
struct LinkAddress {
    link_id: String,
    secret: Rc<Vec<u8>>,
}

/// An unlocked link: what the server returned and what the file key opened.
struct UnlockedLink {
    link_id: String,
    download: LinkDownload,
    key: FileKey,
    metadata: FileMetadata,
}

#[derive(Clone)]
enum Stage {
    /// `open_link` or the unlock without a password is in progress.
    Checking,
    /// The link cannot work: damaged, expired, used up, revoked or unknown.
    Dead(String),
    /// The link needs an unlock by the person, with a password when it has one.
    Locked(Option<PasswordParams>),
    Ready(Rc<UnlockedLink>),
}

/// The page's state; every field is a signal handle, so the struct is `Copy`.
#[derive(Clone, Copy)]
struct LinkState {
    address: StoredValue<Option<LinkAddress>, LocalStorage>,
    stage: RwSignal<Stage, LocalStorage>,
    password: RwSignal<String>,
    unlocking: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// Seconds until the server accepts the next unlock attempt.
    retry_in: RwSignal<u64>,
}

impl LinkState {
    fn new() -> Self {
        LinkState {
            address: StoredValue::new_local(None),
            stage: RwSignal::new_local(Stage::Checking),
            password: RwSignal::new(String::new()),
            unlocking: RwSignal::new(false),
            error: RwSignal::new(None),
            retry_in: RwSignal::new(0),
        }
    }

    /// Reads the address, calls `open_link` to learn whether the link is live, and
    /// unlocks a link without a password at once.
    async fn open(self, link_id: String) {
        let address = match read_address(link_id) {
            Ok(address) => address,
            Err(err) => return self.stage.set(Stage::Dead(err.to_string())),
        };
        self.address.set_value(Some(address.clone()));
        match open_link(address.link_id.clone()).await {
            Ok(gate) if gate.password.is_some() => self.stage.set(Stage::Locked(gate.password)),
            Ok(_) => {
                self.stage.set(Stage::Locked(None));
                self.unlock(None).await;
            }
            Err(err) => self.fail(UiError::from(err), None),
        }
    }

    /// Derives the gate and access keys, unlocks the link and opens the file key and
    /// metadata.
    async fn unlock(self, password: Option<(String, PasswordParams)>) {
        let Some(address) = self.address.get_value() else {
            return;
        };
        self.unlocking.set(true);
        self.error.set(None);
        let gate = password.as_ref().map(|(_, params)| params.clone());
        let result = unlock(&address, password).await;
        self.unlocking.set(false);
        match result {
            Ok(unlocked) => {
                // The file key opens everything from here on, so the page drops the
                // link secret and the password.
                self.address.set_value(None);
                self.password.set(String::new());
                self.stage.set(Stage::Ready(Rc::new(unlocked)));
            }
            Err(err) => self.fail(err, gate),
        }
    }

    /// Shows a failure: the dead-link message ends the page, a wrong password or a
    /// throttled attempt leaves the unlock form in place.
    fn fail(self, err: UiError, gate: Option<PasswordParams>) {
        let UiError::Api(api) = &err else {
            return self.error.set(Some(err.to_string()));
        };
        match api.code {
            ErrorCode::NotFound => self.stage.set(Stage::Dead(api.message.clone())),
            ErrorCode::TooManyRequests => {
                self.stage.set(Stage::Locked(gate));
                self.start_countdown(api.retry_after_secs.unwrap_or(1));
            }
            ErrorCode::InvalidCredentials => {
                self.password.set(String::new());
                self.error.set(Some(api.message.clone()));
            }
            _ => self.error.set(Some(err.to_string())),
        }
    }

    fn start_countdown(self, seconds: u64) {
        let already_running = self.retry_in.get_untracked() > 0;
        self.retry_in.set(seconds.max(1));
        if already_running {
            return;
        }
        spawn_local(async move {
            while self.retry_in.get_untracked() > 0 {
                sleep(1000).await;
                self.retry_in.update(|left| *left = left.saturating_sub(1));
            }
        });
    }
}

fn read_address(link_id: String) -> Result<LinkAddress, UiError> {
    parse_link_id(&link_id)?;
    let fragment = web_sys::window()
        .ok_or_else(|| UiError::invalid("no browser window to read the link from"))?
        .location()
        .hash()
        .map_err(UiError::browser("reading the link"))?;
    let secret = parse_fragment(&fragment)?;
    Ok(LinkAddress {
        link_id,
        secret: Rc::new(secret),
    })
}

async fn unlock(
    address: &LinkAddress,
    password: Option<(String, PasswordParams)>,
) -> Result<UnlockedLink, UiError> {
    let link_id = parse_link_id(&address.link_id)?;
    let params = password
        .as_ref()
        .map(|(_, params)| dtc_crypto::password::KdfParams {
            memory_kib: params.kdf.memory_kib,
            iterations: params.kdf.iterations,
            parallelism: params.kdf.parallelism,
        });
    let input = match (&password, params) {
        (Some((text, gate)), Some(params)) => Some(PasswordInput {
            password: text,
            salt: gate.salt.as_slice(),
            params,
        }),
        _ => None,
    };

    let worker = crypto_worker()?;
    let (slot, keys) = worker
        .derive_link_keys(&address.secret, &link_id, input)
        .await?;
    drop(password);
    let download = unlock_link(UnlockLinkRequest {
        link_id: address.link_id.clone(),
        gate_key: keys.gate_key.into(),
        access_key: keys.access_key.into(),
    })
    .await?;

    let file_id = parse_file_id(&download.file_id)?;
    let key = worker
        .unwrap_link_file_key(&slot, &link_id, &file_id, download.wrapped_key.as_slice())
        .await?;
    drop(slot);
    let key = FileKey::from_bytes(&key).map_err(UiError::crypto("reading the file key"))?;
    let metadata = decrypt_metadata(&key, download.metadata.as_slice())
        .map_err(UiError::crypto("decrypting the file's name and details"))?;
    Ok(UnlockedLink {
        link_id: address.link_id.clone(),
        download,
        key,
        metadata,
    })
}

#[component]
pub fn LinkPage() -> impl IntoView {
    let state = LinkState::new();
    // Link ids are lowercase hex, and an address typed or copied in capitals still works.
    let link_id = use_params_map()
        .with_untracked(|params| params.get("link_id"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    spawn_local(state.open(link_id));

    view! {
        <section class="card narrow link-page">
            <h1>"Shared file"</h1>
            {move || match state.stage.get() {
                Stage::Checking => view! {
                    <p class="muted" role="status">"Opening the link…"</p>
                }.into_any(),
                Stage::Dead(message) => view! {
                    <p class="alert" role="alert" data-testid="link-dead">{sentence(&message)}</p>
                }.into_any(),
                Stage::Locked(gate) => view! { <UnlockForm state gate /> }.into_any(),
                Stage::Ready(unlocked) => view! { <LinkFile state unlocked /> }.into_any(),
            }}
            <Alert error=state.error />
        </section>
    }
}

/// Renders the password field of a password link, or a plain retry button for a link
/// without one, with the countdown of a throttled attempt.
#[component]
fn UnlockForm(state: LinkState, gate: Option<PasswordParams>) -> impl IntoView {
    let has_password = gate.is_some();
    let waiting = move || state.retry_in.get() > 0;
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if state.unlocking.get_untracked() || state.retry_in.get_untracked() > 0 {
            return;
        }
        let password = gate
            .clone()
            .map(|params| (state.password.get_untracked(), params));
        if matches!(&password, Some((text, _)) if text.is_empty()) {
            state
                .error
                .set(Some("enter the password the sender gave you".to_owned()));
            return;
        }
        spawn_local(state.unlock(password));
    };

    view! {
        <form class="stack" on:submit=on_submit>
            {has_password.then(|| view! {
                <p>"This link is protected by a password. The sender passes it on separately."</p>
                <label for="link-password">"Password"</label>
                <input id="link-password" type="password" autocomplete="off"
                    prop:value=move || state.password.get()
                    on:input=move |event| state.password.set(event_target_value(&event)) />
            })}
            <button type="submit" class="primary"
                disabled=move || state.unlocking.get() || waiting()>
                {move || if state.unlocking.get() { "Opening…" } else { "Open link" }}
            </button>
            {move || waiting().then(|| view! {
                <p class="alert" role="alert" data-testid="retry-countdown">
                    {format!(
                        "Too many wrong attempts for this link. Try again in {} seconds.",
                        state.retry_in.get()
                    )}
                </p>
            })}
        </form>
    }
}

/// Renders the unlocked file's name, size, sender, downloads left and expiry, and the
/// Download button. A dead-link response during the download ends the page.
#[component]
fn LinkFile(state: LinkState, unlocked: Rc<UnlockedLink>) -> impl IntoView {
    let name = display_name(&unlocked.metadata.name);
    let size = unlocked.metadata.size;
    let download = &unlocked.download;
    let expires = local_date_time(download.expires_at_ms);
    let expires_iso = iso_date_time(download.expires_at_ms);
    let sender = download.sender.clone();
    // The server counts held reservations as used, so a live link with none left has
    // a download in progress, or one that stopped and whose reservation has not
    // expired yet.
    let reserved = download.downloads_left == 0;
    // Each confirmed download here uses one of the downloads left.
    let downloads_left = RwSignal::new(download.downloads_left);
    let saved_here = RwSignal::new(false);

    let status = DownloadStatus::new();
    let file = StoredValue::new_local(unlocked);
    let on_download = move |_| {
        let unlocked = file.get_value();
        status.start(move |task| async move {
            match download_and_confirm(&unlocked, task).await {
                Ok(SaveOutcome::Saved) => {
                    downloads_left.update(|left| *left = left.saturating_sub(1));
                    saved_here.set(true);
                    DownloadEnd::Saved
                }
                Ok(SaveOutcome::Dismissed) => DownloadEnd::Dismissed,
                Err(LinkFailure::Dead(message)) => {
                    state.stage.set(Stage::Dead(message.clone()));
                    DownloadEnd::Failed(message)
                }
                Err(LinkFailure::Cancelled) => DownloadEnd::Cancelled,
                Err(LinkFailure::Other(message)) => DownloadEnd::Failed(message),
            }
        });
    };
    let button_text = move || match downloads_left.get() {
        left if saved_here.get() && left > 0 => {
            format!("Download again (uses 1 of {left} left)")
        }
        _ => "Download".to_owned(),
    };

    view! {
        <dl class="link-details">
            <dt>"File"</dt>
            <dd class="file-name" data-testid="link-file-name">{name}</dd>
            <dt>"Size"</dt>
            <dd data-testid="link-file-size">{human_size(size)}</dd>
            <dt>"From"</dt>
            <dd data-testid="link-sender">{sender}</dd>
            <dt>"Downloads left"</dt>
            <dd data-testid="link-downloads-left">{downloads_left}</dd>
            <dt>"Expires"</dt>
            <dd><time datetime=expires_iso data-testid="link-expires">{expires}</time></dd>
        </dl>
        {reserved.then(|| view! {
            <p class="notice" role="status" data-testid="link-reserved">
                "A download of this link is in progress or was interrupted. "
                "Try again in a few minutes or ask the sender."
            </p>
        })}
        <button type="button" class="primary" on:click=on_download
            disabled=move || status.is_running() || downloads_left.get() == 0>
            {button_text}
        </button>
        <DownloadOutcome status total=size />
    }
}

/// The cause of a failed link download, with the message to show.
enum LinkFailure {
    /// The server returned the dead-link response, because the link expired, was used
    /// up or was revoked while the page was open.
    Dead(String),
    /// The person cancelled the download; nothing was saved or confirmed.
    Cancelled,
    Other(String),
}

/// Downloads, verifies and saves every part, then confirms the download, so that
/// the server counts it only after the last part verified and the file was closed.
async fn download_and_confirm(
    unlocked: &UnlockedLink,
    task: DownloadTask,
) -> Result<SaveOutcome, LinkFailure> {
    let metadata = &unlocked.metadata;
    let shown_name = display_name(&metadata.name);
    let stored = StoredFile::from_link(&unlocked.link_id, &unlocked.download);
    let outcome = save_file(
        &stored,
        &unlocked.key,
        &metadata.name,
        &shown_name,
        task.cancel,
        task.on_progress,
    )
    .await
    .map_err(|err| match err {
        DownloadError::Failed {
            source: UiError::Api(api),
            ..
        } if api.code == ErrorCode::NotFound => LinkFailure::Dead(api.message),
        DownloadError::Cancelled { .. } => LinkFailure::Cancelled,
        other => LinkFailure::Other(other.to_string()),
    })?;
    if outcome == SaveOutcome::Dismissed {
        return Ok(outcome);
    }
    confirm_download(unlocked.download.ticket.clone())
        .await
        .map_err(|err| {
            LinkFailure::Other(format!(
                "\"{shown_name}\" was saved, but reporting the finished download failed: {}",
                UiError::from(err)
            ))
        })?;
    Ok(outcome)
}
