#!/usr/bin/env bash
# Runs both cargo-fuzz targets for SECONDS each (default 60), seeded with every sweep file
# of the repository. CI runs the 60-second smoke; for a real campaign run e.g.
#   scripts/fuzz.sh 3600
# and keep fuzz/corpus/ between runs. A crash leaves its input in fuzz/artifacts/<target>/
# and makes this script fail; replay it with `cargo fuzz run <target> <file> -s none`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# Its own target directory: the instrumented build must not clobber the test build.
target_dir="${CARGO_TARGET_DIR:-../target}/fuzz"
mkdir -p corpus/sweep_parser corpus/messages
cp ../sweeps/*.toml ../tests/e2e/bad-sweeps/*.toml corpus/sweep_parser/
for target in sweep_parser messages; do
  # -s none: no sanitizer, so the stable toolchain builds it (Rust code is memory-safe;
  # the fuzzers look for panics, overflows (debug assertions are on) and hangs).
  cargo fuzz run "$target" -s none --target-dir "$target_dir" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1
done
