#!/usr/bin/env python3
"""Decrypts interop fixtures with a second implementation written from docs/format.md.

Usage: independent_decrypt.py FIXTURE.json...

It uses Python's hashlib and hmac and the `cryptography` package (Argon2id, AES-GCM,
P-256) and none of dtc-crypto's code: HKDF, HPKE mode_auth and Cobblestone-256 are
written out below from the definitions on that page. It follows "Decrypting a received
file" step by step and exits non-zero if any step fails or any result differs from what
the fixture expects.
"""

import hashlib
import hmac
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives import serialization

CHUNK = 16384
ENCRYPTED_CHUNK = CHUNK + 16
HEADER = 56
PART_CHUNKS = 256


def hkdf_extract(hash_name, salt, ikm):
    return hmac.new(salt, ikm, hash_name).digest()


def hkdf_expand(hash_name, prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return out[:length]


def password_keys(fixture):
    master = Argon2id(
        salt=bytes.fromhex(fixture["salt"]),
        length=32,
        iterations=fixture["iterations"],
        lanes=fixture["parallelism"],
        memory_cost=fixture["memory_kib"],
    ).derive(fixture["password"].encode("utf-8"))
    prk = hkdf_extract("sha256", b"", master)
    login = hkdf_expand("sha256", prk, b"data-transfer-cloud/v1/login-key", 32)
    wrapping = hkdf_expand("sha256", prk, b"data-transfer-cloud/v1/wrapping-key", 32)
    return login, wrapping


def unwrap_identity(wrapping_key, wrapped, username):
    if len(wrapped) == 0 or wrapped[0] != 0x01:
        raise ValueError("unknown wrapped identity key version")
    if len(wrapped) != 61:
        raise ValueError("wrapped identity key is not 61 bytes")
    aad = b"data-transfer-cloud/v1/identity-key\x00" + username.encode("utf-8")
    scalar = AESGCM(wrapping_key).decrypt(wrapped[1:13], wrapped[13:], aad)
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def sec1(public_key):
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def labeled_extract(suite, salt, label, ikm):
    return hkdf_extract("sha256", salt, b"HPKE-v1" + suite + label + ikm)


def labeled_expand(suite, prk, label, info, length):
    labeled = struct.pack(">H", length) + b"HPKE-v1" + suite + label + info
    return hkdf_expand("sha256", prk, labeled, length)


def open_auth(enc, recipient, sender_public, info, ciphertext):
    """RFC 9180 OpenAuth with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM."""
    kem_suite = b"KEM" + struct.pack(">H", 0x0010)
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
    dh = recipient.exchange(ec.ECDH(), ephemeral) + recipient.exchange(ec.ECDH(), sender)
    kem_context = enc + sec1(recipient.public_key()) + sender_public
    eae_prk = labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared = labeled_expand(kem_suite, eae_prk, b"shared_secret", kem_context, 32)

    suite = b"HPKE" + struct.pack(">HHH", 0x0010, 0x0001, 0x0002)
    psk_id_hash = labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(suite, b"", b"info_hash", info)
    context = bytes([0x02]) + psk_id_hash + info_hash
    secret = labeled_extract(suite, shared, b"secret", b"")
    key = labeled_expand(suite, secret, b"key", context, 32)
    base_nonce = labeled_expand(suite, secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(base_nonce, ciphertext, b"")


def chunked_decrypt(file_key, context, message):
    """Cobblestone-256 whole-message decryption, with the final-chunk rule."""
    if len(message) < HEADER:
        raise ValueError("truncated header")
    salt, commitment, body = message[:24], message[24:56], message[56:]
    info = b"c2sp.org/chunked-encryption@v1+" + b"AEAD_AES_256_GCM" + b"\x00" + salt + context
    derived = hkdf_expand("sha512", file_key, info, 76)
    key, base_nonce, expected = derived[:32], derived[32:44], derived[44:]
    if not hmac.compare_digest(commitment, expected):
        raise ValueError("commitment mismatch")
    if len(body) % ENCRYPTED_CHUNK < 16:
        raise ValueError("no message has this length")
    count = len(body) // ENCRYPTED_CHUNK + 1
    aead, out = AESGCM(key), b""
    for index in range(count):
        chunk = body[index * ENCRYPTED_CHUNK:(index + 1) * ENCRYPTED_CHUNK]
        nonce = bytes(a ^ b for a, b in zip(base_nonce, index.to_bytes(12, "big")))
        out += aead.decrypt(nonce, chunk, b"")
    return out


def decode_metadata(data):
    if data[0] != 0x01:
        raise ValueError("unknown metadata version")
    (name_len,) = struct.unpack(">H", data[1:3])
    if not 1 <= name_len <= 1024:
        raise ValueError("name length out of range")
    offset = 3
    name = data[offset:offset + name_len].decode("utf-8")
    offset += name_len
    (size,) = struct.unpack(">Q", data[offset:offset + 8])
    offset += 8
    media_len = data[offset]
    if media_len > 127:
        raise ValueError("media type too long")
    media = data[offset + 1:offset + 1 + media_len]
    if any(b < 0x20 or b > 0x7E for b in media):
        raise ValueError("media type is not printable ASCII")
    offset += 1 + media_len
    (modified,) = struct.unpack(">q", data[offset:offset + 8])
    if offset + 8 != len(data):
        raise ValueError("truncated or trailing metadata")
    return name, size, media.decode("ascii"), modified


def layout(ciphertext_len):
    body = ciphertext_len - HEADER
    if ciphertext_len < 72 or body % ENCRYPTED_CHUNK < 16:
        raise ValueError("no message has this length")
    plaintext_len = body // ENCRYPTED_CHUNK * CHUNK + body % ENCRYPTED_CHUNK - 16
    chunks = plaintext_len // CHUNK + 1
    parts = -(-chunks // PART_CHUNKS)
    return plaintext_len, parts


def decrypt(fixture):
    _, wrapping = password_keys(fixture)
    identity = unwrap_identity(
        wrapping, bytes.fromhex(fixture["wrapped_identity"]), fixture["username"]
    )
    assert sec1(identity.public_key()).hex() == fixture["public_key"], "wrong identity key"

    file_id = bytes.fromhex(fixture["file_id"])
    assert len(file_id) == 16, "file id is not 16 bytes"
    assert fixture["file_id"] == fixture["file_id"].lower(), "file id is not lowercase hex"
    info = b"data-transfer-cloud/v1/file-key\x00" + file_id
    file_key = open_auth(
        bytes.fromhex(fixture["enc"]),
        identity,
        bytes.fromhex(fixture["sender_public_key"]),
        info,
        bytes.fromhex(fixture["sealed_key"]),
    )

    metadata = decode_metadata(
        chunked_decrypt(file_key, b"data-transfer-cloud/v1/metadata", bytes.fromhex(fixture["metadata"]))
    )
    expected = (
        fixture["expected_name"],
        fixture["expected_size"],
        fixture["expected_media_type"],
        fixture["expected_modified_ms"],
    )
    assert metadata == expected, f"metadata {metadata} != {expected}"

    contents = bytes.fromhex(fixture["contents"])
    plaintext_len, _ = layout(len(contents))
    plaintext = chunked_decrypt(file_key, b"data-transfer-cloud/v1/contents", contents)
    assert len(plaintext) == plaintext_len == metadata[1]
    assert hashlib.sha256(plaintext).hexdigest() == fixture["expected_contents_sha256"]


def main():
    for path in sys.argv[1:]:
        with open(path) as file:
            fixture = json.load(file)
        decrypt(fixture)
        print(f"{path}: decrypted ({fixture['producer']} build) by the independent decoder")


if __name__ == "__main__":
    main()
