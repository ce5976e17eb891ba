//! Login throttling: failed sign-in attempts counted in three scopes, each with its own
//! schedule of waits.
//!
//! - [`PAIR_LIMIT`]: one username from one client address.
//! - [`ADDRESS_LIMIT`]: one client address, across every username.
//! - [`ACCOUNT_LIMIT`]: one username, across every address. An address that signed in
//!   to the account before (a "known address") is exempt from it, so a stranger's
//!   failures elsewhere never delay the owner at home.
//!
//! Every sign-in and registration also gives the browser a device cookie: 32 random
//! bytes bound to the account for [`DEVICE_LIFETIME`]. An attempt that carries a valid
//! device cookie of the account it names is counted in one scope only, that device
//! with the [`PAIR_LIMIT`] schedule, from any address; so a known browser is never
//! delayed by others' failures either. A device cookie of another account, an expired
//! or an unknown one counts as none. Only a new browser at a new address can be held
//! back by a stranger, for as long as the stranger keeps guessing.
//!
//! Every attempt is counted as a failure when it begins, in the write transaction that
//! checks the waits, so parallel guesses cannot slip past the count; a success then
//! resets its pair and takes its own count back from the other two scopes. A rejected
//! attempt is not counted. Unknown usernames are counted exactly like known ones, so
//! neither timing nor status reveals whether an account exists.
//!
//! The tables store no username, no address and no device cookie: each key is
//! HMAC-SHA256 under the server secret. IPv6 clients are counted by their /64 prefix, because one host
//! usually has the whole prefix to itself. Counts are forgotten [`FAILURE_MEMORY`] after
//! their last attempt, known addresses [`KNOWN_ADDRESS_LIFETIME`] after their last
//! sign-in, and device cookies when they expire; the sweep deletes all three.

use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use redb::{ReadableTable, Table};
use sha2::Sha256;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ids::AccountId;
use super::tables::{ACCOUNTS, DEVICES, KNOWN_SIGN_INS, LOGIN_FAILURES, ThrottleKey};
use super::{Store, StoreError};

/// The wait schedule of one scope: no wait while fewer than `free_attempts` failures
/// are counted, then `2^(failures - free_attempts)` seconds after the last attempt, at
/// most `max_delay_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleLimit {
    pub free_attempts: u32,
    pub max_delay_secs: u64,
}

impl ThrottleLimit {
    /// Returns the wait in seconds after `failures` counted failures.
    pub fn delay_secs(self, failures: u32) -> u64 {
        if failures < self.free_attempts {
            return 0;
        }
        1u64.checked_shl(failures - self.free_attempts)
            .unwrap_or(u64::MAX)
            .min(self.max_delay_secs)
    }
}

/// One username from one address: 5 free attempts, then 1 s, 2 s, 4 s … up to 300 s.
pub const PAIR_LIMIT: ThrottleLimit = ThrottleLimit {
    free_attempts: 5,
    max_delay_secs: 300,
};

/// One address across usernames: 20 free attempts, then 1 s, 2 s … up to 300 s.
pub const ADDRESS_LIMIT: ThrottleLimit = ThrottleLimit {
    free_attempts: 20,
    max_delay_secs: 300,
};

/// One username across addresses that never signed in to it: 20 free attempts, then
/// 1 s, 2 s … up to 60 s. The low cap bounds what strangers can make the owner wait.
pub const ACCOUNT_LIMIT: ThrottleLimit = ThrottleLimit {
    free_attempts: 20,
    max_delay_secs: 60,
};

/// A count is forgotten this long after its last attempt.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// A known address stops being exempt from [`ACCOUNT_LIMIT`] this long after its last
/// sign-in to the account.
pub const KNOWN_ADDRESS_LIFETIME: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// A device cookie is valid this long after the sign-in that issued it.
pub const DEVICE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Length of a device cookie's random value in bytes.
const DEVICE_TOKEN_LEN: usize = 32;

/// The value of a device cookie: 32 random bytes, in the cookie as unpadded base64url.
/// The store keeps only a keyed hash of it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken([u8; DEVICE_TOKEN_LEN]);

impl DeviceToken {
    fn random() -> Result<DeviceToken, StoreError> {
        let mut bytes = [0u8; DEVICE_TOKEN_LEN];
        getrandom::fill(&mut bytes).map_err(|err| StoreError::Random(err.to_string()))?;
        Ok(DeviceToken(bytes))
    }

    /// Parses a cookie value; anything but 32 bytes in unpadded base64url is `None`.
    pub fn from_cookie(value: &str) -> Option<DeviceToken> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        Some(DeviceToken(bytes.try_into().ok()?))
    }

    /// Returns the cookie value.
    pub fn to_cookie(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceToken(..)")
    }
}

