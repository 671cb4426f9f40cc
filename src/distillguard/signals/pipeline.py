"""The per-exchange signal pipeline: enrichment + registered detectors.

``compute_signals`` maps one exchange record batch (:data:`EXCHANGE_SCHEMA`) to one
signal batch (:data:`SIGNAL_SCHEMA`); ``signals_for_exchange`` runs the very same code
on one exchange (the online path); ``materialise`` streams the store through it into
the ``exchange_signals`` table that per-account features read.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ..enrich import CLIENT_FIELDS, IP_FIELDS, ClientFingerprinter, IpEnricher
from ..resources import shared_data_dir
from ..schema import EXCHANGE_SCHEMA
from ..store import ROW_GROUP_ROWS, Store, bulk_write_settings
from ._hashing import hash_one
from .capability import CapabilityDetector
from .elicitation import ElicitationDetector
from .registry import ExchangeView, Registry
from .shape import ShapeDetector
from .template import MIN_SUPPORT, TemplateDetector, TemplateVocabulary, key_texts

__all__ = [
    "PASSTHROUGH",
    "SIGNALS_TABLE",
    "SIGNAL_SCHEMA",
    "SignalContext",
    "compute_signals",
    "default_registry",
    "materialise",
    "signal_schema",
    "signals_for_exchange",
]

#: Name of the table ``materialise`` writes in the store.
SIGNALS_TABLE = "exchange_signals"

#: Exchange columns copied unchanged into the signal table (identity + what features need;
#: everything else stays in ``exchanges``, joinable by ``exchange_id``).
PASSTHROUGH = (
    "exchange_id",
    "account_id",
    "timestamp",
    "access_path",
    "model",
    "client_ip",
    "n_user_turns",
    "n_assistant_turns",
    "has_tool_results",
    "n_tools",
    "thinking_budget",
    "reasoning_effort",
    "n_choices",
    "status",
    "stop_kind",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def default_registry(templates: TemplateVocabulary | None = None) -> Registry:
    """The built-in detectors, in run order (``templates``: a learned vocabulary)."""
    return Registry(
        [
            CapabilityDetector(),
            ElicitationDetector(),
            TemplateDetector(templates),
            ShapeDetector(),
        ]
    )


def _field(name: str, typ: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, typ, metadata={"doc": doc})


def signal_schema(registry: Registry | None = None) -> pa.Schema:
    """The signal schema for a registry: passthrough, enrichment, client, detectors."""
    reg = registry or default_registry()
    fields = [EXCHANGE_SCHEMA.field(n) for n in PASSTHROUGH]
    fields += [_field(n, t, d) for n, (t, d) in IP_FIELDS.items()]
    fields += [_field(n, t, d) for n, (t, d) in CLIENT_FIELDS.items()]
    fields += [_field(n, t, d) for n, (t, d) in reg.fields().items()]
    return pa.schema(fields)


#: The signal table of the built-in pipeline; every column's meaning is in its ``doc``.
SIGNAL_SCHEMA = signal_schema()


@dataclass
class SignalContext:
    """What the pipeline needs loaded once: enrichers and the detector registry."""

    ip: IpEnricher
    client: ClientFingerprinter = field(default_factory=ClientFingerprinter)
    registry: Registry = field(default_factory=default_registry)

    @classmethod
    def default(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        cidr_files: Sequence[str | os.PathLike[str]] = (),
        mmdb: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        use_shared_data: bool = True,
    ) -> SignalContext:
        """Build the enrichers once.

        ``data_dir``: folder of network lists (``shared/data`` layout); when ``None`` and
        ``use_shared_data``, the shared data folder is used if one is found
        (``DISTILLGUARD_DATA=none`` turns that off). ``cidr_files``: extra
        ``kind[:provider]=path`` lists. ``mmdb``: MaxMind database file(s).
        """
        if data_dir is None and use_shared_data:
            shared = shared_data_dir()
            if shared is not None and (shared / "network").is_dir():
                data_dir = shared / "network"
        return cls(ip=IpEnricher.default(data_dir, cidr_files, mmdb))

    @property
    def templates(self) -> TemplateVocabulary:
        """The template vocabulary the template detector resolves ids with."""
        for det in self.registry:
            if isinstance(det, TemplateDetector):
                return det.vocabulary
        return TemplateVocabulary()

    def use_templates(self, vocabulary: TemplateVocabulary) -> SignalContext:
        """Resolve template ids with ``vocabulary`` from now on (e.g. loaded from a store)."""
        mine = self.templates
        mine.support = dict(vocabulary.support)
        mine.canonical = dict(vocabulary.canonical)
        mine.texts = dict(vocabulary.texts)
        return self

    @property
    def schema(self) -> pa.Schema:
        """Signal schema this context produces (cached per registry content)."""
        key = tuple(self.registry.names)
        cached = getattr(self, "_schema_cache", None)
        if cached is None or cached[0] != key:
            schema = signal_schema(self.registry)
            cached = (key, schema, tuple(schema.names))
            object.__setattr__(self, "_schema_cache", cached)
        return cached[1]

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the signal columns, in order."""
        self.schema  # noqa: B018 - refreshes the cache
        return self._schema_cache[2]  # type: ignore[attr-defined]


