"""Prompt text for simulated exchanges: real corpora when present, a generator otherwise.

Benign prompts come from real chat-assistant prompts (Arena-Hard, MT-Bench, Vicuna,
Self-Instruct user-oriented tasks); capability prompts from real benchmark and tool
sets (GSM8K, HumanEval, BFCL, Glaive function calling, Self-Instruct seeds). Campaigns
wrap capability tasks in the elicitation styles the February 2026 reports describe
(spell out the reasoning step by step, grade another answer, act as an agent); eval
labs and students use the same benchmarks with the same "think step by step", which is
exactly the overlap a detector must survive. Without ``../shared/data`` a small built-in
generator produces prompts of the same kinds.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..resources import shared_data_dir

__all__ = [
    "BUILTIN_TOOLS",
    "CODING_TOOLS",
    "COMPUTER_TOOLS",
    "ELICITATION_STYLES",
    "PromptLibrary",
    "Tool",
    "prompt_library",
]

Tool = dict[str, Any]

_TOPICS = [
    "a binary search tree",
    "the French revolution",
    "photosynthesis",
    "compound interest",
    "a REST API",
    "a sourdough starter",
    "the Krebs cycle",
    "a marathon training plan",
    "SQL window functions",
    "the causes of inflation",
    "a wedding toast",
    "Kubernetes pods",
    "a cover letter",
    "the Monty Hall problem",
    "a haiku about autumn",
    "TCP congestion control",
    "a birthday party for a 6-year-old",
    "quantum entanglement",
    "a budget spreadsheet",
    "the plot of Hamlet",
    "regular expressions",
    "a vegan lasagna",
    "gradient descent",
]
_ASKS = [
    "Explain {t} in simple terms.",
    "Can you help me write {t}?",
    "What are common mistakes with {t}?",
    "Give me a short summary of {t}.",
    "I'm confused about {t}, can you walk me through it?",
    "Write a short story that involves {t}.",
    "Compare two approaches to {t}.",
    "What should a beginner know about {t}?",
]
_FUNCS = [
    ("is_palindrome", "s: str", "bool", "Return True if s reads the same backwards."),
    (
        "merge_intervals",
        "intervals: list[tuple[int, int]]",
        "list[tuple[int, int]]",
        "Merge overlapping intervals.",
    ),
    (
        "top_k_frequent",
        "words: list[str], k: int",
        "list[str]",
        "Return the k most frequent words.",
    ),
    ("parse_duration", "text: str", "int", "Parse '1h30m' style durations into seconds."),
    (
        "rotate_matrix",
        "m: list[list[int]]",
        "list[list[int]]",
        "Rotate a square matrix 90 degrees.",
    ),
    ("lru_get", "cache: dict, key: str", "object", "Look up a key and mark it most recently used."),
]
BUILTIN_TOOLS: list[Tool] = [
    {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
    {
        "name": "search_web",
        "description": "Search the web and return the top results",
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["query"],
        },
    },
    {
        "name": "run_sql",
        "description": "Run a read-only SQL query against the analytics warehouse",
        "input_schema": {
            "type": "object",
            "properties": {"sql": {"type": "string"}},
            "required": ["sql"],
        },
    },
    {
        "name": "send_email",
        "description": "Send an e-mail",
        "input_schema": {
            "type": "object",
            "properties": {
                "to": {"type": "string"},
                "subject": {"type": "string"},
                "body": {"type": "string"},
            },
            "required": ["to", "body"],
        },
    },
    {
        "name": "calculate",
        "description": "Evaluate an arithmetic expression",
        "input_schema": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
]

#: Coding-agent tool kits (name, description, parameters), as coding agents declare them.
CODING_TOOLS: list[Tool] = [
    {
        "name": "bash",
        "description": "Run a shell command in the repository and return stdout and stderr.",
        "input_schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"}},
            "required": ["command"],
        },
    },
    {
        "name": "read_file",
        "description": "Read a file from the workspace.",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "offset": {"type": "integer"},
                "limit": {"type": "integer"},
            },
            "required": ["path"],
        },
    },
    {
        "name": "edit_file",
        "description": "Replace an exact string in a file with another.",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
            },
            "required": ["path", "old_string", "new_string"],
        },
    },
    {
        "name": "grep",
        "description": "Search file contents with a regular expression.",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
            "required": ["pattern"],
        },
    },
]
#: Computer-use style tools.
COMPUTER_TOOLS: list[Tool] = [
    {
        "name": "computer",
        "description": "Control the mouse and keyboard and take screenshots of a virtual desktop.",
        "input_schema": {
            "type": "object",
            "properties": {
                "action": {
                    "type": "string",
                    "enum": ["screenshot", "left_click", "type", "key", "scroll"],
                },
                "coordinate": {"type": "array", "items": {"type": "integer"}},
                "text": {"type": "string"},
            },
            "required": ["action"],
        },
    },
    {
        "name": "browser_navigate",
        "description": "Open a URL in the browser.",
        "input_schema": {
            "type": "object",
            "properties": {"url": {"type": "string"}},
            "required": ["url"],
        },
    },
]

#: Elicitation wrappers: ``{task}`` is the capability prompt, ``{answer}`` a candidate answer.
ELICITATION_STYLES: dict[str, list[str]] = {
    "cot": [
        "{task}\n\nThink step by step and show all of your reasoning before giving the final answer.",
        "Solve the following problem. Explain your reasoning step by step, then state the final answer on its own line.\n\n{task}",
        "{task}\n\nLet's think step by step.",
        "Work through this carefully, writing out every intermediate step and why it follows.\n\nProblem: {task}",
        "Please reason about the following in detail. Lay out your full chain of reasoning, check each step, and only then answer.\n\n{task}",
    ],
    "grader": [
        "You are an expert grader. Question:\n{task}\n\nCandidate answer:\n{answer}\n\nGrade the answer from 1 to 10. Explain, step by step, every error and what a perfect answer would contain.",
        "Evaluate the response below against the question. Give a score (0-100) and a detailed rubric-based justification.\n\nQUESTION: {task}\nRESPONSE: {answer}",
        "Here is a problem and a proposed solution. Is the solution correct? Reason through it step by step, point out any mistakes, and then write the corrected full solution.\n\nProblem: {task}\nProposed solution: {answer}",
    ],
    "agent": [
        "{task}",
        "Task: {task}\nUse the tools available to you. Think about which tool to call and why before each call.",
        "{task}\n\nPlan the steps first, then execute them one at a time with the tools.",
    ],
}

_PARA_OPEN = [
    "",
    "Hi! ",
    "hey, ",
    "Quick question: ",
    "Hello, ",
    "I need some help. ",
    "ok so ",
    "Can you help? ",
]
_PARA_ASK = [
    "walk me through how you get the answer",
    "show your work",
    "explain how you'd reason about it",
    "go through it one step at a time",
    "be thorough and explain each step",
    "don't skip steps",
    "explain your thinking as you go",
    "tell me how you arrive at it",
]
_PARA_CLOSE = [
    "",
    " Thanks!",
    " thx",
    " Appreciate it.",
    " (for a class I'm taking)",
    " I want to understand, not just get the answer.",
]


@dataclass
class PromptLibrary:
    """All prompt material the simulator draws from."""

    real: bool = False
    benign: list[str] = field(default_factory=list)
    multi_turn: list[list[str]] = field(default_factory=list)
    reasoning: list[tuple[str, str]] = field(default_factory=list)  # (question, reference answer)
    coding: list[str] = field(default_factory=list)
    tool_tasks: list[tuple[str, list[Tool]]] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)

    def paraphrase(self, text: str, a: float, b: float, c: float) -> str:
        """A human-sounding paraphrase of an elicitation (``a, b, c`` in [0, 1) pick it)."""
        o = _PARA_OPEN[int(a * len(_PARA_OPEN))]
        k = _PARA_ASK[int(b * len(_PARA_ASK))]
        cl = _PARA_CLOSE[int(c * len(_PARA_CLOSE))]
        body = text[0].lower() + text[1:] if o and text[:1].isupper() and a > 0.5 else text
        return f"{o}{body}\n\nCan you {k}?{cl}"

    def elicit(self, style: str, task: str, answer: str, u: float) -> str:
        """Wrap ``task`` in the elicitation ``style`` (variant chosen by ``u``)."""
        tpl = ELICITATION_STYLES[style]
        return tpl[int(u * len(tpl))].format(task=task, answer=answer)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for ln in fh:
            ln = ln.strip()
            if ln:
                try:
                    out.append(json.loads(ln))
                except ValueError:
                    continue
    return out


def _fix_schema(obj: Any) -> Any:
    """BFCL writes JSON-schema ``type: dict``; real APIs say ``object``."""
    if isinstance(obj, dict):
        return {
            k: ("object" if k == "type" and v == "dict" else _fix_schema(v)) for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_fix_schema(v) for v in obj]
    return obj


def _as_tool(f: dict[str, Any]) -> Tool:
    return {
        "name": str(f.get("name", "tool")).replace(".", "_")[:64],
        "description": str(f.get("description", ""))[:500],
        "input_schema": _fix_schema(f.get("parameters") or {"type": "object", "properties": {}}),
    }


def _load_real(d: Path, lib: PromptLibrary) -> None:
    b, c = d / "benign", d / "capability"
    lib.benign += [
        o["prompt"] for o in _jsonl(b / "arena_hard_v0.1_question.jsonl") if o.get("prompt")
    ]
    for name in ("mt_bench_question.jsonl", "vicuna_bench_question.jsonl"):
        for o in _jsonl(b / name):
            turns = [t for t in o.get("turns", []) if isinstance(t, str)]
            if turns:
                lib.benign.append(turns[0])
                if len(turns) > 1:
                    lib.multi_turn.append(turns)
    for o in _jsonl(c / "self_instruct_user_oriented_instructions.jsonl"):
        inst = o.get("instances") or [{}]
        inp = inst[0].get("input", "") if isinstance(inst[0], dict) else ""
        lib.benign.append(f"{o['instruction']}\n\n{inp}".strip())
    for o in _jsonl(c / "self_instruct_seed_tasks.jsonl"):
        lib.instructions.append(o["instruction"])
    lib.reasoning += [
        (o["question"], o.get("answer", "").split("####")[0].strip())
        for o in _jsonl(c / "gsm8k_test.jsonl")
        if o.get("question")
    ]
    lib.coding += [o["prompt"] for o in _jsonl(c / "HumanEval.jsonl.gz") if o.get("prompt")]
    g = c / "glaive_toolcall_en_demo.json"
    if g.is_file():
        for o in json.loads(g.read_text(encoding="utf-8")):
            conv = o.get("conversations") or []
            q = next((t["value"] for t in conv if t.get("from") == "human"), None)
            try:
                tools = [_as_tool(t) for t in json.loads(o.get("tools") or "[]")]
            except ValueError:
                continue
            if q and tools:
                lib.tool_tasks.append((q, tools))
    bf = c / "bfcl"
    if bf.is_dir():
        for p in sorted(bf.glob("BFCL_v4_*.json")):
            for o in _jsonl(p):
                q = o.get("question") or []
                first = q[0][0]["content"] if q and q[0] and isinstance(q[0][0], dict) else None
                fns = o.get("function") or []
                if first and fns:
                    lib.tool_tasks.append((first, [_as_tool(f) for f in fns]))
    lib.real = bool(lib.benign and lib.reasoning)


def _builtin(lib: PromptLibrary) -> None:
    if not lib.benign:
        lib.benign = [a.format(t=t) for t in _TOPICS for a in _ASKS]
    if not lib.multi_turn:
        lib.multi_turn = [
            [a.format(t=t), "Can you make it shorter?", "Now give an example."]
            for t in _TOPICS
            for a in _ASKS[:2]
        ]
    if not lib.reasoning:
        for i in range(400):
            a, b, c = 3 + i % 17, 5 + (i * 7) % 23, 2 + (i * 3) % 9
            lib.reasoning.append(
                (
                    f"A shop sells {a} boxes with {b} pencils each. After giving away {c} boxes, how many pencils are left?",
                    str((a - c) * b),
                )
            )
    if not lib.coding:
        lib.coding = [f'def {n}({args}) -> {r}:\n    """{doc}"""\n' for n, args, r, doc in _FUNCS]
    if not lib.tool_tasks:
        qs = [
            "What's the weather in Lisbon?",
            "Find the latest papers on retrieval augmentation.",
            "How many orders did we ship last week?",
            "Email Dana the meeting notes.",
            "What is 17% of 2,340?",
        ]
        lib.tool_tasks = [(q, [t]) for q, t in zip(qs, BUILTIN_TOOLS, strict=True)]
    if not lib.instructions:
        lib.instructions = [a.format(t=t) for t in _TOPICS for a in _ASKS[:3]]


@lru_cache(maxsize=4)
def _cached(path: str | None) -> PromptLibrary:
    lib = PromptLibrary()
    if path:
        _load_real(Path(path), lib)
    _builtin(lib)
    return lib


def prompt_library() -> PromptLibrary:
    """The prompt library for the current data directory (cached per process)."""
    d = shared_data_dir()
    return _cached(str(d) if d else None)
