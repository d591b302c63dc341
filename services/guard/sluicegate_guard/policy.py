"""What the guard does with each entity type it finds, per tenant: actions, score thresholds, fail-open.

A policy file (`GUARD_POLICY_PATH`, YAML) holds a `default` policy and `tenants` that override it:

    default:
      injection_threshold: 0.7
      fail_open: false                 # true: a failed scan passes the text, marked NOT_SCANNED
      pii_action: pseudonymise         # allow | mask | pseudonymise | redact | block
      secret_action: pseudonymise
      min_score: 0.4                   # weaker findings are ignored
      entities:
        US_SSN: {action: block}
        CREDIT_CARD: {action: mask, min_score: 0.6}
      output_pii_action: redact        # PII in an answer that the prompt did not bring: allow | mask | redact | block
      output_entities:
        CREDIT_CARD: block
      llm_judge: false                 # true: the router's judge model decides messages the rules are unsure of
    tenants:
      acme:
        fail_open: true
        entities:
          EMAIL_ADDRESS: {action: redact}

A tenant's policy is the default with the tenant's fields laid over it (its `entities` merged by type).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class EntityAction(StrEnum):
    """What happens to a found entity."""

    BLOCK = "block"
    PSEUDONYMISE = "pseudonymise"  # reversible placeholder <TYPE_N>, restored in the answer
    MASK = "mask"  # most characters starred, kept out of the vault
    REDACT = "redact"  # replaced by [TYPE], kept out of the vault
    ALLOW = "allow"


PII_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IP_ADDRESS",
    "IBAN_CODE",
    "STREET_ADDRESS",
)
NER_ENTITIES = ("PERSON", "LOCATION")
SECRET_ENTITIES = ("AWS_ACCESS_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "JWT", "PRIVATE_KEY")

# Technical names the recognizers (NER in particular) mistake for people, places or codes.
DEFAULT_ALLOW_LIST = ("S3", "EKS", "EC2", "ECS", "C4", "K8s", "GKE", "AKS", "IAM", "VPC", "GPT-4", "GPT-4o", "Llama")

# A private key is never worth sending anywhere; every other type is pseudonymised by default.
DEFAULT_ENTITY_ACTIONS: Mapping[str, EntityAction] = {"PRIVATE_KEY": EntityAction.BLOCK}

# In answers, names, places and IP addresses are usually the content asked for ("the capital of France",
# "set the resolver to 8.8.8.8"), not a leak: they pass unless a policy names them. Other PII is redacted.
DEFAULT_OUTPUT_ENTITY_ACTIONS: Mapping[str, EntityAction] = {
    "PERSON": EntityAction.ALLOW,
    "LOCATION": EntityAction.ALLOW,
    "IP_ADDRESS": EntityAction.ALLOW,
}


def is_secret(entity_type: str) -> bool:
    return entity_type in SECRET_ENTITIES


@dataclass(frozen=True)
class GuardPolicy:
    """The thresholds and per-entity actions applied to one tenant's requests."""

    injection_threshold: float = 0.7
    pii_action: EntityAction = EntityAction.PSEUDONYMISE
    secret_action: EntityAction = EntityAction.PSEUDONYMISE
    entity_actions: Mapping[str, EntityAction] = field(default_factory=dict)
    fail_open: bool = False
    min_score: float = 0.0
    entity_min_scores: Mapping[str, float] = field(default_factory=dict)
    output_pii_action: EntityAction = EntityAction.REDACT
    output_entity_actions: Mapping[str, EntityAction] = field(default_factory=dict)
    llm_judge: bool = False

    def min_score_for(self, entity_type: str) -> float:
        """Findings of this type scoring below this are ignored."""
        return self.entity_min_scores.get(entity_type, self.min_score)

    def action_for(self, entity_type: str) -> EntityAction:
        """The configured action for the type, else its built-in default, else the secret or PII action."""
        if entity_type in self.entity_actions:
            return self.entity_actions[entity_type]
        if entity_type in DEFAULT_ENTITY_ACTIONS:
            return DEFAULT_ENTITY_ACTIONS[entity_type]
        return self.secret_action if is_secret(entity_type) else self.pii_action

    def output_action_for(self, entity_type: str) -> EntityAction:
        """What to do with PII of this type that an answer brings and the prompt did not.

        There is nothing to restore a placeholder from in an answer, so `pseudonymise` redacts.
        """
        action = self.output_entity_actions.get(
            entity_type, DEFAULT_OUTPUT_ENTITY_ACTIONS.get(entity_type, self.output_pii_action)
        )
        return EntityAction.REDACT if action is EntityAction.PSEUDONYMISE else action

    def output_needs_ner(self) -> bool:
        """True when a type only NER finds (names, places) is acted on in answers."""
        return any(self.output_action_for(entity_type) is not EntityAction.ALLOW for entity_type in NER_ENTITIES)

    def scans_output_pii(self) -> bool:
        """False when every PII type passes in answers, so the answer's entity scan can be skipped."""
        return self.output_pii_action is not EntityAction.ALLOW or any(
            action is not EntityAction.ALLOW for action in self.output_entity_actions.values()
        )


