//! The known-answer vector forms of this product's own formats: their inputs, how the
//! crate computes each expected value from those inputs, and the plaintext pattern.
//!
//! `examples/generate_vectors.rs` called the `compute` functions once to write the files
//! under `tests/vectors/ours/`. `tests/our_vectors.rs` calls them again on the inputs read
//! back from those files and fails on any byte that differs.

#![allow(dead_code)]

pub mod links;
pub mod negative;

use dtc_crypto::chunked::{self, HEADER_LEN};
use dtc_crypto::exchange::{self, FILE_ID_LEN};
use dtc_crypto::file::{CONTENTS_CONTEXT, ContentsEncryptor, FileKey, METADATA_CONTEXT};
use dtc_crypto::identity::{IdentitySecret, PublicKey};
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::FileMetadata;
use dtc_crypto::password::{self, KdfParams, PasswordKeys};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Byte i of a pattern plaintext is `i mod 251`: 251 is prime, so the pattern does not
/// repeat with the 16384-byte chunk period and every chunk has different contents.
pub const PATTERN_MODULUS: u64 = 251;

/// Returns the pattern plaintext of `len` bytes.
pub fn pattern(len: u64) -> Vec<u8> {
    let period: Vec<u8> = (0..PATTERN_MODULUS).map(|i| i as u8).collect();
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let take = period.len().min(len - out.len());
        out.extend_from_slice(&period[..take]);
    }
    out
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub use crate::common::hex as from_hex;

pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn array<const N: usize>(text: &str) -> [u8; N] {
    from_hex(text)
        .try_into()
        .expect("hex of the fixed length in a vector file")
}

fn secret(text: &str) -> IdentitySecret {
    IdentitySecret::from_bytes(&from_hex(text)).expect("valid scalar in a vector file")
}

fn file_key(text: &str) -> FileKey {
    FileKey::from_bytes(&from_hex(text)).expect("32-byte file key in a vector file")
}

/// The outer shape of every vector file of this folder.
#[derive(Serialize, Deserialize)]
pub struct VectorFile<C> {
    pub form: String,
    pub description: String,
    pub cases: Vec<C>,
}

/// Argon2id parameters as the vector files spell them.
#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl From<Params> for KdfParams {
    fn from(p: Params) -> Self {
        KdfParams {
            memory_kib: p.memory_kib,
            iterations: p.iterations,
            parallelism: p.parallelism,
        }
    }
}

/// Derives the password keys of a vector; panics on inputs a vector file must not hold.
pub fn password_keys(password: &str, salt: &str, params: Params) -> PasswordKeys {
    PasswordKeys::derive(password, &from_hex(salt), params.into())
        .expect("valid password inputs in a vector file")
}

// --- public keys and fingerprints -----------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct PublicKeyCase {
    pub name: String,
    pub secret_scalar: String,
    pub public_key: String,
    pub fingerprint: String,
    pub fingerprint_display: String,
}

impl PublicKeyCase {
    pub fn compute(name: &str, secret_scalar: &str) -> Self {
        let public = secret(secret_scalar).public_key();
        let fingerprint = public.fingerprint();
        PublicKeyCase {
            name: name.to_owned(),
            secret_scalar: secret_scalar.to_owned(),
            public_key: to_hex(&public.to_sec1()),
            fingerprint: to_hex(&fingerprint.0),
            fingerprint_display: fingerprint.to_string(),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.name, &self.secret_scalar)
    }

    /// Checks that the parser accepts the pinned bytes and returns the same key.
    pub fn check_decode(&self) {
        let parsed = PublicKey::from_sec1(&from_hex(&self.public_key)).expect("valid point");
        assert_eq!(to_hex(&parsed.to_sec1()), self.public_key, "{}", self.name);
        assert_eq!(to_hex(&parsed.fingerprint().0), self.fingerprint);
    }
}

// --- password keys --------------------------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct PasswordKeysCase {
    pub name: String,
    pub password: String,
    pub salt: String,
    pub params: Params,
    pub login_key: String,
    pub verifier: String,
    pub wrapping_key: String,
}

