"""The correctness gate: two questions close in embedding space are still different questions when their
negation, numbers, named entities, opposites, qualifiers or key terms differ. Sentence embeddings score "is X safe" and
"is X unsafe" near 0.9; this gate is what keeps such a pair from sharing an answer.

Each check compares surface features, cheaply (well under a millisecond), and errs towards "different":
a wrongly refused paraphrase costs one upstream call, a wrongly served answer is a wrong answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache


def _words(text: str) -> list[str]:
    """A word list written as one string, so the lists below read as prose."""
    return text.split()


# A word or number, joined across inner punctuation: "don't", "1,000", "3.5", "gpt-4", "node.js", "30-year".
_WORD = re.compile(r"[a-z0-9]+(?:[.,:/'-][a-z0-9]+)*%?", re.IGNORECASE)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*)([A-Za-z][\w'-]*)")

NEGATIONS = frozenset(
    _words(
        "not no never none nothing nobody nowhere neither nor without cannot cant dont doesnt didnt isnt arent wasnt "
        "werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt neednt lacking absent"
    )
)
# "one" is left out: "one pound" and "a pound" ask the same thing.
NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
    "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000", "dozen": "12",
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th", "last": "last",
    "half": "0.5", "twice": "2x", "double": "2x", "triple": "3x",
}  # fmt: skip
# Pairs of words that turn a question into its opposite; both directions are checked.
ANTONYMS = _words(
    "safe:dangerous safe:risky safe:harmful increase:decrease increase:reduce raise:lower rise:fall high:low "
    "higher:lower highest:lowest up:down buy:sell before:after above:below over:under max:min maximum:minimum "
    "good:bad better:worse upgrade:downgrade cause:effect cause:solution yesterday:tomorrow yesterday:today "
    "today:tomorrow past:future was:will fastest:slowest longest:shortest oldest:newest earliest:latest "
    "tallest:shortest cheapest:dearest best:worst first:last open:close start:stop start:end begin:end hot:cold "
    "warm:cool add:remove "
    "enable:disable allow:block allow:deny accept:reject pros:cons advantage:disadvantage benefit:drawback "
    "benefit:risk cheap:expensive fast:slow faster:slower more:less more:fewer most:least large:small "
    "larger:smaller largest:smallest big:small bigger:smaller biggest:smallest long:short longer:shorter "
    "true:false legal:illegal win:lose gain:lose import:export upload:download encrypt:decrypt compress:decompress "
    "push:pull send:receive north:south east:west left:right inside:outside input:output positive:negative "
    "success:failure strong:weak strengthen:weaken heavy:light easy:hard easy:difficult early:late hire:fire "
    "rich:poor young:old new:old wet:dry love:hate include:exclude join:leave lock:unlock connect:disconnect "
    "install:uninstall subscribe:unsubscribe mount:unmount create:delete create:destroy attach:detach "
    "always:never all:none everyone:nobody cause:cure cause:prevent treat:cause morning:evening "
    "day:night summer:winter spring:autumn spring:fall asleep:awake male:female men:women boys:girls "
    "husband:wife father:mother son:daughter brother:sister king:queen predator:prey vegetarian:vegan "
    "inhale:exhale arrival:departure arrive:depart deposit:withdraw debit:credit borrow:lend "
    "maximize:minimize maximise:minimise overestimate:underestimate ascending:descending "
    "horizontal:vertical synchronous:asynchronous sync:async client:server frontend:backend private:public "
    "mutable:immutable static:dynamic compile:interpret read:write get:set encode:decode "
    "serialize:deserialize upper:lower uppercase:lowercase plus:minus add:subtract multiply:divide "
    "celsius:fahrenheit kilometers:miles kg:lbs kilograms:pounds meters:feet inches:centimeters"
)
# Words that qualify what is asked for (a limit, an average, a period, a rank): adding, dropping or swapping one
# changes the question however close the sentences are ("the recommended dose" / "the maximum dose").
QUALIFIERS = frozenset(
    _words(
        "maximum minimum max min average median total recommended typical daily weekly monthly yearly annual "
        "hourly per first last most least only"
    )
)
NEGATIVE_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "anti", "de", "mis", "counter", "over", "under")
# Words that carry little of a question's meaning: their presence or absence alone never makes two questions differ.
STOPWORDS = frozenset(
    _words(
        "a an the is are was were be been being am do does did doing done have has had having i me my mine we us our "
        "you your yours he him his she her it its they them their this that these those what which how can could "
        "would should will shall may might must to of in on at by for from with about as into onto than then there "
        "here and or but if so also just please tell explain describe give show help let lets know want need like "
        "some any much many very really exactly actually basically kind sort way ways thing things one ones get "
        "got make makes making go going possible best good s t ok okay hey hi hello thanks "
        "thank someone somebody anyone people person something anything everything why when where who whom whose "
        "mean means meaning definition define between vs versus whether percent "
        "quick quickly simple simply briefly brief short example examples list main key important typical typically "
        "usually generally common commonly overall general details detail info information idea ideas work works "
        "pm etc eg ie i'm it's what's how's there's that's"
    )
)
_GENERIC_VERBS = frozenset(_words("find learn understand see say call figure tell"))


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers, with curly apostrophes straightened and a trailing possessive dropped."""
    words = []
    for raw in _WORD.findall(text.replace("\u2019", "'").replace("\u2018", "'")):
        word = raw.lower()
        if word.endswith("'s"):
            word = word[:-2]
        words.append(word)
    return words


