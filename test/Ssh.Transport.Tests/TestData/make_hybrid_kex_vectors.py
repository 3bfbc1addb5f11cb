#!/usr/bin/env python3
"""Known answers for mlkem768nistp256-sha256, computed independently of Ssh.Transport.

The method (OpenSSH 10.5 kexmlkem768ecdh.c, draft-ietf-sshm-mlkem-hybrid-kex):
  C_INIT  = ML-KEM-768 encapsulation key (1184 bytes) || Q_C (P-256, SEC1 uncompressed, 65 bytes)
  S_REPLY = ML-KEM-768 ciphertext (1088 bytes)        || Q_S (65 bytes)
  K       = string(SHA-256(mlkem_shared_secret || ecdh_x)), ecdh_x the 32-byte x-coordinate (not an mpint)
Both values travel, and enter the exchange hash, as SSH strings.

- The client case: the ML-KEM key pair comes from a fixed 64-byte seed (d || z, FIPS 203 section 7.1) through OpenSSL
  (python3-cryptography's MLKEM768PrivateKey.from_seed_bytes); the server's ciphertext and secret are one OpenSSL
  encapsulation to it (OpenSSL's own randomness: a rerun makes a new, equally valid case), checked by decapsulating.
- The server case: encapsulation with fixed randomness m is not exposed by OpenSSL's Python binding, so the
  ML-KEM part is NIST's ACVP ML-KEM-encapDecap-FIPS203 vector, test group 2 (ML-KEM-768), tcId 26 (ek, m, c, k);
  ek is checked against H(ek) from the same vector's dk, and k against G(m || H(ek)) (FIPS 203 algorithm 17).
- P-256 by python3-cryptography (OpenSSL); SHA-256 and the exchange hash by hashlib.

Needs python3-cryptography 47 or later (ML-KEM). Run: python3 make_hybrid_kex_vectors.py > hybrid_kex_vectors.json
"""
import hashlib
import json
import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem

