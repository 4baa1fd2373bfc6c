"""uvicorn for the benchmarks: `python -m bench.serve FACTORY --port N [--workers W] [--nagle]`.

What `python -m uvicorn FACTORY --factory --host 127.0.0.1 --port N --workers W` does (as `market
serve` runs it), with one difference: every accepted connection gets TCP_NODELAY. uvicorn leaves it
off when it binds the listening socket itself, which it does for several workers: that socket's
`proto` is 0, accepted sockets inherit it, and asyncio sets TCP_NODELAY only on sockets whose proto is
TCP (Kludex/uvicorn#3149, open for uvicorn 0.54). Nagle's algorithm then holds back each response's
body until the client acknowledges its headers, which on Linux waits for the client's delayed ACK:
about 40 ms per keep-alive response, whatever the route, so that keep-alive rounds would measure that
timer rather than the routes. `--nagle` leaves uvicorn as it is.
"""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("factory", help="module:function returning the ASGI app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--nagle", action="store_true", help="leave TCP_NODELAY as uvicorn sets it")
    options = parser.parse_args(argv)
    uvicorn.run(
        options.factory,
        factory=True,
        host="127.0.0.1",
        port=options.port,
        workers=options.workers,
        http="auto" if options.nagle else "core.http:NoDelayHTTPProtocol",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
