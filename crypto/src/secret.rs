//! Fixed-size secret bytes: not `Clone`, wiped on drop, masked in `Debug`.
//!
//! Every secret type of the crate implements the `ZeroizeOnDrop` marker through
//! [`wiped_on_drop`], which checks at compile time that each of its fields wipes itself.

use std::fmt;

use zeroize::Zeroizing;

/// The storage behind every secret key type of this crate.
pub(crate) struct SecretBytes<const N: usize>(Zeroizing<[u8; N]>);

impl<const N: usize> SecretBytes<N> {
    pub(crate) fn new(bytes: Zeroizing<[u8; N]>) -> Self {
        SecretBytes(bytes)
    }

    pub(crate) fn zeroed() -> Self {
        SecretBytes(Zeroizing::new([0u8; N]))
    }

    pub(crate) fn from_slice(what: &'static str, bytes: &[u8]) -> Result<Self, crate::CryptoError> {
        if bytes.len() != N {
            return Err(crate::CryptoError::InvalidLength {
                what,
                expected: N,
                actual: bytes.len(),
            });
        }
        let mut out = Self::zeroed();
        out.0.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn bytes(&self) -> &[u8; N] {
        &self.0
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Implements a masked `Debug` for a tuple struct around `SecretBytes`.
macro_rules! masked_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

pub(crate) use masked_debug;

impl<const N: usize> zeroize::ZeroizeOnDrop for SecretBytes<N> where
    Zeroizing<[u8; N]>: zeroize::ZeroizeOnDrop
{
}

/// Implements the `ZeroizeOnDrop` marker for a type, after a compile-time check that the
/// type of every field that contains secret bytes implements it too.
macro_rules! wiped_on_drop {
    ($name:ty: $($field:ty),+ $(,)?) => {
        impl zeroize::ZeroizeOnDrop for $name {}
        const _: fn() = || {
            fn wiped<T: zeroize::ZeroizeOnDrop>() {}
            $(wiped::<$field>();)+
        };
    };
}

pub(crate) use wiped_on_drop;
