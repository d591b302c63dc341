"""Per-model behaviours of the mock upstream: what a behaviour holds, where it comes from, how layers combine."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# DEFAULT_MODEL_KEY names the behaviour every model starts from before its own settings apply.
DEFAULT_MODEL_KEY = "*"

# The resolved-behaviour cache is keyed by model name, which clients choose freely; past this size it is
# dropped rather than allowed to grow without bound.
_RESOLVED_CACHE_LIMIT = 10_000


class BehaviourError(ValueError):
    """A behaviour definition that names an unknown knob or gives a knob a value it cannot take."""


@dataclasses.dataclass(frozen=True, slots=True)
class Behaviour:
    """How the mock answers one model: delays, injected failures and the shape of its streams."""

    delay_ms: int = 0
    chunk_delay_ms: int = 0
    chunks: int = 8
    error_rate: float = 0.0
    error_status: int = 500
    retry_after_seconds: int | None = None
    hang: bool = False
    cut_after_chunks: int | None = None
    context_window: int | None = None
    content_policy: bool = False
    fail_first_n: int = 0
    answer: str | None = None
    min_words: int = 16

    def to_dict(self) -> dict[str, Any]:
        """Return the behaviour as a JSON-ready mapping of every knob."""
        return dataclasses.asdict(self)


# Each knob's accepted kind and smallest allowed value; validation reads this table so that adding a knob
# to Behaviour means adding one line here.
_KNOB_RULES: dict[str, tuple[str, float | None]] = {
    "delay_ms": ("int", 0),
    "chunk_delay_ms": ("int", 0),
    "chunks": ("int", 1),
    "error_rate": ("rate", None),
    "error_status": ("status", None),
    "retry_after_seconds": ("optional_int", 0),
    "hang": ("bool", None),
    "cut_after_chunks": ("optional_int", 0),
    "context_window": ("optional_int", 1),
    "content_policy": ("bool", None),
    "fail_first_n": ("int", 0),
    "answer": ("optional_str", None),
    "min_words": ("int", 0),
}
assert set(_KNOB_RULES) == {field.name for field in dataclasses.fields(Behaviour)}


def validate_knobs(raw: Any) -> dict[str, Any]:
    """Check a partial behaviour (knob name -> value) and return it as a plain dict.

    Raises BehaviourError naming the first offending knob, so an admin call or a behaviours file fails
    loudly instead of being half applied.
    """
    if not isinstance(raw, Mapping):
        raise BehaviourError(f"a behaviour must be a JSON object of knobs, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_KNOB_RULES))
    if unknown:
        raise BehaviourError(f"unknown behaviour knob(s) {unknown}; known knobs: {sorted(_KNOB_RULES)}")
    knobs: dict[str, Any] = {}
    for name, value in raw.items():
        kind, minimum = _KNOB_RULES[name]
        knobs[name] = _check_knob(name, kind, minimum, value)
    return knobs


def _check_knob(name: str, kind: str, minimum: float | None, value: Any) -> Any:
    # bool is a subclass of int in Python, so it is rejected explicitly wherever a number is expected.
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        if not isinstance(value, bool):
            raise BehaviourError(f"{name} must be true or false, got {value!r}")
        return value
    if kind == "optional_str":
        if value is not None and not isinstance(value, str):
            raise BehaviourError(f"{name} must be a string or null, got {value!r}")
        return value
    if kind == "rate":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise BehaviourError(f"{name} must be a number from 0 to 1, got {value!r}")
        return float(value)
    if kind == "status":
        if not is_int or not 400 <= value <= 599:
            raise BehaviourError(f"{name} must be an HTTP error status from 400 to 599, got {value!r}")
        return value
    if kind == "optional_int" and value is None:
        return None
    if not is_int or (minimum is not None and value < minimum):
        raise BehaviourError(f"{name} must be an integer >= {minimum:g}, got {value!r}")
    return value


def behaviour_from_model_name(model: str) -> dict[str, Any]:
    """Read behaviour directives out of a model name, so a test can ask for a failure without configuring one.

    Only names whose last path segment starts with ``mock-`` carry directives (``openai/mock-hang`` and
    ``mock-hang`` are the same). The words after ``mock`` are read left to right:

    ==============  ==========================================================================
    ``status-N``    fail every request with HTTP N (combined with ``flaky-N``: the failures' status)
    ``flaky-N``     fail the first N requests (503 unless ``status-N`` is given), then succeed
    ``retry-N``     send ``Retry-After: N`` on 429 and 503 failures
    ``slow-N``      wait N ms before answering (before the first stream chunk)
    ``drip-N``      wait N ms between stream chunks
    ``chunks-N``    stream N content chunks
    ``hang``        never answer; wait until the client gives up
    ``cut-N``       close the connection after N streamed content chunks, without ``[DONE]``
    ``ctx-N``       context window of N tokens (prompt + max_tokens above it -> 400)
    ``policy``      refuse with a 400 ``content_filter`` error
    ==============  ==========================================================================

    Any other word is ignored, so ``mock-fast`` is a plain model and a test may add a unique suffix to get
    its own ``flaky`` counter and stats row: ``mock-flaky-2-t41``, ``mock-slow-200-cut-3``.
    """
    words = model.rsplit("/", 1)[-1].split("-")
    if words[0] != "mock":
        return {}
    numbered = {
        "status": "error_status",
        "flaky": "fail_first_n",
        "retry": "retry_after_seconds",
        "slow": "delay_ms",
        "drip": "chunk_delay_ms",
        "chunks": "chunks",
        "cut": "cut_after_chunks",
        "ctx": "context_window",
    }
    knobs: dict[str, Any] = {}
    index = 1
    while index < len(words):
        word = words[index]
        number = words[index + 1] if index + 1 < len(words) else ""
        if word in numbered and number.isdigit():
            knobs[numbered[word]] = int(number)
            index += 2
            continue
        if word == "hang":
            knobs["hang"] = True
        elif word == "policy":
            knobs["content_policy"] = True
        index += 1
    if "fail_first_n" in knobs:
        knobs.setdefault("error_status", 503)
    elif "error_status" in knobs:
        knobs["error_rate"] = 1.0
    try:
        return validate_knobs(knobs)
    except BehaviourError:
        # A name like "mock-status-200" asks for something impossible; it is then an ordinary model.
        return {}


def load_behaviours_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a JSON or YAML file mapping model name (or ``"*"``) to a partial behaviour, validated."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            import yaml  # Imported here: YAML support is an optional extra.
        except ImportError as missing:
            raise BehaviourError(
                f"{path} is YAML but PyYAML is not installed; install sluicegate-mock-upstream[yaml]"
            ) from missing
        loaded = yaml.safe_load(text) or {}
    else:
        loaded = json.loads(text)
    return validate_behaviour_table(loaded, source=str(path))


def validate_behaviour_table(table: Any, *, source: str) -> dict[str, dict[str, Any]]:
    """Validate a mapping of model name -> partial behaviour, naming the source and model on error."""
    if not isinstance(table, Mapping):
        raise BehaviourError(f"{source}: expected a mapping of model name to behaviour")
    validated: dict[str, dict[str, Any]] = {}
    for model, knobs in table.items():
        try:
            validated[str(model)] = validate_knobs(knobs)
        except BehaviourError as error:
            raise BehaviourError(f"{source}: model {model!r}: {error}") from error
    return validated


class BehaviourRegistry:
    """Resolves each model's behaviour from start-up settings, admin overrides and the model's name.

    Layers, later ones winning knob by knob: Behaviour defaults, the ``"*"`` entry, the model name's
    directives, the model's own entry. For ``"*"`` and for each model, an admin override replaces the
    start-up entry as a whole, like an HTTP PUT. It also counts attempts per model for ``fail_first_n``.
    """

    def __init__(self, startup: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._startup = validate_behaviour_table(startup or {}, source="start-up behaviours")
        self._overrides: dict[str, dict[str, Any]] = {}
        self._resolved: dict[str, Behaviour] = {}
        self._attempts: dict[str, int] = {}

    def resolve(self, model: str) -> Behaviour:
        """Return the behaviour for a model; cached, since every request asks."""
        behaviour = self._resolved.get(model)
        if behaviour is None:
            if len(self._resolved) >= _RESOLVED_CACHE_LIMIT:
                self._resolved.clear()
            behaviour = self._resolved[model] = self._resolve_uncached(model)
        return behaviour

    def _resolve_uncached(self, model: str) -> Behaviour:
        knobs: dict[str, Any] = {}
        knobs.update(self._entry(DEFAULT_MODEL_KEY))
        knobs.update(behaviour_from_model_name(model))
        if model != DEFAULT_MODEL_KEY:
            knobs.update(self._entry(model))
        return Behaviour(**knobs)

    def _entry(self, key: str) -> dict[str, Any]:
        if key in self._overrides:
            return self._overrides[key]
        return self._startup.get(key, {})

    def count_attempt(self, model: str) -> int:
        """Record one more request for a model and return its 1-based attempt number."""
        attempt = self._attempts.get(model, 0) + 1
        self._attempts[model] = attempt
        return attempt

    def reset_attempts(self) -> None:
        """Forget attempt counts, so every ``fail_first_n`` model fails its first N requests again."""
        self._attempts.clear()

    def set_override(self, model: str, raw: Any) -> Behaviour:
        """Replace a model's (or ``"*"``'s) behaviour and return the resulting behaviour of that key."""
        self._overrides[model] = validate_knobs(raw)
        self._resolved.clear()
        if model == DEFAULT_MODEL_KEY:
            self._attempts.clear()
        else:
            self._attempts.pop(model, None)
        return self.resolve(model)

    def remove_override(self, model: str) -> bool:
        """Drop one admin override; return whether there was one."""
        removed = self._overrides.pop(model, None) is not None
        self._resolved.clear()
        self._attempts.pop(model, None)
        return removed

    def reset_overrides(self) -> None:
        """Drop every admin override and attempt count, returning to the start-up behaviours."""
        self._overrides.clear()
        self._resolved.clear()
        self._attempts.clear()

    def configured_models(self) -> list[str]:
        """Return the model names with their own entry, start-up or admin, without ``"*"``."""
        return sorted((set(self._startup) | set(self._overrides)) - {DEFAULT_MODEL_KEY})

    def snapshot(self) -> dict[str, Any]:
        """Return the layers and the resolved behaviour of every configured key, for the admin API."""
        keys = sorted(set(self._startup) | set(self._overrides) | {DEFAULT_MODEL_KEY})
        return {
            "startup": self._startup,
            "overrides": self._overrides,
            "effective": {key: self.resolve(key).to_dict() for key in keys},
        }
