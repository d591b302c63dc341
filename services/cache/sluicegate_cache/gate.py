"""The correctness gate: two questions close in embedding space are still different questions when their
negation, numbers (in order, with their signs), operators, named entities, word order, opposites, qualifiers, key
terms or one swapped word differ. Sentence
embeddings score "is X safe" and "is X unsafe" near 0.9; this gate is what keeps such a pair from sharing an
answer.

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
# What `tokens` and `operators` read, in one pass: a word (a number with the minus sign written before it, "-40",
# but not the hyphen of "gpt-4" or "5-3"), or an operator or comparison sign outside a word ("12 * 3", "x < 5").
_TOKEN = re.compile(
    rf"(?P<word>(?:(?<![\w.])-(?=\.?[0-9]))?{_WORD.pattern})|(?P<operator>[-+*/^<>=\u2264\u2265\u2260])", re.IGNORECASE
)
# Typographic forms read as their plain ones: curly quotes, dashes and the minus sign, multiplication and
# division signs, and non-breaking or narrow spaces (what `comparable_text` accepts besides ASCII).
TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00d7": "*", "\u00f7": "/", "\u2026": "...",
        "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ",
    }
)  # fmt: skip
# Signs the gate reads that are not ASCII (after TYPOGRAPHIC).
_MATH_SIGNS = frozenset("\u2264\u2265\u2260")
_DIGIT = re.compile(r"[0-9]")
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
    "celsius:fahrenheit kilometers:miles kg:lbs kilograms:pounds meters:feet inches:centimeters "
    # Opposites common in questions, from general knowledge (inflections, comparatives and the irregular forms
    # below are added by `_forms`, so each pair is written once, in its base form).
    "safe:unsafe safe:hazardous safe:toxic safe:deadly safe:lethal healthy:unhealthy "
    "healthy:harmful good:harmful helpful:harmful beneficial:harmful benefit:harm benefit:downside "
    "pro:con advantage:drawback strength:weakness increase:lower increase:drop decrease:raise decrease:boost "
    "reduce:raise reduce:boost grow:shrink expand:shrink expand:contract lengthen:shorten widen:narrow "
    "speed:slow accelerate:decelerate accelerate:slow gain:loss profit:loss win:loss victory:defeat "
    "allow:forbid allow:prohibit allow:ban allow:disallow allow:prevent permit:forbid permit:prohibit permit:ban "
    "legal:banned legal:forbidden allowed:forbidden allowed:banned required:optional mandatory:optional "
    "required:forbidden must:optional cheap:costly cheap:pricey inexpensive:expensive affordable:expensive "
    "hot:cool warm:cold heat:cool heat:chill heating:cooling freeze:thaw freeze:melt freeze:defrost "
    "frozen:thawed quick:slow rapid:slow fast:gradual start:finish begin:finish start:shut commence:end "
    "launch:end launch:shut stop:resume pause:resume pause:play stop:continue start:quit quit:join "
    "buy:rent lend:borrow give:receive sell:purchase purchase:refund "
    "open:shut lock:open close:reopen win:fail pass:fail succeed:fail success:fail win:draw "
    "max:least min:most maximum:least minimum:most highest:least top:bottom upper:bottom ceiling:floor "
    "first:final earliest:final prior:after pre:post prewar:postwar "
    "ahead:behind front:back forward:backward forwards:backwards above:beneath over:beneath "
    "export:imports activate:deactivate activate:disable on:off "
    "show:hide visible:hidden appear:disappear reveal:hide display:hide expose:hide "
    "add:delete add:drop insert:delete insert:remove append:remove install:remove install:delete "
    "include:omit include:except including:excluding "
    "cancel:renew cancel:subscribe cancel:book cancel:confirm cancel:extend cancel:resume cancel:reactivate "
    "renew:expire extend:shorten extend:cut accept:decline accept:refuse approve:reject approve:deny "
    "admit:deny confirm:deny agree:disagree like:dislike love:dislike trust:distrust obey:disobey "
    "support:oppose pro:anti defend:attack attack:defense offense:defense offensive:defensive "
    "build:destroy build:demolish built:destroyed construct:demolish create:remove fix:break "
    "repair:break repair:damage assemble:disassemble pack:unpack load:unload charge:discharge "
    "charge:drain fill:empty full:empty empty:full wide:narrow thick:thin fat:thin fat:lean dark:light "
    "dark:bright black:white deep:shallow loud:quiet loud:soft noisy:quiet hard:soft rough:smooth sharp:dull "
    "sweet:sour sweet:bitter sweet:savory raw:cooked fresh:stale fresh:frozen fresh:canned fresh:dried "
    "clean:dirty wet:dry humid:dry alive:dead live:die life:death birth:death born:died living:dead "
    "sick:healthy ill:healthy ill:well sick:well healthy:ill pain:relief painful:painless "
    "remember:forget learn:forget learn:teach teach:study "
    "simple:complex simple:complicated easy:tough easy:challenging easier:harder beginner:advanced "
    "beginner:expert novice:expert amateur:professional junior:senior junior:experienced minor:major "
    "minor:adult child:adult children:adults kid:adult baby:adult infant:adult puppy:dog kitten:cat "
    "young:elderly younger:elder old:modern ancient:modern new:secondhand new:existing "
    "modern:traditional classic:modern natural:artificial natural:synthetic organic:synthetic real:fake "
    "genuine:fake true:untrue right:wrong correct:incorrect correct:wrong valid:invalid accurate:inaccurate "
    "possible:impossible likely:unlikely probable:improbable certain:uncertain known:unknown "
    "common:rare frequent:rare often:rarely often:seldom usually:rarely sometimes:never always:rarely "
    "most:few plenty:few increase:cut "
    "rich:broke wealthy:poor expensive:free paid:free paid:unpaid free:premium premium:basic premium:standard "
    "pay:refund pay:earn spend:save spend:earn spend:invest save:waste save:lose save:spend "
    "income:expense income:expenditure revenue:cost revenue:expense asset:liability surplus:deficit "
    "lender:borrower employer:employee landlord:tenant buyer:seller seller:purchaser host:guest teacher:student "
    "parent:child doctor:patient master:slave leader:follower winner:loser sender:recipient sender:receiver "
    "input:outputs internal:external inbound:outbound incoming:outgoing inner:outer indoor:outdoor indoors:outdoors "
    "inside:out in:out login:logout log-in:log-out signin:signout sign-in:sign-out sign-up:sign-out "
    "upstairs:downstairs upstream:downstream uphill:downhill upward:downward uploading:downloading "
    "upside:downside rise:sink rise:drop rise:decline sunrise:sunset dawn:dusk "
    "climb:descend ascend:descend float:sink import:exports entrance:exit enter:exit enter:leave "
    "arrive:leave arrival:exit near:far close:far nearest:farthest "
    "nearby:distant local:remote local:global local:foreign domestic:foreign domestic:international "
    "national:international urban:rural city:countryside land:sea land:water north:southern south:northern "
    "northern:southern eastern:western east:western west:eastern "
    "day:nighttime daytime:nighttime morning:night morning:afternoon sunrise:dusk "
    "spring:summer autumn:winter summer:autumn weekday:weekend weekdays:weekends "
    "since:until past:present present:future previous:next last:next latest:oldest "
    "recent:old current:former current:previous current:past now:later "
    "tomorrow:tonight today:yesterday before:during during:after beginning:end start:finish "
    "odd:even even:uneven equal:unequal same:different similar:different similarity:difference "
    "alike:different identical:different match:mismatch agree:differ "
    "win:defeat beat:lose attack:retreat offense:defence "
    "sleep:wake asleep:awake awake:sleeping conscious:unconscious "
    "hunger:thirst hungry:full thirsty:hydrated "
    "acidic:alkaline acidic:basic anode:cathode "
    "cat:dog cats:dogs man:woman boy:girl mr:mrs he:she his:her him:her "
    "mom:dad mum:dad grandmother:grandfather aunt:uncle niece:nephew girlfriend:boyfriend "
    "bride:groom actor:actress prince:princess "
    "happy:sad happy:unhappy happy:angry calm:anxious calm:angry relax:stress relaxed:stressed "
    "optimistic:pessimistic optimism:pessimism praise:criticism praise:criticize reward:punishment "
    "reward:punish friend:enemy ally:enemy hero:villain"
)
# Words that qualify what is asked for (a limit, an average, a period, a rank): adding, dropping or swapping one
# changes the question however close the sentences are ("the recommended dose" / "the maximum dose").
QUALIFIERS = frozenset(
    _words(
        "maximum minimum max min average median total recommended typical daily weekly monthly yearly annual "
        "hourly per first last most least only except excluding"
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


def comparable_text(text: str) -> bool:
    """Whether the gate can read `text`: after TYPOGRAPHIC it holds ASCII and the signs ≤ ≥ ≠ only. The gate's words
    are ASCII letters and digits: in another script (or with accents: "café" reads as "caf") it would see too
    little of a question to tell two apart, so such questions are left to the exact layer."""
    text = text.translate(TYPOGRAPHIC)
    return text.isascii() or all(ch.isascii() or ch in _MATH_SIGNS for ch in text)


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers (with their minus sign), typographic forms read as plain ones and a trailing
    possessive dropped."""
    return [_word(match[0]) for match in _TOKEN.findall(text.translate(TYPOGRAPHIC)) if match[0]]


