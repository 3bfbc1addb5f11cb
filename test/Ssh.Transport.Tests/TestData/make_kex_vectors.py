#!/usr/bin/python3
"""Known answers for the classical SSH key exchanges, computed independently of Ssh.Transport.

- Finite-field DH (RFC 4253 section 8, RFC 4419): the groups are rebuilt from their defining formula
  p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k) (RFC 2409 section 6.2, RFC 3526), with pi computed
  here by Machin's formula, and exponentiated with Python's pow.
- ECDH over P-256/384/521 (RFC 5656): pure-Python affine arithmetic, cross-checked with python3-cryptography.
- X25519 (RFC 7748, RFC 8731): pure-Python Montgomery ladder, cross-checked with python3-cryptography and the
  RFC 7748 section 6.1 example.

K is given encoded as it enters the exchange hash: an mpint (RFC 4251 section 5) for all of these methods; for
curve25519 the 32 X25519 output bytes are read as an unsigned big-endian number (RFC 8731 section 3.1).
Run: /usr/bin/python3 make_kex_vectors.py > kex_vectors.json
"""
import json
import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519


def mpint(value: int) -> bytes:
    """RFC 4251 section 5 mpint of a non-negative number: minimal two's complement, 0x00 added if the top bit is set."""
    if value == 0:
        return bytes(4)
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    if body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return len(body).to_bytes(4, "big") + body


