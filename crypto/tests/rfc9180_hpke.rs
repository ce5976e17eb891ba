//! RFC 9180 appendix A.3 vectors, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM,
//! in all four modes: DeriveKeyPair, the KEM, every key schedule value, every encryption
//! and every export. The AES-256-GCM suite of the product shares all of this code.

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use common::hex;
use dtc_crypto::hpke::{self, Aes128Gcm, Context, PrivateKey, Psk};
use dtc_crypto::identity::PublicKey;
use serde::Deserialize;

const VECTORS: &str = include_str!("vectors/published/hpke-rfc9180-p256-sha256-aes128gcm.json");

#[derive(Deserialize)]
struct Vector {
    mode: u8,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    info: String,
    #[serde(rename = "ikmE")]
    ikm_e: String,
    #[serde(rename = "pkEm")]
    pk_em: String,
    #[serde(rename = "skEm")]
    sk_em: String,
    #[serde(rename = "ikmR")]
    ikm_r: String,
    #[serde(rename = "pkRm")]
    pk_rm: String,
    #[serde(rename = "skRm")]
    sk_rm: String,
    #[serde(rename = "ikmS")]
    ikm_s: Option<String>,
    #[serde(rename = "pkSm")]
    pk_sm: Option<String>,
    #[serde(rename = "skSm")]
    sk_sm: Option<String>,
    psk: Option<String>,
    psk_id: Option<String>,
    enc: String,
    shared_secret: String,
    key_schedule_context: String,
    secret: String,
    key: String,
    base_nonce: String,
    exporter_secret: String,
    encryptions: Vec<Encryption>,
    exports: Vec<Export>,
}

#[derive(Deserialize)]
struct Encryption {
    #[serde(rename = "sequence number")]
    sequence: String,
    pt: String,
    aad: String,
    nonce: String,
    ct: String,
}

#[derive(Deserialize)]
struct Export {
    exporter_context: String,
    #[serde(rename = "L")]
    len: String,
    exported_value: String,
}

#[derive(Default, Debug)]
struct Counts {
    vectors: usize,
    encryptions: usize,
    exports: usize,
}

/// DeriveKeyPair(ikm) must give the listed private and public key.
fn derive(ikm: &str, sk: &str, pk: &str, mode: u8) -> PrivateKey {
    let key = hpke::derive_key_pair(&hex(ikm)).expect("DeriveKeyPair succeeds");
    assert_eq!(
        key.expose_secret_bytes().to_vec(),
        hex(sk),
        "mode {mode}: derived private key"
    );
    assert_eq!(
        key.public_key().to_sec1().to_vec(),
        hex(pk),
        "mode {mode}: derived public key"
    );
    key
}

fn check_schedule(context: &Context<Aes128Gcm>, vector: &Vector, side: &str) {
    let mode = vector.mode;
    assert_eq!(
        context.key_schedule_context(),
        hex(&vector.key_schedule_context),
        "mode {mode} {side}: context"
    );
    assert_eq!(
        context.expose_secret_schedule_bytes().to_vec(),
        hex(&vector.secret),
        "mode {mode} {side}: secret"
    );
    assert_eq!(
        context.expose_secret_key_bytes(),
        hex(&vector.key),
        "mode {mode} {side}: key"
    );
    assert_eq!(
        context.base_nonce().to_vec(),
        hex(&vector.base_nonce),
        "mode {mode} {side}: base_nonce"
    );
    assert_eq!(
        context.expose_secret_exporter_bytes().to_vec(),
        hex(&vector.exporter_secret),
        "mode {mode} {side}: exporter_secret"
    );
}

/// Checks every listed encryption. The list skips sequence numbers (0, 1, 2, 4, 255, 256),
/// so filler messages, sealed by the sender and opened by the recipient, fill the gaps.
fn check_encryptions(
    sender: &mut Context<Aes128Gcm>,
    recipient: &mut Context<Aes128Gcm>,
    vector: &Vector,
    counts: &mut Counts,
) {
    for encryption in &vector.encryptions {
        let sequence: u64 = encryption
            .sequence
            .parse()
            .expect("decimal sequence number");
        while sender.sequence() < sequence {
            let filler = sender.seal(b"", b"").expect("seal filler");
            recipient.open(b"", &filler).expect("open filler");
        }
        let mut nonce = *sender.base_nonce();
        for (byte, counter) in nonce[4..].iter_mut().zip(sequence.to_be_bytes()) {
            *byte ^= counter;
        }
        assert_eq!(
            nonce.to_vec(),
            hex(&encryption.nonce),
            "mode {} seq {sequence}: nonce",
            vector.mode
        );
        let (pt, aad, ct) = (
            hex(&encryption.pt),
            hex(&encryption.aad),
            hex(&encryption.ct),
        );
        assert_eq!(
            sender.seal(&aad, &pt).expect("seal"),
            ct,
            "mode {} seq {sequence}: seal",
            vector.mode
        );
        let opened = recipient.open(&aad, &ct).expect("open");
        assert_eq!(
            opened.as_slice(),
            pt.as_slice(),
            "mode {} seq {sequence}: open",
            vector.mode
        );
        counts.encryptions += 1;
    }
}