def _scan(text: str) -> tuple[list[str], tuple[str, ...]]:
    """`tokens`, and the operators and comparison signs in order."""
    words, operators = [], []
    for word, operator in _TOKEN.findall(text.translate(TYPOGRAPHIC)):
        if word:
            words.append(_word(word))
        else:
            operators.append(operator)
    return words, tuple(operators)


def _word(raw: str) -> str:
    """One match of `_WORD` as `tokens` gives it."""
    word = raw.lower()
    return word[:-2] if word.endswith("'s") else word


# Words recur across questions (a lookup gates up to five stored ones): a stem is worked out once per word.
@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A deliberately crude stem, enough to match "install" / "installs" / "installing" / "installed",
    "cause" / "causes" / "caused" and "stop" / "stopped": a common suffix goes, then a doubled final consonant
    left by the suffix ("stopp"), then a final "e"."""
    for suffix in ("ingly", "ings", "ing", "edly", "ies", "ied", "es", "ed", "ly", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            if suffix[0] in "ie" and word[-1] == word[-2] and word[-1] not in "aeioulsfz":
                word = word[:-1]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


# Irregular forms of the words in ANTONYMS, so "won" / "lost" and "bought" / "sold" are opposites too.
IRREGULAR_FORMS = {
    "win": "won", "lose": "lost", "buy": "bought", "sell": "sold", "rise": "rose risen", "fall": "fell fallen",
    "begin": "began begun", "build": "built", "lend": "lent", "teach": "taught", "forget": "forgot forgotten",
    "freeze": "froze frozen", "sink": "sank sunk", "spend": "spent", "hide": "hid hidden", "show": "shown",
    "leave": "left", "grow": "grew grown", "shrink": "shrank shrunk", "wake": "woke woken", "sleep": "slept",
    "hire": "hired", "fire": "fired", "go": "went gone", "come": "came", "give": "gave given", "take": "took taken",
    "good": "better best", "bad": "worse worst", "little": "less least", "much": "more most",
    "far": "farther farthest further furthest", "lie": "lay lain", "beat": "beaten", "pay": "paid", "die": "died",
    "borrow": "borrowed", "find": "found", "learn": "learnt", "drink": "drank drunk", "eat": "ate eaten",
}  # fmt: skip
_SHORT_VOWEL_END = re.compile(r"[^aeiou][aeiou][bdgklmnprt]$")


def _forms(word: str) -> set[str]:
    """The word, its irregular forms, and for a plain word its comparative and superlative ("cheap" -> "cheaper",
    "cheapest"; "big" -> "bigger"; "easy" -> "easier"; "safe" -> "safer"): more general than the list's pairs."""
    forms = {word, *IRREGULAR_FORMS.get(word, "").split()}
    if word.isalpha() and len(word) >= 3:
        if word.endswith("e"):
            base = word[:-1]
        elif word.endswith("y") and word[-2] not in "aeiou":
            base = word[:-1] + "i"
        elif _SHORT_VOWEL_END.search(word) and len(word) <= 4:
            base = word + word[-1]
        else:
            base = word
        forms |= {base + "er", base + "est"}
    return forms