def compute_signals(batch: pa.RecordBatch | pa.Table, ctx: SignalContext) -> pa.RecordBatch:
    """Signals for every exchange of ``batch`` (exchange schema columns; extra ignored)."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else _empty(batch)
    missing = [n for n in EXCHANGE_SCHEMA.names if n not in batch.schema.names]
    if missing:
        from ..errors import InputError

        raise InputError("schema", f"exchange batch lacks columns {missing}", field=missing[0])
    cols: dict[str, pa.Array] = {n: batch.column(n) for n in PASSTHROUGH}
    cols.update(ctx.ip.enrich(batch.column("client_ip")))
    cols.update(ctx.client.fingerprint(batch.column("user_agent"), batch.column("client_headers")))
    cols.update(ctx.registry.analyze(ExchangeView(batch)))
    schema = ctx.schema
    arrays = [
        cols[f.name] if cols[f.name].type == f.type else cols[f.name].cast(f.type) for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _empty(tbl: pa.Table) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=tbl.schema)


def signals_for_exchange(row: dict[str, Any], ctx: SignalContext) -> dict[str, Any]:
    """Signals of one canonical exchange dict; equal to its row of :func:`compute_signals`.

    Runs each detector's scalar path (the same rules, patterns and hashes applied to one
    exchange; a detector without one runs on a one-row batch), so the online path costs
    microseconds, not a batch's fixed overhead.
    """
    out: dict[str, Any] = {n: row.get(n) for n in PASSTHROUGH}
    out["timestamp"] = _utc_ms(out["timestamp"])
    out.update(ctx.ip.enrich_one(row.get("client_ip")))
    out.update(ctx.client.fingerprint_one(row.get("user_agent"), row.get("client_headers")))
    out.update(ctx.registry.analyze_one(row))
    return {name: out[name] for name in ctx.field_names}


def _utc_ms(ts: Any) -> Any:
    """A timestamp as the batch path returns it: UTC, millisecond precision."""
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts.astimezone(UTC).replace(microsecond=ts.microsecond // 1000 * 1000)
    if isinstance(ts, int | float):
        return datetime.fromtimestamp(int(ts) / 1000, tz=UTC)
    return ts


def _key_texts(store: Store, exchange_ids: Iterable[str]) -> dict[str, str]:
    """Template key hash -> key text, recomputed from these exchanges' prompts."""
    ids = pa.table({"exchange_id": pa.array(list(exchange_ids), pa.string())})
    cur = store.con.cursor()
    try:
        cur.register("_kt_ids", ids)
        texts = cur.execute(
            "SELECT last_user_text FROM exchanges JOIN _kt_ids USING (exchange_id) "
            "WHERE last_user_text IS NOT NULL"
        ).fetchall()
    finally:
        cur.close()
    out: dict[str, str] = {}
    for (text,) in texts:
        for key_text in key_texts(text):
            h = hash_one(key_text)
            if h is not None:
                out[h] = key_text
    return out


