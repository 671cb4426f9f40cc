"""The pure decision: one request and a state snapshot in, a :class:`Decision` out.

:func:`decide` does no I/O and changes nothing: the same context, snapshot and policy
always give the same decision. The steps follow :mod:`distillguard.policy.model`:
allowlist; evidence grouped in families (``policy.families``: kinds that measure the
same thing count once, the strongest), risk as the noisy-or of the families; tier and
floors from reasons and evidence; the corroboration limits (one family alone goes no
further than ``corroboration.single_family_max``, a block needs
``corroboration.block_min_families``); sticky enforcements; account-type shaping
(step-up verification, enterprise ceiling with alert); rate limit; degrade rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..contracts import Action
from ..contracts import Decision as DecisionRow
from ..policy.load import default_policy
from ..policy.model import Policy, action_rank
from .context import RequestContext
from .degrade import Rewrite, plan_rewrite
from .state import StateView

__all__ = ["Decision", "decide"]

_RANK = {a: action_rank(a) for a in ("allow", "monitor", "throttle", "verify", "degrade", "block")}


@dataclass(slots=True)
class Decision:
    """What to do with one request, and why."""

    action: Action
    risk: float
    tier: str
    reasons: list[str] = field(default_factory=list)
    contributions: list[tuple[str, float]] = field(default_factory=list)
    retry_after_s: int | None = None
    rewrite: Rewrite | None = None
    alert: bool = False
    ttl_s: int | None = None
    campaign_id: str = ""
    mark: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``POST /v1/decide`` returns)."""
        return {
            "action": self.action,
            "risk": round(self.risk, 4),
            "tier": self.tier,
            "reasons": list(self.reasons),
            "contributions": [{"reason": r, "risk": round(v, 4)} for r, v in self.contributions],
            "retry_after_s": self.retry_after_s,
            "rewrite": self.rewrite.to_dict() if self.rewrite is not None else None,
            "alert": self.alert,
            "ttl_s": self.ttl_s,
            "campaign_id": self.campaign_id or None,
            "mark": self.mark,
        }

    def to_row(self, exchange_id: str, account_id: str, ts: float) -> DecisionRow:
        """The ``decisions.csv`` row for this decision."""
        return DecisionRow(
            exchange_id=exchange_id,
            account_id=account_id,
            timestamp=datetime.fromtimestamp(ts, UTC),
            action=self.action,
            risk=min(max(self.risk, 0.0), 1.0),
            reasons=list(self.reasons),
        )


def _cmp(op: str, x: float, y: float) -> bool:
    if op == ">=":
        return x >= y
    if op == ">":
        return x > y
    if op == "<=":
        return x <= y
    return x < y


def _allowlisted(ctx: RequestContext, view: StateView, policy: Policy) -> bool:
    al = policy.allowlist
    org = ctx.org_id or (view.account.org_id if view.account else None)
    return (
        ctx.account_id in al.accounts
        or (org is not None and org in al.orgs)
        or (ctx.api_key_id is not None and ctx.api_key_id in al.api_keys)
    )


@dataclass(slots=True)
class _Found:
    """What the evidence says before it is combined."""

    contribs: list[tuple[str, float, str]]  # (reason, risk, family)
    floor: Action = "allow"
    campaign: str = ""
    decisive: bool = False


def _verdict_family(codes: list[str], policy: Policy) -> str:
    """A verdict belongs to the family of its reason codes when they all share one
    (a scan verdict that only says "linked to banned accounts" is the link family's);
    otherwise to the family of ``verdict_flagged`` (the scan's own judgement)."""
    fams = {policy.family_of(c) for c in codes}
    fams.discard("")
    if len(fams) == 1:
        only = next(iter(fams))
        if only in policy.families:
            return only
    return policy.family_of("verdict_flagged")