def _opposites() -> dict[str, set[str]]:
    """Each antonym's opposites, both ways, in all their forms, as written and as stems ("causes" / "effects",
    "cheaper" / "more expensive", "won" / "lost" too)."""
    opposites: dict[str, set[str]] = {}
    for pair in ANTONYMS:
        first, second = pair.split(":")
        first_forms, second_forms = _forms(first), _forms(second)
        for ones, others in ((first_forms, second_forms), (second_forms, first_forms)):
            targets = others | {stem(other) for other in others}
            for one in ones:
                opposites.setdefault(one, set()).update(targets)
                opposites.setdefault(stem(one), set()).update(targets)
    return opposites


_OPPOSITES = _opposites()


@dataclass(frozen=True)
class _Features:
    """What the checks compare, computed once per question text."""

    word_set: frozenset[str]
    negations: int
    numbers: tuple[str, ...]
    operators: tuple[str, ...]
    entities: tuple[str, ...]
    content: frozenset[str]
    sequence: tuple[str, ...]
    # Every word's stem in order, and where each content word first stands in it: for `_swapped_around_a_pivot`.
    stems: tuple[str, ...]
    first: dict[str, int]


def _negation_count(words: list[str]) -> int:
    return sum(1 for word in words if word.replace("'", "") in NEGATIONS or word.endswith("n't"))


