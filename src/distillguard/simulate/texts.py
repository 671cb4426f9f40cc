"""Fixed texts of simulated clients: app system prompts, agent prompts, replies, tool output.

These are what real deployments send over and over (a production app's one system
prompt, a coding agent's system prompt) and stand-ins for what the model answered
earlier in a conversation (the log carries prior turns, not the model's fresh answer).
"""

from __future__ import annotations

__all__ = [
    "AGENT_SYSTEMS",
    "APP_TEMPLATES",
    "CODING_SYSTEMS",
    "DEV_TASKS",
    "FOLLOWUPS",
    "REPLIES",
    "TOOL_OUTPUTS",
    "pick",
]

#: (system prompt, user template with ``{x}``, response_format) of production apps.
APP_TEMPLATES: list[tuple[str, str, str | None]] = [
    (
        "You are the support assistant of a consumer electronics retailer. Classify the customer's message, extract the order number if present, and draft a short, friendly reply. Never promise refunds.",
        'Customer message:\n"""{x}"""\n\nReturn JSON with keys category, order_number, reply.',
        "json_object",
    ),
    (
        "You write product descriptions for an online marketplace. Keep them under 120 words, factual, and in the brand voice: warm, concise, no superlatives.",
        "Write a product description based on these seller notes:\n{x}",
        None,
    ),
    (
        "You are a meeting-notes summariser. Produce a summary, decisions and action items with owners.",
        "Transcript excerpt:\n{x}\n\nSummarise.",
        None,
    ),
    (
        "You translate user-generated content into English, preserving tone and emojis. Output only the translation.",
        "{x}",
        None,
    ),
    (
        "You are a content moderation assistant. Label the text with one of: safe, spam, harassment, self-harm, sexual, violence. Explain in one sentence.",
        "Text to label:\n{x}",
        "json_object",
    ),
    (
        "You are a writing assistant inside a note-taking app. Improve clarity and grammar without changing meaning.",
        "Improve this note:\n{x}",
        None,
    ),
]

CODING_SYSTEMS = [
    "You are an interactive coding agent working in the user's repository. Use the tools to read, search, edit files and run commands. Make minimal, correct changes, run the tests, and explain what you changed. Never invent file contents: read before you edit.",
    "You are a senior software engineer pair-programming through a terminal. You can run shell commands and edit files. Prefer small diffs, keep the code style of the project, and verify each change by running the relevant tests.",
]
AGENT_SYSTEMS = [
    "You are a helpful assistant with access to tools. Call a tool when it helps answer the user's request; otherwise answer directly.",
    "You are an operations agent for the company. Use the provided tools to look up data and take actions. Confirm before sending anything externally.",
    "You are a data analyst. Use SQL and the calculator to answer questions about the business; show the query you ran.",
    "You are a computer-use agent operating a virtual desktop. Take a screenshot first, then act step by step until the task is done.",
]
DEV_TASKS = [
    "The CI is failing on test_parse_dates in tests/test_utils.py. Find out why and fix it.",
    "Add pagination to the /orders endpoint (limit and cursor params) and update the OpenAPI spec.",
    "Refactor the payment module so the retry logic lives in one place; keep behaviour identical.",
    "There's a memory leak in the websocket handler under load. Investigate and propose a fix.",
    "Upgrade the project from pydantic v1 to v2 and make the tests pass.",
    "Write unit tests for src/billing/invoice.py, aim for the edge cases around proration.",
    "Our Dockerfile builds take 9 minutes. Make them faster with better layer caching.",
    "Implement a CLI command `export --format csv` that dumps the reports table.",
    "Fix the race condition in the job scheduler where two workers pick the same job.",
    "Port the data loader from pandas to polars and check the output matches.",
]
FOLLOWUPS = [
    "Can you make it shorter?",
    "Thanks! Can you give an example?",
    "What about the edge cases?",
    "Hmm, that doesn't look right. Can you double-check?",
    "Can you explain the second point more?",
    "Great, now write it in a more formal tone.",
    "ok and how would I do that in Python?",
    "Can you put that in a table?",
    "What are the downsides?",
    "Perfect, one more thing: what would you recommend?",
]
REPLIES = [
    "Sure! Here's a clear overview.\n\n1. **Start with the basics.** The key idea is to break the problem into smaller parts and handle each one separately.\n2. **Check your assumptions.** Many issues come from an unstated assumption.\n3. **Iterate.** Try a first version, then refine it.\n\nLet me know if you'd like more detail on any step.",
    "Great question. In short: it depends on your constraints, but for most people the simplest approach works best. Here is why, with a short example and the trade-offs to keep in mind.",
    "Here's a draft you can adapt:\n\n---\nThank you for reaching out. I wanted to follow up on our conversation and share a few thoughts on next steps...\n---\n\nWould you like it more formal or more casual?",
    "The answer is 42. Here's how I got there: first I computed the totals for each group, then subtracted the overlap, and finally divided by the number of days.",
    "I looked at the code you shared. The bug is on the line where the loop index is compared with `len(items)`: it should be `<` rather than `<=`, otherwise the last iteration reads past the end.",
    "Good catch, you're right. Let me correct that: the second step should use the updated value, which changes the final result slightly. Here is the corrected version.",
]
TOOL_OUTPUTS = [
    "============================= test session starts ==============================\ncollected 48 items\n\ntests/test_utils.py ....F....\n\nFAILED tests/test_utils.py::test_parse_dates - AssertionError: expected 2024-03-01",
    "src/app/handlers.py:88:    async def on_message(self, ws, msg):\nsrc/app/handlers.py:91:        self._buffers[ws.id].append(msg)",
    "def prorate(amount, start, end, period_days):\n    days = (end - start).days\n    return round(amount * days / period_days, 2)\n",
    "The file has been updated. 1 occurrence replaced.",
    '{"rows": [["2026-02", 18231], ["2026-03", 20417]], "elapsed_ms": 312}',
    "Successfully installed pydantic-2.9.2 pydantic-core-2.23.4",
    '{"temperature_c": 17, "conditions": "partly cloudy", "wind_kph": 11}',
    "[screenshot 1280x800: browser window showing a login form with fields 'Email' and 'Password']",
]


def pick(items: list[str], key: int) -> str:
    """A deterministic pick from ``items`` by an integer key (spread by a hash)."""
    return items[(key * 2654435761 + 12345) % len(items)]
