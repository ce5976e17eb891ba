//! LabeledExtract and LabeledExpand (RFC 9180 section 4) over HKDF-SHA256.

use hkdf::{Hkdf, HkdfExtract};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::CryptoError;

/// RFC 9180 section 4: every labeled input starts with this version string.
const HPKE_VERSION_LABEL: &[u8] = b"HPKE-v1";
/// Nh of HKDF-SHA256 (RFC 9180 section 7.2).
pub(crate) const NH: usize = 32;
/// RFC 5869 section 2.3: HKDF-Expand outputs at most 255 hash blocks.
pub(crate) const MAX_EXPAND_LEN: usize = 255 * NH;

/// `Extract(salt, "HPKE-v1" || suite_id || label || ikm)`.
pub(crate) fn labeled_extract(
    suite_id: &[u8],
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Zeroizing<[u8; NH]> {
    let mut extract = HkdfExtract::<Sha256>::new(Some(salt));
    for part in [HPKE_VERSION_LABEL, suite_id, label, ikm] {
        extract.input_ikm(part);
    }
    let (prk, _) = extract.finalize();
    Zeroizing::new(prk.into())
}

/// `Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)` with L = `out.len()`.
pub(crate) fn labeled_expand(
    suite_id: &[u8],
    prk: &[u8; NH],
    label: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let too_long = CryptoError::HkdfOutputTooLong { len: out.len() };
    if out.len() > MAX_EXPAND_LEN {
        return Err(too_long);
    }
    // MAX_EXPAND_LEN is 8160, so the length fits the two-byte I2OSP(L, 2).
    let length = u16::try_from(out.len())
        .map_err(|_| too_long.clone())?
        .to_be_bytes();
    let hkdf = Hkdf::<Sha256>::from_prk(prk).map_err(|_| too_long.clone())?;
    hkdf.expand_multi_info(&[&length, HPKE_VERSION_LABEL, suite_id, label, info], out)
        .map_err(|_| too_long)
}
