#!/usr/bin/env bash
# Publishes the tool with Native AOT for this machine's CPU: bench/e2e/publish-aot.sh [OUT] (default bench/e2e/out/aot),
# then bench/e2e/e2e.py --tool OUT/ssh-transport. Needs clang (Debian package clang).
#
# The instruction set is chosen from /proc/cpuinfo, because AOT code cannot look for wider instructions at run time the
# way the JIT does: 256-bit AES-GCM (VAES, VPCLMULQDQ: ILCompiler's aes_v256) and 512-bit ChaCha20 (AVX-512) are only
# used when named here. Not "native": with it ILCompiler 10.0.12 miscompiles the 256-bit GHASH on AVX-512 machines,
# and AES-GCM's self-test then falls back to 128 bits (docs/performance.md, "Native AOT"). ISA=... overrides the choice.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench/e2e/out/aot}
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { [[ "$flags" == *" $1 "* ]]; }
v3() { has avx2 && has bmi1 && has bmi2 && has fma && has f16c && has movbe && has abm; }
v4() { v3 && has avx512f && has avx512bw && has avx512cd && has avx512dq && has avx512vl; }
wide_aes() { has vaes && has vpclmulqdq; }
if [ -z "${ISA:-}" ]; then
  if v4 && wide_aes; then ISA=x86-64-v4,aes_v256
  elif v4; then ISA=x86-64-v4
  elif v3 && wide_aes; then ISA=x86-64-v3,aes_v256
  elif v3; then ISA=x86-64-v3
  else ISA=x86-64-v2
  fi
fi
echo "publish-aot: IlcInstructionSet=$ISA into $out"
dotnet publish src/Ssh.Transport.Cli -c Release -r linux-x64 -p:PublishAot=true "-p:IlcInstructionSet=\"$ISA\"" -o "$out" --nologo -v q
ls -l "$out/ssh-transport"
