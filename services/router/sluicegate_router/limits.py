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
WINDOW_MS = int(WINDOW_SECONDS * 1000)
# The shortest wait a refusal names (Redis counts in whole ms): a refused call is never told to retry at once.
MIN_WAIT_SECONDS = 0.001
# Keys outlive the newest call's window by this much, then Redis drops them: nothing is left behind.
KEY_TTL_MARGIN_MS = 1000
KEY_TTL_MS = WINDOW_MS + KEY_TTL_MARGIN_MS
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


# A call counted in this process: (its time on the limiter's clock, its tokens, its number in this limiter).
LocalCall = tuple[float, int, int]


class DeploymentLimits:
    """The limits counted in this process: with N replicas each admits up to the full limit, so a deployment may
    receive N times its `rpm` / `tpm` (the provider's own 429 is still handled by the chain). The default, and
    what `SharedDeploymentLimits` falls back to while Redis is unreachable: it then reads back the calls counted
    here (`recent_calls`) to add them to Redis, and `forget`s them once they are.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[str, deque[LocalCall]] = {}
        self._tokens: dict[str, int] = {}
        self._numbers = itertools.count()

    async def admit(self, deployment: Deployment, tokens: int) -> float | None:
        if not deployment.rpm and not deployment.tpm:
            return None
        now = self._clock()
        calls, used = self._window(deployment.name, now)
        wait = _wait_seconds(calls, used, deployment, tokens, now)
        if wait is None:
            calls.append((now, tokens, next(self._numbers)))
            self._tokens[deployment.name] = used + tokens
        return wait

    def logged_deployments(self) -> list[str]:
        """The deployments this limiter holds calls for (some may have left the window since)."""
        return list(self._calls)

    def recent_calls(self, deployment_name: str) -> list[tuple[int, float, int]]:
        """The deployment's calls still in the window, oldest first, as (number, age in seconds, tokens); the
        number is unique in this limiter and stays with its call. Calls that have left the window are dropped."""
        now = self._clock()
        calls, _ = self._window(deployment_name, now)
        recent = [(number, now - started, tokens) for started, tokens, number in calls]
        self._drop_if_empty(deployment_name)
        return recent

    def forget(self, deployment_name: str, through_number: int) -> None:
        """Stops counting the deployment's calls numbered up to `through_number` (they are counted elsewhere now);
        calls counted since stay."""
        calls = self._calls.get(deployment_name, deque())
        used = self._tokens.get(deployment_name, 0)
        while calls and calls[0][2] <= through_number:
            used -= calls.popleft()[1]
        self._tokens[deployment_name] = used
        self._drop_if_empty(deployment_name)

    def _window(self, deployment_name: str, now: float) -> tuple[deque[LocalCall], int]:
        """The deployment's calls of the last 60 s and their tokens, once those that left are dropped."""
        calls = self._calls.setdefault(deployment_name, deque())
        used = self._tokens.get(deployment_name, 0)
        while calls and calls[0][0] <= now - WINDOW_SECONDS:
            used -= calls.popleft()[1]
        self._tokens[deployment_name] = used
        return calls, used

    def _drop_if_empty(self, deployment_name: str) -> None:
        if not self._calls.get(deployment_name):
            self._calls.pop(deployment_name, None)
            self._tokens.pop(deployment_name, None)


def _wait_seconds(calls: deque[LocalCall], used: int, deployment: Deployment, tokens: int, now: float) -> float | None:
    """None when the call fits beside the window's calls; else the seconds until enough of the oldest have left."""
    waits = []
    if deployment.rpm and len(calls) >= deployment.rpm:
        waits.append(calls[len(calls) - deployment.rpm][0] + WINDOW_SECONDS - now)
    if deployment.tpm and used + tokens > deployment.tpm:
        # A call larger than the limit never fits: it is told the longest wait.
        fits_at = now + WINDOW_SECONDS
        excess = used + tokens - deployment.tpm
        if tokens <= deployment.tpm:
            for started, counted, _ in calls:
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