def _is_number(word: str) -> bool:
    return word[0].isdigit() or (word[0] == "-" and len(word) > 1)


_SIGN_WORDS = frozenset(_words("minus negative"))


def _numbers(words: list[str]) -> tuple[str, ...]:
    """The numbers in the order they are written, with their signs ("-40", "minus 40" and "negative 40" alike)."""
    numbers = []
    for index, word in enumerate(words):
        if word in NUMBER_WORDS or _is_number(word):
            number = NUMBER_WORDS.get(word, word.replace(",", "").rstrip("%"))
            if index and words[index - 1] in _SIGN_WORDS and not number.startswith("-"):
                number = "-" + number
            numbers.append(number)
    return tuple(numbers)


def _is_content(word: str) -> bool:
    return word not in STOPWORDS and word not in NEGATIONS and not _is_number(word)


# Words that relate nothing between two others: "convert a string to an integer" relates the two by "to".
_ARTICLES = frozenset(_words("a an the my your his her its our their this that these those some any"))
# Between two words, these leave their order free: "X and Y", "X or Y", "X vs Y".
_SYMMETRIC_PIVOTS = frozenset({("and",), ("or",), ("vs",), ("versus",)})


def _pivot(stems: tuple[str, ...], start: int, end: int) -> tuple[str, ...]:
    return tuple(word for word in stems[start + 1 : end] if word not in _ARTICLES)


def _swapped_around_a_pivot(a: _Features, b: _Features) -> bool:
    """Two content words in opposite orders around the same words between them: "paris to london" / "london to
    paris", "convert km to miles" / "miles to km", "smoking cause stress" / "stress cause smoking". Embeddings
    hardly see order, so such a pair scores near 1. A reorder without that shared pivot is a paraphrase
    ("reset my account password" / "reset the password of my account", "Australia's capital" / "the capital of
    Australia"), and so is one around "and" or "or"."""
    shared = [word for word in a.first if word in b.first]
    for index, first_word in enumerate(shared):
        for second_word in shared[index + 1 :]:
            a_first, a_second = a.first[first_word], a.first[second_word]
            b_first, b_second = b.first[first_word], b.first[second_word]
            if (a_first < a_second) == (b_first < b_second):
                continue
            pivot = _pivot(a.stems, min(a_first, a_second), max(a_first, a_second))
            if (
                pivot
                and pivot not in _SYMMETRIC_PIVOTS
                and pivot == _pivot(b.stems, min(b_first, b_second), max(b_first, b_second))
            ):
                return True
    return False


@lru_cache(maxsize=4096)
def _features(text: str) -> _Features:
    words, operators = _scan(text)
    stems = tuple(stem(word) for word in words)
    sequence = tuple(stemmed for word, stemmed in zip(words, stems, strict=True) if _is_content(word))
    first: dict[str, int] = {}
    for position, (word, stemmed) in enumerate(zip(words, stems, strict=True)):
        if _is_content(word):
            first.setdefault(stemmed, position)
    return _Features(
        word_set=frozenset(words) | frozenset(stems),
        negations=_negation_count(words),
        numbers=_numbers(words),
        operators=operators,
        entities=_entities(text),
        content=frozenset(sequence),
        sequence=sequence,
        stems=stems,
        first=first,
    )


