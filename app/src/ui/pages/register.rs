//! The registration page: a new account whose keys are made in this browser.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::ui::account::{Registration, register_account};
use crate::ui::components::{Alert, Status};
use crate::ui::error::UiError;
use crate::ui::session::Session;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let session = Session::expect();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm_password = RwSignal::new(String::new());
    let step = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    // A sign-out cancels a pending attempt, so the form is ready for the next one.
    Effect::new(move |_| {
        session.generation();
        step.set(None);
    });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        if step.get_untracked().is_some() {
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
        let form = Registration {
            username: username.get_untracked(),
            password: password.get_untracked(),
            confirm_password: confirm_password.get_untracked(),
        };
        spawn_local(async move {
            let result = register_account(form, attempt, on_step).await;
            if !attempt.is_current() {
                return;
            }
            step.set(None);
            match result {
                Ok(keys) => {
                    password.set(String::new());
                    confirm_password.set(String::new());
                    if session.unlock(attempt, keys) {
                        navigate("/send", Default::default());
                    }
                }
                Err(UiError::Cancelled) => {}
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <p class="muted">
                "Your browser makes your key pair and encrypts the private key with your password. "
                "The server never sees the password, so nobody can reset it."
            </p>
            <form class="stack" on:submit=submit>
                <label for="register-username">"Username"</label>
                <input id="register-username" type="text" autocomplete="username"
                    bind:value=username />
                <label for="register-password">"Password"</label>
                <input id="register-password" type="password" autocomplete="new-password"
                    bind:value=password />
                <label for="register-confirm">"Confirm password"</label>
                <input id="register-confirm" type="password" autocomplete="new-password"
                    bind:value=confirm_password />
                <button type="submit" disabled=move || step.get().is_some()>"Create account"</button>
            </form>
            <Status status=step />
            <Alert error />
            <p>"Already registered? " <A href="/login">"Log in"</A></p>
        </section>
    }
}
