#!/usr/bin/env bash
# Writes the file-format seeds that real tools make: private keys from ssh-keygen and openssl (unencrypted, encrypted
# with passphrase "fuzz" under several ciphers, PEM in every label), known_hosts and authorized_keys lines. The
# committed corpus/ was made by this script and by `Ssh.Transport.Fuzz seeds` (fuzz/build.sh --seeds); rerun only
# to refresh it.
set -euo pipefail
cd "$(dirname "$0")"
out=corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/private-key" "$out/known-hosts" "$out/authorized-keys"

pk="$out/private-key"
for t in ed25519 ecdsa256 ecdsa384 ecdsa521 rsa2048; do cp "keys/id_$t" "$pk/openssh-$t"; done
# Encrypted with each cipher ssh-keygen offers (-Z), at the lowest rounds (-a 1) so a seed parses quickly.
for c in aes256-ctr aes128-ctr aes192-ctr aes256-cbc aes128-cbc aes256-gcm@openssh.com aes128-gcm@openssh.com chacha20-poly1305@openssh.com 3des-cbc; do
  cp keys/id_ed25519 "$tmp/k"; chmod 600 "$tmp/k"
  ssh-keygen -q -p -P '' -N fuzz -a 1 -Z "$c" -f "$tmp/k" >/dev/null
  cp "$tmp/k" "$pk/encrypted-ed25519-${c%%@*}"
done
cp keys/id_ecdsa256 "$tmp/k"; chmod 600 "$tmp/k"; ssh-keygen -q -p -P '' -N fuzz -a 2 -f "$tmp/k" >/dev/null; cp "$tmp/k" "$pk/encrypted-ecdsa256"
cp keys/id_rsa2048 "$tmp/k"; chmod 600 "$tmp/k"; ssh-keygen -q -p -P '' -N fuzz -a 2 -f "$tmp/k" >/dev/null; cp "$tmp/k" "$pk/encrypted-rsa2048"
# PEM: ssh-keygen's own PEM/PKCS8 exports and openssl's keys in each label.
for t in ecdsa256 rsa2048; do
  cp "keys/id_$t" "$tmp/k"; chmod 600 "$tmp/k"; ssh-keygen -q -p -P '' -N '' -m PEM -f "$tmp/k" >/dev/null; cp "$tmp/k" "$pk/pem-$t"
  cp "keys/id_$t" "$tmp/k"; chmod 600 "$tmp/k"; ssh-keygen -q -p -P '' -N '' -m PKCS8 -f "$tmp/k" >/dev/null; cp "$tmp/k" "$pk/pkcs8-$t"
done
openssl genpkey -algorithm ed25519 -out "$pk/pkcs8-ed25519" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$pk/pkcs8-p384" 2>/dev/null
openssl ecparam -name secp521r1 -genkey -noout -out "$pk/sec1-p521" 2>/dev/null
openssl genrsa -traditional -out "$pk/pkcs1-rsa1024" 1024 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$pk/pkcs8-rsa1024" 2>/dev/null
openssl pkey -in "$pk/pkcs8-ed25519" -aes256 -passout pass:fuzz -out "$pk/pkcs8-encrypted" 2>/dev/null
openssl genrsa -traditional -aes128 -passout pass:fuzz -out "$pk/pkcs1-encrypted" 1024 2>/dev/null || true

kh="$out/known-hosts"
ed=$(cut -d' ' -f1,2 keys/id_ed25519.pub); ec=$(cut -d' ' -f1,2 keys/id_ecdsa256.pub); rsa=$(cut -d' ' -f1,2 keys/id_rsa2048.pub)
printf 'example.com %s\n' "$ed" > "$kh/plain"
printf 'example.com,192.0.2.1,[example.com]:2222 %s comment\n*.example.org,!bad.example.org %s\n# comment\n\n' "$ed" "$ec" > "$kh/patterns"
printf '@revoked example.com %s\n@cert-authority *.example.com %s\nexample.com %s\n' "$rsa" "$ec" "$ed" > "$kh/markers"
printf 'example.com %s\r\n[::1]:22 %s\r\n' "$ed" "$rsa" > "$kh/crlf"
printf 'example.com %s\n192.0.2.1 %s\n' "$ed" "$ec" > "$tmp/kh"; ssh-keygen -q -H -f "$tmp/kh" >/dev/null 2>&1; cp "$tmp/kh" "$kh/hashed"

ak="$out/authorized-keys"
cp keys/id_ed25519.pub "$ak/plain"
{
  printf 'restrict,pty %s a\n' "$ed"
  printf 'from="192.0.2.0/24,!192.0.2.9,*.example.com",no-agent-forwarding %s b\n' "$ec"
  printf 'command="echo \\"hi\\"",environment="A=b",permitopen="host:22",permitlisten="localhost:8080",expiry-time="20300101" %s c\n' "$rsa"
  printf 'expiry-time="202601011200Z",tunnel="1",principals="a,b",no-touch-required %s d\n' "$ed"
  printf 'from="2001:db8::/32,::1" %s e\n' "$ed"
  printf 'cert-authority %s f\n' "$ed"
  printf 'ssh-dss AAAAB3NzaC1kc3M= g\n'
} > "$ak/options"
# Host certificates (ssh-keygen -s, CA = id_ecdsa384) for the host-key target: uint16 length, the certificate blob, then
# the certified key's signature of HostKeyTarget.SignedData (python3-cryptography signs).
hk="$out/host-key"
cp keys/id_ecdsa384 "$tmp/ca"; chmod 600 "$tmp/ca"
for t in ed25519 rsa2048; do
  cp "keys/id_$t.pub" "$tmp/$t.pub"
  ssh-keygen -q -s "$tmp/ca" -I "fuzz $t" -h -n example.com,*.example.org -O extension:x@example.com=1 -V 20250101:20350101 "$tmp/$t.pub"
  python3 - "$tmp/$t-cert.pub" "keys/id_$t" "$hk/cert-$t" <<'PY'
import base64, struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
blob = base64.b64decode(open(sys.argv[1]).read().split()[1])
key = serialization.load_ssh_private_key(open(sys.argv[2], "rb").read(), password=None)
data = b"Ssh.Transport fuzz: the exchange hash"
s = lambda b: struct.pack(">I", len(b)) + b
if isinstance(key, ed25519.Ed25519PrivateKey):
    sig = s(b"ssh-ed25519") + s(key.sign(data))
else:
    sig = s(b"rsa-sha2-512") + s(key.sign(data, padding.PKCS1v15(), hashes.SHA512()))
open(sys.argv[3], "wb").write(struct.pack(">H", len(blob)) + blob + sig)
PY
done
echo "file seeds written to $out/"
