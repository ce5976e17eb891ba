//! C2SP chunked encryption (c2sp.org/chunked-encryption), instantiation Cobblestone-256.
