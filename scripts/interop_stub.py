"""An OpenAI-compatible stub that answers a KNOWN share of tests/fixtures/interop/items.jsonl correctly.

Used by scripts/make_interop_fixtures.sh to produce Inspect AI and promptfoo logs with known outcomes:
- with the plain prompt, q01-q07 get their gold label, q08 and q09 a wrong one, and q10 (whose text holds the
  stub directive ``[[stub:status=400]]``) fails with HTTP 400 -> accuracy 7/10 when the error counts as failed;
- when the prompt contains the word "carefully", q08 is answered correctly too -> 8/10.
Run: ``python scripts/interop_stub.py --port 0`` prints the port, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.openai_stub import OpenAIStub  # noqa: E402

ITEMS = [json.loads(line) for line in (ROOT / "tests/fixtures/interop/items.jsonl").read_text().splitlines() if line]
WRONG = {"billing": "shipping", "shipping": "other", "other": "billing"}


def reply(body: dict) -> str:
    text = "\n".join(str(m.get("content") or "") for m in body.get("messages", []) if isinstance(m, dict))
    careful = "carefully" in text
    for it in ITEMS:
        if it["text"] in text:
            right = it["id"] <= "q07" or (careful and it["id"] == "q08")
            return it["label"] if right else WRONG[it["label"]]
    return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    stub = OpenAIStub(port=args.port, reply=reply, record=False)

    async def serve() -> None:
        await stub.start_async()
        print(stub.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