impl PasswordKeysCase {
    pub fn compute(name: &str, password: &str, salt: &str, params: Params) -> Self {
        let keys = password_keys(password, salt, params);
        PasswordKeysCase {
            name: name.to_owned(),
            password: password.to_owned(),
            salt: salt.to_owned(),
            params,
            login_key: to_hex(keys.login.expose_secret_bytes()),
            verifier: to_hex(&keys.login.verifier()),
            wrapping_key: to_hex(keys.wrapping.expose_secret_bytes()),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.name, &self.password, &self.salt, self.params)
    }
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct DecoySaltCase {
    pub server_secret: String,
    pub username: String,
    pub salt: String,
}

impl DecoySaltCase {
    pub fn compute(server_secret: &str, username: &str) -> Self {
        DecoySaltCase {
            server_secret: server_secret.to_owned(),
            username: username.to_owned(),
            salt: to_hex(&password::decoy_salt(&from_hex(server_secret), username)),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.server_secret, &self.username)
    }
}

// --- wrapped identity key -------------------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct WrappedIdentityCase {
    pub name: String,
    pub password: String,
    pub salt: String,
    pub params: Params,
    pub username: String,
    pub secret_scalar: String,
    pub nonce: String,
    pub wrapped: String,
}

impl WrappedIdentityCase {
    pub fn recompute(&self) -> Self {
        let keys = password_keys(&self.password, &self.salt, self.params);
        let wrapped = password::wrap_identity_with_nonce(
            &keys.wrapping,
            &secret(&self.secret_scalar),
            &self.username,
            &array(&self.nonce),
        );
        WrappedIdentityCase {
            wrapped: to_hex(&wrapped),
            name: self.name.clone(),
            password: self.password.clone(),
            salt: self.salt.clone(),
            params: self.params,
            username: self.username.clone(),
            secret_scalar: self.secret_scalar.clone(),
            nonce: self.nonce.clone(),
        }
    }

    pub fn check_decode(&self) {
        let keys = password_keys(&self.password, &self.salt, self.params);
        let identity =
            password::unwrap_identity(&keys.wrapping, &from_hex(&self.wrapped), &self.username)
                .expect("pinned wrapped key opens");
        assert_eq!(
            to_hex(identity.expose_secret_bytes().as_slice()),
            self.secret_scalar
        );
    }
}

// --- chunked messages: contents and metadata --------------------------------------------

/// Messages up to this length keep their whole ciphertext in the file; longer ones keep
/// its SHA-256 only.
pub const INLINE_CIPHERTEXT_MAX: u64 = 40_000;

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct ContentsCase {
    pub name: String,
    pub file_key: String,
    pub salt: String,
    /// The plaintext in hex, or absent for the pattern plaintext of `plaintext_len` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
    pub plaintext_len: u64,
    pub ciphertext_len: u64,
    pub ciphertext_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
}

impl ContentsCase {
    pub fn plaintext_bytes(&self) -> Vec<u8> {
        match &self.plaintext {
            Some(text) => from_hex(text),
            None => pattern(self.plaintext_len),
        }
    }

    /// Encrypts part by part, as the upload does, and concatenates the parts.
    pub fn encrypt(file_key_hex: &str, salt: &str, plaintext: &[u8]) -> Vec<u8> {
        let layout =
            PartLayout::for_plaintext_len(plaintext.len() as u64).expect("short plaintext");
        let encryptor = ContentsEncryptor::new(&file_key(file_key_hex), &from_hex(salt), layout)
            .expect("valid key and salt");
        let mut out = Vec::new();
        for index in 0..layout.part_count() {
            let range = layout.part_plaintext_range(index).expect("index in range");
            let part = &plaintext[range.start as usize..range.end as usize];
            out.extend(
                encryptor
                    .encrypt_part(index, part)
                    .expect("part of the right length"),
            );
        }
        out
    }

    pub fn compute(
        name: &str,
        file_key_hex: &str,
        salt: &str,
        plaintext: Option<&[u8]>,
        plaintext_len: u64,
    ) -> Self {
        let bytes = plaintext.map_or_else(|| pattern(plaintext_len), <[u8]>::to_vec);
        let ciphertext = Self::encrypt(file_key_hex, salt, &bytes);
        let inline = ciphertext.len() as u64 <= INLINE_CIPHERTEXT_MAX;
        ContentsCase {
            name: name.to_owned(),
            file_key: file_key_hex.to_owned(),
            salt: salt.to_owned(),
            plaintext: plaintext.map(to_hex),
            plaintext_len: bytes.len() as u64,
            ciphertext_len: ciphertext.len() as u64,
            ciphertext_sha256: sha256_hex(&ciphertext),
            ciphertext: inline.then(|| to_hex(&ciphertext)),
        }
    }