fn check_exports(
    sender: &Context<Aes128Gcm>,
    recipient: &Context<Aes128Gcm>,
    vector: &Vector,
    counts: &mut Counts,
) {
    for export in &vector.exports {
        let len: usize = export.len.parse().expect("decimal L");
        let exporter_context = hex(&export.exporter_context);
        let expected = hex(&export.exported_value);
        assert_eq!(
            sender
                .export(&exporter_context, len)
                .expect("export")
                .to_vec(),
            expected,
            "mode {}",
            vector.mode
        );
        assert_eq!(
            recipient
                .export(&exporter_context, len)
                .expect("export")
                .to_vec(),
            expected,
            "mode {}",
            vector.mode
        );
        counts.exports += 1;
    }
}

fn run(vector: &Vector, counts: &mut Counts) {
    let mode = vector.mode;
    assert_eq!(
        (vector.kem_id, vector.kdf_id, vector.aead_id),
        (0x0010, 0x0001, 0x0001)
    );
    let ephemeral = derive(&vector.ikm_e, &vector.sk_em, &vector.pk_em, mode);
    let recipient_key = derive(&vector.ikm_r, &vector.sk_rm, &vector.pk_rm, mode);
    let sender_key = vector.ikm_s.as_ref().map(|ikm| {
        derive(
            ikm,
            vector.sk_sm.as_deref().expect("skSm"),
            vector.pk_sm.as_deref().expect("pkSm"),
            mode,
        )
    });
    let sender_public: Option<PublicKey> = sender_key.as_ref().map(PrivateKey::public_key);
    let (psk_bytes, psk_id) = (
        vector.psk.as_deref().map(hex),
        vector.psk_id.as_deref().map(hex),
    );
    let psk = match (&psk_bytes, &psk_id) {
        (Some(psk), Some(psk_id)) => Some(Psk { psk, psk_id }),
        (None, None) => None,
        _ => panic!("mode {mode}: psk without psk_id"),
    };
    let info = hex(&vector.info);

    let (shared, enc) =
        hpke::encap_with_ephemeral(&ephemeral, &recipient_key.public_key(), sender_key.as_ref())
            .expect("encap");
    assert_eq!(enc.to_vec(), hex(&vector.enc), "mode {mode}: enc");
    assert_eq!(
        shared.expose_secret_bytes().to_vec(),
        hex(&vector.shared_secret),
        "mode {mode}: encap secret"
    );
    let decapped = hpke::decap(&enc, &recipient_key, sender_public.as_ref()).expect("decap");
    assert_eq!(
        decapped.expose_secret_bytes().to_vec(),
        hex(&vector.shared_secret),
        "mode {mode}: decap secret"
    );

    let (enc, mut sender) = hpke::setup_sender_with_ephemeral::<Aes128Gcm>(
        &ephemeral,
        &recipient_key.public_key(),
        &info,
        psk,
        sender_key.as_ref(),
    )
    .expect("sender setup");
    assert_eq!(enc.to_vec(), hex(&vector.enc), "mode {mode}: setup enc");
    assert_eq!(sender.key_schedule_context()[0], mode);
    let mut recipient = hpke::setup_recipient::<Aes128Gcm>(
        &enc,
        &recipient_key,
        &info,
        psk,
        sender_public.as_ref(),
    )
    .expect("recipient setup");
    check_schedule(&sender, vector, "sender");
    check_schedule(&recipient, vector, "recipient");
    check_encryptions(&mut sender, &mut recipient, vector, counts);
    check_exports(&sender, &recipient, vector, counts);
    counts.vectors += 1;
}

#[test]
fn hpke_p256_matches_rfc9180_vectors() {
    let vectors: Vec<Vector> = serde_json::from_str(VECTORS).expect("valid vector file");
    let mut counts = Counts::default();
    for vector in &vectors {
        run(vector, &mut counts);
    }
    let modes: Vec<u8> = vectors.iter().map(|v| v.mode).collect();
    assert_eq!(modes, [0, 1, 2, 3], "all four modes");
    assert_eq!(
        (counts.vectors, counts.encryptions, counts.exports),
        (4, 24, 12),
        "{counts:?}"
    );
    report!("rfc9180 hpke p-256: {counts:?}");
}
