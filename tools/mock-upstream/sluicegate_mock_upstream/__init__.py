"""An OpenAI-compatible mock LLM upstream that can be told to be slow, fail, rate-limit or cut a stream."""

from .app import UPSTREAM_KEY, create_app
from .behaviour import Behaviour, BehaviourError, behaviour_from_model_name

__all__ = ["UPSTREAM_KEY", "Behaviour", "BehaviourError", "behaviour_from_model_name", "create_app"]
