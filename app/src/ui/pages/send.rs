//! The send page: look up a recipient, choose a file, encrypt it here and upload it.

use dtc_crypto::identity::PublicKey;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::File;

use crate::api::{Limits, lookup_recipient, normalize_username, server_info};
use crate::ui::components::{Alert, ByteProgress, Status};
use crate::ui::error::UiError;
use crate::ui::file_name::display_name;
use crate::ui::file_picker::FilePicker;
use crate::ui::session::Session;
use crate::ui::upload::{VerifiedRecipient, check_file_size, file_size, send_file};

/// The page's state; every field is a signal handle, so the struct is `Copy`.
#[derive(Clone, Copy)]
struct SendForm {
    session: Session,
    recipient_input: RwSignal<String>,
    /// The looked-up recipient; cleared whenever the input changes.
    recipient: RwSignal<Option<VerifiedRecipient>, LocalStorage>,
    looking_up: RwSignal<bool>,
    lookup_error: RwSignal<Option<String>>,
    file: RwSignal<Option<File>, LocalStorage>,
    limits: RwSignal<Option<Limits>>,
    /// The current step of a send in progress, `None` when idle.
    step: RwSignal<Option<String>>,
    done: RwSignal<u64>,
    total: RwSignal<Option<u64>>,
    send_error: RwSignal<Option<String>>,
    sent_message: RwSignal<Option<String>>,
}

impl SendForm {
    fn new() -> Self {
        SendForm {
            session: Session::expect(),
            recipient_input: RwSignal::new(String::new()),
            recipient: RwSignal::new_local(None),
            looking_up: RwSignal::new(false),
            lookup_error: RwSignal::new(None),
            file: RwSignal::new_local(None),
            limits: RwSignal::new(None),
            step: RwSignal::new(None),
            done: RwSignal::new(0),
            total: RwSignal::new(None),
            send_error: RwSignal::new(None),
            sent_message: RwSignal::new(None),
        }
    }

    fn is_sending(&self) -> bool {
        self.step.get().is_some()
    }

    /// Returns the server's limits, fetched once per visit of the page.
    async fn limits(self) -> Result<Limits, UiError> {
        if let Some(limits) = self.limits.get_untracked() {
            return Ok(limits);
        }
        let limits = server_info().await?;
        self.limits.set(Some(limits.clone()));
        Ok(limits)
    }

    /// Returns the size error for the chosen file and subscribes to changes.
    fn size_error(&self) -> Option<String> {
        let limits = self.limits.get()?;
        self.file.with(|chosen| {
            check_file_size(chosen.as_ref()?, &limits)
                .err()
                .map(|err| err.to_string())
        })
    }

    async fn look_up(self) -> Result<VerifiedRecipient, UiError> {
        self.lookup_error.set(None);
        self.recipient.set(None);
        self.looking_up.set(true);
        let result = look_up(&self.recipient_input.get_untracked()).await;
        self.looking_up.set(false);
        match &result {
            Ok(found) => self.recipient.set(Some(found.clone())),
            Err(err) => self.lookup_error.set(Some(err.to_string())),
        }
        result
    }

    /// Shows `message` and resets the file choice and progress for the next send.
    fn finish_send(self, message: String) {
        self.file.set(None);
        self.total.set(None);
        self.done.set(0);
        self.sent_message.set(Some(message));
    }

    /// Sends the chosen file: looks up the recipient if that has not happened yet,
    /// checks the file size, then uploads. Returns the success message.
    async fn send(self) -> Result<String, UiError> {
        let keys = self
            .session
            .keys()
            .ok_or_else(|| UiError::invalid("your keys are locked; log in again"))?;
        let recipient = match self.recipient.get_untracked() {
            Some(found) => found,
            None => self.look_up().await?,
        };
        let file = self
            .file
            .get_untracked()
            .ok_or_else(|| UiError::invalid("no file chosen; choose a file to send"))?;
        let limits = self.limits().await?;
        check_file_size(&file, &limits)?;

        let name = display_name(&file.name());
        self.done.set(0);
        self.total.set(Some(file_size(&file)));
        self.step
            .set(Some(format!("Encrypting and uploading {name}…")));
        send_file(&keys, &recipient, &file, &limits, |bytes| {
            self.done.set(bytes)
        })
        .await?;
        Ok(format!("Sent {name} to {}.", recipient.username))
    }
}

