"""Baseline for the classification benchmark: a plain httpx.AsyncClient doing the visible work of an eval.

Reads the items, sends ``Classify: <text>`` (the prompt the benchmark's spec renders) at a fixed concurrency over one
keep-alive pool, reads the label out of each reply, writes one JSONL line per item as it arrives, and prints
accuracy. Nothing else (no cache, no intervals, no artifacts), so tunegate's time over this is its own overhead.

``--tuned`` applies the two httpcore fixes tunegate's backend makes (issue 19): sniffio, when not installed, is
marked missing in sys.modules (httpcore otherwise searches sys.path for it ~10 times per request), and each request
in flight uses its own single-connection client (one pool of N connections is re-polled on every request start
and end). It shows how much of tunegate's lead over the default client comes from those two fixes.

    python bench/plain_classify_client.py --items items.jsonl --labels a,b --base-url http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx


async def run(items: list[dict], labels: set[str], concurrency: int, base_url: str, out: str,
              tuned: bool = False) -> dict:
    start = time.perf_counter()
    url = base_url.rstrip("/") + "/chat/completions"
    n_clients, per_client = (concurrency, 1) if tuned else (1, concurrency)
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    ssl_context = httpx.create_ssl_context()
    clients = [httpx.AsyncClient(limits=limits, timeout=60.0, verify=ssl_context) for _ in range(n_clients)]
    free = list(clients)
    sem = asyncio.Semaphore(concurrency)
    correct = errors = 0
    try:
        with open(out, "w", encoding="utf-8") as sink:

            async def one(item: dict) -> None:
                nonlocal correct, errors
                body = {"model": "stub-model", "messages": [{"role": "user", "content": "Classify: " + item["text"]}],
                        "temperature": 0.0, "max_tokens": 16}
                async with sem:
                    client = free.pop() if tuned else clients[0]
                    try:
                        response = await client.post(url, json=body)
                    finally:
                        if tuned:
                            free.append(client)
                if response.status_code != 200:
                    errors += 1
                    return
                text = response.json()["choices"][0]["message"]["content"].strip()
                pred = text if text in labels else None
                correct += pred == item["intent"]
                sink.write(json.dumps({"id": item["id"], "prediction": pred, "gold": item["intent"]}) + "\n")

            await asyncio.gather(*(one(it) for it in items))
    finally:
        for client in clients:
            await client.aclose()
    elapsed = time.perf_counter() - start
    return {"n": len(items), "elapsed_s": round(elapsed, 4), "accuracy": correct / max(1, len(items)),
            "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--out", default="plain_classify_out.jsonl")
    ap.add_argument("--tuned", action="store_true", help="tunegate's two httpcore fixes (see the module docstring)")
    args = ap.parse_args()
    if args.tuned:
        import importlib.util

        if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
            sys.modules["sniffio"] = None  # type: ignore[assignment]
    with open(args.items, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    result = asyncio.run(run(items, set(args.labels.split(",")), args.concurrency, args.base_url, args.out,
                             args.tuned))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