# NIST ACVP-Server gen-val/json-files/ML-KEM-encapDecap-FIPS203/internalProjection.json, tgId 2, tcId 26.
ACVP_EK = (
    "bef6a4f25671d65643b8fb83ee702fd62029d0b4bac82c0d3f699058337c2d759de3b257160a723480aa5eb6bbe1c62cd293b24d86a09d09"
    "4dabbb3ef4db9c93305e2d8c1ac2b79345ca206106a5964bb380bc5f1d2b59e7e21521e57d5fc226c610377380ca92cc162adb3f15600f74"
    "8102b6fb78915aa5e678be349c3a9b2713c0d60c1d05c4c6dbaa5bb8356ac165f444c1675c97cbf50855e0c710d25cde88c528d50bfe896f"
    "d39846a0b9c599544d98c69580c18c0211b4684614339b490e367f3a8bbc5536615197ca36f9ac8dc8091ecaa3846900c538c44b617d4763"
    "06005671a4e3239ef01f4d913a82754483848e1ac66a3d42c25fbc732a2a594008ac00b561f7010319b87317311e73e971ba051e5aa0ba4d"
    "1b27c729a3c8ccabfaab52726b34a5bc5da337b6d58911395a72da6117ca9523efa5b985aca94863c4a66676ca3a94b94437ae19a76afcb8"
    "c7c980f4e2c2220799925c23e200a7683556f058c0f5a552d45aac17272cbd398a89f234747149f8c79a0a808697ba2e74a58987620b227c"
    "7e0012796ea76bbc459b2a637ca2d65e43f92b535c0b33578500281a5fdc3d3654821252cee20339d49088ca1422a822764e3acbe8180e26"
    "168de2563052482a4e562237a341ae7caa80533126727e96d555230a5782a7addec4cb5e9cc874336a4076aeab83997a7b507af25bb1720c"
    "e6aaa27fbc1f2adc40f5c97e4f9058eb57a0216c2d0a83391a3714c8abc1e1230378770f105c58ff2b54ed2921d0d977bb203beb8b8200ec"
    "76f6c548b6c440e5b9b82a0c1bf168bd61e4a8e3a2831ba78db3a98ec7fc8161291c1fd5a1de1144dddb344af4bd74b7c846a40326c21713"
    "1b5e5260af137795fa03907586a4ba8880c7bbb4f98a32a1518b9aa1132129b5410500cedb26eff968ac52cae6e8766afa3c375a63743bad"
    "b0358ce8a5c02f437f262936b28bb320e366f2102abaa2a85c74658e3a19610b97f76a2d564a579ba368c74a1cc1c518f87a78a4bc519e4c"
    "c516303014d905d7181309d9318f717d3d08ad53b89664c45b83da31bdda09c24293f0344fdc317b88e099076098191567a1a7bb8fb5331e"
    "83a9ba70cf01a57302370e45f103dc012d3597a2d13cbf3af130b919762027915705d0559957681a1d30949981317dd0c467b698a0da396b"
    "31948c4b8b251a0cb9d225aef22badef967ca7f97a1d3c82c8e99247e9a9579909e57a669234c5f4263ce3e8ad04f1acc77075a7a2007166"
    "bc6ad1cf795329e6b5c6ff9ba16baac94e126b52d0489fd393dc9764baa58004f157fb159e67eb36a0b46a22cb660a402e2131800302007d"
    "394d5f37b7d92a8ef1e88509a55bef55009640c29cda00a9e26a74c42b2a2601a0041a326c6ae916043c7b95c4b55e14a364199b246c0b85"
    "c2490f297050a87a19f7a283483522c3696ec15396f9041901b03f068ca4640444c59b782461aeb61c864a0bd0270a5090b2b477e743b5f4"
    "b11ab22cddda9a0448a48fd0739091b54ee953c583458499a0af700c64e14a5562905e7401ed503000cc2668725505a820b4c400ecdc7922"
    "db33672abc19028b4d8039398b37174c671a820510ca1b38e636c6b3894c72acf699cc4644746ea25f3dc909f7d1e64550a398bf5e986a53"
    "6efc3a3803681aa4"
)
ACVP_H_EK = (
    "df6b4b0b09c4cc0233b1a7e2264e2439e3a58423cfc0a3006f433f77778950e2"
)
ACVP_M = (
    "6703e626702e99f0990b4d191dde3374a629e75ab3a45044e681ff553f22ff80"
)
ACVP_C = (
    "353ccdf722562fad5d13fed1e55c9428b51203d66bb5ea8764e726beea25b882d947a11cfa3c9abc9874eb2bc15226061cde8c51fcee6348"
    "3464d04a14314cff9305fc1f42411ff23cd654ef7c074c4e75fa5c1205761ddce21fd65a968161b060e98ec186f8981bbc6ab5cea71561a1"
    "2e7e2a6316cf231b6325f517c11e39e45dacde55a1a2a116a32a7d85ebd8afc89e5c60fca801d50ce32210d20a0a7edba5702d71097c681d"
    "e90f0de55d08dea17c8a558af7634571fa104a336d61a46cf1d3d14f4f65b1353d3ecb87d1587ee7358e5636e46051fafef0a6f4b2fe20be"
    "299b6bc12c06a5309e78034fc7c217fd2891f271e16fb2e2a3b58203e5e282d9f65ce40f542db4b523b97713fbf9693aa90bbfc16dcd9ef8"
    "31af8e2a74f0caa43e3633f9b1e0d2fdd48c02d77702202369b7be979e2f7f7910acdbeaa1afd1a0479fbe32af1d795144b06a821b93c695"
    "e82940a24096b1ef142cc2be2d3daf2a7d92881847bbf0aeeb376a13a90548ce24e4c1c8e7821ec954ee4b9422d7eff91fbc89af636ef1d8"
    "cb32c8d6cd35dcf2f9493b728cfde3d5d22c69df1f9dae13c58fbc04097e800a9a23ad6cf75bc35a831d9190ed8e047a8186acf55dd44480"
    "c0791f7adf602c028b71415d2416bf89ca6b4cfeb4dd56b1ba6f2199447108de26242b89d0a797a5d72d90da4fa29002517395a6d6765471"
    "8a1b22c9901b94129f1b2de39901c56208b0fbaf1504be7c6961892bdf970f7f4c70bca257bbd9b24736e51e64846aa9c0db4bafd4d4f1fe"
    "a851b40444eb4eac2fd27a21d907d7a885b4decff5788d36a74a0cf0e19786d402e276684a40eeac7db7b4c5cd83550f97d871d800e82ac6"
    "4954412ce4729df8e3bb9e1053fa15a693d28defb1e1fe869127231958dd388291c9fc89e75e2ebe34dd90802c1366e280623451f899e11f"
    "2d9f58566e79fc563bf7f5c236c527746c5ae7b43f9e61b94eeb94540ba3389698d16f6a1f73eb15cc2876160854b1d3284b4b0f15572465"
    "b18c6407d9e642f492f84a0cfe52c712348194cc9ec38b8526cdd8156f0659847119bb5fcb7b31f68ed619c7faf5288205b2a3f97cc835a1"
    "636bca20c92e525cfe259f9c991885a8a3963f314f424725c9f807af6c80c4b7beb7b0097d082833c1510951578b10e06055464e8377d3b8"
    "8b08daf2ee3fd7d8eae611afd044d1bbb3d9b6d8b0c04e194c9bc08163f95f07498d87a68c3806933ca1b6ed865118905ef9422d9b871e6d"
    "e95764b6af2635e6389ac85cd58a07fc8df419168e258bf36a4663200bd87635545a528a072ef063bf819e94d25c4b3a82b12a67bde1f22a"
    "211372da9f1e9c576400de5706f173ccb4667b8269137376853ad838d377ee133749c34e878ff7d7ddd7ddc518b1ab6b4fd1c6fdd545b306"
    "6bcf4c1d766b1fef36cc174ecd5d2f808f8ef24fad9b2dcd834371e97a629774ae65e9ef970be3f279ae5707e49f257c208ce76a0fd02e52"
    "6468c14d700b4d1aa86e6919faab251bc92c851dadddb4bb"
)
ACVP_K = (
    "1c3e20c191cb5cc748c4a1162827413ecc0bd4380a2c486e87a7a0246a59c0e8"
)

