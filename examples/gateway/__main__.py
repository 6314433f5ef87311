"""``python -m gateway --port 8081 [--failure-rate 0.2] [--latency 0.05]
[--rate-limit-rate 0.1]``: serves the flaky gateway until interrupted."""

from __future__ import annotations

import argparse
import sys

from gateway.server import Behaviour, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--failure-rate", type=float, default=0.2, help="share answered 503")
    parser.add_argument("--rate-limit-rate", type=float, default=0.1, help="share answered 429")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds a 429 names")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each charge takes")
    parser.add_argument("--seed", type=int, default=None, help="makes the failures repeatable")
    args = parser.parse_args(argv)
    behaviour = Behaviour(
        failure_rate=args.failure_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        latency=args.latency,
    )
    server = serve(args.host, args.port, behaviour, seed=args.seed)
    host, port = server.server_address[:2]
    # One parseable line, so a script (or a test) can learn a port picked with 0.
    print(f"gateway listening on http://{host!s}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