def _evidence(view: StateView, policy: Policy) -> _Found:
    """Risk contributions with their families, the action floor, the campaign pointed at."""
    found = _Found([])
    contribs = found.contribs
    fam = policy.family_of
    decisive_kinds = policy.corroboration.decisive
    v = view.verdict
    judged = v is not None and view.now - view.verdict_loaded_at <= policy.ttl.verdict_s
    if v is not None and judged:
        certain = v.risk >= policy.verdict_full_weight_from
        weight = 1.0 if certain else policy.verdict_weight
        vfam = _verdict_family(v.reasons, policy)
        if v.risk > 0 and weight > 0:
            contribs.append(
                ("verdict_flagged" if v.flagged else "verdict_risk", v.risk * weight, vfam)
            )
            found.decisive |= certain and v.flagged
        if v.flagged and policy.follow_verdict_action and _RANK[v.action] > _RANK[found.floor]:
            found.floor = v.action
        found.campaign = v.campaign_id
        for code in v.reasons:
            rr = policy.reasons.get(code)
            if rr is not None:
                if rr.risk > 0:
                    contribs.append((code, rr.risk, fam(code)))
                if _RANK[rr.min_action] > _RANK[found.floor]:
                    found.floor = rr.min_action
    seen: set[str] = set()
    for ev in view.evidence:
        rule = policy.evidence.get(ev.kind)
        if rule is None or ev.kind in seen:
            continue
        if judged and ev.detail.startswith("batch"):
            # the scan already weighed its own campaign's indicators (addresses, client
            # builds, prompts) for this account: they would echo its verdict back
            continue
        seen.add(ev.kind)
        contribs.append((ev.kind, rule.risk * ev.weight, fam(ev.kind)))
        if _RANK[rule.min_action] > _RANK[found.floor]:
            found.floor = rule.min_action
        found.decisive |= ev.kind in decisive_kinds
        if not found.campaign and ev.campaign_id:
            found.campaign = ev.campaign_id
    fresh = policy.new_accounts
    acct = view.account
    if (
        fresh.max_age_days > 0
        and acct is not None
        and acct.created_at is not None
        and view.now - acct.created_at < fresh.max_age_days * 86400.0
        and any(k in fresh.with_evidence for k in seen)
    ):
        contribs.append((fresh.reason, fresh.risk, fam(fresh.reason)))
    feats = view.features
    for orule in policy.online_rules:
        if view.events < orule.min_events:
            continue
        for cond in orule.when:
            x = feats.get(cond.feature)
            if x is None or not _cmp(cond.op, float(x), cond.value):
                break
        else:
            contribs.append((orule.reason, orule.risk, fam(orule.reason)))
    return found


def _combine(contribs: list[tuple[str, float, str]], pol: Policy) -> dict[str, float]:
    """Risk per evidence family: the strongest of its kinds (look-alike kinds of one
    family together, noisy-or, add at most ``look_alike_cap``)."""
    fam_risk: dict[str, float] = {}
    shared_keep: dict[str, float] = {}
    for name, r, f in contribs:
        r = min(max(r, 0.0), 1.0)
        if name in pol.look_alike_evidence:
            shared_keep[f] = shared_keep.get(f, 1.0) * (1.0 - r)
        elif r > fam_risk.get(f, 0.0):
            fam_risk[f] = r
    for f, keep in shared_keep.items():
        la = min(1.0 - keep, pol.look_alike_cap)
        if la > fam_risk.get(f, 0.0):
            fam_risk[f] = la
    return fam_risk


def _mark_for(ctx: RequestContext, pol: Policy, tier: str, action: Action) -> str | None:
    """The watermark method for this answer, or ``None`` (refusals are never marked)."""
    spec = pol.mark
    if spec.method == "none" or action in ("block", "verify", "throttle"):
        return None
    chosen = tier in spec.tiers or action in spec.actions or ctx.account_id in spec.opt_in_accounts
    return spec.method if chosen else None


