"""The correctness gate, the partition of a request and per-tenant thresholds."""

from __future__ import annotations

import pytest
from cache_builders import conversation

from sluicegate_cache.gate import QuestionGate
from sluicegate_cache.subject import subject_of
from sluicegate_cache.thresholds import TenantThresholds, load_tenant_floors

GATE = QuestionGate(substitution_similarity=0.90, swap_similarity=0.95)


@pytest.mark.parametrize(
    ("asked", "stored", "difference"),
    [
        ("Is X safe for children?", "Is X unsafe for children?", "antonym"),
        ("Is coffee bad for your heart?", "Is coffee good for your heart?", "antonym"),
        ("Is it safe to fly?", "Isn't it safe to fly?", "negation"),
        ("Can dogs eat grapes?", "Can dogs never eat grapes?", "negation"),
        ("Sales figures for 2023", "Sales figures for 2024", "numbers"),
        ("How many days are in two weeks?", "How many days are in three weeks?", "numbers"),
        ("Flights from Paris to Rome", "Flights from London to Rome", "entities"),
        ("Convert Celsius to Fahrenheit", "Convert Fahrenheit to Celsius", "entities"),
        ("What is the recommended dose of aspirin?", "What is the maximum dose of aspirin?", "qualifier"),
        ("What are the causes of inflation?", "What are the effects of inflation?", "antonym"),
        ("How do I install the printer driver?", "How do I update the printer driver?", "key_terms"),
    ],
)
def test_the_gate_names_what_differs(asked, stored, difference):
    assert GATE.difference(asked, stored, similarity=0.89) == difference


@pytest.mark.parametrize(
    ("asked", "stored"),
    [
        ("What is the capital of France?", "which city is the capital of france"),
        ("How can I reset my password?", "How do I reset my password?"),
        ("What's Australia's capital city?", "What is the capital city of Australia?"),
        ("How much is 15% of 80?", "What is 15 percent of 80?"),
    ],
)
def test_paraphrases_pass_the_gate(asked, stored):
    assert GATE.difference(asked, stored, similarity=0.95) is None


@pytest.mark.parametrize(
    ("asked", "stored", "difference"),
    [
        ("is 3 greater than 5", "is 5 greater than 3", "numbers"),
        ("Convert 40 degrees to fahrenheit", "Convert -40 degrees to fahrenheit", "numbers"),
        ("Convert minus 40 degrees to fahrenheit", "Convert 40 degrees to fahrenheit", "numbers"),
        ("What is 12 + 3?", "What is 12 * 3?", "operators"),
        ("What is 12 - 3?", "What is 12 / 3?", "operators"),
        ("Is x < 5?", "Is x > 5?", "operators"),
        ("Is x ≤ 5?", "Is x = 5?", "operators"),
        ("What is 2^10?", "What is 2*10?", "operators"),
        ("flights from london to paris", "flights from paris to london", "order"),
        ("convert 5 miles to km", "convert 5 km to miles", "order"),
        ("does stress cause smoking", "does smoking cause stress", "order"),
        (
            "how do i convert an integer to a string in python",
            "how do i convert a string to an integer in python",
            "order",
        ),
        ("is a cat faster than a dog", "is a dog faster than a cat", "order"),
        ("cheap flights from london to paris", "flights from paris to london", "order"),  # a word added
    ],
)
def test_order_signs_and_operators_make_a_different_question(asked, stored, difference):
    # Embeddings score these 0.87-0.997 (the review's pairs): the gate alone tells them apart.
    assert GATE.difference(asked, stored, similarity=0.999) == difference
    assert GATE.difference(stored, asked, similarity=0.999) == difference


@pytest.mark.parametrize(
    ("asked", "stored"),
    [
        ("How does IKEA's return policy work?", "What is the return policy at IKEA?"),  # a possessive reads as "of"
        ("What is gpt-4?", "what is GPT-4"),  # a hyphen inside a word is no minus
        ("What’s 12 × 3?", "What's 12 * 3?"),  # typographic forms read as plain ones
        ("Convert −40 degrees to fahrenheit", "Convert -40 degrees to fahrenheit"),
        # Reordered without a pivot the two share, or around a symmetric one: the same question.
        ("How do I reset my account password?", "What is the way to reset the password of my account?"),
        ("What's Australia's capital city?", "Which city is the capital of Australia?"),
        ("What is the difference between tcp and udp?", "What is the difference between udp and tcp?"),
    ],
)
def test_the_same_order_and_signs_pass(asked, stored):
    assert GATE.difference(asked, stored, similarity=0.97) is None


def test_swapped_content_words_need_the_substitution_similarity():
    asked, stored = "Who wrote Hamlet?", "Who is the author of Hamlet?"
    assert GATE.same_question(asked, stored, similarity=0.95)
    assert not GATE.same_question(asked, stored, similarity=0.88)


