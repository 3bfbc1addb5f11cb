#!/usr/bin/python3
"""Signs and verifies SSH signature blobs with paramiko, an SSH implementation independent of Ssh.Transport.

Used by test/Ssh.Transport.Tests/HostKeys/ParamikoInteropTests.cs. Reads one JSON request from stdin:

  {"public_blob": "<hex>",                  the public key blob (RFC 4253 6.6)
   "private_key_file": "<path>" or null,    the private key to sign with (OpenSSH format)
   "verify": [{"data": "<hex>", "signature": "<hex signature blob>"}, ...],
   "sign": [{"data": "<hex>", "algorithm": "<signature algorithm>"}, ...]}

and writes {"verified": [true|false, ...], "signatures": ["<hex signature blob>", ...]} to stdout.
Needs paramiko 2.9 or later (rsa-sha2-256/512); Debian: apt install python3-paramiko.
"""
import json
import sys

import paramiko


def key_class(key_type):
    if key_type == "ssh-ed25519":
        return paramiko.Ed25519Key
    if key_type == "ssh-rsa":
        return paramiko.RSAKey
    if key_type.startswith("ecdsa-sha2-"):
        return paramiko.ECDSAKey
    raise SystemExit("unsupported key type " + key_type)


def main():
    request = json.load(sys.stdin)
    blob = bytes.fromhex(request["public_blob"])
    key_type = paramiko.Message(blob).get_text()
    cls = key_class(key_type)
    public = cls(data=blob)

    verified = []
    for item in request.get("verify", []):
        data = bytes.fromhex(item["data"])
        signature = paramiko.Message(bytes.fromhex(item["signature"]))
        try:
            verified.append(bool(public.verify_ssh_sig(data, signature)))
        except Exception:  # a malformed blob is a failed verification, not a harness failure
            verified.append(False)

    signatures = []
    if request.get("sign"):
        private = cls(filename=request["private_key_file"])
        if private.asbytes() != blob:
            raise SystemExit("the private key file does not match the public blob")
        for item in request["sign"]:
            data = bytes.fromhex(item["data"])
            if key_type == "ssh-rsa":
                message = private.sign_ssh_data(data, item["algorithm"])
            else:
                message = private.sign_ssh_data(data)
            signatures.append(message.asbytes().hex())

    json.dump({"verified": verified, "signatures": signatures}, sys.stdout)


if __name__ == "__main__":
    main()
