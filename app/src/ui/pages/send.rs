//! The send page: look up a recipient, choose a file, encrypt it here and upload it.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::File;

use crate::api::{Limits, StorageUsage, delete_file, server_info, usage};
use crate::ui::components::{Alert, ByteProgress, Status, Throughput};
use crate::ui::error::UiError;
use crate::ui::file_name::display_name;
use crate::ui::file_picker::{ChosenFile, FilePicker, total_size};
use crate::ui::format::{hex, human_size, local_date_time};
use crate::ui::link_view::{LinkCard, LinkFields, LinkOptionsFields};
use crate::ui::links::{duration_text, make_link};
use crate::ui::resume::{InterruptedUpload, interrupted_uploads, resume_upload};
use crate::ui::session::Session;
use crate::ui::upload::{
    CancelFlag, VerifiedRecipient, check_file_size, file_size, look_up_recipient, send_file,
    upload_ciphertext_len,
};

/// A share link made by the last send.
#[derive(Clone)]
struct ShownLink {
    url: String,
    has_password: bool,
}

/// The outcome of a finished send: the success message and the link, if one was made.
struct SendOutcome {
    message: String,
    link: Option<ShownLink>,
    /// Set when the file arrived but making its link failed.
    link_error: Option<String>,
}

/// The page's state; every field is a signal handle, so the struct is `Copy`.
#[derive(Clone, Copy)]
struct SendForm {
    session: Session,
    recipient_input: RwSignal<String>,
    /// The looked-up recipient; cleared whenever the input changes.
    recipient: RwSignal<Option<VerifiedRecipient>, LocalStorage>,
    looking_up: RwSignal<bool>,
    lookup_error: RwSignal<Option<String>>,
    files: RwSignal<Vec<ChosenFile>, LocalStorage>,
    limits: RwSignal<Option<Limits>>,
    /// The account's stored bytes and files, read on arrival and after each send.
    usage: RwSignal<Option<StorageUsage>>,
    /// The current step of a send in progress, `None` when idle.
    step: RwSignal<Option<String>>,
    progress: Throughput,
    total: RwSignal<Option<u64>>,
    /// Set by the Cancel button of the send in progress.
    cancel: StoredValue<CancelFlag, LocalStorage>,
    send_error: RwSignal<Option<String>>,
    sent_message: RwSignal<Option<String>>,
    /// Whether the send also makes a share link.
    share_link: RwSignal<bool>,
    link_fields: LinkFields,
    made_link: RwSignal<Option<ShownLink>>,
    link_error: RwSignal<Option<String>>,
    /// This account's unfinished uploads that can resume.
    interrupted: RwSignal<Vec<InterruptedUpload>, LocalStorage>,
    /// The transfer id of a send of several files that stopped part way, with the
    /// paths of the files it left chosen.
    continued: StoredValue<Option<(String, Vec<String>)>, LocalStorage>,
    /// The files sent during this visit, so that an unfinished upload of one of them
    /// resumes without the file being chosen again.
    sent_files: StoredValue<Vec<File>, LocalStorage>,
}

impl SendForm {
    fn new() -> Self {
        SendForm {
            session: Session::expect(),
            recipient_input: RwSignal::new(String::new()),
            recipient: RwSignal::new_local(None),
            looking_up: RwSignal::new(false),
            lookup_error: RwSignal::new(None),
            files: RwSignal::new_local(Vec::new()),
            limits: RwSignal::new(None),
            usage: RwSignal::new(None),
            step: RwSignal::new(None),
            progress: Throughput::new(),
            total: RwSignal::new(None),
            cancel: StoredValue::new_local(CancelFlag::default()),
            send_error: RwSignal::new(None),
            sent_message: RwSignal::new(None),
            share_link: RwSignal::new(false),
            link_fields: LinkFields::new(),
            made_link: RwSignal::new(None),
            link_error: RwSignal::new(None),
            interrupted: RwSignal::new_local(Vec::new()),
            sent_files: StoredValue::new_local(Vec::new()),
            continued: StoredValue::new_local(None),
        }
    }

    /// Reads the list of unfinished uploads again; a failure leaves it as it was.
    async fn refresh_interrupted(self) {
        let Some(keys) = self.session.keys() else {
            return;
        };
        match interrupted_uploads(&keys).await {
            Ok(list) => self.interrupted.set(list),
            Err(err) => leptos::logging::warn!("could not list unfinished uploads: {err}"),
        }
    }