def magnitude(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


# ---- pi and the MODP groups -------------------------------------------------------------------------------------

def arctan_inverse(x: int, one: int) -> int:
    total = term = one // x
    n, sign = 1, -1
    while term:
        term //= x * x
        n += 2
        total += sign * (term // n)
        sign = -sign
    return total


def pi_times_power_of_two(bits: int) -> int:
    """floor(pi * 2^bits), with 64 guard bits."""
    one = 1 << (bits + 64)
    return (4 * (4 * arctan_inverse(5, one) - arctan_inverse(239, one))) >> 64


def modp_group(n: int, k: int) -> int:
    return 2**n - 2**(n - 64) - 1 + 2**64 * (pi_times_power_of_two(n - 130) + k)


GROUPS = {
    "oakley2": modp_group(1024, 129093),  # RFC 2409 section 6.2
    "group14": modp_group(2048, 124476),  # RFC 3526 section 3
    "group15": modp_group(3072, 1690314),  # RFC 3526 section 4
    "group16": modp_group(4096, 240904),  # RFC 3526 section 5
    "group17": modp_group(6144, 929484),  # RFC 3526 section 6
    "group18": modp_group(8192, 4743158),  # RFC 3526 section 7
}

# ---- NIST prime curves (FIPS 186-4 D.1.2 / SEC 2) ------------------------------------------------------------------

CURVES = {
    "ecdh-sha2-nistp256": dict(
        size=32, crypto=ec.SECP256R1(),
        p=2**256 - 2**224 + 2**192 + 2**96 - 1,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
        n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ecdh-sha2-nistp384": dict(
        size=48, crypto=ec.SECP384R1(),
        p=2**384 - 2**128 - 2**96 + 2**32 - 1,
        b=0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
        gx=0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
        gy=0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
        n=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973),
    "ecdh-sha2-nistp521": dict(
        size=66, crypto=ec.SECP521R1(),
        p=2**521 - 1,
        b=0x0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
        gx=0x00C6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66,
        gy=0x011839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650,
        n=0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409),
}


def ec_add(c, P, Q):
    p = c["p"]
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0] and (P[1] + Q[1]) % p == 0:
        return None
    if P == Q:
        lam = (3 * P[0] * P[0] - 3) * pow(2 * P[1], -1, p) % p  # a = -3
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (lam * lam - P[0] - Q[0]) % p
    return (x, (lam * (P[0] - x) - P[1]) % p)


def ec_mul(c, k, P):
    R = None
    for bit in bin(k)[2:]:
        R = ec_add(c, R, R)
        if bit == "1":
            R = ec_add(c, R, P)
    return R


def on_curve(c, P):
    x, y = P
    return (y * y - (x * x * x - 3 * x + c["b"])) % c["p"] == 0


# ---- X25519 (RFC 7748 section 5) -----------------------------------------------------------------------------------

P25519 = 2**255 - 19


def x25519_scalar(k: bytes) -> int:
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def x25519_fn(k: bytes, u: bytes) -> bytes:
    scalar = x25519_scalar(k)
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (scalar >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P25519, (x2 - z2) % P25519
        aa, bb = a * a % P25519, b * b % P25519
        e = (aa - bb) % P25519
        c, d = (x3 + z3) % P25519, (x3 - z3) % P25519
        da, cb = d * a % P25519, c * b % P25519
        x3 = (da + cb) ** 2 % P25519
        z3 = x1 * (da - cb) ** 2 % P25519
        x2 = aa * bb % P25519
        z2 = e * (aa + 121665 * e) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def crypto_x25519(private: bytes, peer: bytes) -> bytes:
    return x25519.X25519PrivateKey.from_private_bytes(private).exchange(x25519.X25519PublicKey.from_public_bytes(peer))


def raw_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


BASE = (9).to_bytes(32, "little")
# RFC 7748 section 6.1 example.
_alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
_bob = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
assert x25519_fn(_alice, x25519_fn(_bob, BASE)).hex() == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

rng = random.Random(8731)


def dh_vectors():
    methods = [
        ("diffie-hellman-group14-sha256", "group14", 256),
        ("diffie-hellman-group14-sha1", "group14", 256),
        ("diffie-hellman-group1-sha1", "oakley2", 256),
        ("diffie-hellman-group16-sha512", "group16", 512),
        ("diffie-hellman-group18-sha512", "group18", 512),
        ("diffie-hellman-group-exchange-sha256", "group15", 256),
        ("diffie-hellman-group-exchange-sha256", "group17", 256),
        ("diffie-hellman-group-exchange-sha1", "group14", 256),
    ]
    out = []
    for method, group, bits in methods:
        p = GROUPS[group]
        for case in range(2):
            while True:
                x_c = rng.getrandbits(bits) | (1 << (bits - 1))
                x_s = rng.getrandbits(bits) | (1 << (bits - 1))
                k = pow(pow(2, x_c, p), x_s, p)
                top = k >> (p.bit_length() - 8)
                # Case 0: K's top bit set (mpint gains a 0x00); case 1 (group 14): K a byte shorter than p.
                if case == 0 and top >= 0x80:
                    break
                if case == 1 and (group != "group14" or top == 0):
                    break
            e, f = pow(2, x_c, p), pow(2, x_s, p)
            assert pow(f, x_c, p) == k
            out.append({"method": method, "group": group, "bits": p.bit_length(), "p": magnitude(p).hex(), "g": 2,
                        "xC": magnitude(x_c).hex(), "xS": magnitude(x_s).hex(),
                        "e": magnitude(e).hex(), "f": magnitude(f).hex(), "k": mpint(k).hex()})
    return out


def ecdh_vectors():
    out = []
    for method, c in CURVES.items():
        G = (c["gx"], c["gy"])
        assert on_curve(c, G) and ec_mul(c, c["n"], G) is None
        for case in range(3):
            while True:
                d_c = rng.randrange(1, c["n"])
                d_s = rng.randrange(1, c["n"])
                Q_c, Q_s = ec_mul(c, d_c, G), ec_mul(c, d_s, G)
                shared = ec_mul(c, d_c, Q_s)
                assert shared == ec_mul(c, d_s, Q_c)
                x_bytes = shared[0].to_bytes(c["size"], "big")
                # Case 0: top bit set (a P-521 coordinate never fills its 66 bytes); case 1: leading zero byte
                # (P-256 only); case 2: anything.
                if (case == 0 and (x_bytes[0] >= 0x80 or c["size"] == 66)) or (case == 1 and (method != "ecdh-sha2-nistp256" or x_bytes[0] == 0)) or case == 2:
                    break
            point = lambda Q: b"\x04" + Q[0].to_bytes(c["size"], "big") + Q[1].to_bytes(c["size"], "big")
            # Cross-check with OpenSSL through python3-cryptography.
            priv_c = ec.derive_private_key(d_c, c["crypto"])
            priv_s = ec.derive_private_key(d_s, c["crypto"])
            assert priv_c.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint) == point(Q_c)
            assert priv_c.exchange(ec.ECDH(), priv_s.public_key()) == x_bytes
            out.append({"method": method, "dC": d_c.to_bytes(c["size"], "big").hex(), "dS": d_s.to_bytes(c["size"], "big").hex(),
                        "qC": point(Q_c).hex(), "qS": point(Q_s).hex(), "k": mpint(shared[0]).hex()})
    return out


def x25519_vectors():
    out = []
    pairs = [(_alice, _bob)]
    for case in range(4):
        while True:
            a = bytes(rng.getrandbits(8) for _ in range(32))
            b = bytes(rng.getrandbits(8) for _ in range(32))
            first = x25519_fn(a, x25519_fn(b, BASE))[0]
            # Case 0: top bit of the first byte set; case 1: a leading zero byte; others: anything.
            if (case == 0 and first >= 0x80) or (case == 1 and first == 0) or case >= 2:
                break
        pairs.append((a, b))
    for i, (a, b) in enumerate(pairs):
        q_c, q_s = x25519_fn(a, BASE), x25519_fn(b, BASE)
        shared = x25519_fn(a, q_s)
        assert shared == x25519_fn(b, q_c) == crypto_x25519(a, q_s)
        assert q_c == raw_public(x25519.X25519PrivateKey.from_private_bytes(a))
        method = "curve25519-sha256" if i % 2 == 0 else "curve25519-sha256@libssh.org"
        out.append({"method": method, "a": a.hex(), "b": b.hex(), "qC": q_c.hex(), "qS": q_s.hex(),
                    "k": mpint(int.from_bytes(shared, "big")).hex()})
    return out


print(json.dumps({"dh": dh_vectors(), "ecdh": ecdh_vectors(), "x25519": x25519_vectors()}, indent=1))
