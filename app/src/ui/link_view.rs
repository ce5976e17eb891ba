//! The pieces of the page that make and show share links: the options fields, and
//! a made link with its copy button and QR code.

use leptos::prelude::*;
use leptos::task::spawn_local;
use qrcode::QrCode;
use qrcode::render::svg;
use wasm_bindgen_futures::JsFuture;

use super::components::Alert;
use super::error::UiError;
use super::format::{iso_date_time, local_date_time};
use super::links::{LinkChoice, MIN_LINK_PASSWORD_LEN, duration_text, expiry_choices};
use crate::api::Limits;

/// The values of one set of link option fields; every field is a signal handle.
#[derive(Clone, Copy)]
pub struct LinkFields {
    /// `None` until the server's limits are known and the preselected lifetime is set.
    pub expires_in_secs: RwSignal<Option<u64>>,
    pub download_limit: RwSignal<String>,
    pub password: RwSignal<String>,
    pub confirm: RwSignal<String>,
    /// When the file itself is deleted (milliseconds since the Unix epoch), for a file
    /// already stored. `None` for a file not sent yet, which the server keeps for its
    /// whole file lifetime.
    pub file_deleted_at_ms: RwSignal<Option<i64>>,
}

impl LinkFields {
    pub fn new() -> Self {
        LinkFields {
            expires_in_secs: RwSignal::new(None),
            download_limit: RwSignal::new("1".to_owned()),
            password: RwSignal::new(String::new()),
            confirm: RwSignal::new(String::new()),
            file_deleted_at_ms: RwSignal::new(None),
        }
    }

    /// Checks the fields against the server's limits.
    pub fn check(&self, limits: &Limits) -> Result<LinkChoice, UiError> {
        let left = file_left_secs(self.file_deleted_at_ms.get_untracked(), limits, now_ms());
        let (_, preselected) = expiry_choices(limits, Some(left));
        LinkChoice::check(
            limits,
            self.expires_in_secs.get_untracked().unwrap_or(preselected),
            &self.download_limit.get_untracked(),
            &self.password.get_untracked(),
            &self.confirm.get_untracked(),
        )
    }

    /// Sets every field back to its starting value. The lifetime is preselected again
    /// when the fields are shown next.
    pub fn reset(&self) {
        self.expires_in_secs.set(None);
        self.download_limit.set("1".to_owned());
        self.clear_passwords();
    }

    /// Empties the password fields, so a password stays in the page no longer than needed.
    pub fn clear_passwords(&self) {
        self.password.set(String::new());
        self.confirm.set(String::new());
    }
}

/// Renders the expiry, download limit and optional password fields of a link.
/// `id_prefix` keeps the element ids unique when several forms share a page.
#[component]
pub fn LinkOptionsFields(
    fields: LinkFields,
    #[prop(into)] limits: Signal<Option<Limits>>,
    id_prefix: String,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let expiry_id = format!("{id_prefix}-expiry");
    let limit_id = format!("{id_prefix}-limit");
    let password_id = format!("{id_prefix}-password");
    let confirm_id = format!("{id_prefix}-confirm");
    Effect::new(move |_| {
        if let Some(limits) = limits.get()
            && fields.expires_in_secs.get_untracked().is_none()
        {
            let deleted_at = fields.file_deleted_at_ms.get_untracked();
            let left = file_left_secs(deleted_at, &limits, now_ms());
            fields
                .expires_in_secs
                .set(Some(expiry_choices(&limits, Some(left)).1));
        }
    });
    let choices = move || {
        limits.get().map(|limits| {
            let left = file_left_secs(fields.file_deleted_at_ms.get(), &limits, now_ms());
            expiry_choices(&limits, Some(left)).0
        })
    };
    let file_deleted = move || {
        limits.get().map(|limits| {
            let at_ms = file_deleted_at(fields.file_deleted_at_ms.get(), &limits, now_ms());
            view! {
                <p class="muted" data-testid="link-file-deleted">
                    "The file itself is deleted on "
                    <time datetime=iso_date_time(at_ms)>{local_date_time(at_ms)}</time>
                    ", and its links end then at the latest."
                </p>
            }
        })
    };
    let max_downloads = move || limits.get().map_or(1, |limits| limits.max_link_downloads);

    view! {
        <fieldset class="link-options" disabled=move || disabled.get()>
            <legend>"Share link"</legend>
            <div class="field-row">
                <label for=expiry_id.clone()>"Expires after"</label>
                <select id=expiry_id
                    on:change=move |event| {
                        fields.expires_in_secs.set(event_target_value(&event).parse().ok());
                    }>
                    {move || choices().unwrap_or_default().into_iter().map(|secs| view! {
                        <option value=secs.to_string()
                            selected=move || fields.expires_in_secs.get() == Some(secs)>
                            {duration_text(secs)}
                        </option>
                    }).collect_view()}
                </select>
            </div>
            {file_deleted}
            <div class="field-row">
                <label for=limit_id.clone()>"Download limit"</label>
                <input id=limit_id type="number" min="1" max=move || max_downloads().to_string()
                    step="1" inputmode="numeric"
                    prop:value=move || fields.download_limit.get()
                    on:input=move |event| fields.download_limit.set(event_target_value(&event)) />
            </div>
            <div class="field-row">
                <label for=password_id.clone()>"Link password (optional)"</label>
                <input id=password_id type="password" autocomplete="new-password"
                    prop:value=move || fields.password.get()
                    on:input=move |event| fields.password.set(event_target_value(&event)) />
            </div>
            <div class="field-row">
                <label for=confirm_id.clone()>"Confirm link password"</label>
                <input id=confirm_id type="password" autocomplete="new-password"
                    prop:value=move || fields.confirm.get()
                    on:input=move |event| fields.confirm.set(event_target_value(&event)) />
            </div>
            <p class="muted">
                {format!("A password needs at least {MIN_LINK_PASSWORD_LEN} characters. ")}
                "Leave both password fields empty for a link that opens without one."
            </p>
        </fieldset>
    }
}