/// Domain-separation label of the throttle keys.
const KEY_LABEL: &[u8] = b"data-transfer-cloud login throttle v1";

/// The kind of one throttle key; each is one byte in the hashed input.
#[derive(Clone, Copy)]
enum KeyKind {
    Pair = 1,
    Address = 2,
    Account = 3,
    Known = 4,
    /// The key of a device cookie in [`DEVICES`].
    Device = 5,
    /// The failure count of the attempts with one device cookie.
    DeviceFailures = 6,
}

/// A counted login attempt, to be passed to [`Store::end_login_attempt`] when the key
/// matched. It contains keyed hashes only.
#[derive(Debug)]
pub struct LoginAttempt {
    pair: ThrottleKey,
    address: ThrottleKey,
    /// Absent when the address is known for this username.
    account: Option<ThrottleKey>,
    known: ThrottleKey,
    /// The device cookie's key in [`DEVICES`] and its failure count, when the attempt
    /// carries a valid device cookie of the account.
    device: Option<(ThrottleKey, ThrottleKey)>,
}

impl Store {
    /// Counts a login attempt of `username` (normalized) from `client` with the device
    /// cookie `device`, if any, or rejects it with [`StoreError::LoginThrottled`] while
    /// a wait of any scope lasts. Call it before the login key is compared, and compare
    /// nothing when it fails.
    pub async fn begin_login_attempt(
        &self,
        username: &str,
        client: IpAddr,
        device: Option<&DeviceToken>,
    ) -> Result<LoginAttempt, StoreError> {
        let keys = self.attempt_keys(username, client);
        let device = device.map(|token| {
            (
                self.device_key(KeyKind::Device, token),
                self.device_key(KeyKind::DeviceFailures, token),
            )
        });
        let username = username.to_owned();
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let attempt = {
                let device = match device {
                    Some(keys) if is_device_of(&txn, &keys.0, &username, now)? => Some(keys),
                    _ => None,
                };
                let known = is_known(&txn.open_table(KNOWN_SIGN_INS)?, &keys.known, now)?;
                let attempt = LoginAttempt {
                    account: keys.account.filter(|_| !known),
                    device,
                    ..keys
                };
                let mut failures = txn.open_table(LOGIN_FAILURES)?;
                let scopes = attempt.scopes();
                let mut wait_ms = 0;
                for (key, limit) in &scopes {
                    wait_ms = wait_ms.max(remaining_wait_ms(&failures, key, *limit, now)?);
                }
                if wait_ms > 0 {
                    let retry_after_secs = (wait_ms as u64).div_ceil(1000);
                    return Err(StoreError::LoginThrottled { retry_after_secs });
                }
                for (key, _) in &scopes {
                    let count = current_count(&failures, key, now)?;
                    failures.insert(key, (count.saturating_add(1), now))?;
                }
                attempt
            };
            txn.commit()?;
            Ok(attempt)
        })
        .await
    }

    /// Records that the attempt's login key matched `account`: resets the count of its
    /// device or pair, takes its own count back from the address and account scopes,
    /// marks the address as known for the username, and returns a new device cookie
    /// for the account, which replaces the one the attempt carried.
    pub async fn end_login_attempt(
        &self,
        attempt: LoginAttempt,
        account: AccountId,
    ) -> Result<DeviceToken, StoreError> {
        let token = DeviceToken::random()?;
        let new_device = self.device_key(KeyKind::Device, &token);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            {
                let mut failures = txn.open_table(LOGIN_FAILURES)?;
                let mut devices = txn.open_table(DEVICES)?;
                if let Some((device, device_failures)) = &attempt.device {
                    failures.remove(device_failures)?;
                    devices.remove(device)?;
                } else {
                    failures.remove(&attempt.pair)?;
                    take_back(&mut failures, &attempt.address)?;
                    if let Some(account) = &attempt.account {
                        take_back(&mut failures, account)?;
                    }
                }
                let expires = now.saturating_add(duration_ms(DEVICE_LIFETIME));
                devices.insert(&new_device, (account.0, expires))?;
                txn.open_table(KNOWN_SIGN_INS)?
                    .insert(&attempt.known, now)?;
            }
            txn.commit()?;
            Ok(token)
        })
        .await
    }

    /// Marks `client` as a known address of `username`, as after a sign-in, and returns
    /// a new device cookie for `account`; used at registration.
    pub async fn record_first_sign_in(
        &self,
        username: &str,
        client: IpAddr,
        account: AccountId,
    ) -> Result<DeviceToken, StoreError> {
        let known = self.throttle_key(KeyKind::Known, Some(username), Some(client));
        let token = DeviceToken::random()?;
        let device = self.device_key(KeyKind::Device, &token);
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            txn.open_table(KNOWN_SIGN_INS)?.insert(&known, now)?;
            let expires = now.saturating_add(duration_ms(DEVICE_LIFETIME));
            txn.open_table(DEVICES)?
                .insert(&device, (account.0, expires))?;
            txn.commit()?;
            Ok(token)
        })
        .await
    }

    /// Deletes forgotten counts, expired known addresses and expired device cookies, and
    /// returns how many rows were deleted.
    pub async fn sweep_login_throttle(&self) -> Result<u64, StoreError> {
        self.run(move |inner| {
            let txn = inner.db.begin_write()?;
            let now = inner.clock.now_ms();
            let mut deleted = 0;
            txn.open_table(LOGIN_FAILURES)?.retain(|_, (_, last_ms)| {
                let keep = !is_forgotten(last_ms, now);
                deleted += u64::from(!keep);
                keep
            })?;
            let lifetime_ms = duration_ms(KNOWN_ADDRESS_LIFETIME);
            txn.open_table(KNOWN_SIGN_INS)?.retain(|_, last_ms| {
                let keep = last_ms.saturating_add(lifetime_ms) > now;
                deleted += u64::from(!keep);
                keep
            })?;
            txn.open_table(DEVICES)?.retain(|_, (_, expires)| {
                let keep = expires > now;
                deleted += u64::from(!keep);
                keep
            })?;
            txn.commit()?;
            Ok(deleted)
        })
        .await
    }

    fn attempt_keys(&self, username: &str, client: IpAddr) -> LoginAttempt {
        LoginAttempt {
            pair: self.throttle_key(KeyKind::Pair, Some(username), Some(client)),
            address: self.throttle_key(KeyKind::Address, None, Some(client)),
            account: Some(self.throttle_key(KeyKind::Account, Some(username), None)),
            known: self.throttle_key(KeyKind::Known, Some(username), Some(client)),
            device: None,
        }
    }

    /// Returns HMAC-SHA256(server secret, label || 0x00 || kind || token).
    fn device_key(&self, kind: KeyKind, token: &DeviceToken) -> ThrottleKey {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.inner.server_secret)
            .expect("HMAC accepts keys of any length");
        mac.update(KEY_LABEL);
        mac.update(&[0x00, kind as u8]);
        mac.update(&token.0);
        mac.finalize().into_bytes().into()
    }

    /// Returns HMAC-SHA256(server secret, label || 0x00 || kind || name || address),
    /// where the name is length-prefixed and the address is tagged by its family.
    fn throttle_key(
        &self,
        kind: KeyKind,
        username: Option<&str>,
        client: Option<IpAddr>,
    ) -> ThrottleKey {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.inner.server_secret)
            .expect("HMAC accepts keys of any length");
        mac.update(KEY_LABEL);
        mac.update(&[0x00, kind as u8]);
        if let Some(name) = username {
            let len = u8::try_from(name.len()).unwrap_or(u8::MAX);
            mac.update(&[len]);
            mac.update(name.as_bytes());
        }
        match client {
            Some(IpAddr::V4(v4)) => {
                mac.update(&[4]);
                mac.update(&v4.octets());
            }
            Some(IpAddr::V6(v6)) => {
                mac.update(&[6]);
                mac.update(&v6.octets()[..8]);
            }
            None => {}
        }
        mac.finalize().into_bytes().into()
    }
}

