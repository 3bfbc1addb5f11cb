#!/usr/bin/python3
"""Wire vectors for chacha20-poly1305@openssh.com made by implementations independent of ours.

Each packet is sealed twice and both results must agree:
  1. by AsyncSSH's own packet encryption (asyncssh.encryption.get_encryption, which uses
     asyncssh/crypto/chacha.py: the code AsyncSSH runs against real OpenSSH peers);
  2. by the construction of OpenSSH's PROTOCOL.chacha20poly1305 written out below from the
     ChaCha20 and Poly1305 primitives of `cryptography` (OpenSSL).

Everything is deterministic (keys, payloads and padding come from SHA-256 of fixed labels), so
running it again reproduces the committed file byte for byte:

    /usr/bin/python3 make_chacha_vectors.py

writes chacha20-poly1305-openssh.json next to this script. Tested with Debian's
python3-cryptography 38 and python3-asyncssh 2.10.
"""

import hashlib
import json
import os
import struct
import warnings

warnings.simplefilter("ignore")  # asyncssh imports ciphers that cryptography 38 deprecates

from asyncssh.encryption import get_encryption  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms  # noqa: E402
from cryptography.hazmat.primitives.poly1305 import Poly1305  # noqa: E402

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chacha20-poly1305-openssh.json")
NAME = b"chacha20-poly1305@openssh.com"


def deterministic_bytes(label: str, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:length])


def chacha20_original(key: bytes, iv: bytes, counter: int, data: bytes) -> bytes:
    # cryptography takes a 16-byte "nonce" = state words 12-15: here the 64-bit little-endian block
    # counter then the 8-byte IV, i.e. the original (not RFC 8439) layout that OpenSSH uses.
    nonce = counter.to_bytes(8, "little") + iv
    return Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor().update(data)


def seal_reference(key: bytes, seq: int, packet: bytes) -> bytes:
    k2, k1 = key[:32], key[32:]
    iv = seq.to_bytes(8, "big")  # uint64 sequence number, SSH wire encoding
    encrypted_length = chacha20_original(k1, iv, 0, packet[:4])
    ciphertext = chacha20_original(k2, iv, 1, packet[4:])
    poly_key = chacha20_original(k2, iv, 0, bytes(32))
    tag = Poly1305.generate_tag(poly_key, encrypted_length + ciphertext)
    return encrypted_length + ciphertext + tag


def seal_asyncssh(key: bytes, seq: int, packet: bytes) -> bytes:
    encryption = get_encryption(NAME, key, b"")
    ciphertext, tag = encryption.encrypt_packet(seq, packet[:4], packet[4:])
    return ciphertext + tag


def padding_length(payload_length: int, extra_blocks: int) -> int:
    # AEAD: padding_length || payload || padding is a multiple of 8, with at least 4 bytes of padding.
    pad = 8 - (1 + payload_length) % 8
    if pad < 4:
        pad += 8
    return pad + 8 * extra_blocks


def main() -> None:
    keys = [
        bytes(range(64)),
        deterministic_bytes("key/1", 64),
        deterministic_bytes("key/2", 64),
    ]
    sequence_numbers = [0, 1, 2, 3, 255, 256, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
    # Payload lengths around ChaCha20 block (64) and batch (256, 512, 1024 bytes) boundaries.
    payload_lengths = [1, 2, 11, 15, 16, 27, 54, 55, 59, 60, 63, 64, 100, 187, 250, 251, 255, 256, 300,
                       500, 507, 1000, 1011, 1019, 1500, 2043, 2100, 4096, 4500]

    vectors = []
    index = 0
    for payload_length in payload_lengths:
        key = keys[index % len(keys)]
        seq = sequence_numbers[index % len(sequence_numbers)]
        payload = deterministic_bytes(f"payload/{index}", payload_length)
        extra = (index * 7) % 4 if payload_length < 2000 else 0
        pad_length = padding_length(payload_length, extra)
        assert 4 <= pad_length <= 255
        padding = deterministic_bytes(f"padding/{index}", pad_length)
        packet_length = 1 + payload_length + pad_length
        assert packet_length % 8 == 0
        packet = struct.pack(">IB", packet_length, pad_length) + payload + padding

        sealed = seal_asyncssh(key, seq, packet)
        if sealed != seal_reference(key, seq, packet):
            raise SystemExit(f"vector {index}: AsyncSSH and the reference construction disagree")

        vectors.append({
            "key": key.hex(),
            "sequenceNumber": seq,
            "packetLength": packet_length,
            "paddingLength": pad_length,
            "payload": payload.hex(),
            "padding": padding.hex(),
            "sealed": sealed.hex(),
        })
        index += 1

    # Every sequence number on one fixed packet too, so that nonces 0, 1 and 2^32-1 are all covered.
    for seq in sequence_numbers:
        key = keys[1]
        payload = b"\x5e" + deterministic_bytes(f"fixed/{seq}", 40)
        pad_length = padding_length(len(payload), 0)
        padding = deterministic_bytes(f"fixed-padding/{seq}", pad_length)
        packet_length = 1 + len(payload) + pad_length
        packet = struct.pack(">IB", packet_length, pad_length) + payload + padding
        sealed = seal_asyncssh(key, seq, packet)
        if sealed != seal_reference(key, seq, packet):
            raise SystemExit(f"fixed packet, sequence number {seq}: AsyncSSH and the reference construction disagree")
        vectors.append({
            "key": key.hex(),
            "sequenceNumber": seq,
            "packetLength": packet_length,
            "paddingLength": pad_length,
            "payload": payload.hex(),
            "padding": padding.hex(),
            "sealed": sealed.hex(),
        })

    document = {
        "algorithm": NAME.decode(),
        "generator": "make_chacha_vectors.py: AsyncSSH get_encryption(), cross-checked against cryptography's ChaCha20 + Poly1305",
        "layout": "sealed = encrypted uint32 packet_length || ciphertext of (padding_length || payload || padding) || 16-byte tag",
        "vectors": vectors,
    }
    with open(OUTPUT, "w", encoding="ascii") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors to {OUTPUT}")


if __name__ == "__main__":
    main()
