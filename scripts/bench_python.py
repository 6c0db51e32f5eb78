#!/usr/bin/env python3
"""What a Python user would write, on the same server and the same requests as `iching bench`.

Two clients, each N requests with at most C in flight (asyncio.Semaphore):
  - openai: the official SDK, AsyncOpenAI with its defaults (stream=True iterates the chunks)
  - aiohttp: a bare ClientSession POST that reads each body to the end

Usage: python3 scripts/bench_python.py --base-url http://127.0.0.1:PORT/v1 --requests 4000 \
         --concurrency 256 [--stream] [--client openai|aiohttp|both]
Needs: pip install openai aiohttp. Prints one JSON line per client.
"""
import argparse
import asyncio
import json
import time


def body(stream):
    # A section-sized prompt like the app's (system prompt + instruction + envelope, ~1,300 tokens).
    system = "You are a careful, humane reader of the I Ching. " * 40
    user = "Interpret the judgment for this question. " * 60
    b = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": 1200,
        "stream": stream,
    }
    if stream:
        b["stream_options"] = {"include_usage": True}
    return b


async def run_openai(args):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=args.base_url, api_key="sk-bench")
    sem = asyncio.Semaphore(args.concurrency)
    b = body(args.stream)
    ok = 0

    async def one():
        nonlocal ok
        async with sem:
            try:
                if args.stream:
                    s = await client.chat.completions.create(**b)
                    async for _ in s:
                        pass
                else:
                    await client.chat.completions.create(**b)
                ok += 1
            except Exception:
                pass

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(args.requests)))
    wall = time.perf_counter() - start
    await client.close()
    return wall, ok


async def run_aiohttp(args):
    import aiohttp

    sem = asyncio.Semaphore(args.concurrency)
    payload = json.dumps(body(args.stream)).encode()
    url = args.base_url.rstrip("/") + "/chat/completions"
    ok = 0
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def one():
            nonlocal ok
            async with sem:
                try:
                    async with session.post(
                        url, data=payload, headers={"content-type": "application/json"}
                    ) as r:
                        await r.read()
                        ok += 1
                except Exception:
                    pass

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.requests)))
        wall = time.perf_counter() - start
    return wall, ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--concurrency", type=int, default=256)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--client", choices=["openai", "aiohttp", "both"], default="both")
    args = p.parse_args()
    clients = ["aiohttp", "openai"] if args.client == "both" else [args.client]
    for name in clients:
        fn = run_openai if name == "openai" else run_aiohttp
        wall, ok = asyncio.run(fn(args))
        print(json.dumps({"client": name, "requests": args.requests, "concurrency": args.concurrency,
                          "stream": args.stream, "wall_s": round(wall, 3), "ok": ok}), flush=True)


if __name__ == "__main__":
    main()