@pytest.mark.parametrize(
    ("asked", "stored"),
    [
        ("Is it cheaper to rent a car in Spain?", "Is it more expensive to rent a car in Spain?"),  # comparative
        ("Which laptop battery lasts longest?", "Which laptop battery lasts shortest?"),  # superlative
        ("Who won the chess match?", "Who lost the chess match?"),  # irregular forms
        ("When was the old bridge built?", "When was the old bridge destroyed?"),
        ("Why did my phone stop charging?", "Why did my phone start charging?"),
        ("Why does my phone keep stopping?", "Why does my phone keep starting?"),  # inflected, doubled consonant
        ("How do I log in to the portal?", "How do I log out of the portal?"),
        ("Is this medicine allowed for athletes?", "Is this medicine prohibited for athletes?"),
        ("How to turn on dark mode?", "How to turn off dark mode?"),
        ("How long to thaw a frozen turkey?", "How long to freeze a frozen turkey?"),
        ("What should I do before a job interview?", "What should I do after a job interview?"),
        ("Which fruits are sweet?", "Which fruits are sour?"),
        ("Is it common to dream in colour?", "Is it rare to dream in colour?"),
    ],
)
def test_opposites_beyond_the_listed_pairs_are_caught(asked, stored):
    assert GATE.difference(asked, stored, similarity=0.96) == "antonym"
    assert GATE.difference(stored, asked, similarity=0.96) == "antonym"


def test_except_is_a_qualifier():
    assert GATE.difference("Which planets have rings?", "Which planets have rings except Saturn?", 0.96) in {
        "qualifier",
        "entities",
    }
    assert GATE.difference("List every fruit except apples", "List every fruit", 0.96) == "qualifier"


def test_a_word_swapped_in_place_needs_the_swap_similarity():
    asked, stored = "How do I sharpen a kitchen knife?", "How do I clean a kitchen knife?"
    assert GATE.difference(asked, stored, similarity=0.93) == "swap"
    assert GATE.difference(asked, stored, similarity=0.96) is None
    # Other changes keep the ordinary substitution similarity; a form of the same word is no swap.
    assert GATE.difference("How do I sharpen a knife?", "What is the way to sharpen a kitchen knife?", 0.93) is None
    assert GATE.difference("Who painted this?", "Who was the painter of this?", similarity=0.93) is None


def test_the_swap_similarity_is_never_below_the_substitution_similarity():
    gate = QuestionGate(substitution_similarity=0.93, swap_similarity=0.9)
    assert gate.difference("How do I sharpen a kitchen knife?", "How do I clean a kitchen knife?", 0.92) == "key_terms"


def test_the_partition_covers_tenant_context_and_parameter_class_but_not_the_wording():
    base = subject_of(conversation("Hi", "Hello", "What is DNS?"), "default")
    assert base is not None and base.question == "What is DNS?"
    reworded = subject_of(conversation("Hi", "Hello", "Explain DNS"), "default")
    near_max_tokens = conversation("Hi", "Hello", "What is DNS?")
    near_max_tokens.params.max_tokens, far_max_tokens = 300, conversation("Hi", "Hello", "What is DNS?")
    far_max_tokens.params.max_tokens = 2000
    base_with_tokens = conversation("Hi", "Hello", "What is DNS?")
    base_with_tokens.params.max_tokens = 500

    assert reworded.partition == base.partition
    assert subject_of(near_max_tokens, "default").partition == subject_of(base_with_tokens, "default").partition
    for other in [
        subject_of(conversation("Hi", "Hello", "What is DNS?", tenant="globex"), "default"),
        subject_of(conversation("Hey", "Hello", "What is DNS?"), "default"),
        subject_of(conversation("Hi", "Hello", "What is DNS?", system="Be verbose."), "default"),
        subject_of(conversation("Hi", "Hello", "What is DNS?"), "support"),
        subject_of(far_max_tokens, "default"),
    ]:
        assert other.partition != base.partition
    assert subject_of(conversation("Hi", "Hello"), "default") is None  # ends with the assistant's turn


def test_thresholds_have_a_floor_per_tenant_that_requests_may_only_raise(tmp_path):
    path = tmp_path / "floors.yaml"
    path.write_text("acme: 0.9\nglobex: 0.95\n")
    thresholds = TenantThresholds(0.86, load_tenant_floors(path))
    assert thresholds.effective("acme", 0.0) == 0.9
    assert thresholds.effective("acme", 0.5) == 0.9
    assert thresholds.effective("acme", 0.97) == 0.97
    assert thresholds.effective("initech", 0.0) == 0.86
    with pytest.raises(ValueError):
        TenantThresholds(0.86, {"acme": 1.5})
