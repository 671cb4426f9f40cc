"""The per-exchange and per-account facts the edge builders read, as DuckDB views.

When the signals stage has materialised ``exchange_signals`` its columns are used
(network prefix, ASN, network kind, client fingerprint, template id, system-prompt hash);
otherwise the same facts are derived from the raw ``exchanges`` table with plain SQL, so
linkage still works on a store nobody enriched (template ids are then absent).
"""

from __future__ import annotations

import duckdb

__all__ = ["HOSTING_KINDS", "prepare_facts", "table_columns"]

#: ``net_kind`` values that count as hosting-like infrastructure.
HOSTING_KINDS = ("hosting", "cloud", "vpn", "tor", "proxy", "datacenter")


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """Column names of ``table`` in the main schema (empty when it does not exist)."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {r[0] for r in rows}


def _col(cols: set[str], name: str, fallback: str) -> str:
    return f"s.{name}" if name in cols else fallback


def prepare_facts(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Create the temporary views ``link_facts`` and ``link_accounts``.

    ``link_facts`` has one row per exchange: ``account_id, ts, ip, ip24, asn, client_fp,
    template_id, system_hash, shape_fp, hosting``. ``link_accounts`` has one row per account known
    to the registry or seen in the log. Returns which optional facts are available.
    """
    scols = table_columns(con, "exchange_signals")
    ip24_raw = (
        "CASE WHEN e.client_ip LIKE '%.%.%.%' "
        "THEN regexp_replace(e.client_ip, '\\.[0-9]+$', '.0/24') "
        "ELSE regexp_extract(e.client_ip, '^([0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F]*)', 1) || '::/48' END"
    )
    fp_raw = "md5(coalesce(e.user_agent, '') || '|' || coalesce(e.client_headers, ''))"
    sys_raw = "CASE WHEN e.system_text IS NULL OR e.system_text = '' THEN NULL ELSE md5(e.system_text) END"
    if scols:
        hosting = f"(s.net_kind IN {HOSTING_KINDS!r})" if "net_kind" in scols else "FALSE"
        src = "exchange_signals s"
        ip = "s.client_ip"
        if not {"client_ip", "account_id", "timestamp", "client_fp", "system_hash"} <= scols:
            src = "exchanges e JOIN exchange_signals s USING (exchange_id)"
            ip = "e.client_ip"
        ip24 = _col(scols, "ip_prefix", ip24_raw.replace("e.client_ip", ip))
        select = f"""
            SELECT {ip.split(".")[0]}.account_id, {ip.split(".")[0]}.timestamp AS ts, {ip} AS ip,
                   {ip24} AS ip24,
                   {_col(scols, "asn", "NULL::BIGINT")}::BIGINT AS asn,
                   {_col(scols, "client_fp", fp_raw)} AS client_fp,
                   {_col(scols, "template_id", "NULL")}::VARCHAR AS template_id,
                   {_col(scols, "system_hash", sys_raw)} AS system_hash,
                   {_col(scols, "shape_fp", "NULL")}::VARCHAR AS shape_fp,
                   {hosting} AS hosting
            FROM {src}"""
    else:
        select = f"""
            SELECT e.account_id, e.timestamp AS ts, e.client_ip AS ip, {ip24_raw} AS ip24,
                   NULL::BIGINT AS asn, {fp_raw} AS client_fp, NULL::VARCHAR AS template_id,
                   {sys_raw} AS system_hash, NULL::VARCHAR AS shape_fp, FALSE AS hosting
            FROM exchanges e"""
    con.execute(f"CREATE OR REPLACE TEMP VIEW link_facts AS {select}")
    con.execute(
        """CREATE OR REPLACE TEMP VIEW link_accounts AS
           SELECT a.account_id, a.created_at, a.email_domain, a.payment_fingerprint,
                  a.account_type, a.status, a.status_changed_at, a.billing_country
           FROM accounts a
           UNION ALL
           SELECT DISTINCT e.account_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL
           FROM exchanges e ANTI JOIN accounts a USING (account_id)"""
    )
    return {
        "signals": bool(scols),
        "template_id": "template_id" in scols,
        "asn": "asn" in scols,
        "net_kind": "net_kind" in scols,
    }
