"""With no model file, an account is flagged for the company it keeps, not for being odd."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa

from dg_detect_factory import T0, _row, filled_store, toy_features
from distillguard.scan import ScanConfig, detect
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA


def _add_loner(store: object) -> str:
    """One account that harvests exactly like the campaign but shares nothing with it."""
    aid = "acct_loner"
    rows = [
        _row(
            exchange_id=f"l{j}",
            timestamp=T0 + timedelta(hours=j * 3),
            account_id=aid,
            client_ip=f"203.0.113.{j % 200 + 1}",
            user_agent="curl/8.5.0",
            last_user_text=f"Derive result {j} step by step",
            input_tokens=150,
            output_tokens=5000,
            n_user_turns=1,
        )
        for j in range(40)
    ]
    store.append_exchanges(pa.Table.from_pylist(rows, schema=EXCHANGE_SCHEMA))  # type: ignore[attr-defined]
    acc = {f.name: None for f in ACCOUNT_SCHEMA}
    acc.update(account_id=aid, created_at=T0 - timedelta(days=1), payment_fingerprint="pm_loner")
    store.upsert_accounts(pa.Table.from_pylist([acc], schema=ACCOUNT_SCHEMA))  # type: ignore[attr-defined]
    return aid


def test_no_model_flags_linked_harvesters_and_only_monitors_a_loner() -> None:
    store, attack = filled_store()
    loner = _add_loner(store)
    cfg = ScanConfig()
    det = detect(store, model=None, config=cfg, features=toy_features)
    assert det.scores is not None
    idx = {a: i for i, a in enumerate(det.graph.accounts)}
    risk = det.scores.risk
    flag = cfg.policy.flag
    # the loner looks as unusual as the campaign ...
    att = [idx[a] for a in attack]
    assert det.unsupervised[idx[loner]] >= np.median(det.unsupervised[att]) * 0.8
    # ... but with nobody linked to it, its own score only reaches "monitor"
    assert risk[idx[loner]] < flag
    assert risk[idx[loner]] <= cfg.scoring.lone_unsupervised + 1e-9
    # the campaign's accounts, firmly linked to each other, are flagged
    assert (risk[att] >= flag).mean() >= 0.9
    benign = [i for a, i in idx.items() if a.startswith("acct_b")]
    assert (risk[benign] < flag).all()