/// Returns the seconds from `now_ms` until the file is deleted at `deleted_at_ms`, or
/// the server's whole file lifetime for a file not sent yet (`None`).
fn file_left_secs(deleted_at_ms: Option<i64>, limits: &Limits, now_ms: i64) -> u64 {
    match deleted_at_ms {
        Some(at_ms) => u64::try_from(at_ms.saturating_sub(now_ms) / 1000).unwrap_or(0),
        None => limits.file_lifetime_secs,
    }
}

/// Returns when the file is deleted, in milliseconds since the Unix epoch: at
/// `deleted_at_ms`, or one file lifetime from `now_ms` for a file not sent yet.
fn file_deleted_at(deleted_at_ms: Option<i64>, limits: &Limits, now_ms: i64) -> i64 {
    deleted_at_ms.unwrap_or_else(|| {
        let lifetime_ms = i64::try_from(limits.file_lifetime_secs.saturating_mul(1000));
        now_ms.saturating_add(lifetime_ms.unwrap_or(i64::MAX))
    })
}

/// Returns the time now in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Returns the QR code of `text` as SVG markup, or `None` if it does not fit a QR code.
fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let markup = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Drop the XML declaration, which has no place inside an HTML document.
    let start = markup.find("<svg")?;
    Some(markup[start..].to_owned())
}

async fn copy_to_clipboard(text: &str) -> Result<(), UiError> {
    let window =
        web_sys::window().ok_or_else(|| UiError::invalid("no browser window to copy from"))?;
    JsFuture::from(window.navigator().clipboard().write_text(text))
        .await
        .map_err(UiError::browser("copying the link"))?;
    Ok(())
}

/// Shows a share link in a read-only field with a copy button and its QR code, and a
/// reminder to pass a password on separately.
#[component]
pub fn LinkCard(url: String, has_password: bool) -> impl IntoView {
    let copied = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let copy_url = url.clone();
    let copy = move |_| {
        let url = copy_url.clone();
        error.set(None);
        spawn_local(async move {
            match copy_to_clipboard(&url).await {
                Ok(()) => copied.set(true),
                Err(err) => error.set(Some(format!("{err}; select the link and copy it by hand"))),
            }
        });
    };
    let qr = qr_svg(&url);

    view! {
        <div class="link-card" data-testid="link-card">
            <div class="link-url-row">
                <input type="text" readonly class="link-url" aria-label="Share link"
                    data-testid="link-url" prop:value=url.clone()
                    on:focus=|event| {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = event
                            .target()
                            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
                        {
                            input.select();
                        }
                    } />
                <button type="button" class="secondary" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy link" }}
                </button>
            </div>
            {match qr {
                Some(markup) => view! {
                    <div class="qr" role="img" aria-label="QR code of the share link" inner_html=markup></div>
                }.into_any(),
                None => view! { <p class="muted">"This link is too long for a QR code."</p> }.into_any(),
            }}
            <p class="muted">
                "Anyone with this link can download the file until it expires or its downloads are used up. "
                {has_password.then_some(
                    "Pass the password on separately, for example by phone, never in the same message as the link."
                )}
            </p>
            <Alert error />
        </div>
    }
}
