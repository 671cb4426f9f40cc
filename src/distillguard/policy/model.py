"""The enforcement policy as data: what each risk tier, reason and account type leads to.

A policy is a YAML document (see ``default.yaml`` next to this module) validated into
:class:`Policy`. Every key is checked: an unknown key, a wrong type or an inconsistent
value fails at load time with the file, line and key (see :mod:`distillguard.policy.load`).

How :func:`distillguard.online.decide` reads a policy, in order:

1. ``allowlist``: listed accounts, orgs and API keys are always allowed.
2. Risk is the noisy-or of every piece of evidence: the batch verdict, the account's
   campaign, intelligence matches (``evidence``), online feature rules (``online_rules``).
3. ``tiers`` map the risk to a base action; ``reasons`` and ``evidence`` can raise it to a
   floor (``min_action``); an enforcement still inside its TTL is kept.
4. ``account_types`` then shape it: step-up verification before a block for the account
   types abusers sign up for, a ceiling plus an alert for enterprise accounts under
   contract.
5. ``throttle`` turns an over-rate account into a throttle with a retry-after and
   ``degrade`` says what a degraded request is rewritten to.
6. ``mark`` says which served answers carry the text-level watermark (off by default).
"""

from __future__ import annotations

from functools import cached_property
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..contracts import ACTIONS, Action

__all__ = [
    "AccountTypeRule",
    "Allowlist",
    "Condition",
    "Corroboration",
    "DegradeSpec",
    "EvidenceRule",
    "FingerprintSpec",
    "MarkSpec",
    "NewAccountRule",
    "OnlineRule",
    "Policy",
    "ReasonRule",
    "ThrottleSpec",
    "Tier",
    "Ttls",
    "action_rank",
    "stronger",
]

_RANK = {a: i for i, a in enumerate(ACTIONS)}


def action_rank(action: Action) -> int:
    """Position of ``action`` from mildest (allow = 0) to strongest (block = 5)."""
    return _RANK[action]


def stronger(a: Action, b: Action) -> Action:
    """The stronger of two actions."""
    return a if _RANK[a] >= _RANK[b] else b


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    """A risk band: accounts with risk >= ``min_risk`` get at least ``action``."""

    name: str
    min_risk: float = Field(ge=0.0, le=1.0)
    action: Action


class ReasonRule(_Strict):
    """What one reason code adds: a risk contribution and an optional action floor."""

    risk: float = Field(default=0.0, ge=0.0, le=1.0)
    min_action: Action = "allow"


class EvidenceRule(_Strict):
    """How much one kind of evidence (intel match, indicator link) weighs."""

    risk: float = Field(ge=0.0, le=1.0)
    min_action: Action = "allow"


class NewAccountRule(_Strict):
    """A fresh account that resembles an enforced one: how replacements look.

    When the registry's ``created_at`` is less than ``max_age_days`` before the request
    and the request carries evidence of a kind in ``with_evidence`` (by default the
    addresses and client fingerprints of enforced accounts), ``risk`` joins the noisy-or
    under ``reason``. ``max_age_days: 0`` turns it off.
    """

    reason: str = "new_account_look_alike"
    max_age_days: float = Field(default=0.0, ge=0.0)
    risk: float = Field(default=0.0, ge=0.0, le=1.0)
    with_evidence: list[str] = Field(
        default_factory=lambda: ["campaign_ip", "campaign_client"], alias="with"
    )


class Corroboration(_Strict):
    """How many independent evidence families an action needs (see ``families``).

    One family says one thing however many of its kinds speak: alone it leads at most
    to ``single_family_max``; ``block`` needs ``block_min_families`` families. A family
    counts when its risk is at least ``family_min_risk``. ``decisive`` kinds (and a
    verdict at least ``verdict_full_weight_from`` sure) are exempt from both limits.
    """

    single_family_max: Action = "block"
    block_min_families: int = Field(default=1, ge=1)
    family_min_risk: float = Field(default=0.0, ge=0.0, le=1.0)
    decisive: list[str] = Field(default_factory=lambda: ["banned_account"])


#: Campaign evidence kinds that can be request fingerprints (``campaigns.json``).
FingerprintKind = Literal["system_prompt", "template", "client_fp"]
_FINGERPRINT_KINDS: tuple[FingerprintKind, ...] = ("system_prompt", "template", "client_fp")


