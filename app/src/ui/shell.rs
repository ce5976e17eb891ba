//! The app shell: the header with navigation and the signed-in account, and the
//! routes of every page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Redirect, Route, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::path;

use super::components::Alert;
use super::error::UiError;
use super::pages::{InboxPage, LinkPage, LoginPage, RegisterPage, SendPage, SentPage};
use super::session::{Access, Session, SessionState};
use crate::api::{logout, logout_everywhere};

#[component]
pub fn App() -> impl IntoView {
    Session::provide();
    view! {
        <Router>
            <Header />
            <main class="page">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/register") view=RegisterPage />
                    <Route path=path!("/send") view=|| view! { <RequireKeys><SendPage /></RequireKeys> } />
                    <Route path=path!("/inbox") view=|| view! { <RequireKeys><InboxPage /></RequireKeys> } />
                    <Route path=path!("/sent") view=|| view! { <RequireKeys><SentPage /></RequireKeys> } />
                    <Route path=path!("/s/:link_id") view=LinkPage />
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = Session::expect();
    let error = RwSignal::new(None::<String>);
    // Event handlers run inside the header's owner, where the router context exists.
    let log_out = move |_| {
        let navigate = use_navigate();
        end_session(session, error);
        navigate("/login", Default::default());
    };
    let log_out_everywhere = move |_| {
        let navigate = use_navigate();
        end_every_session(session, error);
        navigate("/login", Default::default());
    };

    view! {
        <header class="site-header">
            <a class="brand" href="/">"data-transfer-cloud"</a>
            <nav class="site-nav" aria-label="Main">
                {move || match session.state() {
                    SessionState::Unlocked(_) => view! {
                        <A href="/send">"Send"</A>
                        <A href="/inbox">"Inbox"</A>
                        <A href="/sent">"Sent"</A>
                    }
                    .into_any(),
                    SessionState::Locked { .. } => view! { <A href="/login">"Unlock"</A> }.into_any(),
                    SessionState::Checking | SessionState::SignedOut => view! {
                        <A href="/login">"Log in"</A>
                        <A href="/register">"Register"</A>
                    }
                    .into_any(),
                }}
            </nav>
            <div class="header-end">
                {move || session.keys_tracked().map(|keys| view! {
                    <div class="account">
                        <span class="account-name" data-testid="current-user">{keys.username.clone()}</span>
                        <span class="fingerprint-label">"Fingerprint"</span>
                        <code class="fingerprint" data-testid="own-fingerprint">{keys.fingerprint.clone()}</code>
                    </div>
                })}
                <Show when=move || session.has_server_session()>
                    <button type="button" class="secondary" on:click=log_out>"Log out"</button>
                    <button
                        type="button"
                        class="secondary"
                        title="Ends your sessions on every device, this one included"
                        on:click=log_out_everywhere
                    >
                        "Log out everywhere"
                    </button>
                </Show>
            </div>
        </header>
        <Alert error />
    }
}

/// Drops the keys from memory at once, then ends the server session.
fn end_session(session: Session, error: RwSignal<Option<String>>) {
    session.sign_out();
    error.set(None);
    spawn_local(async move {
        if let Err(err) = logout().await {
            error.set(Some(format!(
                "logging out on the server failed: {}",
                UiError::from(err)
            )));
        }
    });
}

/// Drops the keys from memory at once, then ends every session of the account on the
/// server, on every device.
fn end_every_session(session: Session, error: RwSignal<Option<String>>) {
    session.sign_out();
    error.set(None);
    spawn_local(async move {
        if let Err(err) = logout_everywhere().await {
            error.set(Some(format!(
                "logging out everywhere failed: {}",
                UiError::from(err)
            )));
        }
    });
}

/// Renders its children only while the account's keys are unlocked, and sends
/// everyone else to the login page.
#[component]
fn RequireKeys(children: ChildrenFn) -> impl IntoView {
    let session = Session::expect();
    let access = Memo::new(move |_| session.access());
    // The login page returns here once the keys are unlocked.
    let login = format!("/login?next={}", use_location().pathname.get_untracked());
    move || match access.get() {
        Access::Checking => view! { <p class="muted">"Checking the session…"</p> }.into_any(),
        Access::Unlocked => children().into_any(),
        Access::Denied => view! { <Redirect path=login.clone() /> }.into_any(),
    }
}

#[component]
fn Home() -> impl IntoView {
    let session = Session::expect();
    let access = Memo::new(move |_| session.access());
    move || match access.get() {
        Access::Checking => view! { <p class="muted">"Checking the session…"</p> }.into_any(),
        Access::Unlocked => view! { <Redirect path="/inbox" /> }.into_any(),
        Access::Denied => view! { <Redirect path="/login" /> }.into_any(),
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p>"This address is not a page of data-transfer-cloud. " <A href="/">"Go to the start page"</A></p>
        </section>
    }
}