    pub fn recompute(&self) -> Self {
        let plaintext = self.plaintext.as_deref().map(from_hex);
        Self::compute(
            &self.name,
            &self.file_key,
            &self.salt,
            plaintext.as_deref(),
            self.plaintext_len,
        )
    }

    /// The whole-message decoder opens the pinned bytes (or the recomputed bytes, whose
    /// SHA-256 the file pins) and returns the plaintext.
    pub fn check_decode(&self) {
        let ciphertext = match &self.ciphertext {
            Some(text) => from_hex(text),
            None => Self::encrypt(&self.file_key, &self.salt, &self.plaintext_bytes()),
        };
        assert_eq!(
            sha256_hex(&ciphertext),
            self.ciphertext_sha256,
            "{}",
            self.name
        );
        let opened = chunked::decrypt(&from_hex(&self.file_key), CONTENTS_CONTEXT, &ciphertext)
            .expect("pinned message opens");
        assert!(
            opened == self.plaintext_bytes(),
            "{}: plaintext differs",
            self.name
        );
    }
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct PartDigest {
    pub index: u32,
    pub ciphertext_offset: u64,
    pub ciphertext_len: u64,
    pub sha256: String,
}

/// A multi-part contents message of the pattern plaintext, pinned by the header and the
/// SHA-256 of each part.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct ContentsPartsCase {
    pub name: String,
    pub file_key: String,
    pub salt: String,
    pub plaintext_len: u64,
    pub header: String,
    pub ciphertext_len: u64,
    pub ciphertext_sha256: String,
    pub parts: Vec<PartDigest>,
}

impl ContentsPartsCase {
    pub fn encrypt_parts(&self) -> Vec<Vec<u8>> {
        encrypt_pattern_parts(&self.file_key, &self.salt, self.plaintext_len)
    }

    pub fn key(&self) -> FileKey {
        file_key(&self.file_key)
    }

    pub fn compute(name: &str, file_key_hex: &str, salt: &str, plaintext_len: u64) -> Self {
        let parts = encrypt_pattern_parts(file_key_hex, salt, plaintext_len);
        let layout = PartLayout::for_plaintext_len(plaintext_len).expect("valid length");
        let whole = parts.concat();
        let digests = parts
            .iter()
            .enumerate()
            .map(|(index, part)| PartDigest {
                index: index as u32,
                ciphertext_offset: layout
                    .part_ciphertext_offset(index as u32)
                    .expect("index in range"),
                ciphertext_len: part.len() as u64,
                sha256: sha256_hex(part),
            })
            .collect();
        ContentsPartsCase {
            name: name.to_owned(),
            file_key: file_key_hex.to_owned(),
            salt: salt.to_owned(),
            plaintext_len,
            header: to_hex(&whole[..HEADER_LEN as usize]),
            ciphertext_len: whole.len() as u64,
            ciphertext_sha256: sha256_hex(&whole),
            parts: digests,
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.name, &self.file_key, &self.salt, self.plaintext_len)
    }

    /// Encrypts the parts of the pinned message and checks them against their SHA-256.
    pub fn pinned_parts(&self) -> Vec<Vec<u8>> {
        let parts = self.encrypt_parts();
        for (part, digest) in parts.iter().zip(&self.parts) {
            assert_eq!(
                sha256_hex(part),
                digest.sha256,
                "{} part {}",
                self.name,
                digest.index
            );
        }
        assert_eq!(parts.len(), self.parts.len(), "{} part count", self.name);
        parts
    }
}

/// Encrypted parts by file key, salt and plaintext length.
type PartsCache = std::collections::BTreeMap<(String, String, u64), Vec<Vec<u8>>>;

std::thread_local! {
    /// Multi-part messages take seconds in a debug build, so each is encrypted once per
    /// test binary and thread.
    static PARTS_CACHE: std::cell::RefCell<PartsCache> =
        const { std::cell::RefCell::new(PartsCache::new()) };
}

