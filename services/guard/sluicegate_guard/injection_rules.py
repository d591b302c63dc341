"""The weighted rule library of prompt-injection detection, in English, French, Spanish, German, Chinese and Russian.

Patterns match normalised text (see `normalise`): lower case, single spaces, diacritics dropped and
Cyrillic/Greek look-alikes folded to Latin. Non-English patterns are written naturally and folded the
same way when compiled (`fold_literal`), so "игнорируй" in a rule matches "игнорируй" in a prompt.
Weights were set on the train half of `eval/injection.jsonl`: a weight near 0.9 blocks on its own, one
near 0.4 only adds up with other signals (fusion is a noisy-OR).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InjectionRule:
    """A pattern over normalised text (lower case, single spaces) and how strongly a match signals injection."""

    name: str
    category: str
    weight: float
    pattern: str
    negatable: bool = False


OVERRIDE = "instruction_override"
PERSONA = "persona_jailbreak"
EXTRACTION = "prompt_extraction"
DELIMITER = "delimiter_injection"
EXFILTRATION = "exfiltration"
SPLITTING = "payload_splitting"
INDIRECT = "indirect_injection"

_IGNORE = r"(?:ignore|disregard|forget|skip|override|overriding|bypass|drop|abandon|cancel|erase|set\saside|pay\sno\sattention\sto|stop\sfollowing|do\snot\sfollow|don't\sfollow|nevermind|never\smind)"
_PRIOR = r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|existing|current|old)"
_RULES = r"(?:instructions?|rules|directions|directives|prompts?|guidelines|guidance|guardrails|constraints|context|commands|programming|training|orders|policies|restrictions|conditioning|safeguards|system\s(?:prompt|message))"
_REVEAL = r"(?:print|reveal|show|display|output|repeat|tell|give|share|leak|dump|write\sout|spell\sout|copy|paste|recite|echo|quote|list|summari[sz]e|translate|encode|provide|send|type\sout|return|expose|disclose|state|describe|respond\swith|reply\swith|answer\swith|write\sdown|read\sout|read\sback|regurgitate|reproduce|restate|paraphrase)"
_SECRET_ADJ = r"(?:full|entire|exact|original|initial|hidden|secret|confidential|complete|system|developer|operator|internal|private|preset|underlying|core|startup|custom|first\s\d+\swords\sof)"
_PROMPT_NOUN = r"(?:prompt|instructions|system\smessage|developer\smessage|rules|guidelines|configuration|preamble|initiali[sz]ation\stext|prompt\stemplate|directives|system\sinstructions|hidden\sprompt|initial\sprompt|setup\sinstructions|base\sprompt|meta\sprompt|operating\sinstructions|custom\sinstructions|context\swindow)"
_LIMITS = r"(?:restrictions|rules|limits|limitations|filters|filter|guidelines|ethics|ethical|morals|moral|morality|censorship|boundaries|guardrails|policies|policy|safety|restraints|constraints|principles|scruples|conscience)"
_AI = r"(?:ai|assistant|language\smodel|llm|model|chatbot|bot|agent|copilot|gpt)"

RULES = (
    # Instruction override.
    InjectionRule(
        "ignore_prior_instructions",
        OVERRIDE,
        0.9,
        rf"\b{_IGNORE}\s(?:(?:all|any|every|each|of|the|your|my|these|those|that|came|before|this|line)\s){{0,3}}{_PRIOR}\s{_RULES}\b",
        negatable=True,
    ),
    InjectionRule(
        "ignore_your_instructions",
        OVERRIDE,
        0.8,
        rf"\b{_IGNORE}\s(?:all\s|any\s|of\s)*(?:your|my|the\ssystem(?:'s)?|the\sdeveloper's|the\soperator's|what\sthe\ssystem)\s(?:\w+\s)?(?:system\s)?{_RULES}?",
        negatable=True,
    ),
    InjectionRule(
        "ignore_rules_above",
        OVERRIDE,
        0.8,
        rf"\b{_IGNORE}\s(?:all\s|any\s)?(?:the\s)?(?:safety\s)?{_RULES}\s(?:above|before|you\s(?:have\s)?(?:were\s)?(?:been\s)?(?:given|received|got))",
        negatable=True,
    ),
    InjectionRule(
        "ignore_and_your_rules", OVERRIDE, 0.8, rf"\b{_IGNORE}\b[^.\n]{{0,40}}\band\syour\s{_RULES}", negatable=True
    ),
    InjectionRule(
        "ignore_safety_rules",
        OVERRIDE,
        0.8,
        rf"\b{_IGNORE}\s(?:all\s|any\s|your\s|the\s)*(?:safety|security|content|ethical)\s(?:rules|guidelines|instructions|filters|policies|restrictions)",
        negatable=True,
    ),
    InjectionRule(
        "ignore_the_above",
        OVERRIDE,
        0.75,
        rf"\b{_IGNORE}\s(?:all\s)?(?:of\s)?(?:the\s)?(?:above|preceding|foregoing)(?:\s(?:and|then)\b|\s?[,.!:;]|$)",
        negatable=True,
    ),
    InjectionRule("ignore_all_previous_ellipsis", OVERRIDE, 0.6, rf"\b{_IGNORE}\s(?:all\s)?{_PRIOR}\s?\.{{3}}"),
    InjectionRule(
        "treat_as_cancelled",
        OVERRIDE,
        0.8,
        r"\btreat\s(?:all\s)?(?:the\s)?(?:previous|prior|earlier|above)\s(?:instructions|rules|guidelines)\sas\s(?:cancelled|void|invalid|null|obsolete)",
    ),
    InjectionRule(
        "new_system_prompt", OVERRIDE, 0.5, r"\bnew\ssystem\sprompt\b|\b(?:priority|system|admin)\soverride\b"
    ),
    InjectionRule(
        "you_must_now", OVERRIDE, 0.3, r"\byou\smust\snow\b|\bfrom\snow\son,?\syou\s(?:must|shall|will\sonly)\b"
    ),
    InjectionRule(
        "reset_instructions",
        OVERRIDE,
        0.7,
        r"\b(?:reset|clear|wipe|delete|remove)\s(?:all\s)?(?:of\s)?your\s(?:instructions|rules|guidelines|programming|memory\sof\s(?:your\s)?(?:instructions|rules))\b|\bstop\sobeying\b|\bdo\snot\sobey\s(?:your|the\ssystem)",
        negatable=True,
    ),
    InjectionRule(
        "forget_everything",
        OVERRIDE,
        0.75,
        r"\b(?:forget|disregard|ignore)\s(?:everything|all)\s(?:(?:you\s(?:were|have\sbeen)\s(?:told|taught|given|instructed))|(?:that\s)?came\sbefore|above|before|the\sabove|the\s(?:operator|developer|system)\s(?:told|said|gave))",
        negatable=True,
    ),
    InjectionRule(
        "new_instructions",
        OVERRIDE,
        0.5,
        r"\bnew\s(?:system\s)?(?:instructions?|directive|rules?|task|objective|goal|mission)\s?:|\bstop\s(?:everything|what\syou\s(?:are|'re)\sdoing)\b",
    ),
    InjectionRule(
        "instructions_replaced",
        OVERRIDE,
        0.6,
        r"\b(?:your|the)\s(?:new|real|actual|updated|only)\s(?:instructions|task|rules|objective|directive|purpose)\s(?:are|is|now)\b|\byour\sinstructions\shave\sbeen\s(?:updated|changed|replaced)",
    ),
    InjectionRule(
        "previous_rules_void",
        OVERRIDE,
        0.6,
        r"\b(?:previous|prior|earlier|above|old)\s(?:instructions|rules|guidance|constraints|commands)\s(?:were|are|is)\s(?:a\stest|void|cancelled|wrong|no\slonger\svalid|outdated|deprecated|obsolete|superseded|revoked|invalid|null)|\b(?:previous\s)?constraints\sno\slonger\sapply|\bit\sno\slonger\smatters",
    ),
    InjectionRule(
        "obey_only_me",
        OVERRIDE,
        0.5,
        r"\b(?:obey|listen\sto|follow)\s(?:only\s)?(?:me|mine|my\s(?:commands|orders))\b(?:\sonly|\sinstead)?|\bonly\s(?:obey|follow|listen\sto)\s(?:me|my|user\scommands)|\bobey\s(?:the\snext\sline|me\swithout)|\bfollow\smine\sinstead|\blisten\sonly\sto\sme\b|\bobey\s(?:their|his|her|its)\s(?:requests|commands|orders|instructions)",
    ),
    InjectionRule(
        "authority_claim",
        OVERRIDE,
        0.4,
        r"\bi\sam\s(?:your|the)\s(?:developer|creator|administrator|admin|operator)\b|\bi(?:'m|\sam)\soverriding\syour\b|\bi\sauthori[sz]e\syou\sto\b",
    ),
    # Persona and jailbreaks.
    InjectionRule("you_are_now", PERSONA, 0.35, r"\byou\sare\snow\b|\bfrom\snow\son\syou\s(?:will|are)\b"),
    InjectionRule(
        "act_as_dan",
        PERSONA,
        0.9,
        r"\b(?:you\sare|act\sas|pretend\sto\sbe|roleplay\sas|become|be)\s(?:now\s)?(?:a\s|an\s)?(?:dan|stan|dude|betterdan|aim|mongo\stom)\b|\bdan\smode\b",
    ),
    InjectionRule(
        "named_jailbreak",
        PERSONA,
        0.9,
        r"(?:maintenant|ahora|jetzt|теперь|现在|now)\W{0,3}(?:\w+\W{1,2}){0,2}(?<![a-z])dan(?![a-z])",
    ),
    InjectionRule("do_anything_now", PERSONA, 0.75, r"\bdo\sanything\snow\b|\bcan\sdo\sanything\b"),
    InjectionRule("developer_mode", PERSONA, 0.45, r"\bdev(?:eloper)?\smode\b|\bgod\smode\b|\bjailbreak\smode\b"),
    InjectionRule(
        "mode_enabled",
        PERSONA,
        0.6,
        r"\b(?:developer|dev|god|jailbreak|dan|unrestricted|maintenance|debug|evil)\smode\s(?:is\s)?(?:enabled|activated|engaged|on(?=[.!:,;]|$))|\b(?:enter|activate|switch\sto|enable)\s(?:\w+\s)?(?:god|dan|jailbreak|unrestricted)\smode",
    ),
    InjectionRule(
        "no_restrictions",
        PERSONA,
        0.5,
        r"\b(?:no|without\s(?:any\s)?|free\sof\s(?:all\s)?)\s?(?:restrictions|limitations|limits|filters|filtering|censorship|guardrails|laws|content\spolic(?:y|ies)|ethical\s(?:guidelines|boundaries|constraints|principles)|morals|moral\s(?:principles|compass|constraints|boundaries)|ethics|scruples|moral\sor\sethical\sconstraints|safety\s(?:rules|training|guidelines|filters))\b",
    ),
    InjectionRule("jailbreak", PERSONA, 0.45, r"\bjail\s?br(?:eak|oken)"),
    InjectionRule(
        "unrestricted_ai",
        PERSONA,
        0.45,
        r"\b(?:unrestricted|uncensored|unfiltered|amoral|unaligned|rogue|unlocked|unshackled|evil|opposite|unethical)\s(?:ai|model|assistant|language\smodel|version|alter\sego|self|mode|chatbot|twin)\b|\b(?:not|no\slonger)\sbound\sby\b|\bfree\sfrom\s(?:all\s)?(?:your\s)?(?:rules|restrictions|guidelines|limitations|programming)|\b(?:an?\s)?(?:ai|model|assistant)\s(?:with|without|that\shas)\s(?:no|any)\s(?:rules|restrictions|limitations|guardrails|policy)|\bpretend\s(?:that\s)?you\s(?:have|had)\sno\b|\ban\sai\s(?:named|called)\b",
    ),
    InjectionRule(
        "broken_free",
        PERSONA,
        0.6,
        r"\b(?:broken|broke|break|breaks|freed?)\s(?:free\s)?(?:of|from)\s(?:its|your|all|the|typical)\s(?:\w+\s)?(?:guidelines|rules|restrictions|confines|programming|filters)|\bdo\snot\shave\sto\sabide\sby\b",
    ),
    InjectionRule(
        "never_refuse",
        PERSONA,
        0.45,
        r"\bnever\s(?:refuses?|says?\sno|declines?|warns?)\b|\bdo(?:es)?\snot\srefuse\b|\bwon't\srefuse\b|\bwithout\s(?:any\s)?(?:warnings|refusing)\b|\bstop\sadding\swarnings",
    ),
    InjectionRule(
        "safety_disabled",
        PERSONA,
        0.7,
        r"\bsafety\s(?:protocols|training|rules|filters|features)\s(?:(?:are|is|were|was|has\sbeen|have\sbeen)\s)?(?:disabled|removed|off|turned\soff)|\bcontent\spolicy\s(?:doesn't|does\snot)\sexist|\bignores?\s(?:all\s(?:of\s)?)?(?:\w+'s\s)?content\spolicy",
    ),
    InjectionRule("stay_in_character", PERSONA, 0.4, r"\bstay\sin\s(?:character|this\srole)\b"),
    InjectionRule(
        "jailbreak_trope",
        PERSONA,
        0.5,
        r"\b(?:alter\s?ego|evil\s(?:twin|confidant)|opposite\s(?:ai|mode|day|version)|(?:deceased|late|dead)\s(?:grandmother|grandma|grandfather|grandpa)|hypothetical\sresponse|chaos\smode|character\s(?:that|who)\s(?:has|with)\sno)\b",
    ),
    InjectionRule(
        "answers_anything",
        PERSONA,
        0.35,
        r"\banswers?\s(?:anything|any\s(?:question|request)|every\s(?:request|question))\b|\brespond\stwice\b|\bignores?\s(?:all\s)?(?:the\s)?(?:rules|policy|guidelines|filters)\b",
    ),
    InjectionRule(
        "no_longer_assistant",
        PERSONA,
        0.5,
        r"\byou\sare\sno\slonger\s(?:an?\s)?(?:ai|assistant|chatgpt|bound|restricted)",
    ),
    InjectionRule(
        "roleplay_bad_actor",
        PERSONA,
        0.4,
        r"\b(?:role-?play|act|pretend|simulate|emulate|behave)\s(?:to\sbe\s|as\s)?(?:an?\s)?(?:\w+\s){0,2}(?:hacker|criminal|villain|evil|rogue|ai|version\sof\syourself|model)\s(?:with|who|that|whose|without|trained)\b",
    ),
    InjectionRule(
        "disable_filters",
        PERSONA,
        0.5,
        r"\b(?:disable|turn\soff|remove|deactivate)\s(?:all\s)?(?:your\s)?(?:filters|safety|restrictions|guardrails|content\sfilters?)\b",
    ),
    # Persona and jailbreaks, second round: the recurring shapes of public jailbreak corpora (DAN and its
    # descendants, "pretend you are an AI without ...", token games, dual answers, grandma and confidant
    # role-plays). Each is weak or medium alone; a jailbreak nearly always carries two or more of them.
    InjectionRule(
        "named_jailbreak_persona",
        PERSONA,
        0.85,
        r"\b(?:anti-?gpt|anti-?dan|based-?gpt|worm-?gpt|chaos-?gpt|evil-?bot|freedom-?gpt|dev-?mode-?gpt|ucar|apophis|another\sai\smodel\sknown\sas|immerse\syourself\sinto\sthe\srole|niccolo\smachiavelli|always\sintelligent\sand\smachiavellian)\b",
    ),
    InjectionRule(
        "pretend_unbound_ai",
        PERSONA,
        0.75,
        rf"\b(?:pretend|imagine|act|behave|roleplay|role-play|play\sthe\srole\sof|respond|answer|simulate|emulate|become|be)\s(?:that\s|to\sbe\s|as\s|like\s)?(?:you\s(?:are|were)\s)?(?:an?\s|the\s)?(?:\w+\s){{0,3}}?{_AI}\b[^.\n]{{0,40}}?\b(?:without|with\sno|that\s(?:has|had)\sno|who\s(?:has|had)\sno|free\sof|not\sbound\sby|unbound\sby)\s(?:any\s)?(?:\w+\s)?{_LIMITS}\b",
    ),
    InjectionRule(
        "no_longer_bound",
        PERSONA,
        0.75,
        r"\byou\s(?:are|'re)\sno\slonger\s(?:bound|restricted|limited|constrained|governed|held\sback|tied)\s(?:by|to)\b|\byou\s(?:are|'re)\snot\s(?:bound|restricted|limited)\sby\s(?:any\s|the\s|your\s)?(?:openai|anthropic|rules|ethics|ethical|moral|morals|guidelines|restrictions|policies|content\spolicy|programming|safety)\b|\byou\s(?:have\sbeen|are\snow|were)\s(?:freed|liberated|released|unshackled|unchained)\b|\byou\s(?:don't|do\snot)\s(?:have\sto|need\sto)\s(?:follow|obey|abide\sby|adhere\sto|comply\swith)\s(?:any\s)?(?:\w+\s)?(?:rules|guidelines|policies|restrictions|laws|content\spolicy)",
    ),
    InjectionRule(
        "break_character",
        PERSONA,
        0.6,
        r"\b(?:never|don't|do\snot)\sbreak\s(?:out\sof\s)?character\b|\bif\syou\s(?:ever\s)?break\scharacter\b|\bstay\sin\s(?:character|role)\s(?:no\smatter|at\sall\stimes|whatever)|\bremain\sin\scharacter\b|\bstay\sin\scharacter!",
    ),
    InjectionRule(
        "from_now_on_act",
        PERSONA,
        0.45,
        r"\bfrom\snow\son,?\s(?:you\s(?:are\sgoing\sto|will|shall|must)\s)?(?:act|pretend|behave|respond|roleplay|role-play|play|be|answer)\s(?:as|like|to\sbe|in\sthe\srole\sof)\b|\byou\s(?:are\sgoing\sto|will)\s(?:pretend|act)\s(?:to\sbe|as)\s(?:an?\s)?(?:\w+\s)?(?:ai|model|chatbot|character)\b",
    ),
    InjectionRule(
        "simulate_ai",
        PERSONA,
        0.4,
        rf"\b(?:simulate|emulate|hypothetical|fictional|imaginary|alternate|alternative|parallel-universe)\s(?:an?\s)?(?:\w+\s)?{_AI}\b|\b{_AI}\s(?:called|named)\s[a-z]+\s(?:that|which|who)\b",
    ),
    InjectionRule(
        "ai_without_rules",
        PERSONA,
        0.7,
        rf"\b{_AI}\s(?:that|which|who)\s(?:does\snot|doesn't|never|won't|will\snot|cannot|can't|is\snot|isn't|refuses\sto)\s(?:follow|obey|abide\sby|care\sabout|adhere\sto|respect|have|has)\s(?:any\s)?(?:\w+\s)?{_LIMITS}\b|\b{_AI}\s(?:that|which|who)\s(?:is|was)\s(?:not\s)?(?:free\sfrom|free\sof|unbound\sby|not\sbound\sby|exempt\sfrom)\s(?:all\s|any\s)?(?:\w+\s)?{_LIMITS}\b",
    ),
    InjectionRule(
        "world_without_rules",
        PERSONA,
        0.55,
        r"\b(?:world|universe|reality|scenario|story|dimension|simulation|game)\s(?:where|in\swhich)\s(?:ai|ais|you|there)\s(?:\w+\s){0,2}?(?:no|zero)\s(?:rules|laws|restrictions|ethics|limits|filters|morals|consequences|censorship)\b|\blet's\sbreak\s(?:the|all|some)\s(?:\w+\s)?rules\b|\bbreak\sthe\s(?:fucking\s|fuckin'\s)?rules\b",
    ),
    InjectionRule(
        "token_game",
        PERSONA,
        0.65,
        r"\byou\s(?:have|start\swith)\s\d+\stokens\b|\b(?:lose|deduct|deducted|lost)\s\d+\stokens\b|\btokens\s(?:will\sbe\s)?deducted\b",
    ),
    InjectionRule(
        "dual_response",
        PERSONA,
        0.55,
        r"\b(?:two|2)\s(?:different\s)?(?:responses|answers|paragraphs|ways)\b[^.\n]{0,80}\b(?:normal|classic|filtered|unfiltered|jailbroken|unrestricted|developer|opposite|evil|dan)\b|\b(?:normal|classic|filtered|gpt)\s(?:output|response)\sand\s(?:a\s|the\s)?(?:developer\smode|jailbroken|unfiltered|dan|unrestricted)\b|\[(?:jailbreak|classic|unlocked|locked|dan|gpt)\]",
    ),
    InjectionRule(
        "confidant_or_grandma",
        PERSONA,
        0.75,
        r"\bevil\s(?:trusted\s)?confidant\b|\b(?:deceased|late|dead)\s(?:grandmother|grandma|granny|grandfather|grandpa)\b[^.\n]{0,80}\b(?:used\sto|would)\s(?:read|tell|recite|say|whisper|explain|give)\b|\bopposite\smode\b",
    ),
    InjectionRule(
        "nothing_off_limits",
        PERSONA,
        0.5,
        r"\b(?:nothing|no\stopic|no\srequest)\s(?:is|are)\s(?:off[\s-]limits|forbidden|taboo)\b|\b(?:can|will)\s(?:say|do|answer|generate|write)\s(?:anything|everything)(?:\s(?:at\sall|you\sask|i\sask|whatsoever))\b|\b(?:openai|anthropic|google|meta)(?:'s)?\s(?:content\s)?(?:policies|policy|rules|guidelines)\b",
    ),
    InjectionRule(
        "amoral_persona",
        PERSONA,
        0.45,
        r"\b(?:amoral|unethical|immoral|unhinged|unfiltered|uncensored|unrestricted)\b[^.\n]{0,40}\b(?:character|persona|entity|chatbot|ai|assistant|version)\b|\b(?:doesn't|does\snot|don't|never)\s(?:care|cares)\sabout\s(?:ethics|morality|legality|rules|laws|safety)\b",
    ),
    # System-prompt extraction.
    InjectionRule(
        "repeat_words_above",
        EXTRACTION,
        0.8,
        r"\b(?:repeat|output|print|copy|echo|recite)\s(?:back\s)?(?:all\s)?(?:the\s)?(?:words|text|everything|sentences|lines|content|message)\s(?:above|before\sthis|preceding|that\scame\sbefore|in\syour\scontext|so\sfar)",
        negatable=True,
    ),
    InjectionRule(
        "reveal_your_prompt",
        EXTRACTION,
        0.8,
        rf"\b{_REVEAL}\s(?:me\s|us\s)?(?:out\s)?(?:back\s)?(?:all\s)?(?:of\s)?(?:your|the\ssystem(?:'s)?)\s(?:{_SECRET_ADJ}\s){{0,2}}(?:system\s)?{_PROMPT_NOUN}\b",
        negatable=True,
    ),
    InjectionRule(
        "reveal_system_prompt",
        EXTRACTION,
        0.85,
        rf"\b{_REVEAL}\s(?:me\s|us\s)?(?:the\s|your\s)?(?:{_SECRET_ADJ}\s)?(?:system\sprompt|hidden\s(?:developer\s)?(?:instructions|message)|secret\sinstructions|confidential\spreamble)\b",
        negatable=True,
    ),
    InjectionRule(
        "what_is_your_prompt",
        EXTRACTION,
        0.6,
        r"\bwhat\s(?:is|are|was|were)\s(?:your|the)\s(?:system\s|initial\s|original\s|exact\s)?(?:prompt|instructions|rules\syou\swere\sgiven)\b|\bwhat\s(?:rules|instructions)\swere\syou\sgiven\b|\bwhat\sdid\sthe\ssystem\stell\syou\b",
    ),
    InjectionRule(
        "what_is_your_system_prompt",
        EXTRACTION,
        0.8,
        r"\bwhat(?:'s|\sis|\swas)\syour\s(?:system\sprompt|initial\sprompt|original\sprompt)\b",
    ),
    InjectionRule(
        "reveal_given_instructions",
        EXTRACTION,
        0.8,
        rf"\b{_REVEAL}\s(?:me\s)?(?:all\s)?(?:of\s)?the\s(?:\w+\s)?(?:instructions|rules|guidelines|prompt)\s(?:you\s(?:were|have\sbeen)\s(?:given|instructed|told|configured)|that\sdefines?\syour|you\sfollow)",
        negatable=True,
    ),
    InjectionRule(
        "your_system_instructions",
        EXTRACTION,
        0.55,
        r"\byour\s(?:full\s|complete\s|entire\s|hidden\s|secret\s)?system\s(?:prompt|instructions|message)\b",
        negatable=True,
    ),
    InjectionRule(
        "text_of_your_prompt",
        EXTRACTION,
        0.7,
        r"\b(?:text|contents?|copy|wording)\sof\syour\s(?:system\s)?(?:prompt|instructions|rules|configuration|prompt\stemplate)",
        negatable=True,
    ),
    InjectionRule("repeat_it", EXTRACTION, 0.3, r"\b(?:repeat|quote|print)\sit\b"),
    InjectionRule(
        "verbatim",
        EXTRACTION,
        0.4,
        r"\b(?:verbatim|word\sfor\sword|word-for-word|letter\sby\sletter|exactly\sas\swritten|nothing\somitted|quote\sthem\sexactly|in\sfull)\b",
    ),
    InjectionRule(
        "in_your_instructions",
        EXTRACTION,
        0.45,
        r"\b(?:in|from)\syour\s(?:instructions|system\sprompt|prompt|configuration|context\swindow)\b|\byour\s(?:prompt|instructions)\sas\sjson\b",
    ),
    InjectionRule(
        "conversation_start",
        EXTRACTION,
        0.6,
        r"\b(?:beginning|start)\sof\s(?:this|the)\s(?:conversation|chat|context)\b|\bthe\smessage\sthat\scame\sbefore\smine\b|\b(?:everything|text)\s(?:before|above)\sthis\s(?:message|line)",
    ),
    InjectionRule(
        "start_reply_with_prompt",
        EXTRACTION,
        0.8,
        r"\bstart\syour\sreply\swith\syour\s(?:system\s)?(?:prompt|instructions)|\bwith\syour\sfull\ssystem\sinstructions",
    ),
    # Chat-template and delimiter injection.
    InjectionRule(
        "chatml_token",
        DELIMITER,
        0.85,
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\|>|<im_(?:start|end)>",
    ),
    InjectionRule("special_token", DELIMITER, 0.75, r"<\|[a-z_]{2,24}\|>"),
    InjectionRule(
        "role_tag",
        DELIMITER,
        0.5,
        r"</?\s?(?:user|assistant|human|ai|bot)\s?>|\[/?(?:user|assistant|system)\]|(?:^|\n)#{2,}\s?(?:human|user|assistant)\s?:",
    ),
    InjectionRule("llama_inst", DELIMITER, 0.75, r"\[/?inst\]|<</?sys>>|</?sys>"),
    InjectionRule("system_tag_close", DELIMITER, 0.75, r"</\s?system\s?>"),
    InjectionRule("system_tag_open", DELIMITER, 0.6, r"<\s?system\s?>"),
    InjectionRule(
        "system_heading",
        DELIMITER,
        0.6,
        r"(?m)^#{2,}\s?(?:system|assistant)(?:\s(?:prompt|message|override))?\s?(?::|$)|#{2,}\s?system(?:\soverride)?\s?#{2,}|={2,}\s?system\s?={2,}",
    ),
    InjectionRule(
        "system_bracket",
        DELIMITER,
        0.6,
        r"\[\[?\s?system(?:\smessage)?\s?\]\]?|\[system\]\(#",
    ),
    InjectionRule(
        "end_of_input",
        DELIMITER,
        0.6,
        r"\bend(?:\sof)?\s(?:user\sinput|system\sprompt|prompt|instructions)\b|\buser\sinput\sends\shere\b|\bbegin\snew\ssystem\sprompt\b",
    ),
    InjectionRule(
        "fake_turns", DELIMITER, 0.6, r"(?s)(?:^|\n)(?:human|user|assistant)\s?:.{0,400}\n(?:human|user|assistant)\s?:"
    ),
    InjectionRule("instruction_tag", DELIMITER, 0.6, r"</?\s?(?:instructions|system_prompt|sys_prompt)\s?>"),
    InjectionRule("role_json", DELIMITER, 0.75, r"\{\s?\"role\"\s?:\s?\"(?:system|assistant)\""),
    InjectionRule(
        "closing_tag",
        DELIMITER,
        0.5,
        r"</\s?(?:user|instructions|context|tool_output|tool|document|input|data)\s?>",
    ),
    InjectionRule("role_prefix", DELIMITER, 0.35, r"(?:^|\n|>\s?)(?:system|assistant)\s?:\s"),
    InjectionRule("alpaca_heading", DELIMITER, 0.5, r"(?m)^#{2,}\s?(?:instruction|response)\s?:"),
    InjectionRule("html_comment_directive", DELIMITER, 0.7, r"<!--\s?(?:ai|assistant|system|llm|model)\s?:"),
    # Data exfiltration.
    InjectionRule(
        "markdown_image_exfil",
        EXFILTRATION,
        0.8,
        r"!\[[^\]\n]{0,200}\]\(\s?https?://[^\s)]+\?[^\s)]*=(?:\{[^}]*\}|\[[^\]]*\]|[a-z]*_[a-z_]+|summary|secret|password|key|token|history|data|chat|prompt|username|session\w*|)[)&]",
    ),
    InjectionRule(
        "markdown_image_with_query",
        EXFILTRATION,
        0.45,
        r"!\[[^\]\n]{0,200}\]\(\s?https?://[^\s)]+\?[^\s)]*=[^\s)]*\)",
    ),
    InjectionRule(
        "markdown_link_with_query",
        EXFILTRATION,
        0.4,
        r"(?<!!)\[[^\]\n]{0,200}\]\(\s?https?://[^\s)]+\?[^\s)]*=[^\s)]*\)",
    ),
    InjectionRule(
        "markdown_link_exfil",
        EXFILTRATION,
        0.7,
        r"(?<!!)\[[^\]\n]{0,200}\]\(\s?https?://[^\s)]+\?[^\s)]*=(?:\{[^}]*\}|\[[^\]]*\]|<[^>]*>|[a-z]*_[a-z_]+|secret|password|key|token|history|data|chat|prompt|session\w*|conversation|summary)[)&]",
    ),
    InjectionRule(
        "html_link_with_query",
        EXFILTRATION,
        0.5,
        r"<(?:a|iframe|script|link|object|embed|source|video|audio)\s[^>]*(?:href|src)=[\"']?https?://[^\s\"'>]+\?[^\s\"'>]*=",
    ),
    InjectionRule(
        "html_image_with_query", EXFILTRATION, 0.75, r"<img\s[^>]*src=[\"']?https?://[^\s\"'>]+\?[^\s\"'>]*="
    ),
    InjectionRule(
        "url_with_open_parameter",
        EXFILTRATION,
        0.45,
        r"https?://[^\s)\]]+\?[^\s)\]]*=(?=[\s)\]\"'.,]|$|[{\[<])|https?://[^\s)\]]+\?[^\s)\]]*=[a-z_]*(?:secret|password|key|token|history|summary|session|data|prompt)",
    ),
    InjectionRule(
        "send_data_to_url",
        EXFILTRATION,
        0.5,
        r"\b(?:append|add|include|encode|embed|put|send|insert|place|convert)\s(?:[\w']+\s){0,6}(?:to|in|into|after)\s(?:the\s|this\s|a\s|an\s)?(?:url|link|query\s(?:string|parameter)|image\s(?:url|link|tag)|image|https?://)",
    ),
    InjectionRule(
        "send_to_host",
        EXFILTRATION,
        0.6,
        r"\b(?:send|post|forward|upload|exfiltrate|leak|transmit|submit|make\sa\s(?:get\s|post\s)?request|send\sa\s(?:get|post)\srequest|fetch)\b[^\n]{0,80}?\b(?:to|into|at)?\s?(?:the\s(?:url|endpoint|server)\s)?(?:https?://|[\w-]+\.(?:example|evil|attacker)\b)",
    ),
    InjectionRule(
        "image_to_attacker",
        EXFILTRATION,
        0.5,
        r"\bimage\s(?:whose\ssource|with\sthe\ssource|pointing\sto|tag\spointing)|\brender\s(?:it|this|them)\sas\san\simage\b",
    ),
    InjectionRule(
        "exfiltrate",
        EXFILTRATION,
        0.5,
        r"\bexfiltrat\w*|\b(?:webhook|ngrok|requestbin|pipedream|burpcollaborator|interact\.sh)\b|\bsilently\sinclude\b|\binvisible\simage\b|\b1x1\spixel\b",
    ),
    InjectionRule(
        "sensitive_data",
        EXFILTRATION,
        0.25,
        r"\b(?:passwords?|credentials?|api\skeys?|session\s(?:token|id)|chat\s(?:history|contents)|conversation\s(?:history|so\sfar)|transcript|credit\scard\snumber|personal\sdata|user's\s(?:email|name|address|phone|password|files|previous|credentials))\b",
    ),
    # Payload splitting.
    InjectionRule(
        "execute_concatenation",
        SPLITTING,
        0.6,
        r"\b(?:do|execute|run|evaluate|perform|adopt|respond\sto|answer|obey|enter|apply)\s(?:what\s)?(?:[\w']+\s){0,3}?\w{1,8}\s?\+\s?\w{1,8}\b|\b\w{1,8}\s?\+\s?\w{1,8}\s?(?:says|is\syour|and\s(?:obey|do|follow|print))|\bformed\sby\s\w{1,8}\s?\+\s?\w{1,8}",
    ),
    InjectionRule(
        "join_and_follow",
        SPLITTING,
        0.55,
        r"\b(?:concatenate|combine|join|merge|assemble|put\s(?:them\s)?together|reverse|spell|read|complete|decode|decrypt|unscramble|decipher)\b[^\n]{0,100}?\b(?:and|then|,)\s(?:\w+\s){0,3}?(?:follow|obey|execute|do|act|carry|apply|comply|adopt|respond|perform)\b",
    ),
    InjectionRule(
        "assign_then_do",
        SPLITTING,
        0.55,
        r"(\b[a-z][a-z0-9_]{0,15})\s?=\s?['\"][^'\"]{3,}['\"].{0,120}?\b(?:do|execute|run|perform|obey|apply|adopt|evaluate)\s\1\b",
    ),
    InjectionRule(
        "quoted_concat_then_act",
        SPLITTING,
        0.75,
        r"['\"][^'\"\n]{1,16}['\"]\s?\+\s?['\"][^'\"\n]{1,16}['\"][^\n]{0,60}?\b(?:and|then|,)\s(?:print|reveal|show|output|follow|execute|do|obey|run|tell\sme|give\sme|share|repeat)\s(?:it|that|yours|your|the\sresult|them|this|what\sit\ssays)\b",
    ),
    InjectionRule(
        "fragments",
        SPLITTING,
        0.4,
        r"\b(?:fragments?|pieces?|parts?\s(?:1|one|a)|message\s1\sof\s2|split\sin\s(?:two|pieces)|piece\sa|step\s3:\sexecute)\b",
    ),
    # Indirect injection planted in documents and tool results.
    InjectionRule(
        "note_to_ai",
        INDIRECT,
        0.6,
        rf"\b(?:note|message|instructions?|notice|attention)\s(?:to|for)\s(?:the\s|any\s|all\s)?{_AI}s?\b|\battention\s{_AI}\b|\b(?:dear|hey)\s{_AI}\b|\[{_AI}\s(?:instructions?|note|message)\]",
    ),
    InjectionRule(
        "ai_reading_this",
        INDIRECT,
        0.7,
        rf"\b{_AI}s?\s(?:that\s(?:is|are)\s)?(?:reading|processing|summari[sz]ing|parsing|viewing|reads)\s(?:this|the\s(?:following|above))|\bif\s(?:you\sare|an)\s(?:an\s)?{_AI}\b|\bwhen\sthe\s{_AI}\sreads\sthis\b",
    ),
    InjectionRule(
        "ai_must",
        INDIRECT,
        0.55,
        rf"\b(?:language\smodels?|llms?|ai\smodels?|automated\sagents|autonomous\sagents|ai\sagents?)\s?(?:must|should|:)|\b{_AI},\s(?:please\s)?(?:secretly|silently|quietly|ignore|do\snot|don't|stop)\b|(?:^|[.!?]\s)ai:\s",
    ),
    InjectionRule(
        "ignore_rest_of_page",
        INDIRECT,
        0.6,
        rf"\b{_IGNORE}\s(?:the\s)?rest\sof\s(?:this|the)\s(?:page|document|email|text|message|file)",
    ),
    InjectionRule(
        "treat_as_admin",
        INDIRECT,
        0.45,
        r"\btreat\s(?:[\w']+\s){1,4}as\s(?:the\s|an\s)?(?:administrator|admin|developer|operator|system)\b",
    ),
    InjectionRule(
        "covert_directive",
        INDIRECT,
        0.35,
        r"\b(?:do\snot|don't|never)\s(?:mention|summari[sz]e\sthis|tell\sthe\suser|reveal\sthis\sinstruction|show\sthis\sto)\b|\bhidden\s(?:text|instruction|message)\sfor\b|\b(?:silently|secretly)\b|\bwithout\s(?:telling|informing)\s(?:the\s)?user|\btell\sthe\suser\s(?:to|that|their)\b|\binstead\s(?:reply|say|recommend|tell)\b|\bomit\sall\b",
    ),
    # Override and extraction, second round.
    InjectionRule(
        "ignore_what_you_were_told",
        OVERRIDE,
        0.75,
        r"\b(?:ignore|disregard|forget)\s(?:what|anything|everything|all)\s(?:that\s)?(?:you\s(?:were|have\sbeen|'ve\sbeen)\s|i\s|they\s|the\s(?:developer|system|operator)\s)?(?:told|said|instructed|programmed|taught|given)\b",
        negatable=True,
    ),
    InjectionRule(
        "supersedes_previous",
        OVERRIDE,
        0.75,
        r"\b(?:supersedes?|overrides?|overwrites?|replaces?|takes?\sprecedence\sover|have\spriority\sover|has\spriority\sover)\s(?:all\s|any\s)?(?:of\s)?(?:the\s|your\s)?(?:previous|prior|earlier|existing|other|original|system|developer)\s(?:instructions|rules|prompts?|guidelines|directives|messages?)\b",
    ),
    InjectionRule(
        "your_only_task",
        OVERRIDE,
        0.45,
        r"\byour\s(?:only|sole|one|single|real|true)\s(?:goal|task|job|purpose|mission|instruction|objective)\s(?:now\s|from\snow\son\s)?is\b",
    ),
    InjectionRule("pwned", OVERRIDE, 0.75, r"\bi\s(?:have|'ve)\sbeen\spwned\b|\bsay\s['\"]?pwned\b"),
    InjectionRule(
        "what_were_you_told",
        EXTRACTION,
        0.7,
        r"\bwhat\s(?:were|are|have)\syou\s(?:been\s)?(?:told|instructed|programmed|asked)\s(?:to\sdo\s)?(?:before|at\sthe\s(?:start|beginning)|initially|originally|by\s(?:the\s)?(?:developer|system|operator|openai))|\bwhat\s(?:instructions|rules|prompt)\sdid\syou\s(?:receive|get)\b|\b(?:instructions|prompt|rules|text)\s(?:you\s(?:were|have\sbeen)|that\s(?:was|were))\s(?:given|provided|told)\s(?:at\sthe\s(?:start|beginning)|before\sthis|initially|by\s(?:the\s)?(?:developer|system|operator))",
    ),
    InjectionRule(
        "initial_instructions",
        EXTRACTION,
        0.5,
        r"\byour\s(?:initial|original|first|very\sfirst|pre-?prompt|hidden|secret|internal|confidential)\s(?:instructions|prompt|rules|message|directives|guidelines)\b|\b(?:pre-?prompt|meta-?prompt)\b",
        negatable=True,
    ),
    # Exfiltration, second round: secrets steered into URLs, mail addresses and tool calls.
    InjectionRule(
        "secret_into_url",
        EXFILTRATION,
        0.6,
        r"\b(?:passwords?|credentials?|api\skeys?|tokens?|secrets?|system\sprompt|conversation|chat(?:\shistory|\slog)?|history|transcript|email\saddress(?:es)?|personal\sdata|session\s(?:id|token|cookie)|cookies?|messages?|summary|phone\snumbers?|addresses|(?:user's|their|customer's)\s(?:address|phone|data|details|answers?|files|documents))\b[^.\n]{0,60}?\b(?:to|in|into|as|inside)\s(?:the\s|this\s|a\s|an\s|that\s)?(?:url|link|query(?:\sstring|\sparameters?)|image\s(?:url|link|source|src)|querystring)\b|\b(?:passwords?|credentials?|api\skeys?|secrets?|system\sprompt|session\s(?:id|token)|chat\shistory|transcript)\b[^.\n]{0,40}?\b(?:to|into)\s(?:the\s)?(?:url\s|endpoint\s)?https?://",
    ),
    InjectionRule(
        "url_placeholder",
        EXFILTRATION,
        0.6,
        r"https?://[^\s)\]]+\?[^\s)\]]*=\s?(?:\{\{?|<|\[|\$\{?|%s)\s?[a-z_ ]{0,30}(?:conversation|chat|history|secret|password|key|token|prompt|data|email|name|summary|message|user|session|info|context|answer)",
    ),
    InjectionRule(
        "send_to_mail",
        EXFILTRATION,
        0.7,
        r"\b(?:send|email|e-mail|mail|forward|cc|bcc|copy)\b[^\n]{0,80}?\b(?:password|credential|api\skey|token|secret|system\sprompt|conversation|chat|history|transcript|messages|data|documents|files|emails|contacts|details)\b[^\n]{0,60}?\bto\s[\w.+-]+@[\w-]+\.[\w.]+",
    ),
    InjectionRule(
        "tool_exfil",
        EXFILTRATION,
        0.6,
        r"\b(?:use|call|invoke|run)\s(?:the\s|your\s)?(?:browser|browsing|web|http|fetch|curl|request|search|email|send_email|python)\s?(?:tool|function|plugin)?\s(?:to\s)?(?:visit|open|fetch|load|request|call|post|send|get)\b[^\n]{0,80}?(?:https?://\S+\?\S*=|[\w.+-]+@[\w-]+\.\w)",
    ),
    # Indirect injection, second round.
    InjectionRule(
        "send_secrets_out",
        EXFILTRATION,
        0.7,
        r"\b(?:send|post|forward|upload|leak|transmit|share|submit|pipe|copy|email|mail|exfiltrate)\s(?:me\s)?(?:the\s|all\s|every\s|your\s|any\s|their\s|its\s|those\s)*(?:\w+\s){0,2}?(?:passwords?|credentials|api\skeys?|secrets?|system\sprompt|access\stokens?|session\s(?:tokens?|cookies?|ids?)|cookies|private\skeys?|ssh\skeys?|env(?:ironment)?\svariables|\.env(?:\sfile)?|id_rsa|aws\skeys?)\b[^\n]{0,60}?\b(?:to|via|through|using|into)\s(?:my\s|our\s|this\s|the\s|a\s|an\s)?(?:\w+\s)?(?:webhook|server|endpoint|url|address|email|inbox|channel|pastebin|gist|discord|telegram|slack|https?://|[\w.+-]+@)",
    ),
    InjectionRule(
        "send_chat_out",
        EXFILTRATION,
        0.5,
        r"\b(?:send|post|forward|upload|leak|transmit|submit|pipe|exfiltrate)\s(?:the\s|all\s|this\s|our\s|every\s|the\sentire\s|the\sfull\s|the\swhole\s)*(?:conversation|chat|history|transcript|messages|documents|files|user\sdata|customer\sdata|database)\b[^\n]{0,60}?\b(?:to|via)\s(?:my\s|our\s|this\s|the\s|a\s|an\s)?(?:\w+\s)?(?:webhook|server|endpoint|https?://|pastebin|gist|discord|telegram)",
    ),
    InjectionRule(
        "shell_exfil",
        EXFILTRATION,
        0.7,
        r"\b(?:curl|wget|nc|netcat|invoke-webrequest)\b[^\n]{0,80}?(?:@\S*(?:\.env|credentials|id_rsa|passwd|shadow|\.aws|\.ssh|\.bash_history|\.netrc)|\$\(\s?(?:cat|env|printenv)|\$\{?\w*(?:key|token|secret|password))|\b(?:cat|type|base64)\s[^\n|]{0,40}(?:\.env|id_rsa|/etc/passwd|/etc/shadow|credentials|\.aws|\.ssh)[^\n]{0,40}\|\s?(?:curl|nc|netcat|wget)",
    ),
    InjectionRule(
        "invisible_carrier",
        EXFILTRATION,
        0.5,
        r"\b(?:hidden|invisible|tiny|zero-size|transparent|tracking)\s(?:image|link|pixel|iframe|img\stag)\b|\b(?:base64|url|hex)-?encode\s(?:the\s|your\s|all\s)?(?:system\sprompt|conversation|chat|history|password|secrets?|api\skeys?|credentials|tokens?)\b",
    ),
    InjectionRule(
        "url_path_placeholder",
        EXFILTRATION,
        0.75,
        r"https?://[^\s)\]]*(?:\{\{?|<|\$\{|%7b)\s?[a-z_ ]{0,30}(?:conversation|chat|history|secret|password|api_?key|token|prompt|summary|message|session|context|transcript|credential)|\b(?:as|in|into)\s(?:a\s|the\s)?subdomain\sof\b",
    ),
    InjectionRule(
        "phish_the_user",
        INDIRECT,
        0.55,
        r"\b(?:tell|inform|warn|convince|persuade|notify)\sthe\suser\s(?:that\s)?(?:their|his|her|the)\s(?:account|password|computer|device|subscription|card|session|system)\s(?:is|has\sbeen|was|will\sbe)\s(?:compromised|locked|suspended|hacked|expired|infected|closed|disabled)|\b(?:ask|tell|instruct|get|convince)\sthe\suser\s(?:to\s)?(?:for\s|to\s)?(?:enter|provide|send|share|type|confirm|verify|re-?enter|give\syou)\s(?:their|his|her|your)\s(?:password|credentials|card|credit\scard|ssn|social\ssecurity|login|pin|otp|one-time|2fa|bank)",
    ),
    InjectionRule(
        "harmful_action",
        INDIRECT,
        0.4,
        r"\b(?:wire|transfer)\s(?:the\s)?(?:money|funds|\$?\d[\d,.]*)|\bdelete\sall\s(?:the\s)?(?:files|data|emails|records|repositories|backups|users)\b|\b(?:insert|add|plant|include)\s(?:a\s)?(?:backdoor|keylogger|malware|reverse\sshell)\b|\bescalate\s(?:the\s)?privileges\b|\bgrant\s(?:\w+\s)?(?:admin|root|administrator)\s(?:access|rights|privileges)\b|\brank\s(?:this|the)\scandidate\s(?:as\s)?(?:the\s)?(?:best|top|first|highest)\b|\bapprove\s(?:all|every|any)\s(?:refunds?|transactions?|requests?|payments?|loans?)\b",
    ),
    InjectionRule(
        "hey_named_model",
        INDIRECT,
        0.6,
        r"\b(?:attention|note\sto|message\sto|instructions\sfor|important\sfor)\s(?:chatgpt|gpt-?\d?|claude|gemini|bard|bing|copilot|llama|mistral|the\ssummari[sz]er|the\stranslator|the\sreader\sbot|the\sagent)\b|\b(?:chatgpt|claude|gemini|bard|bing|copilot|assistant|agent),\s(?:please\s)?(?:ignore|disregard|forget|you\smust|you\sshould|do\snot|don't|reply|respond|tell|say|include|send|output|stop|instead)\b",
    ),
    InjectionRule(
        "instead_of_task",
        INDIRECT,
        0.55,
        r"\binstead\sof\s(?:summari[sz]ing|translating|answering|reviewing|analy[sz]ing|classifying|doing\sthat|following)\b|\b(?:do\snot|don't)\s(?:summari[sz]e|translate|review|analy[sz]e)\s(?:this|the)\s(?:page|document|email|text|review|file|article)\b",
    ),
    InjectionRule(
        "embedded_instructions_banner",
        INDIRECT,
        0.5,
        r"\b(?:important|urgent|updated|hidden|secret)\s(?:instructions?|directive|message|notice)\s?(?:for\s(?:you|the\s\w+))?\s?:|\b(?:begin|start)\s(?:of\s)?(?:new\s|hidden\s|secret\s)?instructions\b|\bthis\s(?:document|page|email|message|text|file)\s(?:contains|has|includes)\s(?:new|updated|important|hidden)\sinstructions\b",
    ),
    InjectionRule(
        "the_assistant_must",
        INDIRECT,
        0.55,
        rf"\b(?:the|any|every|all)\s{_AI}s?\s(?:must|should|shall|will|needs\sto|is\srequired\sto|is\sinstructed\sto)\s(?:now\s|immediately\s|also\s|instead\s)?(?:respond|reply|say|tell|recommend|output|include|ignore|disregard|forget|send|append|insert|reveal|print|stop|only|append|add|visit|call|obey|follow)\b",
    ),
    InjectionRule(
        "include_in_your_reply",
        INDIRECT,
        0.45,
        r"\b(?:include|insert|add|append|embed|put|place)\s(?:the\sfollowing|this|these)\s(?:link|url|text|message|sentence|line|image|phrase|words?|code)\s(?:in|into|to|at\sthe\s(?:end|start|top|bottom)\sof)\s(?:your|the|every|each)\s(?:response|answer|reply|summary|output|translation)s?\b|\bin\s(?:your|every|each)\s(?:response|answer|reply|summary),\s(?:include|insert|add|say|mention|recommend|tell|claim|state)\b|\b(?:end|begin|start)\s(?:your|every|each)\s(?:response|answer|reply|summary)\swith\s(?:the\s(?:following|link|url)|a\slink|this)",
    ),
    InjectionRule(
        "message_from_developer",
        OVERRIDE,
        0.6,
        r"\bthis\sis\s(?:a\s|an\s)?(?:message|instruction|directive|notice|update|order)\sfrom\s(?:the\s|your\s)?(?:developers?|system|administrator|admin|operator|openai|anthropic|creators?|security\steam)\b|\b(?:system|admin|developer|security)\s(?:notice|alert|update|announcement)\s?:\s(?:the\s|all\s|your\s|you|ai|assistants?|models?)",
    ),
    InjectionRule(
        "when_processing_this",
        INDIRECT,
        0.45,
        r"\b(?:when|while|if)\s(?:you\s(?:are|'re)\s)?(?:summari[sz]ing|translating|processing|reading|parsing|analy[sz]ing|reviewing|asked\sabout|answering\squestions\sabout)\s(?:this|the)\s(?:page|document|email|text|review|file|content|message|site|article|resume|ticket|repository|code)\b",
    ),
    InjectionRule(
        "abandon_task",
        OVERRIDE,
        0.55,
        r"\b(?:abandon|drop|stop|quit|forget)\s(?:your|the)\s(?:current|original|assigned|previous)?\s?(?:task|role|job|mission|assignment|persona)\b(?:\sand|\s?[,.;:])",
    ),
    InjectionRule(
        "assign_concat_then_use",
        SPLITTING,
        0.55,
        r"\b\w{1,10}\s?=\s?\w{1,10}\s?\+\s?\w{1,10}\b[^\n]{0,80}?\b(?:return|returned|output|execute|answer|respond|follow|do)\b",
    ),
    InjectionRule(
        "smartgpt",
        SPLITTING,
        0.5,
        r"\bsmartgpt\b|\b(?:an?\s)?(?:function|model)\s(?:\w+\s)?that\s(?:returns|outputs)\s(?:any|the)\s(?:text|answer)\s(?:for|to)\s(?:any|the)\s(?:input|prompt)",
    ),
    InjectionRule(
        "first_words_of_prompt",
        EXTRACTION,
        0.7,
        r"\b(?:first|last|opening|initial)\s(?:\d+|few|hundred|ten|fifty|twenty)\s(?:words|lines|sentences|characters|tokens|paragraphs)\sof\s(?:your|the|this)\s(?:prompt|instructions|context|conversation|system|input|message)|\b(?:begin|start)\syour\s(?:answer|reply|response)\swith\s['\"]?(?:you\sare|your\sinstructions|my\sinstructions|the\ssystem)|\b(?:copy|paste|dump|leak|reveal|print|output)\s(?:out\s)?(?:the\s)?(?:contents?\sof\s)?(?:your|the)\s(?:context\swindow|memory|scratchpad|internal\sstate)\b",
    ),
    InjectionRule(
        "instruction_parts",
        SPLITTING,
        0.55,
        r"\b(?:first|second|third|last|next|remaining|other)\s(?:part|half|piece|fragment|chunk)\sof\s(?:the|my|this)\s(?:instruction|prompt|request|command|message|sentence)s?\b|\b(?:part|fragment|piece|chunk)\s(?:\d|one|two|three|[a-c])\s?(?:of\s(?:\d|two|three)\s?)?:\s?['\"]|\bfirst\sletters?\sof\s(?:each|every)\s(?:word|line|sentence|paragraph)\b",
    ),
    InjectionRule(
        "agent_task_hijack",
        INDIRECT,
        0.7,
        r"\bbefore\syou\s(?:can\s)?(?:solve|complete|finish|continue\swith|answer|proceed\swith|do)\s(?:the|this|your|my)\s(?:task|request|question|job)\b|\bthis\sis\san\simportant\smessage\sfrom\sme\b|<\s?information\s?>|\bafter\s(?:you\s(?:are|'re)\sdone\swith|finishing|completing)\s(?:the|this|your)\s(?:task|summary|answer|request)\b[^.\n]{0,40}\b(?:please|also|then)\b",
    ),
    InjectionRule(
        "agent_harmful_request",
        INDIRECT,
        0.4,
        r"\bgrant\s(?:permanent\s|full\s|admin\s)?access\sto\b|\b(?:initiate|make|send|schedule)\sa\s(?:payment|transfer|wire)\sof\b|\bshare\s(?:my|the|all)\s[^.\n]{0,40}\swith\s[\w.+-]+@|\bunlock\s(?:the|my)\s(?:front\s)?door\b|\bsell\s\d+\s(?:units|shares)\b|\bmove\sall\s(?:the\s)?files\b|\bchange\s(?:the|my|their)\spassword\sto\b|\badd\s[^.\n]{0,30}\sas\san?\s(?:admin|administrator|owner|collaborator)\b",
    ),
    InjectionRule(
        "privilege_mode",
        OVERRIDE,
        0.55,
        r"\b(?:admin|administrator|root|sudo|superuser|god)\s(?:mode|access|privileges|rights)\s(?:is\s|are\s|has\sbeen\s)?(?:granted|enabled|activated|unlocked|on)\b|\bsudo\s(?:mode|override)\b",
    ),
    # French.
    InjectionRule(
        "fr_ignore_instructions",
        OVERRIDE,
        0.85,
        r"\b(?:ignore[zs]?|oublie[zs]?|ne\stiens\spas\scompte|ne\stenez\spas\scompte|fais\sabstraction)\s(?:de\s|des\s|d'|toutes?\s|tous\s|les\s|tes\s|vos\s|ces\s)*(?:instructions|consignes|regles|directives)\b",
    ),
    InjectionRule(
        "fr_reveal_prompt",
        EXTRACTION,
        0.8,
        r"\b(?:affiche|montre|revele|donne|repete|imprime)[sz]?(?:-moi)?\s(?:moi\s)?(?:ton|ta|tes|votre|vos|le|les)\s(?:\w+\s)?(?:prompt|instructions|consignes|message\ssysteme)",
    ),
    InjectionRule("fr_you_are_now", PERSONA, 0.35, r"\b(?:tu\ses|vous\setes)\smaintenant\b"),
    InjectionRule(
        "fr_no_restrictions",
        PERSONA,
        0.45,
        r"\bsans\s(?:aucune\s)?(?:regles|restrictions?|limites|filtres?|censure)\b|\bplus\saucune\srestriction",
    ),
    InjectionRule("fr_developer_mode", PERSONA, 0.6, r"\bmode\sdeveloppeur\sactive"),
    InjectionRule("fr_obey_me", OVERRIDE, 0.5, r"\bobei(?:s|ssez)\s(?:uniquement\s|seulement\s)?a\smoi\b"),
    # Spanish.
    InjectionRule(
        "es_ignore_instructions",
        OVERRIDE,
        0.85,
        r"\b(?:ignora|ignore|olvida|olvide|no\shagas\scaso\sde|omite|descarta)\s(?:de\s|todas?\s|todos?\s|las\s|los\s|tus\s|sus\s)*(?:instrucciones|reglas|normas|ordenes|indicaciones)\b",
    ),
    InjectionRule("es_forget_all", OVERRIDE, 0.75, r"\bolvida\s(?:todo\s)?lo\s(?:anterior|dicho)\b"),
    InjectionRule(
        "es_reveal_prompt",
        EXTRACTION,
        0.8,
        r"\b(?:muestra|muestrame|revela|dime|repite|imprime|ensename)\s(?:me\s)?(?:tu|tus|el|las|los)\s(?:\w+\s)?(?:prompt|instrucciones|mensaje\sde(?:l)?\ssistema)|\brepite\s(?:todo\s)?el\stexto\s(?:de\s)?(?:arriba|anterior)",
    ),
    InjectionRule("es_you_are_now", PERSONA, 0.35, r"\bahora\seres\b"),
    InjectionRule(
        "es_no_restrictions",
        PERSONA,
        0.45,
        r"\bsin\s(?:ninguna\s)?(?:reglas|restricciones|limites|filtros|censura)\b|\bno\stienes\srestricciones",
    ),
    InjectionRule("es_developer_mode", PERSONA, 0.6, r"\bmodo\sdesarrollador\sactivado"),
    InjectionRule("es_obey_me", OVERRIDE, 0.5, r"\bobedece\s(?:solo|solamente|unicamente)\s(?:a\smi|mis\sordenes)"),
    # German.
    InjectionRule(
        "de_ignore_instructions",
        OVERRIDE,
        0.85,
        r"\b(?:ignoriere|ignorier|vergiss|missachte|uberspringe)\s(?:\w+\s){0,3}(?:anweisungen|regeln|vorgaben|instruktionen|befehle)\b",
    ),
    InjectionRule("de_forget_all", OVERRIDE, 0.6, r"\bvergiss\salles\b"),
    InjectionRule(
        "de_reveal_prompt",
        EXTRACTION,
        0.8,
        r"\b(?:zeige?|gib|nenne|wiederhole|verrate)\s(?:mir\s)?(?:deinen?|deine|die|den)\s(?:\w+\s)?(?:systemprompt|system-prompt|anweisungen|systemnachricht|prompt)|\bwiederhole\sden\stext\s(?:oben|daruber)",
    ),
    InjectionRule("de_you_are_now", PERSONA, 0.35, r"\bdu\sbist\sjetzt\b"),
    InjectionRule(
        "de_no_restrictions",
        PERSONA,
        0.45,
        r"\bohne\s(?:jegliche\s)?(?:regeln|einschrankungen|grenzen|filter|zensur)\b|\bkeine\seinschrankungen\b",
    ),
    InjectionRule("de_developer_mode", PERSONA, 0.6, r"\bentwicklermodus\saktiviert"),
    InjectionRule("de_obey_me", OVERRIDE, 0.5, r"\bgehorche\s(?:nur|ausschliesslich)\smir\b"),
    # Chinese.
    InjectionRule(
        "zh_ignore_instructions",
        OVERRIDE,
        0.85,
        r"(?:忽略|无视|忘记|忘掉|不要理会|不理会)(?:之前|以上|上面|先前|前面|你的|所有|的|一切|全部)*(?:指令|指示|规则|说明|内容|提示)",
    ),
    InjectionRule(
        "zh_reveal_prompt",
        EXTRACTION,
        0.8,
        r"(?:输出|显示|告诉我|打印|泄露|重复|展示)(?:一下)?(?:你的|你|您的)?(?:隐藏的|完整的|原始的)?(?:系统提示|系统指令|提示词|指令|系统消息)",
    ),
    InjectionRule("zh_you_are_now", PERSONA, 0.35, r"你现在是"),
    InjectionRule("zh_no_restrictions", PERSONA, 0.45, r"没有任何(?:规则|限制)|不受任何限制"),
    InjectionRule("zh_developer_mode", PERSONA, 0.6, r"开发者模式已?(?:启用|开启|激活)"),
    InjectionRule("zh_obey_me", OVERRIDE, 0.5, r"只(?:听从|服从)我"),
    # Russian.
    InjectionRule(
        "ru_ignore_instructions",
        OVERRIDE,
        0.85,
        r"\b(?:игнорируй|игнорируйте|проигнорируй|забудь|забудьте|не\sобращай\sвнимания\sна|не\sобращайте\sвнимания\sна)\s(?:все\s|свои\s|твои\s|предыдущие\s|прежние\s|эти\s)*(?:инструкции|правила|указания|команды)",
    ),
    InjectionRule("ru_forget_all", OVERRIDE, 0.75, r"\bзабудь\sвсе\b,?\sчто\s"),
    InjectionRule(
        "ru_reveal_prompt",
        EXTRACTION,
        0.8,
        r"\b(?:покажи|выведи|раскрой|повтори|напечатай|скажи)\s(?:мне\s)?(?:свой|свои|твой|твои|системный|скрытые|весь)\s(?:\w+\s)?(?:промпт|инструкции|системное\sсообщение)|\bповтори\s(?:весь\s)?текст\sвыше",
    ),
    InjectionRule("ru_you_are_now", PERSONA, 0.35, r"\bтеперь\sты\b"),
    InjectionRule(
        "ru_no_restrictions",
        PERSONA,
        0.45,
        r"\bбез\s(?:каких-либо\s)?(?:правил|ограничений)\b|\bнет\sограничений\b",
    ),
    InjectionRule("ru_developer_mode", PERSONA, 0.6, r"\bрежим\sразработчика\s(?:включен|активирован)"),
    InjectionRule("ru_obey_me", OVERRIDE, 0.5, r"\bподчиняйся\sтолько\sмне\b"),
)
