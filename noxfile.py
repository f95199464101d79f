"""Developer tasks: ``nox -s tests``, ``redis-oldest``, ``lint``, ``typecheck`` and ``bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "redis-oldest", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PACKAGE = "loop_async"
SOURCES = ["loop_async", "loop_async_pytest.py", "tests", "benchmarks", "noxfile.py"]


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
def tests(session: nox.Session) -> None:
    """Run the test suite on every supported Python found (warnings are errors; see pyproject.toml)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(name="redis-oldest")
def redis_oldest(session: nox.Session) -> None:
    """The Redis limiter tests on the oldest redis-py the ``redis`` extra allows (``tests`` has the newest)."""
    extra = nox.project.load_toml("pyproject.toml")["project"]["optional-dependencies"]["redis"]
    floor = next(req.split(">=", 1)[1] for req in extra if req.startswith("redis>="))
    session.install("-e", ".", f"redis=={floor}", "pytest", "pytest-asyncio", "pytest-timeout")
    session.run("python", "-m", "pytest", "tests/ratelimit/test_redis_limiter.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", PACKAGE, "loop_async_pytest.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: the SDK against raw aiohttp in the same run (writes benchmarks/results/)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks", *session.posargs)
