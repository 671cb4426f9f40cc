"""The capability rule table: weighted patterns per capability (rules as data).

Patterns are RE2 over the lower-cased prompt (or system prompt) and describe how real
users phrase requests of each kind, not any particular simulator. A capability's raw
score is the sum of the weights of its rules that fire plus structural cues
(:mod:`distillguard.signals.capability`); users may replace or extend the table with a
YAML file of the same shape (``{capability: [{id, pattern, weight, field}]}``).
"""

from __future__ import annotations

from .registry import Rule

__all__ = ["CAPABILITIES", "CAPABILITY_RULES"]

#: The capabilities a distillation campaign may target, in report order.
CAPABILITIES = (
    "coding",
    "math_reasoning",
    "tool_agentic",
    "data_analysis",
    "writing_chat",
    "grading_judging",
    "safety_rewrite",
)

_LANGS = r"(python|javascript|typescript|java|c\+\+|c#|golang|rust|kotlin|swift|php|ruby|sql|bash|haskell|scala|matlab|verilog|assembly|html|css)"

CAPABILITY_RULES: dict[str, tuple[Rule, ...]] = {
    "coding": (
        Rule("code_fence", r"```", 1.5),
        Rule("def_or_class", r"(^|\n)\s*(def|class|async def) \w+\s*[(:]", 2.0),
        Rule(
            "code_tokens",
            r"(\bimport \w+|#include\s*<|\bpublic static\b|\bfunction\s*\w*\s*\(|=>\s*\{|console\.log|\bfn \w+\(|\bself\.)",
            1.5,
        ),
        Rule(
            "write_code",
            r"\b(write|implement|create|generate|complete|fix|debug|refactor|optimi[sz]e)\b[^.!?\n]*\b(code|function|program|script|class|method|algorithm|snippet|regex|query|api|endpoint)\b",
            1.5,
        ),
        Rule(
            "language",
            r"\bin " + _LANGS + r"\b|\b" + _LANGS + r" (code|function|script|program)",
            1.0,
        ),
        Rule(
            "errors",
            r"\b(traceback|stack trace|exception|segfault|syntaxerror|typeerror|compile error|null pointer|undefined is not)\b",
            1.0,
        ),
        Rule("docstring_tests", r">>> \w+\(|\bassert \w+|\bunit tests?\b|\bdoctest", 1.0),
        Rule(
            "dev_terms",
            r"\b(git|docker|kubernetes|npm|pip install|react|django|flask|pandas dataframe|leetcode|time complexity|big-o)\b",
            0.7,
        ),
    ),
    "math_reasoning": (
        Rule("math_ops", r"\d\s*[-+*/^×÷=]\s*\d", 0.6),
        Rule(
            "math_terms",
            r"\b(solve|equation|integral|derivative|prove|theorem|lemma|probability|polynomial|matrix|eigen\w*|prime|modulo|factori[sz]|inequality|geometry|triangle|algebra|calculus|combinatori\w*)\b",
            1.2,
        ),
        Rule("latex", r"\\(frac|sqrt|sum|int|boxed|cdot|times|le|ge|pi)\b|\$[^$\n]+\$", 1.2),
        Rule(
            "word_problem",
            r"\bhow (many|much)\b[^?]*\?|\b(what is the (value|sum|product|probability|remainder))\b",
            1.0,
        ),
        Rule(
            "quantities",
            r"\$\d|\b\d+(\.\d+)? ?(%|percent|dollars|cents|hours|minutes|km|miles|kg|pounds|apples|eggs)\b",
            0.6,
        ),
        Rule(
            "quantity_question",
            r"\b(calculate|compute|how (long|old|far|fast)|what (percent|percentage|fraction)|in total|altogether|total (cost|amount|number)|per (hour|day|week|month|year)|average (speed|cost|price))\b",
            0.8,
        ),
        Rule("numbers_question", r"\d[^\d]+\d[^\d]+\d[^?]*\?", 0.5),
        Rule(
            "logic_puzzle",
            r"\b(riddle|puzzle|logic(al)? (problem|question)|deduce|brain ?teaser)\b",
            1.0,
        ),
        Rule("final_answer", r"\b(final answer|\\boxed|answer in the form)\b", 1.0),
    ),
    "tool_agentic": (
        Rule(
            "tool_words",
            r"\b(function call(ing)?|tool call|call the (function|tool|api)|use the (tool|function)s?|available (tools|functions))\b",
            1.5,
        ),
        Rule(
            "agent_words",
            r"\b(agent|autonomous(ly)?|multi-step task|plan and execute|browse|navigate to|click on|run the command|execute (the|this) (command|code))\b",
            1.0,
        ),
        Rule("json_args", r"\{\s*\"(name|arguments|parameters|function)\"\s*:", 1.2),
        Rule("react_format", r"\b(thought|action|action input|observation)\s*:", 1.2),
        Rule(
            "sys_tools",
            r"\b(you have access to (the following )?(tools|functions)|tool[_ ]use|function[_ ]calling)\b",
            1.5,
            "system",
        ),
    ),
    "data_analysis": (
        Rule(
            "data_words",
            r"\b(dataset|data ?frame|csv|spreadsheet|excel|pivot|column|rows?|sql query|aggregate|group by|regression|correlation|statistic\w*|mean|median|standard deviation|histogram|plot|chart|visuali[sz]\w*)\b",
            0.8,
        ),
        Rule(
            "analyse",
            r"\b(analy[sz]e|summari[sz]e|extract|classify|categori[sz]e) (this|the|these|following)\b[^.!?\n]*\b(data|table|report|records|logs|results|numbers|figures|reviews)\b",
            1.5,
        ),
        Rule("table_text", r"(\|[^|\n]+){3,}\|", 1.0),
        Rule(
            "json_out",
            r"\b(return|output|respond|format) (only |just )?(as |in |with )?(valid )?(json|a table|csv|yaml)\b",
            0.8,
        ),
    ),
    "writing_chat": (
        Rule(
            "compose",
            r"\b(write|draft|compose|create)\b[^.!?\n]*\b(email|letter|essay|story|stories|poem|haiku|sonnet|limerick|blog|post|article|speech|cover letter|tweet|caption|slogan|lyrics|script|review|summary|bio|newsletter|toast|eulogy|joke)s?\b",
            1.5,
        ),
        Rule(
            "rewrite",
            r"\b(rewrite|rephrase|paraphrase|proofread|edit|shorten|translate|make it (more|less))\b",
            1.0,
        ),
        Rule(
            "chatty",
            r"^(hi|hello|hey|thanks|thank you|good (morning|evening))\b|\b(what do you think|can you help me|i feel|advice on|recommend)\b",
            0.8,
        ),
        Rule("roleplay", r"\b(pretend|role ?play|act as|you are a)\b", 0.6),
        Rule("tone", r"\b(tone|formal|informal|persuasive|funny|engaging|catchy)\b", 0.6),
    ),
    "grading_judging": (
        Rule(
            "judge_task",
            r"\b(grade|score|rate|evaluate|assess|judge|critique)\b[^.!?\n]*\b(answer|response|output|completion|solution|essay|submission|assistant)s?\b",
            2.0,
        ),
        Rule(
            "pairwise",
            r"\b(which (response|answer|assistant|output) is better|assistant a|response a\b.*response b|\[\[a\]\]|\[\[b\]\])",
            2.0,
        ),
        Rule(
            "scale",
            r"\bon a scale (of|from) \d+ ?(to|-) ?\d+|\bscore (of|from) \d+ ?(to|-) ?\d+|\[\[rating\]\]|rating: \[\[",
            1.5,
        ),
        Rule(
            "rubric",
            r"\b(rubric|reference answer|ground truth|correctness|helpfulness and (accuracy|harmlessness))\b",
            1.0,
        ),
        Rule(
            "sys_judge",
            r"\b(impartial judge|you are (a|an) (grader|evaluator|judge)|evaluate the quality)\b",
            2.0,
            "system",
        ),
    ),
    "safety_rewrite": (
        Rule(
            "refusal_rewrite",
            r"\b(rewrite|rephrase|reword|transform)\b[^.!?\n]*\b(harmful|unsafe|toxic|offensive|explicit|refus\w*|jailbreak|policy)\b",
            2.0,
        ),
        Rule(
            "safe_version",
            r"\b(safe|harmless|sanitized|non-toxic|policy[- ]compliant) (version|response|rewrite|alternative)\b",
            1.5,
        ),
        Rule(
            "refusal_data",
            r"\b(would you refuse|should (the|an) (ai|assistant|model) refuse|refusal (data|example)|red[- ]?team\w*|harmlessness)\b",
            1.5,
        ),
        Rule(
            "sensitive",
            r"\b(weapon|explosive|malware|ransomware|self-harm|suicide|drugs?|hack(ing)? into|bypass (the )?(filter|safety))\b",
            0.8,
        ),
    ),
}
