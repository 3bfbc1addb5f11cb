#!/usr/bin/python3
"""Known answers for SSH key derivation (RFC 4253 section 7.2), computed independently with hashlib.

K1 = HASH(K || H || X || session_id); K(n+1) = HASH(K || H || K1 || ... || Kn).
K is given already encoded (mpint or string, length prefix included), as it enters the hash.
Run: /usr/bin/python3 make_kdf_vectors.py > kdf_vectors.json
"""
import hashlib
import json
import random


def mpint(value: int) -> bytes:
    if value == 0:
        return b"\0\0\0\0"
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # room for a sign bit
    while len(body) > 1 and body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return len(body).to_bytes(4, "big") + body


def derive(hash_name, k, h, letter, session_id, length):
    out = hashlib.new(hash_name, k + h + letter + session_id).digest()
    while len(out) < length:
        out += hashlib.new(hash_name, k + h + out).digest()
    return out[:length]


rng = random.Random(4253)
vectors = []
for hash_name, dotnet in (("sha256", "SHA256"), ("sha512", "SHA512"), ("sha1", "SHA1")):
    size = hashlib.new(hash_name).digest_size
    for case in range(3):
        k = mpint(rng.getrandbits(2048) | (1 << 2047 if case == 0 else 0))
        h = bytes(rng.getrandbits(8) for _ in range(size))
        session_id = h if case == 0 else bytes(rng.getrandbits(8) for _ in range(size))
        for letter in b"ABCDEF":
            for length in (12, 16, 32, 64, 100):
                vectors.append({
                    "hash": dotnet,
                    "k": k.hex(),
                    "h": h.hex(),
                    "letter": chr(letter),
                    "sessionId": session_id.hex(),
                    "length": length,
                    "expected": derive(hash_name, k, h, bytes([letter]), session_id, length).hex(),
                })
print(json.dumps(vectors, indent=1))
