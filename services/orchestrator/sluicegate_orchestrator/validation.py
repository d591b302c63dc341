"""Rejects malformed chat requests with INVALID_ARGUMENT and a BadRequest naming every bad field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from sluicegate.common.v1 import chat_pb2, errors_pb2
from sluicegate.convert import ROLE_NAMES, message_text
from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.runtime.errors import invalid_argument
from sluicegate_orchestrator.settings import OrchestratorSettings

ChatLike = gateway_pb2.ChatRequest | gateway_pb2.ChatStreamRequest

_MODEL_NAME = re.compile(r"^[A-Za-z0-9._:/-]{0,128}$")
_MAX_METADATA_ENTRIES = 32
_MAX_METADATA_CHARS = 256
_MAX_IDEMPOTENCY_KEY_CHARS = 128


def chat_request_validator(settings: OrchestratorSettings) -> Callable[[ChatLike], None]:
    """A validator for ChatRequest and ChatStreamRequest under the configured limits."""

    def validate(request: ChatLike) -> None:
        violations: dict[str, str] = {}
        total_chars = 0
        if not request.messages:
            violations["messages"] = "at least one message is required"
        elif len(request.messages) > settings.max_messages:
            violations["messages"] = f"at most {settings.max_messages} messages are allowed"
        has_text = False
        for index, message in enumerate(request.messages):
            if message.role not in ROLE_NAMES:
                violations[f"messages[{index}].role"] = "role must be system, user, assistant, tool or developer"
            text = message_text(message)
            total_chars += len(text)
            has_text = has_text or bool(text.strip())
            if message.role == chat_pb2.ROLE_TOOL and not message.tool_call_id:
                violations[f"messages[{index}].tool_call_id"] = "a tool message must name the call it answers"
        if request.messages and not has_text:
            violations["messages"] = "at least one message must contain text"
        if total_chars > settings.max_prompt_chars:
            error = invalid_argument(
                {"messages": f"the prompt has {total_chars} characters; the limit is {settings.max_prompt_chars}"},
                reason=errors_pb2.ERROR_REASON_PAYLOAD_TOO_LARGE,
            )
            raise error
        params = request.params
        if params.max_tokens < 0:
            violations["params.max_tokens"] = "must not be negative"
        elif params.max_tokens > settings.max_tokens_limit:
            violations["params.max_tokens"] = f"must be at most {settings.max_tokens_limit}"
        if params.HasField("temperature") and not (
            0.0 <= params.temperature <= 2.0 and math.isfinite(params.temperature)
        ):
            violations["params.temperature"] = "must be between 0 and 2"
        if params.HasField("top_p") and not (0.0 <= params.top_p <= 1.0):
            violations["params.top_p"] = "must be between 0 and 1"
        if len(params.stop) > 4:
            violations["params.stop"] = "at most 4 stop sequences are allowed"
        if not _MODEL_NAME.match(request.model):
            violations["model"] = "must be a catalog model name or 'auto'"
        if request.cache.min_similarity and not (0.0 <= request.cache.min_similarity <= 1.0):
            violations["cache.min_similarity"] = "must be between 0 and 1"
        if request.cache.ttl_seconds < 0:
            violations["cache.ttl_seconds"] = "must not be negative"
        if len(request.metadata) > _MAX_METADATA_ENTRIES or any(
            len(k) + len(v) > _MAX_METADATA_CHARS for k, v in request.metadata.items()
        ):
            violations["metadata"] = f"at most {_MAX_METADATA_ENTRIES} entries of {_MAX_METADATA_CHARS} characters"
        if len(request.idempotency_key) > _MAX_IDEMPOTENCY_KEY_CHARS:
            violations["idempotency_key"] = f"at most {_MAX_IDEMPOTENCY_KEY_CHARS} characters"
        if violations:
            raise invalid_argument(violations)

    return validate
