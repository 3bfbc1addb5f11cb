#!/usr/bin/python3
"""Writes aes_vectors.json: SSH packets sealed by AsyncSSH's packet code (asyncssh.encryption, on top of
pyca/cryptography and Python's hmac), as an independent reference for the AES, 3DES and HMAC constructions.

Run from this directory with the system Python (Debian python3-asyncssh 2.10, python3-cryptography 38):

    /usr/bin/python3 make_aes_vectors.py

Everything is deterministic: keys, IVs, payloads and padding come from SHA-256 of fixed labels, so the file
only changes when this script does. Each construction seals several packets in sequence with one encryption
object, so GCM invocation counters, CTR streams and CBC chains advance as they do on a connection.
"""

import hashlib
import json
import warnings

warnings.simplefilter("ignore")  # AsyncSSH imports deprecated legacy ciphers we do not use.

from asyncssh.encryption import get_encryption  # noqa: E402

SEQ_MASK = 0xFFFFFFFF


def material(label, length):
    """length bytes derived from label (SHA-256 in counter mode)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:length]


def build_packet(payload, block, length_in_alignment, extra_blocks, label):
    """uint32 packet_length || byte padding_length || payload || padding (RFC 4253 section 6)."""
    unpadded = 1 + len(payload) + (4 if length_in_alignment else 0)
    padding = block - unpadded % block
    if padding < 4:
        padding += block
    padding += extra_blocks * block
    assert 4 <= padding <= 255
    packet_length = 1 + len(payload) + padding
    header = packet_length.to_bytes(4, "big")
    body = bytes([padding]) + payload + material(label + "/padding", padding)
    return header, body


# SSH cipher name: (key length, IV length, block size)
CIPHERS = {
    "aes128-gcm@openssh.com": (16, 12, 16),
    "aes256-gcm@openssh.com": (32, 12, 16),
    "aes128-ctr": (16, 16, 16),
    "aes192-ctr": (24, 16, 16),
    "aes256-ctr": (32, 16, 16),
    "aes128-cbc": (16, 16, 16),
    "aes192-cbc": (24, 16, 16),
    "aes256-cbc": (32, 16, 16),
    "3des-cbc": (24, 8, 8),
}

MAC_KEY_SIZES = {"hmac-sha1": 20, "hmac-sha2-256": 32, "hmac-sha2-512": 64}

# Payload sizes of the packets of each construction; (size, extra padding blocks).
PACKETS = [(1, 0), (27, 1), (300, 0), (700, 3), (64, 0), (517, 0)]


def constructions():
    """Every construction to cover, with the IV and first sequence number that exercise wrap-arounds."""
    out = []
    out.append(("aes128-gcm@openssh.com", "", False, None, 3))
    # Invocation counter two steps from 2^64: it wraps to 0 within the run; the fixed field must not change.
    out.append(("aes256-gcm@openssh.com", "", False, bytes.fromhex("a1b2c3d4fffffffffffffffe"), 0xFFFFFFFE))
    for cipher in ("aes128-ctr", "aes192-ctr", "aes256-ctr"):
        for mac in ("hmac-sha1", "hmac-sha2-256", "hmac-sha2-512"):
            for etm in (False, True):
                iv = None
                if cipher == "aes128-ctr" and mac == "hmac-sha2-256":
                    # Low 64 bits of the counter wrap after 16 blocks: the carry must reach the high half.
                    iv = bytes.fromhex("0001020304050607fffffffffffffff0")
                if cipher == "aes256-ctr" and mac == "hmac-sha1":
                    # The whole 128-bit counter wraps to zero.
                    iv = bytes.fromhex("fffffffffffffffffffffffffffffffd")
                out.append((cipher, mac, etm, iv, 0xFFFFFFFD if etm else 5))
    for cipher in ("aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"):
        for etm in (False, True):
            out.append((cipher, "hmac-sha2-256", etm, None, 11))
    for mac in ("hmac-sha1", "hmac-sha2-512"):
        out.append(("aes128-cbc", mac, False, None, 100))
        out.append(("3des-cbc", mac, True, None, 200))
    return out


def main():
    result = {
        "generator": "make_aes_vectors.py (AsyncSSH asyncssh.encryption.get_encryption)",
        "constructions": [],
    }
    for cipher, mac, etm, special_iv, first_seq in constructions():
        key_size, iv_size, block = CIPHERS[cipher]
        name = cipher if not mac else f"{cipher} {mac}{'-etm@openssh.com' if etm else ''}"
        key = material(name + "/key", key_size)
        iv = special_iv if special_iv is not None else material(name + "/iv", iv_size)
        mac_key = material(name + "/mackey", MAC_KEY_SIZES[mac]) if mac else b""
        gcm = cipher.endswith("-gcm@openssh.com")
        length_in_alignment = not gcm and not etm
        mac_alg = (mac + ("-etm@openssh.com" if etm else "")).encode() if mac else b""
        enc = get_encryption(cipher.encode(), key, iv, mac_alg, mac_key, etm)
        packets = []
        for index, (size, extra) in enumerate(PACKETS):
            seq = (first_seq + index) & SEQ_MASK
            label = f"{name}/{index}"
            payload = bytes([94]) + material(label + "/payload", size - 1)  # SSH_MSG_CHANNEL_DATA-like
            header, body = build_packet(payload, max(8, block), length_in_alignment, extra, label)
            sealed, tag = enc.encrypt_packet(seq, header, body)
            if gcm or etm:
                assert sealed[:4] == header
            packets.append({
                "seq": seq,
                "plain": (header + body).hex(),
                "sealed": sealed.hex(),
                "tag": tag.hex(),
            })
        result["constructions"].append({
            "name": name,
            "cipher": cipher,
            "mac": mac,
            "etm": etm,
            "key": key.hex(),
            "iv": iv.hex(),
            "macKey": mac_key.hex(),
            "packets": packets,
        })
    with open("aes_vectors.json", "w", encoding="ascii") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