def stem(word: str) -> str:
    """A deliberately crude stem, enough to match "install" / "installs" / "installing" / "installed" and
    "cause" / "causes" / "caused": a common suffix goes, then a final "e"."""
    for suffix in ("ingly", "ings", "ing", "edly", "ies", "ied", "es", "ed", "ly", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _opposites() -> dict[str, set[str]]:
    """Each antonym's opposites, both ways, as written and as stems ("causes" / "effects" too)."""
    opposites: dict[str, set[str]] = {}
    for pair in ANTONYMS:
        first, second = pair.split(":")
        for one, other in ((first, second), (second, first)):
            opposites.setdefault(one, set()).update({other, stem(other)})
            opposites.setdefault(stem(one), set()).update({other, stem(other)})
    return opposites


_OPPOSITES = _opposites()


@dataclass(frozen=True)
class _Features:
    """What the checks compare, computed once per question text."""

    word_set: frozenset[str]
    negations: int
    numbers: Counter
    entities: tuple[str, ...]
    content: frozenset[str]


@lru_cache(maxsize=4096)
def _features(text: str) -> _Features:
    words = tokens(text)
    negations = sum(1 for word in words if word.replace("'", "") in NEGATIONS or word.endswith("n't"))
    numbers = Counter(
        NUMBER_WORDS.get(word, word.replace(",", "").rstrip("%"))
        for word in words
        if word in NUMBER_WORDS or word[0].isdigit()
    )
    content = frozenset(
        stem(word) for word in words if word not in STOPWORDS and word not in NEGATIONS and not word[0].isdigit()
    )
    return _Features(
        word_set=frozenset(words) | frozenset(stem(word) for word in words),
        negations=negations,
        numbers=numbers,
        entities=_entities(text),
        content=content,
    )


def _entities(text: str) -> tuple[str, ...]:
    """Names in the order they appear: capitalised words (a sentence's first word only when it is not a common
    word), acronyms, and words mixing letters and digits ("gpt-4", "ipv6")."""
    starts = {match.start(1) for match in _SENTENCE_START.finditer(text)}
    found = []
    for match in _WORD.finditer(text):
        raw = match.group()
        word = tokens(raw)[0]
        has_letters = any(ch.isalpha() for ch in raw)
        mixed = has_letters and any(ch.isdigit() for ch in raw)
        acronym = len(raw) > 1 and raw.isupper() and word not in STOPWORDS
        if match.start() in starts:
            capitalised = raw[0].isupper() and word not in _COMMON_STARTS
        else:
            # Mid-sentence capitals name something even when the word is common ("Go", "Swift", "Rust").
            capitalised = raw[0].isupper() and len(raw) > 1
        if has_letters and (mixed or acronym or capitalised):
            found.append(word)
    return tuple(found)


_COMMON_STARTS = (
    STOPWORDS
    | _GENERIC_VERBS
    | frozenset(
        _words(
            "list name compare summarise summarize write translate convert calculate compute recommend suggest find "
            "should is are can could would will do does did was were has have had which what how why when where who "
            "define describe explain give show tell help i my in on at for from to best top"
        )
    )
)


class QuestionGate:
    """Decides whether two similar questions ask the same thing.

    Beyond the hard checks (negation, numbers, entities, opposites, qualifiers), a question whose content words
    differ ("install" / "update", "causes" / "effects", "what is X" / "what is X used for") is a paraphrase only
    when the two are very close in meaning: such a pair must reach `substitution_similarity`, above the ordinary
    threshold.
    """

    def __init__(self, substitution_similarity: float = 0.91) -> None:
        self._substitution_similarity = substitution_similarity

    def same_question(self, asked: str, stored: str, similarity: float) -> bool:
        return self.difference(asked, stored, similarity) is None

    def difference(self, asked: str, stored: str, similarity: float) -> str | None:
        """The first kind of difference found ("negation", "numbers", "entities", "antonym", "qualifier",
        "key_terms"), or
        None when the two questions, `similarity` apart, may share an answer."""
        a, b = _features(asked), _features(stored)
        if a.negations != b.negations:
            return "negation"
        if a.numbers != b.numbers:
            return "numbers"
        if _entities_differ(a, b) or _entities_differ(b, a) or _order_differs(a, b):
            return "entities"
        if _opposed(a.word_set - b.word_set, b.word_set - a.word_set):
            return "antonym"
        if (a.word_set ^ b.word_set) & QUALIFIERS:
            return "qualifier"
        if (a.content ^ b.content) and similarity < self._substitution_similarity:
            return "key_terms"
        return None


def _entities_differ(a: _Features, b: _Features) -> bool:
    """An entity of one question that the other does not mention at all (in any case)."""
    return any(entity not in b.word_set and stem(entity) not in b.word_set for entity in a.entities)


def _order_differs(a: _Features, b: _Features) -> bool:
    """The entities both name appear in a different order ("from Paris to London" / "from London to Paris")."""
    shared = set(a.entities) & set(b.entities)
    first_a = [entity for entity in dict.fromkeys(a.entities) if entity in shared]
    first_b = [entity for entity in dict.fromkeys(b.entities) if entity in shared]
    return first_a != first_b


def _opposed(only_a: frozenset[str], only_b: frozenset[str]) -> bool:
    for word in only_a:
        for other in only_b:
            if other in _OPPOSITES.get(word, ()):
                return True
            longer, shorter = (word, other) if len(word) > len(other) else (other, word)
            if len(shorter) >= 3 and any(longer == prefix + shorter for prefix in NEGATIVE_PREFIXES):
                return True
    return False