class _EntityRuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: EntityAction | None = None
    min_score: float | None = Field(default=None, ge=0, le=1)


class _PolicyFile(BaseModel):
    """One policy in the file; unset fields inherit."""

    model_config = ConfigDict(extra="forbid")

    injection_threshold: float | None = Field(default=None, ge=0, le=1)
    fail_open: bool | None = None
    pii_action: EntityAction | None = None
    secret_action: EntityAction | None = None
    min_score: float | None = Field(default=None, ge=0, le=1)
    entities: dict[str, _EntityRuleFile] = Field(default_factory=dict)
    output_pii_action: EntityAction | None = None
    output_entities: dict[str, EntityAction] = Field(default_factory=dict)
    llm_judge: bool | None = None

    def over(self, base: GuardPolicy) -> GuardPolicy:
        fields = {
            name: value
            for name in (
                "injection_threshold",
                "fail_open",
                "pii_action",
                "secret_action",
                "min_score",
                "output_pii_action",
                "llm_judge",
            )
            if (value := getattr(self, name)) is not None
        }
        actions = dict(base.entity_actions)
        min_scores = dict(base.entity_min_scores)
        for entity_type, rule in self.entities.items():
            if rule.action is not None:
                actions[entity_type] = rule.action
            if rule.min_score is not None:
                min_scores[entity_type] = rule.min_score
        return replace(
            base,
            **fields,
            entity_actions=actions,
            entity_min_scores=min_scores,
            output_entity_actions={**base.output_entity_actions, **self.output_entities},
        )


class _PoliciesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: _PolicyFile = Field(default_factory=_PolicyFile)
    tenants: dict[str, _PolicyFile] = Field(default_factory=dict)


@dataclass(frozen=True)
class TenantPolicies:
    """The default policy and the tenants' own."""

    default: GuardPolicy = field(default_factory=GuardPolicy)
    tenants: Mapping[str, GuardPolicy] = field(default_factory=dict)

    def for_tenant(self, tenant_id: str) -> GuardPolicy:
        return self.tenants.get(tenant_id, self.default)

    @classmethod
    def from_mapping(cls, document: Mapping, base: GuardPolicy) -> TenantPolicies:
        """Policies from a parsed policy file laid over `base` (the policy the settings describe)."""
        parsed = _PoliciesFile.model_validate(document or {})
        default = parsed.default.over(base)
        return cls(default, {tenant: policy.over(default) for tenant, policy in parsed.tenants.items()})

    @classmethod
    def load(cls, path: Path, base: GuardPolicy) -> TenantPolicies:
        """Reads the YAML policy file; a missing or malformed file fails start-up with a clear error."""
        return cls.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), base)
