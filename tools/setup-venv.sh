#!/usr/bin/env bash
# Development tooling only: creates the Python venv used by tools/hf_logits.py and the tokenizer
# fixture cross-checks, at ~/.cache/space/venv (override with SPACE_VENV), and installs
# tools/requirements.txt into it. Idempotent: a no-op when the venv exists and already has every pinned
# version. The product never needs Python.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/requirements.txt"
venv="${SPACE_VENV:-$HOME/.cache/space/venv}"
python="${PYTHON:-python3}"

# Prints the requirement lines that the venv does not satisfy (empty output = all satisfied).
unmet() {
  "$venv/bin/python" - "$req" <<'PY'
import sys, re
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = re.split(r"==", line, maxsplit=1)
    try:
        have = version(name.strip())
    except PackageNotFoundError:
        print(f"{line} (missing)"); continue
    if have.split("+", 1)[0] != want.strip():
        print(f"{line} (have {have})")
PY
}

if [[ -x "$venv/bin/python" ]]; then
  missing="$(unmet || echo "check failed")"
  if [[ -z "$missing" ]]; then
    echo "setup-venv: $venv already satisfies $req"
    exit 0
  fi
  echo "setup-venv: $venv needs:"; echo "$missing" | sed 's/^/  /'
else
  echo "setup-venv: creating $venv with $("$python" --version 2>&1)"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi

echo "setup-venv: pip install -r $req"
"$venv/bin/python" -m pip install --disable-pip-version-check -r "$req"

missing="$(unmet || echo "check failed")"
if [[ -n "$missing" ]]; then
  echo "setup-venv: still unmet after install:"; echo "$missing" | sed 's/^/  /'
  exit 1
fi
"$venv/bin/python" -c "import torch, transformers, gguf, accelerate, numpy; print('setup-venv: ok: torch', torch.__version__, '| transformers', transformers.__version__)"
