"""Per-account behaviour features, computed in DuckDB over ``exchange_signals``.

One SQL query (several CTEs) aggregates the signal table per account and joins the
account registry, so it streams and scales with DuckDB rather than Python. The same
definitions are kept online by :class:`distillguard.features.OnlineAccountState`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from ..errors import InputError
from ..schema import VERIFICATION_LEVELS
from ..signals import CAPABILITIES, SIGNALS_TABLE
from ..store import Store
from .timezones import COUNTRY_UTC_OFFSET

__all__ = [
    "CAPABILITY_LABELS",
    "FEATURE_COLUMNS",
    "FEATURE_DOCS",
    "account_daily",
    "account_features",
    "read_release_times",
]

#: Capability labels counted per account (the capabilities plus ``general``).
CAPABILITY_LABELS = (*CAPABILITIES, "general")

#: Numeric features (model inputs) with their meaning. Nulls mean "not measurable".
FEATURE_DOCS: dict[str, str] = {
    "n_exchanges": "Exchanges over the whole span.",
    "active_days": "Distinct UTC days with traffic.",
    "span_days": "Days from first to last exchange.",
    "exchanges_per_active_day": "Mean exchanges per active day.",
    "peak_day_exchanges": "Most exchanges in one UTC day.",
    "peak_day_output_tokens": "Most output tokens in one UTC day.",
    "input_tokens": "Prompt tokens billed.",
    "output_tokens": "Generated tokens billed.",
    "reasoning_tokens": "Reasoning tokens billed.",
    "output_input_ratio": "Output tokens / input tokens (harvesting asks short, takes long).",
    "mean_output_tokens": "Mean output tokens per exchange.",
    "single_turn_share": "Share of exchanges with one user turn and no prior answers.",
    "tool_share": "Share of exchanges declaring tools.",
    "length_stop_share": "Share of answers cut at the output cap.",
    "error_share": "Share of exchanges with HTTP status >= 400.",
    "mean_n_choices": "Mean completions requested per call.",
    "thinking_share": "Share requesting a thinking budget or reasoning effort.",
    "hour_entropy": "Entropy of the UTC hour-of-day histogram / log 24 (1 = round the clock).",
    "local_night_share": "Share sent 00:00-05:59 in the billing country's time zone.",
    "local_work_share": "Share sent 09:00-17:59 in the billing country's time zone.",
    "iat_mean_s": "Mean seconds between consecutive exchanges.",
    "iat_cv": "Coefficient of variation of inter-arrival times (low = machine-regular).",
    "iat_entropy": "Entropy of log2-binned inter-arrival times / log 24 (low = regular).",
    "distinct_ips": "Distinct client addresses.",
    "distinct_prefixes": "Distinct /24 (IPv4) or /48 (IPv6) networks.",
    "distinct_asns": "Distinct autonomous systems.",
    "ip_churn": "Distinct addresses per exchange.",
    "hosting_share": "Share from hosting / cloud address space.",
    "anon_share": "Share from VPN, Tor or open-proxy addresses.",
    "country_mismatch_share": "Share whose address country differs from the billing country.",
    "distinct_client_fps": "Distinct client fingerprints.",
    **{f"cap_share_{c}": f"Share of labelled exchanges targeting {c}." for c in CAPABILITY_LABELS},
    "capability_entropy": "Entropy of the capability label mix / log 8 (low = concentrated).",
    "capability_top_share": "Share of the most frequent capability label.",
    "elicitation_share": "Share eliciting reasoning (step by step, hidden reasoning, budgets).",
    "hidden_reasoning_share": "Share asking for hidden / internal reasoning.",
    "judge_share": "Share using the model as a judge / grader.",
    "mean_elicitation_score": "Mean elicitation score.",
    "distinct_templates": "Distinct template ids.",
    "template_top_share": "Share of prompts using the account's most common template.",
    "templated_share": "Share of prompts that follow a template of the corpus.",
    "distinct_prompt_share": "Distinct prompts / prompts (1 = never repeats itself).",
    "prompt_once_share": "Share of prompts the account asked exactly once (dataset sweep).",
    "shape_top_share": "Share of exchanges with the account's most common request shape.",
    "release_lag_hours": "Hours from a new model's first appearance to the account's first use.",
    "new_model_share_72h": "Share of the account's traffic on a new model in its first 72 h.",
    "account_age_days": "Days from account creation to first exchange.",
    "verification_level": "Index of the verification level: none=0 ... kyb=5.",
}

#: Numeric model inputs, in a fixed order.
FEATURE_COLUMNS: tuple[str, ...] = tuple(FEATURE_DOCS)

_CAT = ", ".join(
    f"sum((capability = '{c}')::INT) / nullif(count(capability), 0) AS cap_share_{c}"
    for c in CAPABILITY_LABELS
)

_SQL = f"""
WITH sig AS (
    SELECT s.*, epoch_ms(s.timestamp) AS ts_ms, epoch_ms(s.timestamp) // 86400000 AS day,
           (epoch_ms(s.timestamp) // 3600000) % 24 AS utc_hour
    FROM {SIGNALS_TABLE} s
),
base AS (
    SELECT account_id,
        count(*) AS n_exchanges,
        count(DISTINCT day) AS active_days,
        (max(ts_ms) - min(ts_ms)) / 86400000.0 AS span_days,
        min(timestamp) AS first_seen, max(timestamp) AS last_seen,
        sum(coalesce(input_tokens, 0)) AS input_tokens,
        sum(coalesce(output_tokens, 0)) AS output_tokens,
        sum(coalesce(reasoning_tokens, 0)) AS reasoning_tokens,
        avg(output_tokens) AS mean_output_tokens,
        avg((coalesce(n_user_turns, 1) <= 1 AND coalesce(n_assistant_turns, 0) = 0)::INT)
            AS single_turn_share,
        avg((coalesce(n_tools, 0) > 0)::INT) AS tool_share,
        avg((stop_kind = 'length')::INT) AS length_stop_share,
        avg((coalesce(status, 200) >= 400)::INT) AS error_share,
        avg(coalesce(n_choices, 1)) AS mean_n_choices,
        avg((coalesce(thinking_budget, 0) > 0 OR reasoning_effort IS NOT NULL)::INT)
            AS thinking_share,
        count(DISTINCT client_ip) AS distinct_ips,
        count(DISTINCT ip_prefix) AS distinct_prefixes,
        count(DISTINCT coalesce(asn::VARCHAR, asn_org)) AS distinct_asns,
        avg(is_hosting::INT) AS hosting_share,
        avg((is_vpn OR is_tor OR is_proxy)::INT) AS anon_share,
        count(DISTINCT client_fp) AS distinct_client_fps,
        {_CAT},
        avg(elicits_reasoning::INT) AS elicitation_share,
        avg(hidden_reasoning::INT) AS hidden_reasoning_share,
        avg(judge_prompt::INT) AS judge_share,
        avg(elicitation_score) AS mean_elicitation_score,
        count(DISTINCT template_id) AS distinct_templates,
        count(prompt_hash) AS n_prompts,
        sum(templated::INT) AS n_templated,
        count(DISTINCT prompt_hash) AS n_distinct_prompts
    FROM sig GROUP BY account_id
),
daily AS (
    SELECT account_id, max(n) AS peak_day_exchanges, max(tok) AS peak_day_output_tokens
    FROM (SELECT account_id, day, count(*) AS n, sum(coalesce(output_tokens, 0)) AS tok
          FROM sig GROUP BY account_id, day) GROUP BY account_id
),
hours AS (
    SELECT account_id, -sum(p * ln(p)) / ln(24) AS hour_entropy
    FROM (SELECT account_id, count(*) / sum(count(*)) OVER (PARTITION BY account_id) AS p
          FROM sig GROUP BY account_id, utc_hour) GROUP BY account_id
),
local AS (
    SELECT sig.account_id,
        avg((((sig.ts_ms // 60000 + CAST(o.offset_h * 60 AS BIGINT)) // 60) % 24 < 6)::INT)
            AS local_night_share,
        avg((((sig.ts_ms // 60000 + CAST(o.offset_h * 60 AS BIGINT)) // 60) % 24
             BETWEEN 9 AND 17)::INT) AS local_work_share
    FROM sig JOIN accounts a USING (account_id)
    JOIN _country_offsets o ON o.country = a.billing_country
    GROUP BY sig.account_id
),
gaps AS (
    SELECT account_id,
        (ts_ms - lag(ts_ms) OVER (PARTITION BY account_id ORDER BY ts_ms, exchange_id)) / 1000.0
            AS gap
    FROM sig
),
iat AS (
    SELECT account_id, avg(gap) AS iat_mean_s,
        stddev_pop(gap) / nullif(avg(gap), 0) AS iat_cv
    FROM gaps WHERE gap IS NOT NULL GROUP BY account_id
),
iat_bins AS (
    SELECT account_id, -sum(p * ln(p)) / ln(24) AS iat_entropy
    FROM (SELECT account_id,
                 count(*) / sum(count(*)) OVER (PARTITION BY account_id) AS p
          FROM gaps WHERE gap IS NOT NULL
          GROUP BY account_id, least(23, floor(log2(gap + 1)))) GROUP BY account_id
),
caps AS (
    SELECT account_id, -sum(p * ln(p)) / ln(8) AS capability_entropy,
        max(p) AS capability_top_share,
        arg_max(capability, p) AS top_capability
    FROM (SELECT account_id, capability,
                 count(*) / sum(count(*)) OVER (PARTITION BY account_id) AS p
          FROM sig WHERE capability IS NOT NULL GROUP BY account_id, capability)
    GROUP BY account_id
),
tmpl AS (
    SELECT account_id, max(n) / sum(n) AS template_top_share
    FROM (SELECT account_id, template_id, count(*) AS n FROM sig
          WHERE template_id IS NOT NULL GROUP BY account_id, template_id)
    GROUP BY account_id
),
once AS (
    SELECT account_id, sum(CASE WHEN n = 1 THEN 1 ELSE 0 END) / sum(n) AS prompt_once_share
    FROM (SELECT account_id, prompt_hash, count(*) AS n FROM sig
          WHERE prompt_hash IS NOT NULL GROUP BY account_id, prompt_hash)
    GROUP BY account_id
),
shape AS (
    SELECT account_id, max(n) / sum(n) AS shape_top_share
    FROM (SELECT account_id, shape_fp, count(*) AS n FROM sig GROUP BY account_id, shape_fp)
    GROUP BY account_id
),
country AS (
    SELECT sig.account_id,
        avg((sig.country IS DISTINCT FROM a.billing_country)::INT) AS country_mismatch_share
    FROM sig JOIN accounts a USING (account_id)
    WHERE sig.country IS NOT NULL AND a.billing_country IS NOT NULL
    GROUP BY sig.account_id
),
releases AS (SELECT * FROM _releases),
first_use AS (
    SELECT sig.account_id, min((min_ts - r.release_ms) / 3600000.0) AS release_lag_hours
    FROM (SELECT account_id, model_family, min(ts_ms) AS min_ts FROM sig
          GROUP BY account_id, model_family) sig
    JOIN releases r ON r.model_family = sig.model_family
    GROUP BY sig.account_id
),
window_share AS (
    SELECT account_id, max(share) AS new_model_share_72h FROM (
        SELECT sig.account_id, r.model_family,
            avg((sig.model_family = r.model_family)::INT) AS share
        FROM sig JOIN releases r
          ON sig.ts_ms >= r.release_ms AND sig.ts_ms < r.release_ms + 72 * 3600000
        GROUP BY sig.account_id, r.model_family)
    GROUP BY account_id
)
SELECT base.account_id,
    base.* EXCLUDE (account_id, first_seen, last_seen, n_prompts, n_distinct_prompts,
                    n_templated),
    base.n_templated / nullif(base.n_prompts, 0) AS templated_share,
    base.n_exchanges / nullif(base.active_days, 0) AS exchanges_per_active_day,
    daily.peak_day_exchanges, daily.peak_day_output_tokens,
    base.output_tokens / nullif(base.input_tokens, 0) AS output_input_ratio,
    hours.hour_entropy, local.local_night_share, local.local_work_share,
    iat.iat_mean_s, iat.iat_cv, iat_bins.iat_entropy,
    base.distinct_ips / base.n_exchanges AS ip_churn,
    country.country_mismatch_share,
    caps.capability_entropy, caps.capability_top_share, caps.top_capability,
    tmpl.template_top_share,
    base.n_distinct_prompts / nullif(base.n_prompts, 0) AS distinct_prompt_share,
    once.prompt_once_share,
    shape.shape_top_share,
    first_use.release_lag_hours, window_share.new_model_share_72h,
    date_diff('second', a.created_at, base.first_seen) / 86400.0 AS account_age_days,
    list_position({list(VERIFICATION_LEVELS)!r}, a.verification) - 1 AS verification_level,
    a.account_type, a.verification, a.billing_country, a.status,
    base.first_seen, base.last_seen
FROM base
LEFT JOIN daily USING (account_id)
LEFT JOIN hours USING (account_id)
LEFT JOIN local USING (account_id)
LEFT JOIN iat USING (account_id)
LEFT JOIN iat_bins USING (account_id)
LEFT JOIN caps USING (account_id)
LEFT JOIN tmpl USING (account_id)
LEFT JOIN once USING (account_id)
LEFT JOIN shape USING (account_id)
LEFT JOIN country USING (account_id)
LEFT JOIN first_use USING (account_id)
LEFT JOIN window_share USING (account_id)
LEFT JOIN accounts a USING (account_id)
ORDER BY base.account_id
"""


def _release_table(store: Store, release_times: dict[str, datetime] | None) -> pa.Table:
    if release_times is not None:
        from ..signals.shape import model_family

        fams = model_family(pa.array(list(release_times), pa.string())).to_pylist()
        ms = [int(t.timestamp() * 1000) for t in release_times.values()]
        return pa.table(
            {"model_family": pa.array(fams, pa.string()), "release_ms": pa.array(ms, pa.int64())}
        )
    # a model first seen more than a day after the log starts counts as released then
    return store.query(
        f"""SELECT model_family, min(epoch_ms(timestamp)) AS release_ms
            FROM {SIGNALS_TABLE} WHERE model_family IS NOT NULL GROUP BY model_family
            HAVING min(epoch_ms(timestamp)) >
                   (SELECT min(epoch_ms(timestamp)) FROM {SIGNALS_TABLE}) + 86400000"""
    )


def account_features(store: Store, release_times: dict[str, datetime] | None = None) -> pa.Table:
    """One row per account seen in ``exchange_signals`` with :data:`FEATURE_COLUMNS`.

    Also carries ``top_capability``, ``account_type``, ``verification``,
    ``billing_country``, ``status``, ``first_seen`` and ``last_seen``. ``release_times``
    maps model names to release instants; by default a model family first seen more
    than a day into the log counts as released at its first appearance.
    """
    offsets = pa.table(
        {
            "country": pa.array(list(COUNTRY_UTC_OFFSET), pa.string()),
            "offset_h": pa.array(list(COUNTRY_UTC_OFFSET.values()), pa.float64()),
        }
    )
    con = store.con
    con.register("_country_offsets", offsets)
    con.register("_releases", _release_table(store, release_times))
    try:
        tbl = con.execute(_SQL).to_arrow_table()
    finally:
        con.unregister("_country_offsets")
        con.unregister("_releases")
    front = ["account_id", *FEATURE_COLUMNS]
    rest = [c for c in tbl.column_names if c not in front]
    tbl = tbl.select(front + rest)
    return tbl.cast(
        pa.schema(
            [pa.field(f.name, pa.float64()) if f.name in FEATURE_DOCS else f for f in tbl.schema]
        )
    )


def read_release_times(path: str | Path) -> dict[str, datetime]:
    """Model release instants from a JSON file: ``[{"model": ..., "released_at": ...}]``
    (RFC 3339) or ``{"model": "released_at", ...}``; errors name the file and entry."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise InputError("unreadable", str(exc), file=str(p)) from exc
    items = list(doc.items()) if isinstance(doc, dict) else doc
    out: dict[str, datetime] = {}
    for i, item in enumerate(items, 1):
        try:
            model, when = (item["model"], item["released_at"]) if isinstance(item, dict) else item
            ts = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                "bad-release", repr(exc), file=str(p), line=i, field="released_at"
            ) from exc
        out[str(model)] = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return out


def account_daily(store: Store) -> pa.Table:
    """Per account and UTC day: volume, tokens, addresses, elicitation and top capability."""
    return store.query(
        f"""SELECT account_id,
                   DATE '1970-01-01' + CAST(epoch_ms(timestamp) // 86400000 AS INTEGER) AS day,
                   count(*) AS n_exchanges,
                   sum(coalesce(input_tokens, 0)) AS input_tokens,
                   sum(coalesce(output_tokens, 0)) AS output_tokens,
                   count(DISTINCT client_ip) AS distinct_ips,
                   avg(is_hosting::INT) AS hosting_share,
                   avg(elicits_reasoning::INT) AS elicitation_share,
                   mode(capability) AS top_capability,
                   count(DISTINCT template_id) AS distinct_templates
            FROM {SIGNALS_TABLE} GROUP BY ALL ORDER BY account_id, day"""
    )
