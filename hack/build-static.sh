#!/usr/bin/env bash
# Builds the static release binary of certsmith: musl libc linked in, no dynamic loader, so it
# runs in an image that holds nothing else. This is the ONE way the binary is built for the
# container image (the Dockerfile runs this script) and for the test that checks it
# (tests/static_binary.rs).
#
#   hack/build-static.sh [OUT_DIR]   build; print the binary's path; copy it to OUT_DIR if given
#
# Installs what it needs when missing (idempotent): the Rust musl target, and musl-gcc
# (Debian's musl-tools) which compiles aws-lc's C code against musl's headers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARCH=$(uname -m)
TARGET=$ARCH-unknown-linux-musl

if ! command -v musl-gcc >/dev/null 2>&1; then
  echo "installing musl-tools (musl-gcc) for the $TARGET build" >&2
  apt-get install -y --no-install-recommends musl-tools >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends musl-tools >&2; }
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET" >&2
fi

# cc-rs and aws-lc-sys read the per-target compiler; rustc links the musl C runtime itself.
target_env=${TARGET//-/_}
export "CC_$target_env=musl-gcc"
# The release profile (Cargo.toml) strips symbols; nothing else differs from a normal build.
(cd "$ROOT" && cargo build --release --locked --target "$TARGET" --bin certsmith >&2)

BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release/certsmith
if [[ $# -ge 1 ]]; then
  mkdir -p "$1"
  cp "$BIN" "$1/certsmith"
  BIN=$1/certsmith
fi
echo "$BIN"