# Adds calls a replica admitted on its own while Redis failed to the shared window, each as old as it is there.
# KEYS as ADMIT_SCRIPT's. ARGV[1] now in ms ("": Redis's own TIME), ARGV[2] the window in ms, ARGV[3] the keys'
# TTL in ms beyond a call made now, then per call three: its id unique across replicas, its tokens, its age in ms.
# Refuses nothing (the calls have happened): the window may be left over its limits, and admits wait until enough
# calls leave. Calls already in the set (a retried command, or a merge whose reply was lost) and calls older than
# the window are skipped. Returns the number of calls added.
MERGE_SCRIPT = """
local calls, held = KEYS[1], KEYS[2]
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[1])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
end

local count = redis.call('ZCARD', calls)
local added, added_tokens, youngest = 0, 0, window
for i = 4, #ARGV, 3 do
  local age = tonumber(ARGV[i + 2])
  if age < window and redis.call('ZADD', calls, 'NX', now - age, ARGV[i] .. ':' .. ARGV[i + 1]) == 1 then
    added, added_tokens, youngest = added + 1, added_tokens + tonumber(ARGV[i + 1]), math.min(youngest, age)
  end
end
if added == 0 then
  return 0
end

local total = redis.call('GET', held)
if count == 0 then
  redis.call('SET', held, added_tokens)
elseif total then
  redis.call('SET', held, tonumber(total) + added_tokens, 'KEEPTTL')
end
-- (A total lost beside calls in the window stays lost: the next admit sums it again from the calls, these too.)
-- The keys live until a second after the youngest call leaves the window, unless a newer call keeps them longer.
local ttl = math.ceil(tonumber(ARGV[3]) - youngest)
for _, key in ipairs(KEYS) do
  local left = redis.call('PTTL', key)
  if left ~= -2 and left < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
return added
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
    at most once a minute. When Redis next answers, first (before that admit) the replica adds the calls it counted
    alone that are still in the window, of every deployment, to the shared windows (`MERGE_SCRIPT`, one round trip
    per deployment), each as old as it is, so it leaves when it would have: otherwise for up to a minute the
    replicas would together admit the whole limit again on top of those calls. The merge refuses nothing: it may
    leave a window over its limits, which then admits nothing until enough calls leave. Merged calls are forgotten
    locally, so none is merged twice (and each keeps its member, so a merge sent again after a lost reply adds
    nothing); a merge that fails leaves them counted locally, to be merged the next time Redis answers.
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
        self._merge_script = client.register_script(MERGE_SCRIPT)
        self._timeout_seconds = timeout_seconds
        self._fallback = fallback or DeploymentLimits()
        self._clock = clock
        self._monotonic = monotonic
        self._replica_id = secrets.token_hex(6)
        self._call_ids = (f"{self._replica_id}.{number}" for number in itertools.count())
        self._redis_back_at = 0.0
        self._warn_after = 0.0

    async def admit(self, deployment: Deployment, tokens: int) -> float | None:
        if not deployment.rpm and not deployment.tpm:
            return None
        now = self._monotonic()
        if now >= self._redis_back_at:
            try:
                counted_locally = self._fallback.logged_deployments()
                if counted_locally:
                    await self._merge_local_counts(counted_locally)
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

    async def _merge_local_counts(self, deployment_names: list[str]) -> None:
        """Adds the calls counted locally while Redis failed to each deployment's shared window; raises as an admit
        would, leaving the calls not merged yet counted locally."""
        for name in deployment_names:
            calls = self._fallback.recent_calls(name)
            if not calls:
                continue
            async with asyncio.timeout(self._timeout_seconds):
                await self._merge_script(keys=shared_limit_keys(name), args=self._merge_args(calls))
            # Up to the last call sent: one counted locally while this merge was on its way is merged next time.
            self._fallback.forget(name, through_number=calls[-1][0])
            log.info(
                "deployment limits: calls counted per replica merged into Redis", deployment=name, calls=len(calls)
            )

    def _args(self, deployment: Deployment, tokens: int) -> list[int | str]:
        return [deployment.rpm, deployment.tpm, tokens, next(self._call_ids), self._now_ms(), WINDOW_MS, KEY_TTL_MS]

    def _merge_args(self, calls: list[tuple[int, float, int]]) -> list[int | float | str]:
        args: list[int | float | str] = [self._now_ms(), WINDOW_MS, KEY_TTL_MS]
        for number, age, tokens in calls:
            # The fallback's number, not a fresh id: a merge sent again adds the same members, so nothing twice.
            args += [f"{self._replica_id}.local{number}", tokens, age * 1000]
        return args

    def _now_ms(self) -> str:
        return "" if self._clock is None else str(self._clock() * 1000)


def shared_limit_keys(deployment_name: str) -> list[str]:
    """The Redis keys a deployment's shared limits live in (one hash tag: one cluster slot)."""
    prefix = f"sg:router:limit:{{{deployment_name}}}"
    return [f"{prefix}:calls", f"{prefix}:tokens"]
