//! The signed-in account as the page keeps it. The identity private key lives
//! only in this page's memory: a reload drops it, and the server session alone
//! then leaves the account locked until the password unlocks it again.

use std::rc::Rc;

use dtc_crypto::identity::{IdentitySecret, PublicKey};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ErrorCode};
use crate::ui::error::UiError;

/// The unlocked keys of the signed-in account.
pub struct Keys {
    pub username: String,
    pub identity: IdentitySecret,
    pub public_key: PublicKey,
    /// The public key's fingerprint in the form people read aloud.
    pub fingerprint: String,
}

impl Keys {
    pub fn new(username: String, identity: IdentitySecret) -> Self {
        let public_key = identity.public_key();
        let fingerprint = public_key.fingerprint().to_string();
        Keys {
            username,
            identity,
            public_key,
            fingerprint,
        }
    }
}

#[derive(Clone)]
pub enum SessionState {
    /// The page has not heard back from `session()` yet.
    Checking,
    SignedOut,
    /// The server session exists but the keys are not in memory (after a reload).
    Locked {
        username: String,
    },
    Unlocked(Rc<Keys>),
}

/// Access of a page that needs the keys. A `Memo` of it changes only when the access does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Checking,
    Unlocked,
    Denied,
}

/// A handle to the session state, provided as context by the app shell.
#[derive(Clone, Copy)]
pub struct Session {
    state: RwSignal<SessionState, LocalStorage>,
    /// Counts sign-outs, so a login or registration begun before one can tell
    /// that it was cancelled.
    generation: RwSignal<u64>,
}

/// A login, unlock or registration in progress, tied to the session generation
/// it began in. A sign-out cancels it.
#[derive(Clone, Copy)]
pub struct Attempt {
    session: Session,
    generation: u64,
}

impl Attempt {
    /// Returns whether no sign-out happened since the attempt began.
    pub fn is_current(&self) -> bool {
        self.session.generation.get_untracked() == self.generation
    }
}

impl Session {
    /// Creates the session state, provides it as context and calls `session()` to
    /// learn whether the server already has a session for this browser.
    pub fn provide() -> Self {
        let session = Session {
            state: RwSignal::new_local(SessionState::Checking),
            generation: RwSignal::new(0),
        };
        provide_context(session);
        spawn_local(async move {
            let state = match api::session().await {
                Ok(Some(username)) => SessionState::Locked { username },
                Ok(None) => SessionState::SignedOut,
                Err(err) => {
                    leptos::logging::warn!("session check failed: {err}");
                    SessionState::SignedOut
                }
            };
            // A login that finished first wins over the slower session check.
            session.state.update(|current| {
                if matches!(current, SessionState::Checking) {
                    *current = state;
                }
            });
        });
        session
    }

    pub fn expect() -> Self {
        expect_context::<Session>()
    }

    pub fn state(&self) -> SessionState {
        self.state.get()
    }

    pub fn access(&self) -> Access {
        self.state.with(|state| match state {
            SessionState::Checking => Access::Checking,
            SessionState::Unlocked(_) => Access::Unlocked,
            SessionState::SignedOut | SessionState::Locked { .. } => Access::Denied,
        })
    }

    /// Returns whether the server has a session for this browser, locked or not.
    pub fn has_server_session(&self) -> bool {
        self.state.with(|state| {
            matches!(
                state,
                SessionState::Locked { .. } | SessionState::Unlocked(_)
            )
        })
    }

    /// Returns the username of a locked session and subscribes to changes.
    pub fn locked_username(&self) -> Option<String> {
        self.state.with(|state| match state {
            SessionState::Locked { username } => Some(username.clone()),
            _ => None,
        })
    }

    /// Returns the unlocked keys and subscribes to changes of the session.
    pub fn keys_tracked(&self) -> Option<Rc<Keys>> {
        self.state.with(|state| match state {
            SessionState::Unlocked(keys) => Some(Rc::clone(keys)),
            _ => None,
        })
    }

    /// Returns the unlocked keys without subscribing, for event handlers and tasks.
    pub fn keys(&self) -> Option<Rc<Keys>> {
        self.state.with_untracked(|state| match state {
            SessionState::Unlocked(keys) => Some(Rc::clone(keys)),
            _ => None,
        })
    }

    /// Starts a login, unlock or registration that the next sign-out cancels.
    pub fn begin_attempt(&self) -> Attempt {
        Attempt {
            session: *self,
            generation: self.generation.get_untracked(),
        }
    }

    /// Returns the number of sign-outs so far and subscribes to changes.
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// Puts the keys in memory unless a sign-out cancelled `attempt`, and
    /// returns whether it did.
    pub fn unlock(&self, attempt: Attempt, keys: Keys) -> bool {
        if !attempt.is_current() {
            return false;
        }
        self.state.set(SessionState::Unlocked(Rc::new(keys)));
        true
    }

    /// Drops the keys and cancels every pending login, unlock and registration.
    pub fn sign_out(&self) {
        self.generation.update(|generation| *generation += 1);
        self.state.set(SessionState::SignedOut);
    }

    /// Signs out when `err` shows that the server no longer has this browser's
    /// session, because it timed out or was ended from another device, and returns
    /// whether it did.
    pub fn sign_out_if_ended(&self, err: &UiError) -> bool {
        let ended = matches!(err, UiError::Api(api) if api.code == ErrorCode::NotSignedIn);
        if ended {
            self.sign_out();
        }
        ended
    }
}