class FingerprintSpec(_Strict):
    """Which request fingerprints of a scanned campaign become online evidence.

    A system prompt or prompt template that the scan found shared inside a campaign is
    an indicator of that campaign when at least ``min_accounts`` accounts used it in the
    scanned period and at least ``min_purity`` of them were flagged: values that
    ordinary customers also send (a coding agent's stock system prompt) never are. With
    ``fresh_only``, a value pure only among fresh accounts (``new_accounts.max_age_days``)
    speaks for fresh accounts (off by default: developers keep signing up with the
    stock prompts the campaign shares, so a few fresh ones are degraded each period).
    Needs the scan's store (``--store``); ``kinds: []`` turns it off.
    """

    kinds: list[FingerprintKind] = Field(default_factory=lambda: list(_FINGERPRINT_KINDS))
    min_accounts: int = Field(default=5, ge=1)
    min_purity: float = Field(default=0.9, ge=0.0, le=1.0)
    fresh_only: bool = Field(
        default=False,
        description="also keep values pure only among fresh accounts, for fresh accounts",
    )


class Condition(_Strict):
    """One comparison over an online account feature."""

    feature: str
    op: Literal[">=", ">", "<=", "<"] = ">="
    value: float


class OnlineRule(_Strict):
    """A rule over the account's online features (the batch definitions, per event).

    All conditions in ``when`` must hold (a missing feature never matches); the rule then
    adds ``risk`` with ``reason``. ``min_events``: exchanges observed before it may fire.
    """

    reason: str
    risk: float = Field(ge=0.0, le=1.0)
    when: list[Condition] = Field(min_length=1)
    min_events: int = Field(default=1, ge=1, description="account events needed first")


class AccountTypeRule(_Strict):
    """How an account type shapes the action.

    ``step_up``: a block becomes ``verify`` until the challenge has been open for
    ``ttl.challenge_s`` without the account verifying. ``max_action`` caps the action;
    ``alert`` raises an alert whenever the policy wanted more than the cap allowed.
    """

    step_up: bool = False
    max_action: Action = "block"
    alert: bool = False
    require_contract: bool = Field(
        default=False,
        description="cap applies only to accounts verified by contract (kyb)",
    )


class ThrottleSpec(_Strict):
    """Per-account rate limits; over the limit means throttle with a retry-after."""

    window_s: int = Field(default=60, ge=1)
    requests: int = Field(default=600, ge=1, description="requests per window, any tier")
    flagged_requests: int = Field(
        default=30, ge=1, description="requests per window at or above `from_tier`"
    )
    from_tier: str = "elevated"
    retry_after_min_s: int = Field(default=1, ge=1)


class DegradeSpec(_Strict):
    """The rewrite applied to a degraded request (see :mod:`distillguard.online.degrade`)."""

    max_tokens: int = Field(default=1024, ge=1)
    drop_thinking: bool = True
    drop_reasoning_effort: bool = True
    force_single_choice: bool = True
    drop_logprobs: bool = True
    route_models: dict[str, str] = Field(
        default_factory=dict, description="requested model -> smaller model"
    )


class MarkSpec(_Strict):
    """Which served answers carry the text-level watermark, and where its secret lives.

    Marked: answers to accounts at one of ``tiers``, or whose action is one of
    ``actions``, or listed in ``opt_in_accounts`` (customers who asked for it). Refused
    requests are never marked (nothing is served). The secret is never in the policy:
    it is read from the environment variable ``key_env`` or the file ``key_file``.
    """

    method: Literal["none", "lexical"] = "none"
    tiers: list[str] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    opt_in_accounts: list[str] = Field(default_factory=list)
    key_env: str | None = "DISTILLGUARD_WATERMARK_KEY"
    key_file: str | None = None

    @model_validator(mode="after")
    def _key_named(self) -> MarkSpec:
        if self.method != "none" and not (self.key_env or self.key_file):
            raise ValueError("marking needs key_env or key_file (the secret is never inline)")
        return self


class Ttls(_Strict):
    """How long each piece of state stays valid, seconds."""

    verdict_s: int = Field(default=7 * 86400, ge=1, description="batch verdicts")
    enforcement_s: int = Field(default=86400, ge=1, description="sticky throttle/degrade/block")
    challenge_s: int = Field(default=3600, ge=1, description="open verification challenge")
    verified_s: int = Field(default=30 * 86400, ge=1, description="a passed verification")
    indicator_s: int = Field(default=7 * 86400, ge=1, description="indicators learnt online")


class Allowlist(_Strict):
    """Accounts, orgs and keys that are always allowed."""

    accounts: list[str] = Field(default_factory=list)
    orgs: list[str] = Field(default_factory=list)
    api_keys: list[str] = Field(default_factory=list)


