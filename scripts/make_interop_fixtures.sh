#!/usr/bin/env bash
# Regenerate tests/fixtures/interop/{inspect_triage.eval,inspect_triage.json,promptfoo_results.json} with the REAL
# tools against scripts/interop_stub.py (known outcomes: 7/10 with the plain prompt, 8/10 with "carefully"; q10
# errors with HTTP 400). Needs: python3 -m venv /tmp/inspect-venv && /tmp/inspect-venv/bin/pip install inspect-ai
# and: mkdir -p /tmp/pf && (cd /tmp/pf && npm install promptfoo). Neither tool is a tunegate dependency.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FIX="$ROOT/tests/fixtures/interop"
INSPECT="${INSPECT:-/tmp/inspect-venv/bin/inspect}"
PROMPTFOO="${PROMPTFOO:-/tmp/pf/node_modules/.bin/promptfoo}"
WORK="$(mktemp -d)"
python3 "$ROOT/scripts/interop_stub.py" --port 0 > "$WORK/port" &
STUB_PID=$!
trap 'kill $STUB_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
BASE="http://127.0.0.1:$(head -n1 "$WORK/port")/v1"
python3 - "$FIX" <<'PY'
import csv, json, sys
from pathlib import Path
fix = Path(sys.argv[1])
rows = [json.loads(l) for l in (fix / "items.jsonl").read_text().splitlines() if l.strip()]
with (fix / "items.csv").open("w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=["id", "text", "label"]); w.writeheader(); w.writerows(rows)
PY
cd "$FIX"
export STUB_BASE_URL="$BASE" STUB_API_KEY=dummy
# .eval (zip, zstd members) with 2 epochs; JSON log with 1 epoch. --no-log-model-api keeps the files small.
"$INSPECT" eval inspect_task.py --model openai-api/stub/stub-model --log-dir "$WORK/eval" --log-format eval \
  --epochs 2 --no-fail-on-error --max-retries 0 --no-log-model-api --display none
"$INSPECT" eval inspect_task.py --model openai-api/stub/stub-model --log-dir "$WORK/json" --log-format json \
  --epochs 1 --no-fail-on-error --max-retries 0 --no-log-model-api --display none
cp "$WORK"/eval/*.eval "$FIX/inspect_triage.eval"
cp "$WORK"/json/*.json "$FIX/inspect_triage.json"
PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_CONFIG_DIR="$WORK/pfhome" \
  "$PROMPTFOO" eval -c promptfooconfig.yaml --no-cache --no-progress-bar --max-concurrency 1 \
  -o "$WORK/promptfoo_results.json" > "$WORK/promptfoo.log" 2>&1 || true  # exits non-zero when tests fail
cp "$WORK/promptfoo_results.json" "$FIX/promptfoo_results.json"
{
  echo "inspect_ai $("$INSPECT" --version 2>/dev/null | tail -n1)"
  echo "promptfoo $("$PROMPTFOO" --version 2>/dev/null | tail -n1)"
  echo "node $(node --version)"
  echo "generated $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$FIX/VERSIONS.txt"
ls -la "$FIX"