fn encrypt_pattern_parts(file_key_hex: &str, salt: &str, plaintext_len: u64) -> Vec<Vec<u8>> {
    let cache_key = (file_key_hex.to_owned(), salt.to_owned(), plaintext_len);
    if let Some(parts) = PARTS_CACHE.with(|cache| cache.borrow().get(&cache_key).cloned()) {
        return parts;
    }
    let plaintext = pattern(plaintext_len);
    let layout = PartLayout::for_plaintext_len(plaintext_len).expect("valid length");
    let encryptor = ContentsEncryptor::new(&file_key(file_key_hex), &from_hex(salt), layout)
        .expect("valid key and salt");
    let parts: Vec<Vec<u8>> = (0..layout.part_count())
        .map(|index| {
            let range = layout.part_plaintext_range(index).expect("index in range");
            let part = &plaintext[range.start as usize..range.end as usize];
            encryptor
                .encrypt_part(index, part)
                .expect("part of the right length")
        })
        .collect();
    PARTS_CACHE.with(|cache| cache.borrow_mut().insert(cache_key, parts.clone()));
    parts
}

// --- part layout ----------------------------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct PartRanges {
    pub index: u32,
    pub chunk_start: u64,
    pub chunk_end: u64,
    pub plaintext_start: u64,
    pub plaintext_end: u64,
    pub ciphertext_offset: u64,
    pub ciphertext_len: u64,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct LayoutCase {
    pub plaintext_len: u64,
    pub chunk_count: u64,
    pub part_count: u32,
    pub ciphertext_len: u64,
    /// Every part of a file of up to 4 parts; the first two and the last two otherwise.
    pub parts: Vec<PartRanges>,
}

impl LayoutCase {
    pub fn compute(plaintext_len: u64) -> Self {
        let layout = PartLayout::for_plaintext_len(plaintext_len).expect("valid length");
        let count = layout.part_count();
        let indices: Vec<u32> = if count <= 4 {
            (0..count).collect()
        } else {
            vec![0, 1, count - 2, count - 1]
        };
        let parts = indices
            .into_iter()
            .map(|index| {
                let chunks = layout.part_chunk_range(index).expect("index in range");
                let plaintext = layout.part_plaintext_range(index).expect("index in range");
                PartRanges {
                    index,
                    chunk_start: chunks.start,
                    chunk_end: chunks.end,
                    plaintext_start: plaintext.start,
                    plaintext_end: plaintext.end,
                    ciphertext_offset: layout.part_ciphertext_offset(index).expect("in range"),
                    ciphertext_len: layout.part_ciphertext_len(index).expect("in range"),
                }
            })
            .collect();
        LayoutCase {
            plaintext_len,
            chunk_count: layout.chunk_count(),
            part_count: count,
            ciphertext_len: layout.ciphertext_len(),
            parts,
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(self.plaintext_len)
    }

    /// Checks that the layout recovered from the ciphertext length alone is the same.
    pub fn check_decode(&self) {
        let layout = PartLayout::from_ciphertext_len(self.ciphertext_len).expect("valid length");
        assert_eq!(layout.plaintext_len(), self.plaintext_len);
    }
}

// --- metadata -------------------------------------------------------------------------

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct Metadata {
    pub name: String,
    pub size: u64,
    pub media_type: String,
    pub modified_ms: i64,
}

impl From<&Metadata> for FileMetadata {
    fn from(m: &Metadata) -> Self {
        FileMetadata {
            name: m.name.clone(),
            size: m.size,
            media_type: m.media_type.clone(),
            modified_ms: m.modified_ms,
        }
    }
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct MetadataPlaintextCase {
    pub metadata: Metadata,
    pub encoded: String,
}

impl MetadataPlaintextCase {
    pub fn compute(metadata: &Metadata) -> Self {
        let encoded = FileMetadata::from(metadata)
            .encode()
            .expect("valid metadata");
        MetadataPlaintextCase {
            metadata: metadata.clone(),
            encoded: to_hex(&encoded),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.metadata)
    }

    pub fn check_decode(&self) {
        let decoded = FileMetadata::decode(&from_hex(&self.encoded)).expect("valid encoding");
        assert_eq!(decoded, FileMetadata::from(&self.metadata));
    }
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct MetadataMessageCase {
    pub file_key: String,
    pub salt: String,
    pub metadata: Metadata,
    pub message: String,
}

impl MetadataMessageCase {
    pub fn compute(file_key_hex: &str, salt: &str, metadata: &Metadata) -> Self {
        let encoded = FileMetadata::from(metadata)
            .encode()
            .expect("valid metadata");
        let message = chunked::encrypt_with_salt(
            &from_hex(file_key_hex),
            &from_hex(salt),
            METADATA_CONTEXT,
            &encoded,
        )
        .expect("valid key and salt");
        MetadataMessageCase {
            file_key: file_key_hex.to_owned(),
            salt: salt.to_owned(),
            metadata: metadata.clone(),
            message: to_hex(&message),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.file_key, &self.salt, &self.metadata)
    }