    /// Explains a send of several files that stopped at `files[position]` with `error`,
    /// and leaves the files not sent chosen, so that pressing send again sends them in
    /// the same transfer. A file whose upload started is left out: it waits in the list
    /// of unfinished uploads.
    async fn stopped_part_way(
        self,
        error: UiError,
        files: &[ChosenFile],
        position: usize,
        transfer: Option<String>,
    ) -> UiError {
        self.refresh_interrupted().await;
        let failed = &files[position];
        let listed = self
            .interrupted
            .with_untracked(|list| list.iter().any(|upload| same_file(upload, &failed.file)));
        let left = if listed {
            &files[position + 1..]
        } else {
            &files[position..]
        };
        let name = display_name(&failed.path);
        let sent = format!("{position} of {} files were sent", files.len());
        if let Some(transfer) = transfer {
            let paths = left.iter().map(|chosen| chosen.path.clone()).collect();
            self.continued.set_value(Some((transfer, paths)));
        }
        self.files.set(left.to_vec());
        let still_chosen = match left.len() {
            1 => "the file not sent yet is still chosen".to_owned(),
            count => format!("the {count} files not sent yet are still chosen"),
        };
        let message = match error {
            UiError::Stopped => format!(
                "Cancelled. {sent} before the cancel, and the parts of {name} were deleted \
                 from the server"
            ),
            error if listed => format!(
                "{sent}. Sending {name} failed: {error}. It waits under Unfinished uploads, \
                 and {still_chosen}: press Encrypt and send to send it"
            ),
            error => format!(
                "{sent}. Sending {name} failed: {error}. Now {still_chosen}: press Encrypt \
                 and send to send it"
            ),
        };
        UiError::invalid(message)
    }

    /// Shows that the server cannot be reached and the seconds until the next try, or
    /// `step` again once parts go out.
    fn show_wait(self, wait: Option<u32>, step: &str) {
        self.step.set(Some(match wait {
            Some(seconds) => {
                format!("The server cannot be reached; trying again in {seconds} s…")
            }
            None => step.to_owned(),
        }));
    }

    /// Resumes `upload` with `file`, showing progress like a send.
    fn resume(self, upload: InterruptedUpload, file: File) {
        if self.step.get_untracked().is_some() {
            return;
        }
        self.send_error.set(None);
        self.clear_outcome();
        let name = upload.display_name();
        let step = format!("Resuming the upload of {name}…");
        self.step.set(Some(step.clone()));
        self.progress.reset();
        self.total.set(Some(upload.metadata.size));
        let cancel = CancelFlag::default();
        self.cancel.set_value(cancel.clone());
        spawn_local(async move {
            let result = match self.session.keys() {
                Some(keys) => {
                    resume_upload(
                        &keys,
                        &upload,
                        &file,
                        &cancel,
                        |bytes| self.progress.report(bytes),
                        |wait| self.show_wait(wait, &step),
                    )
                    .await
                }
                None => Err(UiError::invalid("your keys are locked; log in again")),
            };
            self.step.set(None);
            self.total.set(None);
            match result {
                Ok(_) => {
                    self.sent_message.set(Some(format!(
                        "Sent {name} to {}. Make a share link for it from the Sent page.",
                        upload.recipient
                    )));
                }
                Err(UiError::Stopped) => self.sent_message.set(Some(
                    "Cancelled. The parts already uploaded were deleted from the server."
                        .to_owned(),
                )),
                Err(err) => self.send_error.set(Some(err.to_string())),
            }
            let _ = self.refresh_usage().await;
            self.refresh_interrupted().await;
        });
    }

