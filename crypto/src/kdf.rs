//! HKDF-Expand (RFC 5869 section 2.3) over any HMAC hash, including a PRK shorter than
//! the hash output.
//!
//! The `hkdf` crate rejects a PRK shorter than HashLen, but chunked encryption expands a
//! 32-byte input key with SHA-512, which C2SP chunked encryption explicitly allows.

use hmac::digest::{KeyInit, Mac, OutputSizeUser};
use hmac::{EagerHash, Hmac};

use crate::CryptoError;

/// RFC 5869 section 2.3: the output is at most 255 hash blocks.
const MAX_BLOCKS: usize = 255;

/// T(i) = HMAC(prk, T(i-1) || info || i), output = T(1) || T(2) || ... cut to `okm.len()`.
/// `info` is the concatenation of `info_parts`.
pub fn hkdf_expand<D: EagerHash>(
    prk: &[u8],
    info_parts: &[&[u8]],
    okm: &mut [u8],
) -> Result<(), CryptoError> {
    let block_len = <Hmac<D> as OutputSizeUser>::output_size();
    if okm.len() > MAX_BLOCKS * block_len {
        return Err(CryptoError::HkdfOutputTooLong { len: okm.len() });
    }
    // HMAC takes keys of any length, so this error is unreachable.
    let keyed =
        <Hmac<D> as KeyInit>::new_from_slice(prk).map_err(|_| CryptoError::InvalidLength {
            what: "HMAC key",
            expected: block_len,
            actual: prk.len(),
        })?;
    let mut previous: Option<hmac::digest::Output<Hmac<D>>> = None;
    for (counter, block) in (1u8..=u8::MAX).zip(okm.chunks_mut(block_len)) {
        let mut mac = keyed.clone();
        if let Some(previous) = &previous {
            Mac::update(&mut mac, previous.as_slice());
        }
        for part in info_parts {
            Mac::update(&mut mac, part);
        }
        Mac::update(&mut mac, &[counter]);
        let output = mac.finalize().into_bytes();
        block.copy_from_slice(&output[..block.len()]);
        previous = Some(output);
    }
    Ok(())
}