    pub fn check_decode(&self) {
        let opened =
            dtc_crypto::file::decrypt_metadata(&file_key(&self.file_key), &from_hex(&self.message))
                .expect("pinned message opens");
        assert_eq!(opened, FileMetadata::from(&self.metadata));
    }
}

// --- key exchange record --------------------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct KeyExchangeCase {
    pub name: String,
    pub sender_scalar: String,
    pub sender_public_key: String,
    pub recipient_scalar: String,
    pub recipient_public_key: String,
    pub ephemeral_scalar: String,
    pub file_id: String,
    /// The HPKE `info` these inputs give, so an implementation can check it first.
    pub info: String,
    pub file_key: String,
    pub enc: String,
    pub sealed_key: String,
}

impl KeyExchangeCase {
    pub fn compute(
        name: &str,
        sender_scalar: &str,
        recipient_scalar: &str,
        ephemeral_scalar: &str,
        file_id: &str,
        file_key_hex: &str,
    ) -> Self {
        let sender = secret(sender_scalar);
        let recipient = secret(recipient_scalar).public_key();
        let id = exchange::parse_file_id(file_id).expect("valid file id");
        let sealed = exchange::seal_file_key_with_ephemeral(
            &sender,
            &secret(ephemeral_scalar),
            &recipient,
            &id,
            &file_key(file_key_hex),
        )
        .expect("valid keys");
        let mut info = b"data-transfer-cloud/v1/file-key\x00".to_vec();
        info.extend_from_slice(&id);
        KeyExchangeCase {
            name: name.to_owned(),
            sender_scalar: sender_scalar.to_owned(),
            sender_public_key: to_hex(&sender.public_key().to_sec1()),
            recipient_scalar: recipient_scalar.to_owned(),
            recipient_public_key: to_hex(&recipient.to_sec1()),
            ephemeral_scalar: ephemeral_scalar.to_owned(),
            file_id: file_id.to_owned(),
            info: to_hex(&info),
            file_key: file_key_hex.to_owned(),
            enc: to_hex(&sealed.enc),
            sealed_key: to_hex(&sealed.ciphertext),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(
            &self.name,
            &self.sender_scalar,
            &self.recipient_scalar,
            &self.ephemeral_scalar,
            &self.file_id,
            &self.file_key,
        )
    }

    /// The recipient opens the pinned record with the sender's public key, through the
    /// product's function and through plain RFC 9180 OpenAuth with the pinned `info`.
    pub fn check_decode(&self) {
        let sealed =
            exchange::SealedFileKey::from_parts(&from_hex(&self.enc), &from_hex(&self.sealed_key))
                .expect("valid record");
        let sender = PublicKey::from_sec1(&from_hex(&self.sender_public_key)).expect("valid key");
        let id = exchange::parse_file_id(&self.file_id).expect("valid file id");
        let opened =
            exchange::open_file_key(&secret(&self.recipient_scalar), &sender, &id, &sealed)
                .expect("pinned record opens");
        assert_eq!(
            to_hex(opened.expose_secret_bytes()),
            self.file_key,
            "{}",
            self.name
        );

        let recipient = dtc_crypto::hpke::PrivateKey::from_bytes(&from_hex(&self.recipient_scalar))
            .expect("valid scalar");
        let mut context = dtc_crypto::hpke::setup_recipient::<dtc_crypto::hpke::Aes256Gcm>(
            &sealed.enc,
            &recipient,
            &from_hex(&self.info),
            None,
            Some(&sender),
        )
        .expect("valid enc");
        let plain = context
            .open(b"", &sealed.ciphertext)
            .expect("OpenAuth succeeds");
        assert_eq!(to_hex(&plain), self.file_key, "{}", self.name);
    }
}

// --- file ids -------------------------------------------------------------------------

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct FileIdCase {
    pub bytes: String,
    pub text: String,
}

impl FileIdCase {
    pub fn compute(bytes: &str) -> Self {
        FileIdCase {
            bytes: bytes.to_owned(),
            text: exchange::format_file_id(&array::<FILE_ID_LEN>(bytes)),
        }
    }

    pub fn recompute(&self) -> Self {
        Self::compute(&self.bytes)
    }

    pub fn check_decode(&self) {
        let parsed = exchange::parse_file_id(&self.text).expect("valid file id");
        assert_eq!(to_hex(&parsed), self.bytes);
    }
}
