//! Properties of share-link keys. Random link secrets, ids, file keys and passwords round
//! trip through the wrapped file key and the owner's sealed secret. Changing any one input
//! (one bit of the secret, link id or salt, one more password character, adding or dropping
//! the password) changes the access key and makes the wrapped key fail to open. The gate
//! key changes with the secret and the link id and stays the same when only the password
//! changes, and it never matches the access verifier.
//!
//! Natively, proptest draws the cases. The WebAssembly build has no proptest, so a seeded
//! SplitMix64 draws fewer cases there. Both call the same property functions. Argon2id
//! runs at the lowest accepted cost, so password cases take about 0.1 s each natively.

use dtc_crypto::CryptoError;
use dtc_crypto::exchange::FILE_ID_LEN;
use dtc_crypto::file::FileKey;
use dtc_crypto::link::{
    self, LINK_ID_LEN, LINK_SECRET_LEN, LinkKeys, LinkPassword, LinkSecret, SEALED_LEN,
};
use dtc_crypto::password::{KdfParams, SALT_LEN};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

/// The lowest accepted Argon2id cost.
const FLOOR: KdfParams = KdfParams {
    memory_kib: 19456,
    iterations: 2,
    parallelism: 1,
};

/// How many cases each property runs on this target.
struct Cases {
    without_password: u32,
    with_password: u32,
}

#[cfg(not(target_arch = "wasm32"))]
const CASES: Cases = Cases {
    without_password: 64,
    with_password: 4,
};

#[cfg(target_arch = "wasm32")]
const CASES: Cases = Cases {
    without_password: 16,
    with_password: 1,
};

/// One random share link: what the browser picks when it makes the link.
#[derive(Clone, Debug)]
struct Link {
    secret: [u8; LINK_SECRET_LEN],
    link_id: [u8; LINK_ID_LEN],
    file_id: [u8; FILE_ID_LEN],
    file_key: [u8; 32],
    /// The password and its salt, when the link has one.
    password: Option<(String, [u8; SALT_LEN])>,
}

impl Link {
    fn keys(&self) -> LinkKeys {
        let secret = LinkSecret::from_bytes(&self.secret).expect("32 bytes");
        let password = self.password.as_ref().map(|(password, salt)| LinkPassword {
            password,
            salt,
            params: FLOOR,
        });
        LinkKeys::derive(&secret, &self.link_id, password).expect("valid link inputs")
    }

    fn file_key(&self) -> FileKey {
        FileKey::from_bytes(&self.file_key).expect("32 bytes")
    }

    /// Returns the same link with one input changed, named for the failure message.
    fn variants(&self) -> Vec<(&'static str, Link)> {
        let mut out = Vec::new();
        let mut secret = self.clone();
        secret.secret[self.file_key[0] as usize % LINK_SECRET_LEN] ^= 0x01;
        out.push(("one link secret bit", secret));
        let mut link_id = self.clone();
        link_id.link_id[self.file_key[1] as usize % LINK_ID_LEN] ^= 0x80;
        out.push(("one link id bit", link_id));
        match &self.password {
            Some((password, salt)) => {
                let mut longer = self.clone();
                longer.password = Some((format!("{password}x"), *salt));
                out.push(("one more password character", longer));
                let mut other_salt = self.clone();
                let mut salt = *salt;
                salt[0] ^= 0x01;
                other_salt.password = Some((password.clone(), salt));
                out.push(("one salt bit", other_salt));
                let mut dropped = self.clone();
                dropped.password = None;
                out.push(("no password", dropped));
            }
            None => {
                let mut added = self.clone();
                added.password = Some((String::new(), [0; SALT_LEN]));
                out.push(("an empty password", added));
            }
        }
        out
    }
}

/// Wraps and seals with random nonces, then opens both with freshly derived keys.
fn round_trip_holds(link: &Link) {
    let keys = link.keys();
    let wrapped = link::wrap_file_key(&keys, &link.link_id, &link.file_id, &link.file_key());
    assert_eq!(wrapped.len(), SEALED_LEN);
    let again = link.keys();
    assert_eq!(
        again.access.expose_secret_bytes(),
        keys.access.expose_secret_bytes(),
        "{link:?}: derivation is deterministic"
    );
    assert!(again.access.matches_verifier(&keys.access.verifier()));
    assert!(again.gate.matches_verifier(&keys.gate.verifier()));
    assert!(
        !keys.gate.matches_verifier(&keys.access.verifier()),
        "{link:?}: the gate key matches the access verifier"
    );
    assert!(
        !keys.access.matches_verifier(&keys.gate.verifier()),
        "{link:?}: the access key matches the gate verifier"
    );
    let opened = link::unwrap_file_key(&again, &link.link_id, &link.file_id, &wrapped)
        .expect("the wrapped key opens");
    assert_eq!(opened.expose_secret_bytes(), &link.file_key);

    let secret = LinkSecret::from_bytes(&link.secret).expect("32 bytes");
    let sealed = link::seal_link_secret(&link.file_key(), &link.link_id, &secret);
    assert_eq!(sealed.len(), SEALED_LEN);
    let recovered = link::open_link_secret(&link.file_key(), &link.link_id, &sealed)
        .expect("the sealed secret opens");
    assert_eq!(recovered.expose_secret_bytes(), &link.secret);
}