def decide(context: RequestContext, state: StateView, policy: Policy | None = None) -> Decision:
    """Decide one request from its context and the account's state snapshot.

    Pure: no I/O, no mutation. ``policy`` defaults to the packaged default policy.
    """
    pol = policy if policy is not None else default_policy()
    view = state
    if view.unavailable:
        if pol.fail_mode == "open":
            return Decision("allow", 0.0, pol.tiers[0].name, ["state_unavailable"])
        return Decision(
            "throttle",
            0.0,
            pol.tiers[0].name,
            ["state_unavailable"],
            retry_after_s=pol.throttle.retry_after_min_s,
        )
    if _allowlisted(context, view, pol):
        opted = pol.mark.method != "none" and context.account_id in pol.mark.opt_in_accounts
        optin = pol.mark.method if opted else None
        return Decision("allow", 0.0, pol.tiers[0].name, ["allowlisted"], mark=optin)

    found = _evidence(view, pol)
    fam_risk = _combine(found.contribs, pol)
    keep = 1.0
    for r in fam_risk.values():
        keep *= 1.0 - r
    risk = 1.0 - keep
    tier = pol.tier_for(risk)
    floor = found.floor
    action: Action = tier.action if _RANK[tier.action] >= _RANK[floor] else floor
    contribs = sorted(((n, r) for n, r, _ in found.contribs), key=lambda c: -c[1])
    reasons = [c[0] for c in contribs]
    campaign = found.campaign

    corr = pol.corroboration
    if not found.decisive:
        n_fam = sum(1 for r in fam_risk.values() if r >= corr.family_min_risk)
        if n_fam <= 1 and _RANK[action] > _RANK[corr.single_family_max]:
            action = corr.single_family_max
            reasons.append("uncorroborated")
        elif action == "block" and n_fam < corr.block_min_families:
            action = "degrade"
            reasons.append("graded")

    enf = view.enforcement
    if enf is not None and enf.until > view.now and _RANK[enf.action] > _RANK[action]:
        action = enf.action
        reasons.append(f"enforced:{enf.action}")

    alert = False
    acct = view.account
    rule = pol.account_types.get(acct.account_type) if acct and acct.account_type else None  # type: ignore[call-overload]
    if rule is not None:
        verified = view.verified_until is not None and view.verified_until > view.now
        if rule.step_up and action == "block" and not verified:
            open_for = view.now - view.challenge_since if view.challenge_since else 0.0
            if view.challenge_since is None or open_for < pol.ttl.challenge_s:
                action = "verify"
                reasons.append("step_up")
            else:
                reasons.append("challenge_expired")
        capped = not rule.require_contract or (acct is not None and acct.verification == "kyb")
        if capped and _RANK[action] > _RANK[rule.max_action]:
            action = rule.max_action
            alert = rule.alert
            reasons.append(f"capped:{acct.account_type if acct else ''}")

    retry_after: int | None = None
    # a throttle from a tier, a verdict or a sticky enforcement means "the tight rate
    # limit applies", not "refuse every request"
    forced_limit = action == "throttle"
    if forced_limit:
        action = "monitor"
    if _RANK[action] <= _RANK["monitor"]:
        limited = forced_limit or pol.tier_index(tier.name) >= pol.tier_index(
            pol.throttle.from_tier
        )
        limit = pol.throttle.flagged_requests if limited else pol.throttle.requests
        if view.window_requests >= limit:
            action = "throttle"
            reasons.append("rate_limit_flagged" if limited else "rate_limit")
    if action == "throttle":
        retry_after = max(pol.throttle.retry_after_min_s, int(view.window_reset_s + 0.999))

    rewrite = plan_rewrite(context, pol.degrade) if action == "degrade" else None
    ttl: int | None = None
    if action in ("degrade", "block"):
        ttl = pol.ttl.enforcement_s
    elif action == "verify":
        ttl = pol.ttl.challenge_s
    return Decision(
        action=action,
        risk=risk,
        tier=tier.name,
        reasons=reasons,
        contributions=contribs,
        retry_after_s=retry_after,
        rewrite=rewrite,
        alert=alert,
        ttl_s=ttl,
        campaign_id=campaign,
        mark=_mark_for(context, pol, tier.name, action),
    )
