#!/usr/bin/python3
"""Known answers for the SSH exchange hash, computed independently with hashlib.

H = HASH(string V_C || string V_S || string I_C || string I_S || string K_S || <method values> || K)
  Strings (RFC 5656 section 4, RFC 8731):   string Q_C || string Q_S
  Mpints (RFC 4253 section 8):              mpint e || mpint f
  GroupExchange (RFC 4419 section 3):       uint32 min || uint32 n || uint32 max || mpint p || mpint g || mpint e || mpint f
K is given already encoded. Run: /usr/bin/python3 make_exchange_hash_vectors.py > exchange_hash_vectors.json
"""
import hashlib
import json
import random


def string(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def mpint(value: int) -> bytes:
    if value == 0:
        return b"\0\0\0\0"
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")
    while len(body) > 1 and body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return string(body)


def magnitude(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


rng = random.Random(8731)
vectors = []
for form in ("Strings", "Mpints", "GroupExchange"):
    for hash_name, dotnet in (("sha256", "SHA256"), ("sha512", "SHA512"), ("sha1", "SHA1")):
        v_c = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
        v_s = b"SSH-2.0-SshTransport_0.1"
        i_c = bytes([20]) + bytes(rng.getrandbits(8) for _ in range(300))
        i_s = bytes([20]) + bytes(rng.getrandbits(8) for _ in range(280))
        k_s = string(b"ssh-ed25519") + string(bytes(rng.getrandbits(8) for _ in range(32)))
        k = mpint(rng.getrandbits(255) | (1 << 255))
        record = {"form": form, "hash": dotnet, "vc": v_c.hex(), "vs": v_s.hex(), "ic": i_c.hex(), "is": i_s.hex(),
                  "ks": k_s.hex(), "k": k.hex(), "min": 0, "n": 0, "max": 0, "p": "", "g": ""}
        if form == "Strings":
            q_c = bytes(rng.getrandbits(8) for _ in range(32))
            q_s = bytes(rng.getrandbits(8) for _ in range(32))
            data = string(v_c) + string(v_s) + string(i_c) + string(i_s) + string(k_s) + string(q_c) + string(q_s) + k
            record.update(clientPublic=q_c.hex(), serverPublic=q_s.hex())
        else:
            e = rng.getrandbits(2048) | (1 << 2047)
            f = rng.getrandbits(2040)
            if form == "Mpints":
                data = string(v_c) + string(v_s) + string(i_c) + string(i_s) + string(k_s) + mpint(e) + mpint(f) + k
            else:
                p = rng.getrandbits(2048) | (1 << 2047) | 1
                g = 2
                data = (string(v_c) + string(v_s) + string(i_c) + string(i_s) + string(k_s)
                        + (2048).to_bytes(4, "big") + (3072).to_bytes(4, "big") + (8192).to_bytes(4, "big")
                        + mpint(p) + mpint(g) + mpint(e) + mpint(f) + k)
                record.update(min=2048, n=3072, max=8192, p=magnitude(p).hex(), g=magnitude(g).hex())
            record.update(clientPublic=magnitude(e).hex(), serverPublic=magnitude(f).hex())
        record["expected"] = hashlib.new(hash_name, data).hexdigest()
        vectors.append(record)
print(json.dumps(vectors, indent=1))
