#!/usr/bin/env python3
"""Writes one seed corpus per fuzz target from the vector files of crypto/tests/vectors.

Usage: make_seeds.py OUT_DIR. Each target gets OUT_DIR/<target>/<name> files: the
valid values of the known-answer files and the inputs of the negative files, in the
byte layout that target reads (see the doc comment of each fuzz_targets/*.rs).
"""

import json
import pathlib
import struct
import sys

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "crypto" / "tests" / "vectors"


def load(name):
    return json.loads((VECTORS / "ours" / name).read_text())["cases"]


def negatives():
    for path in sorted((VECTORS / "ours" / "negative").glob("*.json")):
        yield path.stem, json.loads(path.read_text())


def seeds():
    """Yields (target, name, bytes)."""
    for i, case in enumerate(load("public_keys.json")):
        yield "public_key", f"known_{i}", bytes.fromhex(case["public_key"])
        yield "private_key", f"known_{i}", bytes.fromhex(case["secret_scalar"])
    for i, case in enumerate(load("wrapped_identity.json")):
        yield "wrapped_identity", f"known_{i}", bytes.fromhex(case["wrapped"])
    for i, case in enumerate(load("metadata_plaintext.json")):
        yield "metadata_decode", f"known_{i}", bytes.fromhex(case["encoded"])
    for i, case in enumerate(load("metadata_message.json")):
        yield "metadata_decrypt", f"known_{i}", bytes.fromhex(case["message"])
    for i, case in enumerate(load("layout.json")):
        yield "layout_from_ciphertext_len", f"known_{i}", struct.pack(">Q", case["ciphertext_len"])
    for i, case in enumerate(load("key_exchange.json")):
        record = bytes.fromhex(case["enc"]) + bytes.fromhex(case["sealed_key"])
        yield "sealed_file_key_parts", f"known_{i}", record
        yield "hpke_open", f"known_{i}", record
    for i, case in enumerate(load("file_ids.json")):
        yield "file_id", f"known_{i}", case["text"].encode()
    for i, case in enumerate(load("links.json")):
        yield "link_open", f"known_{i}_wrapped", bytes.fromhex(case["wrapped_key"])
        yield "link_open", f"known_{i}_sealed", bytes.fromhex(case["sealed_secret"])
    for i, case in enumerate(load("contents.json")):
        if "ciphertext" not in case:
            continue
        ciphertext = bytes.fromhex(case["ciphertext"])
        yield "chunked_decrypt", f"known_{i}", ciphertext
        header = struct.pack(">IQ", 0, len(ciphertext))
        yield "contents_part_decrypt", f"known_{i}", header + ciphertext[56:]

    for name, vector in negatives():
        form = vector["form"]
        if form == "public_key":
            yield "public_key", name, bytes.fromhex(vector["bytes"])
        elif form == "private_key":
            yield "private_key", name, bytes.fromhex(vector["bytes"])
        elif form == "wrapped_identity":
            yield "wrapped_identity", name, bytes.fromhex(vector["wrapped"])
        elif form == "metadata_plaintext":
            yield "metadata_decode", name, bytes.fromhex(vector["encoded"])
        elif form == "metadata_message":
            yield "metadata_decrypt", name, bytes.fromhex(vector["message"])
        elif form == "ciphertext_len":
            yield "layout_from_ciphertext_len", name, struct.pack(">Q", vector["ciphertext_len"])
        elif form == "file_id":
            yield "file_id", name, vector["text"].encode()
        elif form == "key_record":
            record = bytes.fromhex(vector["enc"]) + bytes.fromhex(vector["sealed_key"])
            yield "sealed_file_key_parts", name, record
            yield "hpke_open", name, record
        elif form == "link_wrapped_key":
            yield "link_open", name, bytes.fromhex(vector["wrapped_key"])
        elif form == "link_sealed_secret":
            yield "link_open", name, bytes.fromhex(vector["sealed_secret"])
        elif form in ("link_secret", "access_key"):
            yield "link_open", name, bytes.fromhex(vector["bytes"])
        elif form in ("contents", "chunked_message"):
            ciphertext = bytes.fromhex(vector["ciphertext"])
            yield "chunked_decrypt", name, ciphertext
            header = struct.pack(">IQ", 0, len(ciphertext))
            yield "contents_part_decrypt", name, header + ciphertext[56:]


def main():
    out = pathlib.Path(sys.argv[1])
    counts = {}
    for target, name, data in seeds():
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
        counts[target] = counts.get(target, 0) + 1
    for target in sorted(counts):
        print(f"{target}: {counts[target]} seeds")


if __name__ == "__main__":
    main()