    /// Clears the results of the previous send.
    fn clear_outcome(&self) {
        self.sent_message.set(None);
        self.made_link.set(None);
        self.link_error.set(None);
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

    /// Reads the account's usage again and returns it.
    async fn refresh_usage(self) -> Result<StorageUsage, UiError> {
        let current = usage().await?;
        self.usage.set(Some(current));
        Ok(current)
    }

    /// Returns the size or quota error for the chosen file and subscribes to changes.
    fn size_error(&self) -> Option<String> {
        let limits = self.limits.get()?;
        let usage = self.usage.get();
        self.files.with(|chosen| {
            check_sizes(chosen, &limits, usage.as_ref())
                .err()
                .map(|err| err.to_string())
        })
    }

    async fn look_up(self) -> Result<VerifiedRecipient, UiError> {
        self.lookup_error.set(None);
        self.recipient.set(None);
        self.looking_up.set(true);
        let result = look_up_recipient(&self.recipient_input.get_untracked()).await;
        self.looking_up.set(false);
        match &result {
            Ok(found) => self.recipient.set(Some(found.clone())),
            Err(err) => self.lookup_error.set(Some(err.to_string())),
        }
        result
    }

    /// Shows the outcome and empties the form, so the next send starts from nothing
    /// and cannot reach the previous recipient by accident.
    fn finish_send(self, outcome: SendOutcome) {
        self.files.set(Vec::new());
        self.total.set(None);
        self.progress.reset();
        self.recipient_input.set(String::new());
        self.recipient.set(None);
        self.lookup_error.set(None);
        self.share_link.set(false);
        self.link_fields.reset();
        self.sent_message.set(Some(outcome.message));
        self.made_link.set(outcome.link);
        self.link_error.set(outcome.link_error);
    }

    /// Sends the chosen file: checks the link options, looks up the recipient if that
    /// has not happened yet, checks the file size, uploads, then makes the link.
    async fn send(self) -> Result<SendOutcome, UiError> {
        let keys = self
            .session
            .keys()
            .ok_or_else(|| UiError::invalid("your keys are locked; log in again"))?;
        let limits = self.limits().await?;
        let link = if self.share_link.get_untracked() {
            Some(self.link_fields.check(&limits)?)
        } else {
            None
        };
        // A link-only send goes to the sender's own account.
        let link_only = link.is_some() && self.recipient_input.get_untracked().trim().is_empty();
        let recipient = match self.recipient.get_untracked() {
            _ if link_only => VerifiedRecipient::own_account(&keys),
            Some(found) => found,
            None => self.look_up().await?,
        };
        let files = self.files.get_untracked();
        if files.is_empty() {
            return Err(UiError::invalid("no file chosen; choose a file to send"));
        }
        if link.is_some() && files.len() > 1 {
            return Err(UiError::invalid(format!(
                "a share link opens one file, and {} files are chosen; send them without a \
                 link, or send each file with its own link",
                files.len()
            )));
        }
        check_sizes(&files, &limits, Some(&self.refresh_usage().await?))?;

        self.progress.reset();
        self.total.set(Some(total_size(&files)));
        let options = link.as_ref().map(|choice| choice.options());
        let cancel = CancelFlag::default();
        self.cancel.set_value(cancel.clone());
        self.sent_files.update_value(|sent| {
            sent.extend(files.iter().map(|chosen| chosen.file.clone()));
        });
        // The files of one send share a random transfer id, so the recipient's inbox
        // shows them together. Sending the files that a failed send left chosen
        // continues its transfer.
        let paths: Vec<String> = files.iter().map(|chosen| chosen.path.clone()).collect();
        let continued = self.continued.with_value(|continued| {
            continued
                .as_ref()
                .filter(|(_, left)| *left == paths)
                .map(|(transfer, _)| transfer.clone())
        });
        let transfer = match continued {
            Some(transfer) => Some(transfer),
            None if files.len() > 1 => Some(new_transfer_id()?),
            None => None,
        };
        self.continued.set_value(None);
        let mut finished = 0;
        let mut sent = None;
        for (position, chosen) in files.iter().enumerate() {
            let name = display_name(&chosen.path);
            let step = if files.len() > 1 {
                format!(
                    "Encrypting and uploading {name} ({} of {})…",
                    position + 1,
                    files.len()
                )
            } else {
                format!("Encrypting and uploading {name}…")
            };
            self.step.set(Some(step.clone()));
            let file_sent = send_file(
                &keys,
                &recipient,
                &chosen.file,
                &chosen.path,
                transfer.clone(),
                &limits,
                options.clone(),
                &cancel,
                |bytes| self.progress.report(finished + bytes),
                |wait| self.show_wait(wait, &step),
            )
            .await;
            let file_sent = match file_sent {
                Ok(file_sent) => file_sent,
                Err(error) if files.len() > 1 => {
                    return Err(self
                        .stopped_part_way(error, &files, position, transfer)
                        .await);
                }
                Err(error) => return Err(error),
            };
            finished += file_size(&chosen.file);
            sent = Some(file_sent);
        }
        let name = match files.as_slice() {
            [single] => display_name(&single.path),
            several => format!("{} files", several.len()),
        };
        let mut outcome = SendOutcome {
            message: if link_only {
                format!("Sent {name} as a share link.")
            } else {
                format!("Sent {name} to {}.", recipient.username)
            },
            link: None,
            link_error: None,
        };
        let (Some(choice), Some(sent)) = (link, sent) else {
            return Ok(outcome);
        };
        self.step
            .set(Some(format!("Making the share link for {name}…")));
        match make_link(&sent.file_id, &sent.key, &choice).await {
            Ok(made) => {
                self.link_fields.clear_passwords();
                outcome.link = Some(ShownLink {
                    url: made.url,
                    has_password: choice.has_password(),
                });
            }
            Err(err) => {
                outcome.link_error = Some(format!(
                    "the file was sent, but making its share link failed: {err}; \
                     make the link from the Sent page"
                ))
            }
        }
        Ok(outcome)
    }
}

#[component]
pub fn SendPage() -> impl IntoView {
    let form = SendForm::new();
    let sending = Signal::derive(move || form.is_sending());
    let size_error = Signal::derive(move || form.size_error());

    spawn_local(async move {
        form.refresh_interrupted().await;
        if let Err(err) = form.limits().await {
            form.send_error
                .set(Some(format!("could not read the server's limits: {err}")));
        }
        if let Err(err) = form.refresh_usage().await {
            form.send_error
                .set(Some(format!("could not read your storage usage: {err}")));
        }
    });

    let on_recipient_input = move |event: leptos::ev::Event| {
        form.recipient_input.set(event_target_value(&event));
        form.recipient.set(None);
        form.lookup_error.set(None);
        form.clear_outcome();
    };
    // Choosing the next file ends the previous send's message.
    Effect::new(move |_| {
        if form.files.with(|chosen| !chosen.is_empty()) {
            form.clear_outcome();
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
        form.clear_outcome();
        form.step.set(Some("Preparing…".to_owned()));
        spawn_local(async move {
            let result = form.send().await;
            form.step.set(None);
            // Reads the usage again for the line under the picker; a failure keeps the
            // line as it was.
            let _ = form.refresh_usage().await;
            if result.is_err() {
                form.link_fields.clear_passwords();
            }
            if result.is_err() {
                form.refresh_interrupted().await;
            }
            match result {
                Ok(outcome) => form.finish_send(outcome),
                // A failed lookup or size check already shows its error further up.
                Err(_) if form.lookup_error.get_untracked().is_some() => {}
                Err(_) if size_error.get_untracked().is_some() => {}
                Err(UiError::Stopped) => {
                    form.total.set(None);
                    form.sent_message.set(Some(
                        "Cancelled. The parts already uploaded were deleted from the server."
                            .to_owned(),
                    ));
                }
                Err(err) => form.send_error.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <section class="card">
            <h1>"Send a file"</h1>
            <form class="inline-form" on:submit=on_look_up>
                <label for="recipient">
                    "Recipient"
                    {move || form.share_link.get().then_some(" (optional with a share link)")}
                </label>
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

            <FilePicker files=form.files disabled=sending />
            <Alert error=size_error />
            {move || form.usage.get().map(|usage| view! {
                <p class="muted" data-testid="storage-usage">{usage.summary()}</p>
            })}
            {move || form.limits.get().map(|limits| view! {
                <p class="muted" data-testid="file-lifetime">
                    {file_lifetime_text(limits.file_lifetime_secs)}
                </p>
            })}

            <label class="checkbox">
                <input type="checkbox" prop:checked=move || form.share_link.get()
                    on:change=move |event| form.share_link.set(event_target_checked(&event))
                    disabled=move || sending.get() />
                "Also make a share link"
            </label>
            <Show when=move || form.share_link.get()>
                <LinkOptionsFields fields=form.link_fields limits=form.limits
                    id_prefix="send-link".to_owned() disabled=sending />
            </Show>

            <button type="button" class="primary" on:click=on_send
                disabled=move || sending.get()>
                "Encrypt and send"
            </button>
            <Status status=form.step />
            {move || form.total.get().map(|total| view! {
                <ByteProgress done=form.progress.done() total test_id="upload-progress" label="Upload progress" />
                <span class="progress-caption" data-testid="upload-rate">
                    {move || form.progress.rate_text(total)}
                </span>
            })}
            <Show when=move || sending.get()>
                <button type="button" class="secondary" data-testid="upload-cancel"
                    on:click=move |_| form.cancel.with_value(CancelFlag::cancel)>
                    "Cancel"
                </button>
            </Show>
            <Alert error=form.send_error />
            {move || form.sent_message.get().map(|message| view! {
                <p class="success" data-testid="send-done">{message}</p>
            })}
            {move || form.made_link.get().map(|link| view! {
                <LinkCard url=link.url has_password=link.has_password />
            })}
            <Alert error=form.link_error />
            <InterruptedList form />
        </section>
    }
}

/// Lists the unfinished uploads of this account, each with a way to resume or discard it.
#[component]
fn InterruptedList(form: SendForm) -> impl IntoView {
    let sending = Signal::derive(move || form.is_sending());
    let discard_error = RwSignal::new(None::<String>);
    let discard = move |file_id: String| {
        spawn_local(async move {
            match delete_file(file_id).await {
                Ok(()) => discard_error.set(None),
                Err(err) => discard_error.set(Some(err.to_string())),
            }
            let _ = form.refresh_usage().await;
            form.refresh_interrupted().await;
        });
    };
    move || {
        let list = form.interrupted.get();
        (!list.is_empty()).then(|| {
            let rows = list
                .into_iter()
                .map(|upload| {
                    let name = upload.display_name();
                    let held = form.sent_files.with_value(|files| {
                        files.iter().find(|file| same_file(&upload, file)).cloned()
                    });
                    let on_choose = {
                        let upload = upload.clone();
                        move |event: leptos::ev::Event| {
                            let input = event_target::<web_sys::HtmlInputElement>(&event);
                            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                                form.resume(upload.clone(), file);
                            }
                            input.set_value("");
                        }
                    };
                    let on_resume = {
                        let upload = upload.clone();
                        let held = held.clone();
                        move |_| {
                            if let Some(file) = held.clone() {
                                form.resume(upload.clone(), file);
                            }
                        }
                    };
                    let file_id = upload.file_id.clone();
                    let can_resume = held.is_some();
                    let input_id = format!("resume-{}", upload.file_id);
                    view! {
                        <li class="interrupted" data-testid="interrupted-upload">
                            <p>
                                <strong>{name.clone()}</strong>
                                {format!(
                                    " to {}: {} of {} parts stored, {}; deleted unfinished on {}",
                                    upload.recipient,
                                    upload.stored_parts,
                                    upload.part_count,
                                    human_size(upload.metadata.size),
                                    local_date_time(upload.expires_at_ms)
                                )}
                            </p>
                            {can_resume.then(|| view! {
                                <button type="button" class="primary" on:click=on_resume
                                    disabled=move || sending.get()>
                                    "Resume"
                                </button>
                            })}
                            <label for=input_id.clone()>{format!("Choose {name} again to resume")}</label>
                            <input id=input_id type="file" on:change=on_choose
                                disabled=move || sending.get() />
                            <button type="button" class="secondary"
                                on:click=move |_| discard(file_id.clone())
                                disabled=move || sending.get()>
                                "Discard"
                            </button>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <h2>"Unfinished uploads"</h2>
                <p class="muted">
                    "These uploads stopped before the end. Choose the same file again to send "
                    "the parts the server is missing."
                </p>
                <Alert error=discard_error />
                <ul class="interrupted-list">{rows}</ul>
            }
        })
    }
}

/// Checks every file against the server's size limit and, when the usage is known,
/// all of them together against the account's quotas.
fn check_sizes(
    files: &[ChosenFile],
    limits: &Limits,
    usage: Option<&StorageUsage>,
) -> Result<(), UiError> {
    let mut ciphertext = 0u64;
    for chosen in files {
        check_file_size(&chosen.file, limits)?;
        ciphertext = ciphertext.saturating_add(upload_ciphertext_len(&chosen.file)?);
    }
    if let Some(usage) = usage
        && !files.is_empty()
    {
        usage.check_uploads(ciphertext, files.len() as u64)?;
    }
    Ok(())
}

/// Returns a new random transfer id: 16 bytes from the browser's generator as hex.
fn new_transfer_id() -> Result<String, UiError> {
    let crypto = web_sys::window()
        .ok_or_else(|| UiError::invalid("no browser window to draw random bytes from"))?
        .crypto()
        .map_err(UiError::browser("reaching the random number generator"))?;
    let mut bytes = [0u8; 16];
    crypto
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(UiError::browser("drawing random bytes"))?;
    Ok(hex(&bytes))
}

/// Returns whether `file` has the name, size and modification time `upload` started with.
fn same_file(upload: &InterruptedUpload, file: &File) -> bool {
    let name = &upload.metadata.name;
    file.name() == name.rsplit('/').next().unwrap_or(name)
        && file_size(file) == upload.metadata.size
        && file.last_modified() as i64 == upload.metadata.modified_ms
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

/// Tells how long the server keeps a sent file, such as "Files are kept for 30 days
/// after they are sent, then deleted, with their share links."
fn file_lifetime_text(lifetime_secs: u64) -> String {
    format!(
        "Files are kept for {} after they are sent, then deleted, with their share links.",
        duration_text(lifetime_secs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lifetime_text_names_the_lifetime() {
        assert_eq!(
            file_lifetime_text(30 * 86_400),
            "Files are kept for 30 days after they are sent, then deleted, with their share links."
        );
        assert_eq!(
            file_lifetime_text(3600),
            "Files are kept for 1 hour after they are sent, then deleted, with their share links."
        );
    }
}
