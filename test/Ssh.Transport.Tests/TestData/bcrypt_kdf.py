#!/usr/bin/python3
"""Derives keys with bcrypt_pbkdf from the python 'bcrypt' package (pyca/bcrypt; Debian: python3-bcrypt), an
implementation independent of Ssh.Transport's.

Used by test/Ssh.Transport.Tests/Crypto/BcryptPbkdfTests.cs. Reads one JSON request from stdin:

  [{"password": "<hex>", "salt": "<hex>", "rounds": N, "length": N}, ...]

and writes ["<hex key>", ...] to stdout.
"""
import json
import sys
import warnings

import bcrypt


def main():
    requests = json.load(sys.stdin)
    keys = []
    with warnings.catch_warnings():
        # Few rounds keep the test fast; older bcrypt releases warn about them (newer ones take ignore_few_rounds).
        warnings.simplefilter("ignore")
        for r in requests:
            key = bcrypt.kdf(bytes.fromhex(r["password"]), bytes.fromhex(r["salt"]), r["length"], r["rounds"])
            keys.append(key.hex())
    json.dump(keys, sys.stdout)


if __name__ == "__main__":
    main()