def match_key(question: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """What every question that may share an answer with `question` has in common with it: its negation count
    and its numbers (`QuestionGate.difference` refuses any pair where these differ, whatever their similarity).
    An index that knows the keys of its questions knows, without embedding, that a question can match none.
    Worked out from the words alone, without the rest of the gate's features (about a tenth of their cost: a
    replica loading a tenant of 10,000 questions works out 10,000 keys)."""
    return _match_key_of(tokens(question))


def index_keys(question: str) -> tuple[tuple[int, tuple[tuple[str, int], ...]], frozenset[str]]:
    """What an index counts for a stored question, from one pass over its words: `match_key` and
    `identifier_forms`."""
    words = tokens(question)
    return _match_key_of(words), _identifier_forms_of(words)


def _match_key_of(words: list[str]) -> tuple[int, tuple[tuple[str, int], ...]]:
    # The numbers counted, not in order: the gate compares them in order, so equal keys are necessary, not enough.
    return _negation_count(words), tuple(sorted(Counter(_numbers(words)).items()))


def identifiers(question: str) -> tuple[str, ...]:
    """The names in `question` that mix letters and digits ("r1f0c9a2e0", "a12-b34", "gpt-4"): an order, a ticket, a
    model. The gate refuses a pair where one question names an entity the other does not mention at all
    (`_entities_differ`), so a question can only match one that mentions each of these (`may_mention`)."""
    return tuple(entity for entity in _entities(question) if _has_digit(entity))


def identifier_forms(question: str) -> frozenset[str]:
    """The words of `question` with a digit in them, and their stems: where another question's `identifiers` are
    looked up (the gate finds an entity in a question's words or their stems, as itself or as its stem)."""
    return _identifier_forms_of(tokens(question))


def _identifier_forms_of(words: list[str]) -> frozenset[str]:
    with_digits = [word for word in words if _has_digit(word)]
    return frozenset(with_digits) | frozenset(stemmed for stemmed in map(stem, with_digits) if _has_digit(stemmed))


def may_mention(identifier: str, forms: Counter | frozenset[str]) -> bool:
    """Whether a question whose `identifier_forms` are (or are counted in) `forms` may mention `identifier`. A stem
    with no digit left could be any word: that cannot be ruled out from the forms, so it may."""
    stemmed = stem(identifier)
    return identifier in forms or stemmed in forms or not _has_digit(stemmed)


def _has_digit(word: str) -> bool:
    return _DIGIT.search(word) is not None


def _entities(text: str) -> tuple[str, ...]:
    """Names in the order they appear: capitalised words (a sentence's first word only when it is not a common
    word), acronyms, and words mixing letters and digits ("gpt-4", "ipv6")."""
    text = text.translate(TYPOGRAPHIC)
    starts = {match.start(1) for match in _SENTENCE_START.finditer(text)}
    found = []
    for match in _WORD.finditer(text):
        raw = match.group()
        word = _word(raw)
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

    Beyond the hard checks (negation, numbers, operators, entities, word order, opposites, qualifiers), a question whose content words
    differ ("install" / "update", "causes" / "effects", "what is X" / "what is X used for") is a paraphrase only
    when the two are very close in meaning: such a pair must reach `substitution_similarity`, above the ordinary
    threshold. A *swap* - the same content words in the same order except one word replaced by another that is
    not a form of it ("take" / "negotiate the offer", "freeze" / "thaw basil") - is how an opposite or another
    intent outside every list looks, and embeddings score it nearly as high as a paraphrase: it must reach
    `swap_similarity`, higher still.
    """

    def __init__(self, substitution_similarity: float = 0.90, swap_similarity: float = 0.95) -> None:
        self._substitution_similarity = substitution_similarity
        self._swap_similarity = max(swap_similarity, substitution_similarity)

    def same_question(self, asked: str, stored: str, similarity: float) -> bool:
        return self.difference(asked, stored, similarity) is None

    def difference(self, asked: str, stored: str, similarity: float) -> str | None:
        """The first kind of difference found ("negation", "numbers", "operators", "entities", "order",
        "antonym", "qualifier", "swap", "key_terms"), or None when the two questions, `similarity` apart, may share
        an answer. Numbers count in the order written and with their signs ("is 5 greater than 3" / "is 3 greater
        than 5", "-40" / "40"); operators and comparison signs must be the same, in the same order ("12 * 3" /
        "12 + 3"); two content words in opposite orders around the same pivot ask another question ("convert km
        to miles" / "miles to km", "does smoking cause stress" / "does stress cause smoking"): embeddings hardly
        see order."""
        a, b = _features(asked), _features(stored)
        if a.negations != b.negations:
            return "negation"
        if a.numbers != b.numbers:
            return "numbers"
        if a.operators != b.operators:
            return "operators"
        if _entities_differ(a, b) or _entities_differ(b, a) or _order_differs(a, b):
            return "entities"
        if _swapped_around_a_pivot(a, b):
            return "order"
        if _opposed(a.word_set - b.word_set, b.word_set - a.word_set):
            return "antonym"
        if (a.word_set ^ b.word_set) & QUALIFIERS:
            return "qualifier"
        if (a.content ^ b.content) and similarity < self._substitution_similarity:
            return "key_terms"
        if similarity < self._swap_similarity and _swapped(a.sequence, b.sequence):
            return "swap"
        return None


def _swapped(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """The same content words in the same order but for one position, where the two words are not forms of each
    other ("paint" / "painter", "volt" / "voltag" are)."""
    if len(a) != len(b):
        return False
    differing = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if len(differing) != 1:
        return False
    x, y = differing[0]
    shorter, longer = sorted((x, y), key=len)
    return not (len(shorter) >= 3 and longer.startswith(shorter))


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
