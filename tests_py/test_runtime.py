"""The background runtime: lazy, shut down cleanly at exit, reborn after fork.

Each scenario runs in a fresh interpreter, since what is tested is the
process's life: its start, its fork and its exit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

AWAIT_A_RUST_FUTURE = """
import asyncio
import baldur
from baldur import _runtime

assert asyncio.run(_runtime.ping()) is True
"""


def run_script(source: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_importing_and_protecting_does_not_start_the_runtime() -> None:
    result = run_script(
        """
        import baldur
        from baldur import _runtime

        @baldur.protected("lazy", retry=True)
        def work() -> int:
            return 1

        assert work() == 1
        print(_runtime.status())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(False, 0)"


def test_a_short_script_awaiting_a_rust_future_exits_cleanly_100_times() -> None:
    """The failure this guards against: a runtime worker re-taking the GIL
    while the interpreter finalises, crashing about half of short runs."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run_script(AWAIT_A_RUST_FUTURE), range(100)))
    failures = [(r.returncode, r.stderr[-500:]) for r in results if r.returncode or r.stderr]
    assert failures == []


def test_exit_while_rust_futures_are_still_in_flight_is_clean() -> None:
    result = run_script(
        """
        import asyncio
        import baldur
        from baldur import _runtime

        async def main() -> None:
            pending = [asyncio.ensure_future(_runtime.ping()) for _ in range(200)]
            await asyncio.sleep(0)
            print(len(pending))

        asyncio.run(main())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("method", ["os.fork", "multiprocessing-fork"])
def test_a_forked_child_starts_its_own_runtime(method: str) -> None:
    """gunicorn --preload and Celery prefork fork after the parent used the
    runtime; the child's first Rust call must not hang on a dead one."""
    fork = {
        "os.fork": """
            pid = os.fork()
            if pid == 0:
                child()
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        """,
        "multiprocessing-fork": """
            import multiprocessing
            process = multiprocessing.get_context("fork").Process(target=child)
            process.start()
            process.join(20)
            assert process.exitcode == 0, process.exitcode
        """,
    }[method]
    parent = """
        import asyncio, os, signal
        import baldur
        from baldur import _runtime

        assert asyncio.run(_runtime.ping())
        assert _runtime.status() == (True, 1)

        def child() -> None:
            signal.alarm(10)  # a hang fails the child instead of the suite
            assert asyncio.run(_runtime.ping())
            # Started once by the parent, and once more here: its own.
            assert _runtime.status() == (True, 2), _runtime.status()
        """
    after = """
        assert asyncio.run(_runtime.ping())
        print("parent ok")
        """
    source = "\n".join(textwrap.dedent(part) for part in (parent, fork, after))
    result = run_script(source, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "parent ok"


def test_the_runtime_restarts_after_a_shutdown() -> None:
    result = run_script(
        """
        import asyncio
        import baldur.testing
        from baldur import _runtime

        assert asyncio.run(_runtime.ping())
        baldur.testing.shutdown_runtime()
        assert _runtime.status() == (False, 1)
        assert asyncio.run(_runtime.ping())
        print(_runtime.status())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(True, 2)"
