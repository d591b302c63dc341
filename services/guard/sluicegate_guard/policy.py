"""What the guard does with each entity type it finds: the kinds, the default actions and the allow-list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class EntityAction(StrEnum):
    """What happens to a found entity."""

    BLOCK = "block"
    PSEUDONYMISE = "pseudonymise"
    ALLOW = "allow"


PII_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IP_ADDRESS",
    "IBAN_CODE",
)
NER_ENTITIES = ("PERSON", "LOCATION")
SECRET_ENTITIES = ("AWS_ACCESS_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "JWT", "PRIVATE_KEY")

# Technical names the recognizers (NER in particular) mistake for people, places or codes.
DEFAULT_ALLOW_LIST = ("S3", "EKS", "EC2", "ECS", "C4", "K8s", "GKE", "AKS", "IAM", "VPC", "GPT-4", "GPT-4o", "Llama")

# A private key is never worth sending anywhere; every other type is pseudonymised by default.
DEFAULT_ENTITY_ACTIONS: Mapping[str, EntityAction] = {"PRIVATE_KEY": EntityAction.BLOCK}


def is_secret(entity_type: str) -> bool:
    return entity_type in SECRET_ENTITIES


@dataclass(frozen=True)
class GuardPolicy:
    """The thresholds and per-entity actions one guard applies."""

    injection_threshold: float = 0.7
    pii_action: EntityAction = EntityAction.PSEUDONYMISE
    secret_action: EntityAction = EntityAction.PSEUDONYMISE
    entity_actions: Mapping[str, EntityAction] = field(default_factory=dict)

    def action_for(self, entity_type: str) -> EntityAction:
        """The configured action for the type, else its built-in default, else the secret or PII action."""
        if entity_type in self.entity_actions:
            return self.entity_actions[entity_type]
        if entity_type in DEFAULT_ENTITY_ACTIONS:
            return DEFAULT_ENTITY_ACTIONS[entity_type]
        return self.secret_action if is_secret(entity_type) else self.pii_action
