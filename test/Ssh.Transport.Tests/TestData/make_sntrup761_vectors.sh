#!/bin/bash
# Regenerates sntrup761_vectors.json: known answers from the designers' reference code (supercop's sntrup761, as
# OpenSSH ships it in sntrup761.c), with the randomness drawn from a deterministic stream the test reproduces:
# block i of a case's stream is SHA-512(seed || i as 4 bytes little-endian), the blocks concatenated.
#   bash make_sntrup761_vectors.sh [OPENSSH_SOURCE_TARBALL]   (default: ../shared/peers/openssh-portable-10.5.tar.gz)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tarball=${1:-$here/../../../../shared/peers/openssh-portable-10.5.tar.gz}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" --wildcards '*/sntrup761.c'
cp "$work"/*/sntrup761.c "$work/"
cat > "$work/includes.h" <<'H'
#define USE_SNTRUP761X25519 1
H
cat > "$work/crypto_api.h" <<'H'
#include <stdint.h>
#include <string.h>
#define crypto_kem_sntrup761_PUBLICKEYBYTES 1158
#define crypto_kem_sntrup761_SECRETKEYBYTES 1763
#define crypto_kem_sntrup761_CIPHERTEXTBYTES 1039
#define crypto_kem_sntrup761_BYTES 32
typedef int8_t crypto_int8; typedef uint8_t crypto_uint8; typedef int16_t crypto_int16; typedef uint16_t crypto_uint16;
typedef int32_t crypto_int32; typedef uint32_t crypto_uint32; typedef int64_t crypto_int64; typedef uint64_t crypto_uint64;
void randombytes(void *buf, unsigned long long len);
int crypto_hash_sha512(unsigned char *out, const unsigned char *in, unsigned long long len);
int crypto_kem_sntrup761_keypair(unsigned char *pk, unsigned char *sk);
int crypto_kem_sntrup761_enc(unsigned char *c, unsigned char *k, const unsigned char *pk);
int crypto_kem_sntrup761_dec(unsigned char *k, const unsigned char *c, const unsigned char *sk);
H
cat > "$work/main.c" <<'H'
#include <stdio.h>
#include <openssl/sha.h>
#include "crypto_api.h"
volatile crypto_int16 crypto_int16_optblocker = 0;
volatile crypto_int32 crypto_int32_optblocker = 0;
volatile crypto_int64 crypto_int64_optblocker = 0;
static unsigned char seed[32]; static uint32_t block; static unsigned char buf[64]; static int used = 64;
static void reseed(int n) { memset(seed, 0, 32); seed[0] = (unsigned char)n; seed[1] = 0x76; block = 0; used = 64; }
void randombytes(void *out, unsigned long long len) {
  unsigned char *o = out;
  while (len--) {
    if (used == 64) { unsigned char in[36]; memcpy(in, seed, 32); in[32] = block; in[33] = block >> 8; in[34] = block >> 16; in[35] = block >> 24; SHA512(in, 36, buf); block++; used = 0; }
    *o++ = buf[used++];
  }
}
int crypto_hash_sha512(unsigned char *out, const unsigned char *in, unsigned long long len) { SHA512(in, len, out); return 0; }
static void hex(const char *name, const unsigned char *p, int n, const char *end) { printf("\"%s\": \"", name); for (int i = 0; i < n; i++) printf("%02x", p[i]); printf("\"%s", end); }
int main(void) {
  unsigned char pk[1158], sk[1763], ct[1039], ss[32], ss2[32], bad[1039], ssbad[32];
  printf("{\"cases\": [\n");
  for (int n = 0; n < 8; n++) {
    reseed(n);
    crypto_kem_sntrup761_keypair(pk, sk);
    crypto_kem_sntrup761_enc(ct, ss, pk);
    crypto_kem_sntrup761_dec(ss2, ct, sk);
    if (memcmp(ss, ss2, 32)) return 1;
    memcpy(bad, ct, 1039); bad[n * 100] ^= 1;
    crypto_kem_sntrup761_dec(ssbad, bad, sk);
    printf("{\"seed\": %d, ", n); hex("pk", pk, 1158, ", "); hex("sk", sk, 1763, ", "); hex("ct", ct, 1039, ", "); hex("ss", ss, 32, ", ");
    printf("\"badIndex\": %d, ", n * 100); hex("ssBad", ssbad, 32, "}");
    printf(n < 7 ? ",\n" : "\n");
  }
  printf("]}\n");
  return 0;
}
H
gcc -O2 -w -I"$work" -o "$work/gen" "$work/main.c" "$work/sntrup761.c" -lcrypto
"$work/gen" > "$here/sntrup761_vectors.json"
echo "wrote $here/sntrup761_vectors.json"
