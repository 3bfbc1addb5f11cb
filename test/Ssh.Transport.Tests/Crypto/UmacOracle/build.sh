#!/usr/bin/env bash
# Builds umac_oracle (OpenSSH's umac.c, umac128.c and rijndael.c with a small driver) from an OpenSSH portable
# source snapshot. Only those three files are compiled; the few OpenSSH headers they expect are replaced by the
# minimal stand-ins written below (no ./configure needed).
#   build.sh SNAPSHOT.tar.gz OUTDIR    ->  OUTDIR/umac_oracle
set -euo pipefail
snapshot=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/src" "$out/shim"
tar -xzf "$snapshot" -C "$out/src" --wildcards --no-anchored 'umac.c' 'umac128.c' 'umac.h' 'rijndael.c' 'rijndael.h'
src=$(dirname "$(find "$out/src" -name umac.c | head -n 1)")

cat > "$out/shim/includes.h" <<'H'
#define _DEFAULT_SOURCE 1
#include <sys/types.h>
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
H
cat > "$out/shim/xmalloc.h" <<'H'
#include <stdio.h>
#include <stdlib.h>
static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) { fputs("out of memory\n", stderr); abort(); }
	return p;
}
H
cat > "$out/shim/misc.h" <<'H'
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
static inline uint32_t get_u32(const void *v)
{
	const unsigned char *p = v;
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint32_t get_u32_le(const void *v)
{
	const unsigned char *p = v;
	return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline void put_u32(void *v, uint32_t x)
{
	unsigned char *p = v;
	p[0] = x >> 24; p[1] = x >> 16; p[2] = x >> 8; p[3] = x;
}
static inline void put_u32_le(void *v, uint32_t x)
{
	unsigned char *p = v;
	p[3] = x >> 24; p[2] = x >> 16; p[1] = x >> 8; p[0] = x;
}
static inline void freezero(void *p, size_t n)
{
	if (p != NULL) { explicit_bzero(p, n); free(p); }
}
H

cc=${CC:-gcc}
# -fno-strict-aliasing as OpenSSH's configure adds it: umac.c type-puns its buffers, and without it gcc -O2 gives wrong
# tags for messages over 1024 bytes.
flags=(-O2 -fno-strict-aliasing -fwrapv -std=gnu99 -w -I"$out/shim" -I"$src")
"$cc" "${flags[@]}" -c "$src/umac.c" -o "$out/umac.o"
"$cc" "${flags[@]}" -c "$src/umac128.c" -o "$out/umac128.o"
"$cc" "${flags[@]}" -c "$src/rijndael.c" -o "$out/rijndael.o"
"$cc" "${flags[@]}" -c "$here/umac_oracle.c" -o "$out/umac_oracle.o"
"$cc" -o "$out/umac_oracle" "$out/umac_oracle.o" "$out/umac.o" "$out/umac128.o" "$out/rijndael.o"
echo "$out/umac_oracle"
