"""The canonical tables: one Arrow schema for an exchange and one for an account.

Every reader (native export, LiteLLM, OpenTelemetry) maps its records onto
:data:`EXCHANGE_SCHEMA`; every later stage (enrichment, signals, features, links,
scoring, the online decision path) reads only these columns and never asks which
log format a record came from. The meaning of each field is written next to it,
in the field's Arrow metadata (``doc``), so ``distillguard`` can print it and the
store can carry it as column comments.

Conventions
-----------
* Text columns hold what the *request* said, bounded: each text is cut to
  :data:`MAX_TEXT_CHARS` characters (the cut is recorded in ``text_truncated``), so a
  hostile record can never blow up a batch.
* Missing optional values are null, never a sentinel like ``-1`` or ``""``.
* Token counts follow the provider's own usage block; OpenAI ``prompt_tokens`` and
  ``completion_tokens`` map to ``input_tokens`` and ``output_tokens``.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "ACCESS_PATHS",
    "ACCOUNT_SCHEMA",
    "ACCOUNT_TYPES",
    "APIS",
    "EXCHANGE_SCHEMA",
    "MAX_TEXT_CHARS",
    "SCHEMA_VERSION",
    "STOP_KINDS",
    "VERIFICATION_LEVELS",
    "describe",
    "empty_accounts",
    "empty_exchanges",
]

#: Bumped whenever a column is added, removed or changes meaning; stored with the data.
SCHEMA_VERSION = 1

#: Longest text kept per text column; longer texts are cut and flagged.
MAX_TEXT_CHARS = 32_768

#: The APIs whose request bodies the readers understand.
APIS = ("anthropic.messages", "openai.chat_completions")

#: ``access_path`` values; ``cloud:<platform>`` is open-ended (``cloud:aws``, ``cloud:gcp``...).
ACCESS_PATHS = ("api", "console", "cloud:")

#: Normalised stop reasons (``stop_kind``) shared by both APIs.
STOP_KINDS = ("end", "length", "tool", "stop_sequence", "other")

#: ``account_type`` values of the account registry.
ACCOUNT_TYPES = ("individual", "startup", "research", "education", "enterprise")

#: ``verification`` values, weakest first.
VERIFICATION_LEVELS = ("none", "email", "phone", "card", "id", "kyb")


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


_TS = pa.timestamp("ms", tz="UTC")

EXCHANGE_SCHEMA = pa.schema(
    [
        # identity and provenance
        _f("exchange_id", pa.string(), "Unique id of the API exchange (the log's `id`).", False),
        _f("timestamp", _TS, "When the request reached the provider, UTC.", False),
        _f("account_id", pa.string(), "Billing account charged for the exchange.", False),
        _f("org_id", pa.string(), "Organisation the account belongs to, if any."),
        _f("api_key_id", pa.string(), "API key used, if logged."),
        _f(
            "access_path",
            pa.string(),
            "`api`, `console`, or `cloud:<platform>` when a reselling cloud platform relayed it.",
        ),
        _f(
            "end_user_id",
            pa.string(),
            "End-user id the caller passed (Anthropic metadata.user_id, "
            "OpenAI safety_identifier / user, LiteLLM end_user, OTel enduser.id).",
        ),
        # client
        _f(
            "client_ip",
            pa.string(),
            "Address that reached the provider (platform egress for cloud:*).",
        ),
        _f("user_agent", pa.string(), "User-Agent header as received."),
        _f(
            "client_headers",
            pa.string(),
            "Non-sensitive request headers as a JSON object, keys lower-cased and sorted.",
        ),
        # request
        _f("api", pa.string(), "`anthropic.messages` or `openai.chat_completions`."),
        _f("model", pa.string(), "Model requested."),
        _f(
            "prompt_redacted",
            pa.bool_(),
            "True when the log withheld prompt text (hashes only or absent).",
        ),
        _f(
            "system_text",
            pa.string(),
            "Text of the system prompt (Anthropic `system` or OpenAI system/developer turns).",
        ),
        _f("user_text", pa.string(), "Text of all user turns, in order, joined by blank lines."),
        _f("last_user_text", pa.string(), "Text of the last user turn: what this exchange asks."),
        _f("text_truncated", pa.bool_(), "True when a text column was cut to MAX_TEXT_CHARS."),
        _f("n_messages", pa.int32(), "Number of messages in the request (system turns excluded)."),
        _f("n_user_turns", pa.int32(), "Number of user turns."),
        _f("n_assistant_turns", pa.int32(), "Number of assistant turns (prior answers sent back)."),
        _f(
            "has_tool_results",
            pa.bool_(),
            "True when the request carries tool results (tool_result blocks / tool role).",
        ),
        _f("n_tools", pa.int32(), "Number of tools declared."),
        _f("tool_names", pa.list_(pa.string()), "Names of the tools declared, in order."),
        _f(
            "tools_hash",
            pa.string(),
            "Hash of the canonical JSON of the tool declarations (null when none).",
        ),
        _f(
            "tool_choice",
            pa.string(),
            "Tool choice mode (`auto`, `any`, `none`, `required`, or `tool:<name>`).",
        ),
        _f(
            "max_tokens",
            pa.int64(),
            "Output token cap requested (max_tokens / max_completion_tokens).",
        ),
        _f("thinking_enabled", pa.bool_(), "Anthropic extended thinking requested."),
        _f("thinking_budget", pa.int64(), "Anthropic thinking budget_tokens."),
        _f("reasoning_effort", pa.string(), "OpenAI reasoning_effort (`minimal`..`high`)."),
        _f("n_choices", pa.int32(), "Completions requested per call (OpenAI `n`); 1 when absent."),
        _f("temperature", pa.float64(), "Sampling temperature."),
        _f("top_p", pa.float64(), "Nucleus sampling parameter."),
        _f("seed", pa.int64(), "Sampling seed requested."),
        _f("logprobs", pa.bool_(), "Log-probabilities requested."),
        _f("top_logprobs", pa.int32(), "Number of top log-probabilities requested."),
        _f("stream", pa.bool_(), "Streaming requested."),
        _f(
            "response_format",
            pa.string(),
            "OpenAI response_format type (`text`, `json_object`, `json_schema`).",
        ),
        _f("n_stop_sequences", pa.int32(), "Number of stop sequences declared."),
        # response
        _f("status", pa.int32(), "HTTP status returned."),
        _f("stop_reason", pa.string(), "Stop reason exactly as the API reported it."),
        _f(
            "stop_kind",
            pa.string(),
            "Normalised stop reason: end, length, tool, stop_sequence, other.",
        ),
        _f(
            "input_tokens",
            pa.int64(),
            "Prompt tokens billed (Anthropic input_tokens / OpenAI prompt_tokens).",
        ),
        _f(
            "output_tokens",
            pa.int64(),
            "Generated tokens billed (output_tokens / completion_tokens).",
        ),
        _f(
            "reasoning_tokens",
            pa.int64(),
            "Reasoning tokens among the output (OpenAI completion_tokens_details).",
        ),
        _f("cache_read_tokens", pa.int64(), "Prompt tokens served from cache."),
        _f("latency_ms", pa.float64(), "Time to full response, milliseconds."),
        _f("response_text", pa.string(), "Generated text when the provider logs it."),
        # provenance
        _f("source_file", pa.string(), "File the record was read from."),
        _f(
            "source_line",
            pa.int64(),
            "Line (JSON Lines) or row (Parquet) within that file, 1-based.",
        ),
    ]
)

ACCOUNT_SCHEMA = pa.schema(
    [
        _f("account_id", pa.string(), "Billing account id.", False),
        _f("org_id", pa.string(), "Organisation, if any."),
        _f("created_at", _TS, "When the account was created."),
        _f("account_type", pa.string(), "individual, startup, research, education or enterprise."),
        _f("email_domain", pa.string(), "Domain of the sign-up e-mail, never the address."),
        _f(
            "payment_fingerprint",
            pa.string(),
            "Opaque id of the payment instrument (card fingerprint, invoice or grant id).",
        ),
        _f("billing_country", pa.string(), "ISO 3166-1 alpha-2 country of billing."),
        _f(
            "verification",
            pa.string(),
            "Strongest check passed: none, email, phone, card, id, kyb.",
        ),
        _f("status", pa.string(), "active, suspended or banned."),
        _f("status_changed_at", _TS, "When the status last changed."),
    ]
)


def empty_exchanges() -> pa.Table:
    """An empty table with the exchange schema (useful as a neutral element)."""
    return EXCHANGE_SCHEMA.empty_table()


def empty_accounts() -> pa.Table:
    """An empty table with the account schema."""
    return ACCOUNT_SCHEMA.empty_table()


def describe(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """Return ``(name, arrow type, meaning)`` for every field of a canonical schema."""
    out = []
    for field in schema:
        meta = field.metadata or {}
        out.append((field.name, str(field.type), meta.get(b"doc", b"").decode()))
    return out
