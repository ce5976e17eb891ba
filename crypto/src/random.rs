//! The system random number generator: the OS on native targets, `crypto.getRandomValues`
//! in the browser.

use zeroize::Zeroizing;

/// Fills a fresh array with random bytes.
///
/// # Panics
/// If the system generator fails. No key may be made without it, and callers have no
/// fallback, so this is treated like running out of memory.
pub(crate) fn bytes<const N: usize>() -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    getrandom::fill(out.as_mut_slice()).expect("system random number generator failed");
    out
}