impl LoginAttempt {
    /// Returns the keys of the counts this attempt is checked against, with their
    /// schedules.
    fn scopes(&self) -> Vec<(ThrottleKey, ThrottleLimit)> {
        if let Some((_, device_failures)) = self.device {
            return vec![(device_failures, PAIR_LIMIT)];
        }
        let mut scopes = vec![(self.pair, PAIR_LIMIT), (self.address, ADDRESS_LIMIT)];
        if let Some(account) = self.account {
            scopes.push((account, ACCOUNT_LIMIT));
        }
        scopes
    }
}

type FailureTable<'txn> = Table<'txn, ThrottleKey, (u32, i64)>;

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn is_forgotten(last_ms: i64, now: i64) -> bool {
    last_ms.saturating_add(duration_ms(FAILURE_MEMORY)) <= now
}

/// Returns the count of `key`, zero once it is forgotten.
fn current_count(
    failures: &FailureTable<'_>,
    key: &ThrottleKey,
    now: i64,
) -> Result<u32, StoreError> {
    let Some(value) = failures.get(key)? else {
        return Ok(0);
    };
    let (count, last_ms) = value.value();
    Ok(if is_forgotten(last_ms, now) { 0 } else { count })
}

/// Returns the milliseconds left before the scope of `key` allows the next attempt.
fn remaining_wait_ms(
    failures: &FailureTable<'_>,
    key: &ThrottleKey,
    limit: ThrottleLimit,
    now: i64,
) -> Result<i64, StoreError> {
    let Some(value) = failures.get(key)? else {
        return Ok(0);
    };
    let (count, last_ms) = value.value();
    if is_forgotten(last_ms, now) {
        return Ok(0);
    }
    let delay_ms = i64::try_from(limit.delay_secs(count).saturating_mul(1000)).unwrap_or(i64::MAX);
    Ok(last_ms.saturating_add(delay_ms).saturating_sub(now).max(0))
}

