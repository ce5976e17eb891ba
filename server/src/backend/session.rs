//! The signed-in account, read from the tower-sessions session of the request.

use dtc_app::api::ApiError;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::internal;
use crate::store::AccountId;

/// Key of the signed-in account in the session data.
pub const ACCOUNT_KEY: &str = "account";

/// The account a session is signed in as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub id: AccountId,
    pub username: String,
    /// Time of the sign-in in ms since the Unix epoch, UTC, from the store's clock.
    /// Sessions stored before this field existed lack it and count as ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_at_ms: Option<i64>,
}

/// The session of the current server-function request.
pub struct CurrentSession(Session);

/// Reads the session from the request parts that leptos_axum provides in the context.
pub async fn current() -> Result<CurrentSession, ApiError> {
    leptos_axum::extract::<Session>()
        .await
        .map(CurrentSession)
        .map_err(|err| internal("read session", &err))
}

impl CurrentSession {
    pub async fn signed_in(&self) -> Result<Option<SignedIn>, ApiError> {
        self.0
            .get::<SignedIn>(ACCOUNT_KEY)
            .await
            .map_err(|err| internal("load session", &err))
    }

    /// The signed-in account, recorded in the request span, or `NotSignedIn`.
    pub async fn require(&self) -> Result<SignedIn, ApiError> {
        require_in(&self.0).await
    }

    /// Signs the session in as `account` under a new session id, so an id known
    /// before the sign-in is worthless after it.
    pub async fn sign_in(&self, account: SignedIn) -> Result<(), ApiError> {
        self.0
            .cycle_id()
            .await
            .map_err(|err| internal("cycle session id", &err))?;
        self.0
            .insert(ACCOUNT_KEY, &account)
            .await
            .map_err(|err| internal("sign in", &err))?;
        record_account(&account);
        Ok(())
    }

    /// Clears the session and deletes its record on the server.
    pub async fn sign_out(&self) -> Result<(), ApiError> {
        self.0
            .flush()
            .await
            .map_err(|err| internal("sign out", &err))
    }
}

/// The signed-in account of a plain route's session, or `NotSignedIn`.
pub async fn require_in(session: &Session) -> Result<SignedIn, ApiError> {
    let stored = session.get::<SignedIn>(ACCOUNT_KEY).await;
    let account = stored
        .map_err(|err| internal("load session", &err))?
        .ok_or_else(ApiError::not_signed_in)?;
    record_account(&account);
    Ok(account)
}

fn record_account(account: &SignedIn) {
    record_account_id(account.id);
}

/// Records the account id in the request span.
pub(crate) fn record_account_id(id: AccountId) {
    crate::request_span::record("account", tracing::field::display(id));
}