def materialise(
    store: Store,
    ctx: SignalContext,
    progress: Callable[[int, int], None] | None = None,
    *,
    batch_size: int = 65_536,
    workers: int = 2,
) -> int:
    """Compute signals for every exchange in ``store`` into table ``exchange_signals``.

    Streams batches; replaces the table on re-run (idempotent). Then learns the
    template vocabulary of the corpus (saved as table ``template_vocabulary``, and set on
    ``ctx`` so later single-event calls agree) and resolves ``template_id`` with it.
    ``progress(done, total)`` is called after each batch; ``workers`` threads compute
    batches. Returns rows written.
    """
    total = store.count("exchanges")
    schema = ctx.schema
    con = store.con
    tmp = f"{SIGNALS_TABLE}__new"
    con.execute(f"DROP TABLE IF EXISTS {tmp}")
    con.register("_sig_empty", schema.empty_table())
    con.execute(f"CREATE TABLE {tmp} AS SELECT * FROM _sig_empty")
    con.unregister("_sig_empty")
    ctx.use_templates(TemplateVocabulary())  # pass 1: every template id is its frame
    # read on a second cursor: a statement on the same connection would end the stream.
    # Batches are computed on ``workers`` threads (Arrow's kernels and DuckDB release the
    # GIL, so one batch's regex kernels overlap another's Python work) and written in order.
    reader = con.cursor()
    done = 0
    pending: deque[Future[pa.RecordBatch]] = deque()

    def write(sig: pa.RecordBatch) -> None:
        nonlocal done
        at = 0
        while at < sig.num_rows:
            # commit exactly at whole DuckDB row groups (see ingest.writer.append_all)
            take = min(sig.num_rows - at, ROW_GROUP_ROWS - done % ROW_GROUP_ROWS)
            con.register("_sig_batch", sig.slice(at, take))
            con.execute(f"INSERT INTO {tmp} SELECT * FROM _sig_batch")
            con.unregister("_sig_batch")
            at += take
            done += take
            if done % ROW_GROUP_ROWS == 0:
                con.execute("COMMIT")
                con.execute("BEGIN")
        if progress is not None:
            progress(done, total)

    # One transaction per whole row group, written with bulk settings: with a commit per
    # batch DuckDB logged each to its WAL and recompressed them all at the checkpoint
    # (15 CPU s per million rows against 5 s this way; the rows are the same); one
    # transaction for the whole table held up to DuckDB's memory limit (3 GB in scan).
    try:
        with bulk_write_settings(con), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            con.execute("BEGIN")
            try:
                stream = reader.execute("SELECT * FROM exchanges").to_arrow_reader(batch_size)
                for batch in stream:
                    pending.append(pool.submit(compute_signals, batch, ctx))
                    if len(pending) > workers:
                        write(pending.popleft().result())
                while pending:
                    write(pending.popleft().result())
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    finally:
        reader.close()
    # learn the corpus's templates, then resolve every template id against them
    vocab = TemplateVocabulary.learn(store, tmp, key_texts=lambda ids: _key_texts(store, ids))
    ctx.use_templates(vocab)
    con.execute("BEGIN")
    vocab.save(store)
    # pass 1 wrote every template id as its frame; rows whose best-supported key is the
    # head or tail change now (joined by row id)
    con.execute(
        f"""UPDATE {tmp} SET template_id = r.tid, templated = true FROM (
                SELECT s.rowid AS rid,
                    CASE WHEN coalesce(h.support, 0) >= coalesce(t.support, 0)
                         THEN s.template_head ELSE s.template_tail END AS tid
                FROM {tmp} s
                LEFT JOIN {TemplateVocabulary.TABLE} f ON f.key = s.template_frame
                LEFT JOIN {TemplateVocabulary.TABLE} h ON h.key = s.template_head
                LEFT JOIN {TemplateVocabulary.TABLE} t ON t.key = s.template_tail
                WHERE greatest(coalesce(h.support, 0), coalesce(t.support, 0))
                      > coalesce(f.support, 0)
                  AND greatest(coalesce(h.support, 0), coalesce(t.support, 0)) >= {MIN_SUPPORT}
            ) r WHERE {tmp}.rowid = r.rid"""
    )
    con.execute(
        f"""UPDATE {tmp} SET templated = true
            WHERE template_frame IN (SELECT key FROM {TemplateVocabulary.TABLE})"""
    )
    # near-duplicate templates carry their cluster's name
    con.execute(
        f"""UPDATE {tmp} SET template_id = v.canonical FROM {TemplateVocabulary.TABLE} v
            WHERE {tmp}.template_id = v.key AND v.canonical <> v.key"""
    )
    con.execute(f"DROP TABLE IF EXISTS {SIGNALS_TABLE}")
    con.execute(f"ALTER TABLE {tmp} RENAME TO {SIGNALS_TABLE}")
    con.execute("COMMIT")
    return done
