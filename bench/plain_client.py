"""Baseline for the runner-overhead benchmark: a plain httpx.AsyncClient with a semaphore.

It does the same visible work as the backend path — N unique chat completions at a fixed concurrency over one
keep-alive pool, each reply written to a JSONL file as it arrives — and nothing else, so the ratio of the two
timings is tunegate's own overhead. Prints ``{"n", "concurrency", "elapsed_s", "requests_per_s", "errors"}``.

    python bench/plain_client.py --n 2000 --concurrency 16 --base-url http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx


def make_prompt(i: int) -> str:
    """The i-th benchmark prompt: unique per i, so no layer can answer it from a cache. Shared with the
    backend side of the benchmark so both send the same bytes."""
    return f"Request {i}: classify the sentiment of this short product review number {i}: 'works as described'."


async def run(n: int, concurrency: int, base_url: str, out: str, model: str) -> dict:
    start = time.perf_counter()
    url = base_url.rstrip("/") + "/chat/completions"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    errors = 0
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        with open(out, "w", encoding="utf-8") as sink:

            async def one(i: int) -> None:
                nonlocal errors
                body = {"model": model, "messages": [{"role": "user", "content": make_prompt(i)}],
                        "temperature": 0.0, "max_tokens": 64}
                async with sem:
                    response = await client.post(url, json=body)
                if response.status_code != 200:
                    errors += 1
                    return
                text = response.json()["choices"][0]["message"]["content"]
                sink.write(json.dumps({"index": i, "text": text}) + "\n")

            await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    return {"n": n, "concurrency": concurrency, "elapsed_s": round(elapsed, 4),
            "requests_per_s": round(n / elapsed, 1), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", default="plain_client_out.jsonl")
    parser.add_argument("--model", default="stub-model")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.n, args.concurrency, args.base_url, args.out, args.model))))


if __name__ == "__main__":
    main()
