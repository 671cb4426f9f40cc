"""The embedded store: one DuckDB file holding exchanges and accounts.

Ingestion appends Arrow batches; an exchange id already present is skipped, so
re-ingesting a file (or an overlapping one) never duplicates anything. Accounts are
upserted. Each append is one transaction: a crash mid-ingest leaves what was
committed and nothing half-written.

Bulk ingestion (:meth:`Store.bulk_append`) appends batches as they are, then removes
repeated ids once at the end of the run with one hash aggregate over the ids: the
per-batch anti-join hashes every stored id again for each batch, which grows with the
square of the log (hours at 20 million exchanges). A ``dedupe_pending`` mark in
``meta``, committed before the first batch, makes the next writable open finish the
job when a run died in between, so a crash still leaves a store without repeats. Later stages read through :meth:`Store.query`
and :meth:`Store.iter_batches`, which stream, so the log never has to fit in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .errors import StoreError
from .schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA, SCHEMA_VERSION

__all__ = ["DEFAULT_STORE", "BulkAppend", "Store", "bulk_write_settings"]

#: WAL size that triggers a checkpoint (DuckDB's default of 16 MB checkpoints every append).
CHECKPOINT_THRESHOLD = "256MB"

#: Default store location, under the user's working directory.
DEFAULT_STORE = Path(".distillguard") / "store.duckdb"

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.timestamp("ms", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
}


def _ddl(name: str, schema: pa.Schema, key: str) -> str:
    cols = []
    for f in schema:
        t = _DUCK_TYPES[f.type]
        null = "" if f.nullable else " NOT NULL"
        pk = " PRIMARY KEY" if f.name == key else ""
        cols.append(f'"{f.name}" {t}{null}{pk}')
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})"


def _insert_sql(tbl: pa.Table) -> str:
    """INSERT for a batch; the (costly) in-batch dedup window only when ids repeat.

    Idempotence comes from an anti-join on ``exchange_id`` rather than a primary-key
    index: DuckDB keeps an ART index in memory and it grows with every exchange ever
    stored, while the anti-join is a vectorised hash join over the incoming batch
    whose memory is bounded by the batch (and cost half the CPU in our measurement).
    """
    new_only = (
        "INSERT INTO exchanges SELECT * FROM _incoming "
        "WHERE exchange_id NOT IN (SELECT exchange_id FROM exchanges)"
    )
    ids = tbl.column("exchange_id")
    if pc.count_distinct(ids).as_py() == len(ids):
        return new_only
    return new_only + " QUALIFY row_number() OVER (PARTITION BY exchange_id) = 1"


@contextmanager
def bulk_write_settings(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB settings for writing a large table, restored afterwards.

    One thread: DuckDB's parallel append of Arrow data cost 1.7x the CPU of a single
    thread here (7.4 vs 12.6 CPU s for the million-row signal table) and, while worker
    processes or threads compute the rows, the cores are theirs. No FSST string
    compression: its analysis cost 0.8 to 2 CPU s per million rows for 2-3% smaller
    files on our logs (ids, hashes and codes barely compress with it; dictionary and
    the other methods still apply). The values stored are the same either way.
    """
    saved = {
        k: con.execute(f"SELECT current_setting('{k}')").fetchone()[0]  # type: ignore[index]
        for k in ("threads", "disabled_compression_methods")
    }
    con.execute("SET threads=1")
    con.execute("SET disabled_compression_methods='fsst'")
    try:
        yield
    finally:
        con.execute(f"SET threads={int(saved['threads'])}")
        methods = str(saved["disabled_compression_methods"] or "").replace("'", "")
        con.execute(f"SET disabled_compression_methods='{methods}'")


#: Rows of one DuckDB row group: bulk transactions commit at multiples of it.
ROW_GROUP_ROWS = 122_880

#: ``meta`` key set while a bulk ingest has not yet removed repeated ids.
_PENDING = "dedupe_pending"


class BulkAppend:
    """Counts of one bulk ingest run (see :meth:`Store.bulk_append`)."""

    def __init__(self) -> None:
        #: Exchanges the run added, repeats removed (set when the run's block ends).
        self.new = 0