N_P256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

rng = random.Random(203)


def string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def p256(scalar: int):
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key, point


def scalar() -> int:
    return rng.randrange(1, N_P256)


def k_of(kem_secret: bytes, ecdh_x: bytes) -> bytes:
    assert len(kem_secret) == 32 and len(ecdh_x) == 32
    return string(hashlib.sha256(kem_secret + ecdh_x).digest())


def exchange_hash(q_c: bytes, q_s: bytes, k: bytes) -> dict:
    """RFC 5656 section 4 / RFC 8731 section 3 form: every value a string, K already encoded."""
    v_c, v_s = b"SSH-2.0-KatClient", b"SSH-2.0-KatServer"
    i_c, i_s = bytes([20]) + bytes(range(16)) + b"client kexinit", bytes([20]) + bytes(range(16, 32)) + b"server kexinit"
    k_s = string(b"ssh-ed25519") + string(bytes(range(32)))
    h = hashlib.sha256(string(v_c) + string(v_s) + string(i_c) + string(i_s) + string(k_s) + string(q_c) + string(q_s) + k).digest()
    return {"vC": v_c.hex(), "vS": v_s.hex(), "iC": i_c.hex(), "iS": i_s.hex(), "kS": k_s.hex(), "h": h.hex()}


def client_case() -> dict:
    seed = bytes(rng.getrandbits(8) for _ in range(64))
    client_kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
    ek = client_kem.public_key().public_bytes_raw()
    kem_secret, ciphertext = client_kem.public_key().encapsulate()
    assert client_kem.decapsulate(ciphertext) == kem_secret
    d_c, d_s = scalar(), scalar()
    (key_c, q_c), (key_s, q_s) = p256(d_c), p256(d_s)
    x = key_c.exchange(ec.ECDH(), key_s.public_key())
    assert x == key_s.exchange(ec.ECDH(), key_c.public_key())
    c_init, s_reply, k = ek + q_c, ciphertext + q_s, k_of(kem_secret, x)
    case = {"role": "client", "seed": seed.hex(), "dC": d_c.to_bytes(32, "big").hex(), "dS": d_s.to_bytes(32, "big").hex(),
            "cInit": c_init.hex(), "sReply": s_reply.hex(), "k": k.hex()}
    case.update(exchange_hash(c_init, s_reply, k))
    return case


def server_case() -> dict:
    ek, m, ciphertext, kem_secret = (bytes.fromhex(v) for v in (ACVP_EK, ACVP_M, ACVP_C, ACVP_K))
    h_ek = hashlib.sha3_256(ek).digest()
    assert h_ek.hex() == ACVP_H_EK
    assert hashlib.sha3_512(m + h_ek).digest()[:32] == kem_secret
    assert len(ek) == 1184 and len(ciphertext) == 1088
    d_c, d_s = scalar(), scalar()
    (key_c, q_c), (key_s, q_s) = p256(d_c), p256(d_s)
    x = key_s.exchange(ec.ECDH(), key_c.public_key())
    c_init, s_reply, k = ek + q_c, ciphertext + q_s, k_of(kem_secret, x)
    case = {"role": "server", "m": m.hex(), "dC": d_c.to_bytes(32, "big").hex(), "dS": d_s.to_bytes(32, "big").hex(),
            "cInit": c_init.hex(), "sReply": s_reply.hex(), "k": k.hex()}
    case.update(exchange_hash(c_init, s_reply, k))
    return case


print(json.dumps({"method": "mlkem768nistp256-sha256", "cases": [client_case(), server_case()]}, indent=1))