class Policy(_Strict):
    """An enforcement policy; see the module docstring for how it is read."""

    version: Literal[1] = 1
    name: str = "default"
    fail_mode: Literal["open", "closed"] = Field(
        default="open", description="what to do when the state backend is unreachable"
    )
    tiers: list[Tier]
    reasons: dict[str, ReasonRule] = Field(default_factory=dict)
    evidence: dict[str, EvidenceRule] = Field(default_factory=dict)
    online_rules: list[OnlineRule] = Field(default_factory=list)
    account_types: dict[
        Literal["individual", "startup", "research", "education", "enterprise"], AccountTypeRule
    ] = Field(default_factory=dict)
    throttle: ThrottleSpec = Field(default_factory=ThrottleSpec)
    degrade: DegradeSpec = Field(default_factory=DegradeSpec)
    mark: MarkSpec = Field(default_factory=MarkSpec)
    ttl: Ttls = Field(default_factory=Ttls)
    allowlist: Allowlist = Field(default_factory=Allowlist)
    verdict_weight: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="the batch verdict's risk is scaled by this before it joins the noisy-or",
    )
    verdict_full_weight_from: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="a verdict at least this sure counts at full weight (verdict_weight "
        "applies below it); 1.0: only a certain verdict",
    )
    look_alike_evidence: list[str] = Field(
        default_factory=lambda: ["campaign_ip", "campaign_client", "campaign_template"],
        description="evidence kinds that only say 'resembles an enforced account'",
    )
    new_accounts: NewAccountRule = Field(default_factory=NewAccountRule)
    look_alike_cap: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="most risk all look-alike evidence together may add (they are correlated)",
    )
    families: dict[str, list[str]] = Field(
        default_factory=dict,
        description="evidence family -> the evidence kinds, rule reasons and verdict reason "
        "codes in it; kinds of one family count once (the strongest)",
    )
    corroboration: Corroboration = Field(default_factory=Corroboration)
    fingerprints: FingerprintSpec = Field(default_factory=FingerprintSpec)
    follow_verdict_action: bool = Field(
        default=True, description="the batch verdict's action is a floor while it is fresh"
    )
    learn_indicators_from: Action = Field(
        default="degrade",
        description="accounts enforced at this action or stronger lend their infrastructure "
        "and templates to the online indicator index",
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered(cls, tiers: list[Tier]) -> list[Tier]:
        if not tiers:
            raise ValueError("at least one tier is needed")
        if tiers[0].min_risk != 0.0:
            raise ValueError("the first tier must start at min_risk 0.0")
        for prev, cur in pairwise(tiers):
            if cur.min_risk <= prev.min_risk:
                raise ValueError(f"tier {cur.name!r}: min_risk must increase")
            if _RANK[cur.action] < _RANK[prev.action]:
                raise ValueError(f"tier {cur.name!r}: action must not weaken as risk grows")
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return tiers

    @model_validator(mode="after")
    def _throttle_tier_known(self) -> Policy:
        if self.throttle.from_tier not in {t.name for t in self.tiers}:
            raise ValueError(f"throttle.from_tier {self.throttle.from_tier!r} is not a tier name")
        unknown = set(self.mark.tiers) - {t.name for t in self.tiers}
        if unknown:
            raise ValueError(f"mark.tiers {sorted(unknown)} are not tier names")
        return self

    @field_validator("families")
    @classmethod
    def _families_disjoint(cls, fams: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[str, str] = {}
        for name, kinds in fams.items():
            for kind in kinds:
                if kind in owner and owner[kind] != name:
                    raise ValueError(f"{kind!r} is in families {owner[kind]!r} and {name!r}")
                owner[kind] = name
        return fams

    def family_of(self, kind: str) -> str:
        """The evidence family of a kind, rule reason or verdict reason code.

        Unlisted look-alike kinds share the family ``look_alike``; any other unlisted
        name is a family of its own.
        """
        found = self._family_map.get(kind)
        if found is not None:
            return found
        return "look_alike" if kind in self.look_alike_evidence else kind

    @cached_property
    def _family_map(self) -> dict[str, str]:
        return {kind: name for name, kinds in self.families.items() for kind in kinds}

    def tier_for(self, risk: float) -> Tier:
        """The highest tier whose ``min_risk`` the risk reaches."""
        chosen = self.tiers[0]
        for tier in self.tiers:
            if risk >= tier.min_risk:
                chosen = tier
        return chosen

    def tier_index(self, name: str) -> int:
        """Index of a tier by name."""
        for i, tier in enumerate(self.tiers):
            if tier.name == name:
                return i
        raise KeyError(name)
