"""An instant OpenAI-compatible server that answers classification prompts with a label (for the benchmarks).

The test stub (``tests/support/openai_stub.py``) echoes the prompt; here each reply is the label named in the item
text (``... about <label>``), wrong on a fixed fifth of the texts (chosen by a hash), so tunegate and the plain
client both parse real labels and score about 80% accuracy.

    python bench/classify_stub.py --labels a,b,c --print-port
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from openai_stub import OpenAIStub  # noqa: E402

_ABOUT = re.compile(r"about (\S+)")


def make_reply(labels: list[str]):
    def reply(body: dict) -> str:
        text = body["messages"][-1]["content"]
        m = _ABOUT.search(text)
        gold = m.group(1) if m and m.group(1) in labels else labels[0]
        if hashlib.blake2b(text.encode(), digest_size=2).digest()[0] % 5 == 0:
            return labels[(labels.index(gold) + 1) % len(labels)]
        return gold

    return reply


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True, help="comma-separated label names")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--print-port", action="store_true")
    args = ap.parse_args()
    stub = OpenAIStub(port=args.port, reply=make_reply(args.labels.split(",")), record=False)

    async def serve() -> None:
        await stub.start_async()
        print(stub.port if args.print_port else f"serving {stub.base_url}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
