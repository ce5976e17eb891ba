//! The login page, which also unlocks the keys of a session that survived a reload.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::ErrorCode;
use crate::ui::account::unlock_account;
use crate::ui::components::{Alert, Status};
use crate::ui::error::UiError;
use crate::ui::session::Session;
use crate::ui::transport::sleep;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Session::expect();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let step = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    // Seconds left before the server accepts another attempt after too many failures.
    let retry_in = RwSignal::new(0u64);
    // A sign-out cancels a pending attempt, so the form is ready for the next one.
    Effect::new(move |_| {
        session.generation();
        step.set(None);
    });

    // The session check may finish after this page first renders.
    Effect::new(move |_| {
        if let Some(name) = session.locked_username()
            && username.get_untracked().is_empty()
        {
            username.set(name);
        }
    });

    let query = use_query_map();
    // Only pages of this app, so a crafted link cannot send people elsewhere.
    let next_page = move || {
        let next = query.with_untracked(|query| query.get("next"));
        match next.as_deref() {
            Some(page @ ("/send" | "/inbox" | "/sent")) => page.to_owned(),
            _ => "/inbox".to_owned(),
        }
    };

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if step.get_untracked().is_some() || retry_in.get_untracked() > 0 {
            return;
        }
        error.set(None);
        let navigate = use_navigate();
        let attempt = session.begin_attempt();
        let on_step = move |text: &str| {
            if attempt.is_current() {
                step.set(Some(text.to_owned()));
            }
        };
        let name = username.get_untracked();
        let secret = password.get_untracked();
        spawn_local(async move {
            let result = unlock_account(&name, &secret, attempt, on_step).await;
            if !attempt.is_current() {
                return;
            }
            step.set(None);
            match result {
                Ok(keys) => {
                    password.set(String::new());
                    if session.unlock(attempt, keys) {
                        navigate(&next_page(), Default::default());
                    }
                }
                Err(UiError::Cancelled) => {}
                Err(UiError::Api(api)) if api.code == ErrorCode::TooManyRequests => {
                    start_countdown(retry_in, api.retry_after_secs.unwrap_or(1));
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    let waiting = move || retry_in.get() > 0;
    // After a reload the session is still signed in and only its keys are locked: the
    // card then unlocks, like the header, and offers no registration.
    let locked = move || session.locked_username().is_some();
    let action = move || card_action(locked());

    view! {
        <section class="card narrow">
            <h1>{action}</h1>
            <Show when=locked>
                <p class="notice">"Enter your password to unlock your keys"</p>
            </Show>
            <form class="stack" on:submit=submit>
                <label for="login-username">"Username"</label>
                <input id="login-username" type="text" autocomplete="username"
                    bind:value=username />
                <label for="login-password">"Password"</label>
                <input id="login-password" type="password" autocomplete="current-password"
                    bind:value=password />
                <button type="submit"
                    disabled=move || step.get().is_some() || waiting()>{action}</button>
                {move || waiting().then(|| view! {
                    <p class="alert" role="alert" data-testid="login-retry-countdown">
                        {format!(
                            "Too many failed attempts; try again in {} s",
                            retry_in.get()
                        )}
                    </p>
                })}
            </form>
            <Status status=step />
            <Alert error />
            <Show when=move || !locked()>
                <p>"No account yet? " <A href="/register">"Register"</A></p>
            </Show>
        </section>
    }
}

/// Returns the title and button label of the card: "Unlock" for a signed-in session whose
/// keys are locked, "Log in" otherwise.
fn card_action(locked: bool) -> &'static str {
    if locked { "Unlock" } else { "Log in" }
}

/// Counts `retry_in` down to zero, one second at a time.
fn start_countdown(retry_in: RwSignal<u64>, seconds: u64) {
    let already_running = retry_in.get_untracked() > 0;
    retry_in.set(seconds.max(1));
    if already_running {
        return;
    }
    spawn_local(async move {
        while retry_in.get_untracked() > 0 {
            sleep(1000).await;
            retry_in.update(|left| *left = left.saturating_sub(1));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_unlocks_a_locked_session_and_logs_in_otherwise() {
        assert_eq!(card_action(true), "Unlock");
        assert_eq!(card_action(false), "Log in");
    }
}
