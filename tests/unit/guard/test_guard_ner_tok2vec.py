"""The ner's tok2vec written out in numpy: the same vectors and entities as thinc's, inference only, and thinc's
forward kept for any model built otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

spacy = pytest.importorskip("spacy")
from thinc.api import Linear, chain, use_ops  # noqa: E402 - after the skip

from sluicegate_guard.engine import _PIPES_NER_DOES_NOT_NEED  # noqa: E402
from sluicegate_guard.ner_tok2vec import FastTok2Vec, UnexpectedArchitecture, install_fast_tok2vec  # noqa: E402
from sluicegate_guard.settings import NER_MODEL  # noqa: E402

PII_SET = Path(__file__).parents[3] / "services" / "guard" / "eval" / "pii.jsonl"
TEXTS = [
    "Summarize the quarterly report in three bullet points (r1f0c9a2e0)",
    "Oscar Nguyen moved to 2351 Hill High Road Suite 229, Vienna last spring.",
    "x",
    "Ünïcödé — 東京 and São Paulo; e-mail me at first.last+tag@example.co.uk!!",
    "word " * 300,
]


def _load():
    with use_ops("numpy", use_blis=False):
        return spacy.load(NER_MODEL, exclude=list(_PIPES_NER_DOES_NOT_NEED))


@pytest.fixture(scope="module")
def nlp():
    return _load()


def _tok2vec(nlp):
    return nlp.get_pipe("ner").model.get_ref("tok2vec")


def test_the_vectors_are_thincs_for_single_docs_and_a_batch_with_an_empty_doc(nlp):
    tok2vec = _tok2vec(nlp)
    fast = FastTok2Vec(tok2vec)
    docs = [nlp.make_doc(text) for text in TEXTS]

    for doc in docs:
        assert np.allclose(fast([doc]), tok2vec.predict([doc]), atol=1e-5)
    batch = [docs[0], nlp.make_doc(""), docs[2], docs[3]]
    expected = tok2vec.predict(batch)
    assert fast(batch).shape == expected.shape == (len(docs[0]) + len(docs[2]) + len(docs[3]), 64)
    assert np.allclose(fast(batch), expected, atol=1e-5)
    assert fast([nlp.make_doc("")]).shape == (0, 64)


def test_installed_the_recognizer_finds_the_same_entities_and_training_keeps_thincs_forward():
    texts = [json.loads(line)["text"] for line in PII_SET.read_text().splitlines()[:80]] + TEXTS
    before = _load()
    after = _load()

    assert install_fast_tok2vec(after)

    def entities(nlp, text):
        return [(entity.start_char, entity.end_char, entity.label_) for entity in nlp(text).ents]

    assert [entities(after, text) for text in texts] == [entities(before, text) for text in texts]
    docs = [after.make_doc(TEXTS[1])]
    vectors, backprop = _tok2vec(after)(docs, is_train=True)
    assert np.allclose(vectors, _tok2vec(before).predict(docs), atol=1e-5)
    backprop(np.ones_like(vectors))  # thinc's own backward: the fast forward would raise


def test_a_model_built_otherwise_keeps_thincs_forward():
    with pytest.raises(UnexpectedArchitecture, match="list2array"):
        FastTok2Vec(chain(Linear(4, 4), Linear(4, 4)))

    nlp = spacy.blank("en")
    encoder = {"@architectures": "spacy.MishWindowEncoder.v2", "width": 32, "window_size": 1, "depth": 2}
    embed = {
        "@architectures": "spacy.MultiHashEmbed.v2",
        "width": 32,
        "attrs": ["NORM"],
        "rows": [500],
        "include_static_vectors": False,
    }
    model = {
        "@architectures": "spacy.TransitionBasedParser.v2",
        "state_type": "ner",
        "extra_state_tokens": False,
        "hidden_width": 16,
        "maxout_pieces": 2,
        "use_upper": True,
        "tok2vec": {"@architectures": "spacy.Tok2Vec.v2", "embed": embed, "encode": encoder},
    }
    nlp.add_pipe("ner", config={"model": model}).add_label("PERSON")
    nlp.initialize()
    docs = [nlp.make_doc(TEXTS[1])]
    expected = _tok2vec(nlp).predict(docs)

    assert not install_fast_tok2vec(nlp)
    assert np.array_equal(_tok2vec(nlp).predict(docs), expected)
