"""The catalog's per-deployment requests- and tokens-per-minute limits: counted by each router replica, or in
Redis and shared by every replica.

Both limiters keep the same contract (`Limits.admit`) and the same sliding-window log: a call is admitted while
the calls of the last 60 s number fewer than `rpm` and their tokens plus this call's fit `tpm` (0: no limit).
A refused call is told how long until enough of the oldest calls leave the window for it to fit: never 0,
never more than the window (60 s also when the call alone needs more tokens than `tpm`, so it can never fit).
The chain skips a deployment at its limit for the next one, recording the wait as the attempt's Retry-After;
when the whole chain fails, the longest such wait becomes the client's RetryInfo delay.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.catalog import Deployment
from sluicegate.runtime.logs import get_logger

WINDOW_SECONDS = 60.0
# The shortest wait a refusal names (Redis counts in whole ms): a refused call is never told to retry at once.
MIN_WAIT_SECONDS = 0.001
# Keys outlive the newest call's window by this much, then Redis drops them: nothing is left behind.
KEY_TTL_MARGIN_MS = 1000
# After a failed call to Redis the limiter counts locally this long before it asks Redis again, so an
# unreachable Redis costs one timeout a second, not one per request.
REDIS_RETRY_SECONDS = 1.0
WARNING_INTERVAL_SECONDS = 60.0

log = get_logger(__name__)


class Limits(Protocol):
    """Admits a call to a deployment within its catalog `rpm` / `tpm`, or says how long until it would fit."""

    async def admit(self, deployment: Deployment, tokens: int) -> float | None:
        """Counts the call and returns None when it fits; otherwise counts nothing and returns the seconds
        (above 0, at most 60) until it would."""
        ...


class DeploymentLimits:
    """The limits counted in this process: with N replicas each admits up to the full limit, so a deployment may
    receive N times its `rpm` / `tpm` (the provider's own 429 is still handled by the chain). The default, and
    what `SharedDeploymentLimits` falls back to while Redis is unreachable.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[str, deque[tuple[float, int]]] = {}
        self._tokens: dict[str, int] = {}

    async def admit(self, deployment: Deployment, tokens: int) -> float | None:
        if not deployment.rpm and not deployment.tpm:
            return None
        now = self._clock()
        calls = self._calls.setdefault(deployment.name, deque())
        used = self._tokens.get(deployment.name, 0)
        while calls and calls[0][0] <= now - WINDOW_SECONDS:
            used -= calls.popleft()[1]
        self._tokens[deployment.name] = used
        wait = _wait_seconds(calls, used, deployment, tokens, now)
        if wait is None:
            calls.append((now, tokens))
            self._tokens[deployment.name] = used + tokens
        return wait


def _wait_seconds(
    calls: deque[tuple[float, int]], used: int, deployment: Deployment, tokens: int, now: float
) -> float | None:
    """None when the call fits beside the window's calls; else the seconds until enough of the oldest have left."""
    waits = []
    if deployment.rpm and len(calls) >= deployment.rpm:
        waits.append(calls[len(calls) - deployment.rpm][0] + WINDOW_SECONDS - now)
    if deployment.tpm and used + tokens > deployment.tpm:
        # A call larger than the limit never fits: it is told the longest wait.
        fits_at = now + WINDOW_SECONDS
        excess = used + tokens - deployment.tpm
        if tokens <= deployment.tpm:
            for started, counted in calls:
                excess -= counted
                if excess <= 0:
                    fits_at = started + WINDOW_SECONDS
                    break
        waits.append(fits_at - now)
    if not waits:
        return None
    return min(max(max(waits), MIN_WAIT_SECONDS), WINDOW_SECONDS)


# KEYS[1] the deployment's calls (ZSET: member "<call id>:<tokens>", score the call's time in ms),
# KEYS[2] the tokens those calls hold (a running total, so an admit never sums the window).
# ARGV[1] rpm, ARGV[2] tpm (0: no limit), ARGV[3] the call's tokens, ARGV[4] a call id unique across replicas,
# ARGV[5] now in ms ("": Redis's own TIME), ARGV[6] the window in ms, ARGV[7] the keys' TTL in ms.
# Returns -1 when the call is admitted and counted, else the wait in ms (1 .. window) and nothing is counted.
ADMIT_SCRIPT = """
local calls, held = KEYS[1], KEYS[2]
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window = tonumber(ARGV[6])
local now = tonumber(ARGV[5])
local member = ARGV[4] .. ':' .. ARGV[3]
if redis.call('ZSCORE', calls, member) then
  -- The same call again (the client retried the command after losing its reply): it is counted already.
  return -1
end
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
end

local total = redis.call('GET', held)
local used = tonumber(total or '0')
local left = redis.call('ZRANGEBYSCORE', calls, '-inf', now - window)
if #left > 0 then
  for _, call in ipairs(left) do
    used = used - tonumber(string.match(call, ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', calls, '-inf', now - window)
end
local count = redis.call('ZCARD', calls)
if count == 0 then
  -- An empty window holds no tokens, whatever a lost or stale total says.
  used = 0
elseif not total then
  -- A total lost (evicted: both keys carry a TTL) beside calls still in the window is summed again from them.
  used = 0
  for _, call in ipairs(redis.call('ZRANGE', calls, 0, -1)) do
    used = used + tonumber(string.match(call, ':(%d+)$'))
  end
end

local refused, wait = false, 0
if rpm > 0 and count >= rpm then
  local oldest = redis.call('ZRANGE', calls, count - rpm, count - rpm, 'WITHSCORES')
  refused, wait = true, tonumber(oldest[2]) + window - now
end
if tpm > 0 and used + tokens > tpm then
  -- A call larger than the limit never fits (nor does one the total says is over but the calls do not free):
  -- it is told the longest wait.
  local fits_at = now + window
  if tokens <= tpm then
    local excess, start = used + tokens - tpm, 0
    while excess > 0 and start < count do
      local batch = redis.call('ZRANGE', calls, start, start + 99, 'WITHSCORES')
      for i = 1, #batch, 2 do
        excess = excess - tonumber(string.match(batch[i], ':(%d+)$'))
        if excess <= 0 then
          fits_at = tonumber(batch[i + 1]) + window
          break
        end
      end
      start = start + 100
    end
  end
  refused, wait = true, math.max(wait, fits_at - now)
end

if refused then
  if #left > 0 then
    -- XX: a total already lost is not recreated without its TTL.
    redis.call('SET', held, used, 'XX', 'KEEPTTL')
  end
  return math.min(math.max(math.ceil(wait), 1), window)
end
redis.call('ZADD', calls, now, member)
redis.call('SET', held, used + tokens, 'PX', ARGV[7])
redis.call('PEXPIRE', calls, ARGV[7])
return -1
"""


class SharedDeploymentLimits:
    """The limits counted in Redis, so every router replica on the same Redis sees the same counts and together
    they admit at most `rpm` calls and `tpm` tokens to a deployment in any 60 s.

    Why a sliding-window log (a ZSET of the calls of the last minute per deployment, plus their token total)
    rather than the O(1) two-bucket approximation: the catalog's limits mirror the provider's quota for the key,
    and the approximation admits up to twice the limit within some 60 s when the previous minute's calls came
    at its end, which is exactly the 429 the limit is there to avoid. The log is exact, matches the per-replica
    limiter, and costs O(log n) per admit plus O(1) amortised to drop each call once it leaves the window; its
    memory is bounded by the calls admitted in a minute (at most `rpm` when it is set).

    One Lua script per admit checks both limits and counts the call only when both fit, atomically across
    replicas. Its time is Redis's own `TIME`, not the router's: replicas' clocks differ, and one running ahead
    would drop the others' calls from the window early and admit too many. (`clock` is for tests: it passes the
    time in instead.) Keys are `sg:router:limit:{<deployment>}:calls` and `...:tokens`, in one cluster slot,
    expiring a second after the newest call leaves the window.

    Redis unreachable, failing or slower than `timeout_seconds`: the call is counted by `fallback` (per-replica
    counting), never failed; for `REDIS_RETRY_SECONDS` after that Redis is not asked, and a warning is logged
    at most once a minute.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        timeout_seconds: float,
        fallback: DeploymentLimits | None = None,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._script = client.register_script(ADMIT_SCRIPT)
        self._timeout_seconds = timeout_seconds
        self._fallback = fallback or DeploymentLimits()
        self._clock = clock
        self._monotonic = monotonic
        self._call_ids = (f"{secrets.token_hex(6)}.{number}" for number in itertools.count())
        self._redis_back_at = 0.0
        self._warn_after = 0.0

    async def admit(self, deployment: Deployment, tokens: int) -> float | None:
        if not deployment.rpm and not deployment.tpm:
            return None
        now = self._monotonic()
        if now >= self._redis_back_at:
            try:
                async with asyncio.timeout(self._timeout_seconds):
                    wait_ms = await self._script(
                        keys=shared_limit_keys(deployment.name), args=self._args(deployment, tokens)
                    )
                return None if wait_ms < 0 else wait_ms / 1000
            except (RedisError, OSError, TimeoutError) as error:
                self._redis_back_at = now + REDIS_RETRY_SECONDS
                if now >= self._warn_after:
                    self._warn_after = now + WARNING_INTERVAL_SECONDS
                    log.warning(
                        "deployment limits counted per replica: Redis failed",
                        error=type(error).__name__,
                        detail=str(error)[:200],
                    )
        return await self._fallback.admit(deployment, tokens)

    def _args(self, deployment: Deployment, tokens: int) -> list[int | str]:
        window_ms = int(WINDOW_SECONDS * 1000)
        now_ms = "" if self._clock is None else str(self._clock() * 1000)
        return [
            deployment.rpm,
            deployment.tpm,
            tokens,
            next(self._call_ids),
            now_ms,
            window_ms,
            window_ms + KEY_TTL_MARGIN_MS,
        ]


def shared_limit_keys(deployment_name: str) -> list[str]:
    """The Redis keys a deployment's shared limits live in (one hash tag: one cluster slot)."""
    prefix = f"sg:router:limit:{{{deployment_name}}}"
    return [f"{prefix}:calls", f"{prefix}:tokens"]