/// Looks up an account and parses its public key.
async fn look_up(input: &str) -> Result<VerifiedRecipient, UiError> {
    let username = normalize_username(input)?;
    let recipient = lookup_recipient(username).await?;
    let public_key = PublicKey::from_sec1(recipient.public_key.as_slice())
        .map_err(UiError::crypto("reading the recipient's public key"))?;
    let fingerprint = public_key.fingerprint().to_string();
    Ok(VerifiedRecipient {
        username: recipient.username,
        public_key,
        fingerprint,
    })
}

#[component]
pub fn SendPage() -> impl IntoView {
    let form = SendForm::new();
    let sending = Signal::derive(move || form.is_sending());
    let size_error = Signal::derive(move || form.size_error());

    spawn_local(async move {
        if let Err(err) = form.limits().await {
            form.send_error
                .set(Some(format!("could not read the server's limits: {err}")));
        }
    });

    let on_recipient_input = move |event: leptos::ev::Event| {
        form.recipient_input.set(event_target_value(&event));
        form.recipient.set(None);
        form.lookup_error.set(None);
        form.sent_message.set(None);
    };
    // Choosing the next file ends the previous send's message.
    Effect::new(move |_| {
        if form.file.with(Option::is_some) {
            form.sent_message.set(None);
        }
    });
    let on_look_up = move |event: SubmitEvent| {
        event.prevent_default();
        spawn_local(async move {
            // The error is shown by `look_up` itself.
            let _ = form.look_up().await;
        });
    };
    let on_send = move |_| {
        // A file over the limit already shows its error below the picker.
        if form.step.get_untracked().is_some() || size_error.get_untracked().is_some() {
            return;
        }
        form.send_error.set(None);
        form.sent_message.set(None);
        form.step.set(Some("Preparing…".to_owned()));
        spawn_local(async move {
            let result = form.send().await;
            form.step.set(None);
            match result {
                Ok(message) => form.finish_send(message),
                // A failed lookup or size check already shows its error further up.
                Err(_) if form.lookup_error.get_untracked().is_some() => {}
                Err(_) if size_error.get_untracked().is_some() => {}
                Err(err) => form.send_error.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <section class="card">
            <h1>"Send a file"</h1>
            <form class="inline-form" on:submit=on_look_up>
                <label for="recipient">"Recipient"</label>
                <input id="recipient" type="text" autocomplete="off" placeholder="username"
                    prop:value=move || form.recipient_input.get() on:input=on_recipient_input
                    disabled=move || sending.get() />
                <button type="submit" class="secondary"
                    disabled=move || form.looking_up.get() || sending.get()>
                    "Look up"
                </button>
            </form>
            <Alert error=form.lookup_error />
            <RecipientCard recipient=form.recipient />

            <FilePicker file=form.file disabled=sending />
            <Alert error=size_error />

            <button type="button" class="primary" on:click=on_send
                disabled=move || sending.get()>
                "Encrypt and send"
            </button>
            <Status status=form.step />
            {move || form.total.get().map(|total| view! {
                <ByteProgress done=form.done total test_id="upload-progress" label="Upload progress" />
            })}
            <Alert error=form.send_error />
            {move || form.sent_message.get().map(|message| view! {
                <p class="success" data-testid="send-done">{message}</p>
            })}
        </section>
    }
}

/// Shows the looked-up recipient and the fingerprint to compare out of band.
#[component]
fn RecipientCard(recipient: RwSignal<Option<VerifiedRecipient>, LocalStorage>) -> impl IntoView {
    move || {
        recipient.with(|found| {
            found.as_ref().map(|found| {
                let username = found.username.clone();
                let fingerprint = found.fingerprint.clone();
                view! {
                    <div class="recipient">
                        <p>"Key fingerprint of " <strong>{username.clone()}</strong></p>
                        <code class="fingerprint" data-testid="recipient-fingerprint">{fingerprint}</code>
                        <p class="muted">
                            "Compare it with the fingerprint " {username} " sees in their header, "
                            "for example on a call, before sending anything sensitive."
                        </p>
                    </div>
                }
            })
        })
    }
}
