//! Secret types cannot be copied, printed or serialized by accident, and wipe themselves
//! on drop. The trait checks are compile-time assertions: a `Clone`, `Copy`, `Display` or
//! `Serialize` impl on any of these types, or a missing `ZeroizeOnDrop`, fails the build.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::fmt::Display;

use dtc_crypto::chunked::MessageKeys;
use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey};
use dtc_crypto::hpke::{self, Aes256Gcm, Context, PrivateKey, Psk, SharedSecret};
use dtc_crypto::identity::IdentitySecret;
use dtc_crypto::password::{KdfParams, LoginKey, PasswordKeys, WrappingKey};
use serde::Serialize;
use serde::de::DeserializeOwned;
use static_assertions::{assert_impl_all, assert_not_impl_any};
use zeroize::ZeroizeOnDrop;

macro_rules! secret_types {
    ($($name:ty),+ $(,)?) => {
        $(
            assert_not_impl_any!($name: Clone, Copy, Display, Serialize, DeserializeOwned);
            assert_impl_all!($name: ZeroizeOnDrop);
        )+
    };
}

secret_types!(
    FileKey,
    LoginKey,
    WrappingKey,
    PasswordKeys,
    IdentitySecret,
    PrivateKey,
    SharedSecret,
    Context<Aes256Gcm>,
    Context<hpke::Aes128Gcm>,
    MessageKeys,
    ContentsEncryptor,
    ContentsDecryptor,
);

// Keys that hold a cipher have no `Debug` at all.
assert_not_impl_any!(MessageKeys: std::fmt::Debug);
assert_not_impl_any!(ContentsEncryptor: std::fmt::Debug);
assert_not_impl_any!(ContentsDecryptor: std::fmt::Debug);

// Workers and threads share one encryptor or decryptor per file.
assert_impl_all!(ContentsEncryptor: Send, Sync);
assert_impl_all!(ContentsDecryptor: Send, Sync);

/// Distinct, non-repeating bytes, so a match in the output cannot be a coincidence of
/// a run of equal bytes.
fn key_bytes(seed: u8) -> [u8; 32] {
    core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7 + 1))
}

/// Finds the forms in which bytes could leak into text: lower- and upper-case hex of any 4-byte
/// window, and the decimal list that `Debug` prints for a byte array.
fn leaks(printed: &str, secret: &[u8]) -> Option<String> {
    let lower: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    for start in (0..lower.len().saturating_sub(7)).step_by(2) {
        let window = &lower[start..start + 8];
        if printed.contains(window) || printed.contains(&window.to_uppercase()) {
            return Some(format!("hex {window}"));
        }
    }
    let decimal = format!("{:?}", &secret[..4.min(secret.len())]);
    let decimal = decimal.trim_matches(['[', ']']);
    printed
        .contains(decimal)
        .then(|| format!("decimal {decimal}"))
}

fn assert_masked(what: &str, debug: String, pretty: String, secret: &[u8]) {
    for printed in [debug, pretty] {
        if let Some(found) = leaks(&printed, secret) {
            panic!("{what} Debug output {printed:?} contains the key as {found}");
        }
        assert!(
            printed.contains("redacted") || printed.starts_with("Context"),
            "{printed}"
        );
    }
}

macro_rules! check_debug {
    ($what:expr, $value:expr, $secret:expr) => {
        assert_masked(
            $what,
            format!("{:?}", $value),
            format!("{:#?}", $value),
            $secret,
        )
    };
}

#[test]
fn file_key_debug_hides_bytes() {
    let bytes = key_bytes(1);
    let key = FileKey::from_bytes(&bytes).expect("32 bytes");
    check_debug!("FileKey", key, &bytes);
}

#[test]
fn login_key_debug_hides_bytes() {
    let bytes = key_bytes(2);
    let key = LoginKey::from_bytes(&bytes).expect("32 bytes");
    check_debug!("LoginKey", key, &bytes);
}

#[test]
fn password_keys_debug_hides_bytes() {
    let params = KdfParams {
        memory_kib: 19456,
        iterations: 2,
        parallelism: 1,
    };
    let keys = PasswordKeys::derive("correct horse battery staple", &[3; 16], params)
        .expect("valid inputs");
    let login = *keys.login.expose_secret_bytes();
    let wrapping = *keys.wrapping.expose_secret_bytes();
    check_debug!("PasswordKeys", keys, &login);
    check_debug!("PasswordKeys", keys, &wrapping);
    check_debug!("WrappingKey", keys.wrapping, &wrapping);
}

#[test]
fn identity_secret_debug_hides_bytes() {
    let bytes = key_bytes(4);
    let secret = IdentitySecret::from_bytes(&bytes).expect("valid scalar");
    check_debug!("IdentitySecret", secret, &bytes);
    let generated = IdentitySecret::generate();
    check_debug!(
        "IdentitySecret",
        generated,
        generated.expose_secret_bytes().as_slice()
    );
}

#[test]
fn hpke_secrets_debug_hide_bytes() {
    let recipient_bytes = key_bytes(5);
    let recipient = PrivateKey::from_bytes(&recipient_bytes).expect("valid scalar");
    check_debug!("hpke::PrivateKey", recipient, &recipient_bytes);

    let ephemeral = PrivateKey::from_bytes(&key_bytes(6)).expect("valid scalar");
    let (shared, enc) =
        hpke::encap_with_ephemeral(&ephemeral, &recipient.public_key(), None).expect("encap");
    check_debug!(
        "SharedSecret",
        shared,
        shared.expose_secret_bytes().as_slice()
    );

    let (_, context) = hpke::setup_sender_with_ephemeral::<Aes256Gcm>(
        &ephemeral,
        &recipient.public_key(),
        b"info",
        None,
        None,
    )
    .expect("setup");
    for secret in [
        context.expose_secret_key_bytes(),
        context.expose_secret_exporter_bytes().as_slice(),
        context.expose_secret_schedule_bytes().as_slice(),
        context.base_nonce().as_slice(),
    ] {
        check_debug!("hpke::Context", context, secret);
    }
    assert!(!enc.is_empty());

    let psk_bytes = key_bytes(7);
    let psk = Psk {
        psk: &psk_bytes,
        psk_id: b"id",
    };
    check_debug!("hpke::Psk", psk, &psk_bytes);
}
