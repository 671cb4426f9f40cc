"""Per-account numbers the baselines start from, computed from exchange facts with DuckDB.

These are what an operator would compute without distillguard: peak request and token
rates in gateway windows (minute, UTC day) and simple behaviour aggregates (volume,
tokens, output/input ratio, distinct addresses, active hours, single-turn share).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["BEHAVIOUR_FEATURES", "account_behaviour", "account_peaks"]

#: Columns of :func:`account_behaviour`, in order (after ``account_id``).
BEHAVIOUR_FEATURES = (
    "exchanges",
    "input_tokens",
    "output_tokens",
    "mean_output_tokens",
    "output_input_ratio",
    "distinct_ips",
    "distinct_slash24",
    "active_hours_of_day",
    "active_days",
    "exchanges_per_active_day",
    "single_turn_share",
    "distinct_models",
)


def _con(facts: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.register("facts", facts)
    return con


def account_peaks(facts: pa.Table) -> dict[str, np.ndarray]:
    """Per account: peak requests and tokens (input + output) in a clock minute, tokens in a UTC day.

    Fixed clock windows are how gateway counters (per-key RPM / TPM budgets) usually reset.
    Returns arrays ``account_id, rpm, tpm, tpd`` aligned by position.
    """
    con = _con(facts)
    try:
        rows = con.execute(
            """
            WITH m AS (
              SELECT account_id, date_trunc('minute', timestamp) AS w, count(*) AS r,
                     sum(coalesce(input_tokens,0) + coalesce(output_tokens,0)) AS t
              FROM facts GROUP BY 1, 2),
            d AS (
              SELECT account_id, date_trunc('day', timestamp) AS w,
                     sum(coalesce(input_tokens,0) + coalesce(output_tokens,0)) AS t
              FROM facts GROUP BY 1, 2)
            SELECT m.account_id, max(m.r), max(m.t), (SELECT max(t) FROM d WHERE d.account_id = m.account_id)
            FROM m GROUP BY m.account_id ORDER BY m.account_id
            """
        ).fetchall()
    finally:
        con.close()
    return {
        "account_id": np.array([r[0] for r in rows], dtype=object),
        "rpm": np.array([float(r[1]) for r in rows]),
        "tpm": np.array([float(r[2] or 0) for r in rows]),
        "tpd": np.array([float(r[3] or 0) for r in rows]),
    }


def account_behaviour(facts: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Per-account behaviour matrix: (account ids, array of shape (n, len(BEHAVIOUR_FEATURES)))."""
    con = _con(facts)
    try:
        rows = con.execute(
            """
            SELECT account_id,
                   count(*)::DOUBLE,
                   sum(coalesce(input_tokens,0))::DOUBLE,
                   sum(coalesce(output_tokens,0))::DOUBLE,
                   avg(coalesce(output_tokens,0))::DOUBLE,
                   (sum(coalesce(output_tokens,0)) / greatest(sum(coalesce(input_tokens,0)), 1))::DOUBLE,
                   count(DISTINCT client_ip)::DOUBLE,
                   count(DISTINCT regexp_extract(client_ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1))::DOUBLE,
                   count(DISTINCT hour(timestamp))::DOUBLE,
                   count(DISTINCT date_trunc('day', timestamp))::DOUBLE,
                   (count(*) / count(DISTINCT date_trunc('day', timestamp)))::DOUBLE,
                   avg(CASE WHEN coalesce(n_assistant_turns,0) = 0
                             AND NOT coalesce(has_tool_results,false) THEN 1 ELSE 0 END)::DOUBLE,
                   count(DISTINCT model)::DOUBLE
            FROM facts GROUP BY account_id ORDER BY account_id
            """
        ).fetchall()
    finally:
        con.close()
    ids = np.array([r[0] for r in rows], dtype=object)
    x = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), len(BEHAVIOUR_FEATURES))
    return ids, np.nan_to_num(x)
