"""The facade: every limiter is importable from ``loop_async.ratelimit``, without redis-py."""

from __future__ import annotations

import subprocess
import sys


def test_every_limiter_is_importable_from_the_facade() -> None:
    from loop_async import ratelimit
    from loop_async.ratelimit.bucket import TokenBucketLimiter
    from loop_async.ratelimit.redis import RedisRateLimiter

    assert ratelimit.RedisRateLimiter is RedisRateLimiter
    assert ratelimit.TokenBucketLimiter is TokenBucketLimiter


def test_the_facade_imports_without_redis_py() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"  # any `import redis` now fails
        "from loop_async.ratelimit import RedisRateLimiter\n"
        "try:\n"
        "    RedisRateLimiter('redis://localhost:1/0', 'k', 60)\n"
        "except ImportError as exc:\n"
        "    print('needs:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "pip install 'loop-async[redis]'" in done.stdout
