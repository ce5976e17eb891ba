#!/usr/bin/env python3
"""Recomputes every case of links.json from the "Share links" section of docs/format.md.

Uses only Python's hashlib, hmac and base64 and the `cryptography` package (Argon2id,
AES-GCM), no code of the crate, so the file agrees with an implementation other than
dtc-crypto. Prints one line per case and exits non-zero on the first difference.

Usage: links_from_spec.py [links.json]
"""

import base64
import hashlib
import hmac
import json
import pathlib
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def fragment(secret):
    return base64.urlsafe_b64encode(secret).rstrip(b"=").decode()


def decode_fragment(text):
    """Decodes a fragment as a page must: 43 base64url characters, canonical."""
    if len(text) != 43 or any(c not in ALPHABET for c in text):
        raise ValueError(f"invalid fragment {text!r}: expected 43 base64url characters")
    secret = base64.urlsafe_b64decode(text + "=")
    if fragment(secret) != text:
        raise ValueError(f"invalid fragment {text!r}: the last character has nonzero low bits")
    return secret


ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def seal(key, nonce, plaintext, aad):
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def check(case):
    secret = bytes.fromhex(case["link_secret"])
    link_id = bytes.fromhex(case["link_id"])
    file_id = bytes.fromhex(case["file_id"])
    file_key = bytes.fromhex(case["file_key"])
    password = case.get("password")
    if password is None:
        stretched = b""
    else:
        params = password["params"]
        stretched = Argon2id(
            salt=bytes.fromhex(password["salt"]),
            length=32,
            iterations=params["iterations"],
            lanes=params["parallelism"],
            memory_cost=params["memory_kib"],
        ).derive(password["password"].encode("utf-8"))

    gate = hkdf_expand(
        hkdf_extract(secret, b""), b"data-transfer-cloud/v1/link-gate\x00" + link_id, 32
    )
    prk = hkdf_extract(secret, stretched)
    access = hkdf_expand(prk, b"data-transfer-cloud/v1/link-access\x00" + link_id, 32)
    wrapping = hkdf_expand(prk, b"data-transfer-cloud/v1/link-wrapping\x00" + link_id, 32)
    aad = b"data-transfer-cloud/v1/link-file-key\x00" + link_id + file_id
    wrapped = seal(wrapping, bytes.fromhex(case["wrap_nonce"]), file_key, aad)

    owner = hkdf_expand(
        hkdf_extract(b"", file_key), b"data-transfer-cloud/v1/link-secret\x00" + link_id, 32
    )
    sealed = seal(owner, bytes.fromhex(case["seal_nonce"]), secret, link_id)

    computed = {
        "fragment": fragment(secret),
        "gate_key": gate.hex(),
        "gate_verifier": hashlib.sha256(gate).hexdigest(),
        "access_key": access.hex(),
        "verifier": hashlib.sha256(access).hexdigest(),
        "wrapped_key": wrapped.hex(),
        "sealed_secret": sealed.hex(),
    }
    for field, value in computed.items():
        if case[field] != value:
            sys.exit(f"{case['name']}: {field} is {case[field]}, the format gives {value}")
    if gate in (access, wrapping):
        sys.exit(f"{case['name']}: the gate key equals another key of the link")
    if decode_fragment(case["fragment"]) != secret:
        sys.exit(f"{case['name']}: the fragment does not decode to the link secret")
    print(f"{case['name']}: prk {prk.hex()} wrapping {wrapping.hex()} owner {owner.hex()}")


def main():
    default = pathlib.Path(__file__).resolve().parent / "links.json"
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    cases = json.loads(path.read_text())["cases"]
    for case in cases:
        check(case)
    for bad in ("A" * 42, "A" * 44, "A" * 42 + "B", "A" * 42 + "=", "A" * 42 + "+"):
        try:
            decode_fragment(bad)
        except ValueError:
            continue
        sys.exit(f"the fragment {bad!r} was accepted")
    print(f"{len(cases)} cases match the format")


if __name__ == "__main__":
    main()