/// Checks that every changed input gives another access key and that the original wrapped
/// key does not open under the changed link or for another file id. The gate key changes
/// exactly when the link secret or the link id changes.
fn changed_input_changes_keys(link: &Link) {
    let keys = link.keys();
    let verifier = keys.access.verifier();
    let gate_verifier = keys.gate.verifier();
    let wrapped = link::wrap_file_key(&keys, &link.link_id, &link.file_id, &link.file_key());
    let unsealed = CryptoError::LinkUnsealFailed {
        what: "wrapped link file key",
    };
    for (change, variant) in link.variants() {
        let other = variant.keys();
        assert_ne!(
            other.access.expose_secret_bytes(),
            keys.access.expose_secret_bytes(),
            "{change}: same access key"
        );
        assert!(
            !other.access.matches_verifier(&verifier),
            "{change}: verifier matches"
        );
        let same_secret = variant.secret == link.secret && variant.link_id == link.link_id;
        assert_eq!(
            other.gate.matches_verifier(&gate_verifier),
            same_secret,
            "{change}: the gate verifier matches only for the same secret and link id"
        );
        if same_secret {
            assert_eq!(
                other.gate.expose_secret_bytes(),
                keys.gate.expose_secret_bytes(),
                "{change}: the gate key depends on the password"
            );
        }
        let result = link::unwrap_file_key(&other, &variant.link_id, &variant.file_id, &wrapped);
        assert_eq!(result.err(), Some(unsealed.clone()), "{change}");
    }
    let mut other_file = link.file_id;
    other_file[FILE_ID_LEN - 1] ^= 0x01;
    let result = link::unwrap_file_key(&keys, &link.link_id, &other_file, &wrapped);
    assert_eq!(result.err(), Some(unsealed), "another file id");
}

/// Draws a random link from the WebAssembly build's generator.
#[cfg(target_arch = "wasm32")]
fn random_link(rng: &mut common::SplitMix64, with_password: bool) -> Link {
    fn array<const N: usize>(rng: &mut common::SplitMix64) -> [u8; N] {
        rng.bytes(N).try_into().expect("N bytes")
    }
    let password = with_password.then(|| {
        let len = rng.below(24) as usize;
        let text: String = (0..len)
            .map(|_| char::from_u32(0x20 + rng.below(0x2000) as u32).unwrap_or('?'))
            .collect();
        (text, array(rng))
    });
    Link {
        secret: array(rng),
        link_id: array(rng),
        file_id: array(rng),
        file_key: array(rng),
        password,
    }
}

#[cfg(target_arch = "wasm32")]
fn run(with_password: bool, cases: u32, check: fn(&Link)) {
    let mut rng = common::SplitMix64(0x6c69_6e6b + u64::from(with_password));
    for _ in 0..cases {
        check(&random_link(&mut rng, with_password));
    }
    report!("{cases} cases, password {with_password}");
}

#[cfg(target_arch = "wasm32")]
#[test]
fn links_round_trip_without_password() {
    run(false, CASES.without_password, round_trip_holds);
}

#[cfg(target_arch = "wasm32")]
#[test]
fn links_round_trip_with_password() {
    run(true, CASES.with_password, round_trip_holds);
}

#[cfg(target_arch = "wasm32")]
#[test]
fn changed_input_without_password() {
    run(false, CASES.without_password, changed_input_changes_keys);
}

#[cfg(target_arch = "wasm32")]
#[test]
fn changed_input_with_password() {
    run(true, CASES.with_password, changed_input_changes_keys);
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use proptest::prelude::*;

    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    fn link(with_password: bool) -> impl Strategy<Value = Link> {
        let password = if with_password {
            (any::<String>(), any::<[u8; SALT_LEN]>())
                .prop_map(Some)
                .boxed()
        } else {
            Just(None).boxed()
        };
        (
            any::<[u8; LINK_SECRET_LEN]>(),
            any::<[u8; LINK_ID_LEN]>(),
            any::<[u8; FILE_ID_LEN]>(),
            any::<[u8; 32]>(),
            password,
        )
            .prop_map(|(secret, link_id, file_id, file_key, password)| Link {
                secret,
                link_id,
                file_id,
                file_key,
                password,
            })
    }

    proptest! {
        #![proptest_config(config(CASES.without_password))]
        #[test]
        fn links_round_trip_without_password(link in link(false)) {
            round_trip_holds(&link);
        }

        #[test]
        fn changed_input_without_password(link in link(false)) {
            changed_input_changes_keys(&link);
        }
    }

    proptest! {
        #![proptest_config(config(CASES.with_password))]
        #[test]
        fn links_round_trip_with_password(link in link(true)) {
            round_trip_holds(&link);
        }

        #[test]
        fn changed_input_with_password(link in link(true)) {
            changed_input_changes_keys(&link);
        }
    }
}