/// Takes one counted failure back from `key`, as the attempt it counted succeeded.
fn take_back(failures: &mut FailureTable<'_>, key: &ThrottleKey) -> Result<(), StoreError> {
    let current = failures.get(key)?.map(|value| value.value());
    match current {
        Some((count, _)) if count <= 1 => {
            failures.remove(key)?;
        }
        Some((count, last_ms)) => {
            failures.insert(key, (count - 1, last_ms))?;
        }
        None => {}
    }
    Ok(())
}

/// Returns whether `device` is the key of an unexpired device cookie of the account
/// now named `username`.
fn is_device_of(
    txn: &redb::WriteTransaction,
    device: &ThrottleKey,
    username: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some((account, expires)) = txn.open_table(DEVICES)?.get(device)?.map(|v| v.value()) else {
        return Ok(false);
    };
    if expires <= now {
        return Ok(false);
    }
    let accounts = txn.open_table(ACCOUNTS)?;
    let found = super::accounts::read_account(&accounts, username)?;
    Ok(found.is_some_and(|record| record.id.0 == account))
}

fn is_known(
    known: &Table<'_, ThrottleKey, i64>,
    key: &ThrottleKey,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(value) = known.get(key)? else {
        return Ok(false);
    };
    Ok(value
        .value()
        .saturating_add(duration_ms(KNOWN_ADDRESS_LIFETIME))
        > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Clock;

    #[test]
    fn pair_schedule_doubles_to_cap() {
        let delays: Vec<u64> = (0..=15).map(|n| PAIR_LIMIT.delay_secs(n)).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
        );
        assert_eq!(PAIR_LIMIT.delay_secs(u32::MAX), 300);
    }

    #[test]
    fn account_schedule_caps_at_minute() {
        assert_eq!(ACCOUNT_LIMIT.delay_secs(19), 0);
        assert_eq!(ACCOUNT_LIMIT.delay_secs(20), 1);
        assert_eq!(ACCOUNT_LIMIT.delay_secs(25), 32);
        assert_eq!(ACCOUNT_LIMIT.delay_secs(26), 60);
        assert_eq!(ACCOUNT_LIMIT.delay_secs(u32::MAX), 60);
    }

    #[test]
    fn device_cookie_round_trips_and_rejects_other_lengths() {
        let token = DeviceToken::random().unwrap();
        let cookie = token.to_cookie();
        assert_eq!(cookie.len(), 43);
        assert_eq!(DeviceToken::from_cookie(&cookie), Some(token));
        assert_eq!(DeviceToken::from_cookie(&cookie[..42]), None);
        assert_eq!(DeviceToken::from_cookie("not base64!"), None);
        assert_eq!(DeviceToken::from_cookie(""), None);
    }

    #[tokio::test]
    async fn ipv6_prefix_shares_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with_clock(dir.path().join("db.redb"), Clock::manual(1_000))
            .await
            .unwrap();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other_host: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_prefix: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            store.attempt_keys("alice", one).pair,
            store.attempt_keys("alice", other_host).pair
        );
        assert_ne!(
            store.attempt_keys("alice", one).pair,
            store.attempt_keys("alice", other_prefix).pair
        );
    }

    #[tokio::test]
    async fn sweep_deletes_forgotten_counts() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(1_000_000);
        let store = Store::open_with_clock(dir.path().join("db.redb"), clock.clone())
            .await
            .unwrap();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        store
            .begin_login_attempt("alice", client, None)
            .await
            .unwrap();
        let account = AccountId([7; 16]);
        store
            .record_first_sign_in("alice", client, account)
            .await
            .unwrap();
        assert_eq!(store.sweep_login_throttle().await.unwrap(), 0);

        clock.advance(FAILURE_MEMORY);
        assert_eq!(store.sweep_login_throttle().await.unwrap(), 3);
        clock.advance(KNOWN_ADDRESS_LIFETIME);
        assert_eq!(store.sweep_login_throttle().await.unwrap(), 1);
        clock.advance(DEVICE_LIFETIME);
        assert_eq!(store.sweep_login_throttle().await.unwrap(), 1);
    }
}
