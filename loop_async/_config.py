"""The checks of ``LoopClient``'s options: every bad option reported at once, through ``Problems``.

Pure checks, no I/O; building the transport from the options is the client's job.
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from loop_async._hooks import Hooks
from loop_async._sansio.outcome import ReconcilePolicy
from loop_async._sansio.problems import Problems
from loop_async._sansio.retry import RetryPolicy

__all__ = ["DEFAULT_MAX_RETRIES", "validate_options"]

#: ``LoopClient``'s ``max_retries`` when none is given (a ``retry_policy`` then replaces it).
DEFAULT_MAX_RETRIES = 3


def validate_options(
    api_key: str,
    base: URL,
    *,
    max_concurrency: int,
    max_retries: int,
    timeout: float | aiohttp.ClientTimeout,
    rate_limit: float | None,
    retry_policy: RetryPolicy | None,
    max_response_bytes: int,
    hal_forms: object = False,
    acquire_timeout: float | None = None,
    reconcile: object = None,
    hooks: object = None,
    own_session_hooks: bool = False,
) -> None:
    """Check every option at once, so one error names all the bad ones (a wrong type too)."""
    problems = Problems("LoopClient")
    problems.boolean("hal_forms", hal_forms)
    if not isinstance(api_key, str) or not api_key.strip():
        problems.add("api_key", "must be a non-empty string")
    elif any(c in api_key for c in "\r\n\x00"):
        problems.add("api_key", "must not contain CR, LF or NUL (header injection)")
    if base.scheme not in ("http", "https") or not base.host:
        problems.add("base_url", f"must be an absolute http(s) URL, got {str(base)!r}")
    if base.user is not None or base.password is not None or base.query_string or base.fragment:
        problems.add("base_url", "must not carry user info, a query or a fragment")
    problems.int_at_least("max_concurrency", max_concurrency, 1)
    problems.int_at_least("max_retries", max_retries, 0, wording="an integer, 0 or more")
    if retry_policy is not None and max_retries != DEFAULT_MAX_RETRIES:
        problems.add("max_retries", "give max_retries or retry_policy, not both")
    if not isinstance(timeout, aiohttp.ClientTimeout):
        problems.positive_number("timeout", timeout, wording="a positive number of seconds")
    problems.number_at_least(
        "rate_limit", rate_limit, 0, wording="requests per minute (0 or None: off)", allow_none=True
    )
    problems.positive_number(
        "acquire_timeout", acquire_timeout, wording="a positive number of seconds", allow_none=True
    )
    problems.int_at_least("max_response_bytes", max_response_bytes, 1, wording="a positive integer")
    problems.instance_of("retry_policy", retry_policy, RetryPolicy)
    problems.instance_of("reconcile", reconcile, ReconcilePolicy)
    problems.instance_of("hooks", hooks, Hooks, label="loop_async.Hooks")
    if own_session_hooks:
        problems.add("session", "with your own session, set trace_configs and middlewares on it")
    problems.raise_if_any()
