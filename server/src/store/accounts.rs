//! Accounts, by normalized username and by id.

use dtc_crypto::password::{self, SALT_LEN};
use redb::{ReadableDatabase, ReadableTable};

use super::ids::AccountId;
use super::records::{self, AccountRecord, KdfParams};
use super::tables::{ACCOUNT_NAMES, ACCOUNTS, IdBytes};
use super::{Store, StoreError, now_ms};

/// The fields of an account that registration supplies.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// Normalized username.
    pub username: String,
    pub salt: Vec<u8>,
    pub kdf: KdfParams,
    pub login_key_hash: Vec<u8>,
    pub public_key: Vec<u8>,
    pub wrapped_identity: Vec<u8>,
}

impl Store {
    /// Stores a new account with a fresh id, unless its username is taken.
    pub async fn create_account(&self, account: NewAccount) -> Result<AccountRecord, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let record = {
                let mut accounts = txn.open_table(ACCOUNTS)?;
                let mut names = txn.open_table(ACCOUNT_NAMES)?;
                if accounts.get(account.username.as_str())?.is_some() {
                    return Err(StoreError::UsernameTaken(account.username));
                }
                let id = unused_account_id(&names)?;
                let record = AccountRecord {
                    id,
                    username: account.username,
                    salt: account.salt,
                    kdf: account.kdf,
                    login_key_hash: account.login_key_hash,
                    public_key: account.public_key,
                    wrapped_identity: account.wrapped_identity,
                    created_at_ms: now_ms(),
                };
                let encoded = records::encode(&record)?;
                accounts.insert(record.username.as_str(), encoded.as_slice())?;
                names.insert(id.0, record.username.as_str())?;
                record
            };
            txn.commit()?;
            Ok(record)
        })
        .await
    }

    /// Looks an account up by its normalized username.
    pub async fn find_account(
        &self,
        username: String,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let accounts = txn.open_table(ACCOUNTS)?;
            read_account(&accounts, &username)
        })
        .await
    }

    /// Looks an account up by its id.
    pub async fn find_account_by_id(
        &self,
        id: AccountId,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_read()?;
            let accounts = txn.open_table(ACCOUNTS)?;
            let names = txn.open_table(ACCOUNT_NAMES)?;
            read_account_by_id(&accounts, &names, id)
        })
        .await
    }

    /// Derives the salt shown for a username without an account from the server
    /// secret (HMAC-SHA256, see [`password::decoy_salt`]). The same name gets the same
    /// salt on every call and after a restart, like a real account.
    pub fn decoy_salt(&self, username: &str) -> [u8; SALT_LEN] {
        password::decoy_salt(&self.inner.server_secret, username)
    }
}

fn unused_account_id(
    names: &impl ReadableTable<IdBytes, &'static str>,
) -> Result<AccountId, StoreError> {
    loop {
        let id = AccountId::random()?;
        if names.get(id.0)?.is_none() {
            return Ok(id);
        }
    }
}

pub(super) fn read_account(
    accounts: &impl ReadableTable<&'static str, &'static [u8]>,
    username: &str,
) -> Result<Option<AccountRecord>, StoreError> {
    match accounts.get(username)? {
        Some(value) => Ok(Some(records::decode("accounts", value.value())?)),
        None => Ok(None),
    }
}

pub(super) fn read_account_by_id(
    accounts: &impl ReadableTable<&'static str, &'static [u8]>,
    names: &impl ReadableTable<IdBytes, &'static str>,
    id: AccountId,
) -> Result<Option<AccountRecord>, StoreError> {
    let Some(name) = names.get(id.0)? else {
        return Ok(None);
    };
    read_account(accounts, name.value())
}