class Store:
    """A DuckDB-backed store of exchanges and accounts.

    ``Store(path)`` opens (or creates) the file; use it as a context manager or call
    :meth:`close`. ``memory_limit`` bounds DuckDB's own memory (e.g. ``"2GB"``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_STORE,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.memory_limit = memory_limit
        self._bulk = False
        self._bulk_tx = False
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(path), read_only=read_only)
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        if memory_limit:
            self.con.execute(f"SET memory_limit='{memory_limit}'")
        if threads:
            self.con.execute(f"SET threads={int(threads)}")
        self.con.execute("SET preserve_insertion_order=false")
        if not read_only:
            # large appends are one transaction each; checkpoint less often than per 16 MB
            self.con.execute(f"SET checkpoint_threshold='{CHECKPOINT_THRESHOLD}'")
        if not read_only:
            self._init_schema()

    # ---------------------------------------------------------------- lifecycle
    def _init_schema(self) -> None:
        self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        row = self.con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {row[0]}, this distillguard writes "
                f"{SCHEMA_VERSION}; ingest into a new store"
            )
        # no primary key on exchanges: see _insert_sql for how ids stay unique
        self.con.execute(_ddl("exchanges", EXCHANGE_SCHEMA, ""))
        self.con.execute(_ddl("accounts", ACCOUNT_SCHEMA, "account_id"))
        if self._meta(_PENDING) is not None:  # a bulk ingest died before its dedupe pass
            self.remove_repeated_ids()

    def close(self) -> None:
        """Checkpoint and close the database file."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- writes
    def append_exchanges(self, batch: pa.Table | pa.RecordBatch) -> int:
        """Insert exchanges whose id is not in the store yet; returns how many were new.

        Duplicate ids inside the batch itself are collapsed to their first row.
        The whole batch is one transaction. Inside :meth:`bulk_append` the batch is
        appended as it is (repeats go at the end of the run) and the count is its rows.
        """
        tbl = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if tbl.num_rows == 0:
            return 0
        if tbl.schema != EXCHANGE_SCHEMA:
            tbl = tbl.select(EXCHANGE_SCHEMA.names).cast(EXCHANGE_SCHEMA)
        if self._bulk:
            return self._bulk_insert(tbl)
        self.con.register("_incoming", tbl)
        try:
            self.con.execute("BEGIN")
            row = self.con.execute(_insert_sql(tbl)).fetchone()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("_incoming")
        return int(row[0]) if row else 0

    def _bulk_insert(self, tbl: pa.Table) -> int:
        self.con.register("_incoming", tbl)
        try:
            if not self._bulk_tx:
                self.con.execute("BEGIN")
                self._bulk_tx = True
            self.con.execute("INSERT INTO exchanges SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")
        return tbl.num_rows

    @contextmanager
    def bulk_append(self) -> Iterator[BulkAppend]:
        """A bulk ingest run: ``with store.bulk_append() as bulk: store.append_exchanges(t)``.

        Inside the block :meth:`append_exchanges` appends without the per-batch
        anti-join (it returns the rows appended) into a transaction that stays open
        until :meth:`commit_appends` (DuckDB compresses whole row groups of
        ROW_GROUP_ROWS far more cheaply than the pieces of many small commits). Leaving
        the block commits, or on error rolls back the open transaction only; then every
        repeated exchange id is removed, keeping the row stored first, and
        :attr:`BulkAppend.new` is the number of exchanges the run added.
        """
        before = self.count()
        self._set_meta(_PENDING, "1")
        bulk = BulkAppend()
        self._bulk = True
        try:
            yield bulk
            self.commit_appends()
        except BaseException:
            if self._bulk_tx:  # the open transaction is lost whole, never half-written
                self._bulk_tx = False
                self.con.execute("ROLLBACK")
            raise
        finally:
            self._bulk = False
            self.remove_repeated_ids()
            bulk.new = self.count() - before

    def commit_appends(self) -> None:
        """Commit the appends of a bulk run made since the last commit (if any)."""
        if self._bulk_tx:
            self._bulk_tx = False
            self.con.execute("COMMIT")

    def remove_repeated_ids(self) -> int:
        """Delete all but the first-stored row of every repeated exchange id (one
        transaction); clears the ``dedupe_pending`` mark. Returns rows deleted."""
        self.con.execute("BEGIN")
        try:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _repeated AS SELECT exchange_id FROM exchanges "
                "GROUP BY exchange_id HAVING count(*) > 1"
            )
            row = self.con.execute(
                "DELETE FROM exchanges WHERE rowid IN (SELECT rid FROM ("
                " SELECT e.rowid AS rid, row_number() OVER ("
                "  PARTITION BY e.exchange_id ORDER BY e.rowid) AS k"
                " FROM exchanges e SEMI JOIN _repeated r USING (exchange_id)) WHERE k > 1)"
            ).fetchone()
            self.con.execute("DROP TABLE _repeated")
            self.con.execute("DELETE FROM meta WHERE key = ?", [_PENDING])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return int(row[0]) if row else 0

    def _meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def upsert_accounts(self, batch: pa.Table | pa.RecordBatch) -> int:
        """Insert or replace account records by ``account_id``; returns rows written."""
        tbl = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if tbl.num_rows == 0:
            return 0
        tbl = tbl.select(ACCOUNT_SCHEMA.names).cast(ACCOUNT_SCHEMA)
        self.con.register("_acc", tbl)
        try:
            self.con.execute("BEGIN")
            self.con.execute(
                "INSERT OR REPLACE INTO accounts SELECT * FROM _acc "
                "QUALIFY row_number() OVER (PARTITION BY account_id) = 1"
            )
            self.con.execute("COMMIT")
        except duckdb.Error:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("_acc")
        return tbl.num_rows

    # ---------------------------------------------------------------- reads
    def count(self, table: str = "exchanges") -> int:
        """Number of rows in ``exchanges`` or ``accounts``."""
        if table not in ("exchanges", "accounts"):
            raise ValueError(table)
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run SQL against the store and return an Arrow table (for small results)."""
        return self.con.execute(sql, params or []).to_arrow_table()

    def iter_batches(
        self,
        sql: str = "SELECT * FROM exchanges",
        batch_size: int = 65_536,
        params: Sequence[Any] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the result of ``sql`` as Arrow record batches of bounded size."""
        reader = self.con.execute(sql, params or []).to_arrow_reader(batch_size)
        yield from reader

    def accounts(self) -> pa.Table:
        """The whole account registry (one row per account; small)."""
        return self.query("SELECT * FROM accounts")
