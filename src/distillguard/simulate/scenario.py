"""Scenario files: what a simulation contains, validated with errors that name the key.

A scenario is a YAML document (see ``docs/scenarios.md`` for every key). It sets the
time span, the model releases, the benign populations and the distillation campaigns
with their evasion knobs. :func:`load_scenario` reads a built-in name or a file and
raises :class:`~distillguard.errors.ConfigError` naming file, line and key on any
mistake (unknown keys included: a typo never silently falls back to a default).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError

__all__ = [
    "ARCHETYPES",
    "POPULATIONS",
    "CampaignSpec",
    "Exits",
    "ModelRelease",
    "Populations",
    "Scenario",
    "builtin_scenarios",
    "load_scenario",
    "scenario_from_dict",
]

#: The campaign archetypes the simulator knows.
ARCHETYPES = ("reasoning_grader", "agentic", "agentic_coding", "hydra")
#: The benign populations the simulator knows.
POPULATIONS = (
    "hobby",
    "production_app",
    "enterprise",
    "eval_lab",
    "university_class",
    "coding_agent",
    "reseller",
)

Archetype = Literal["reasoning_grader", "agentic", "agentic_coding", "hydra"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelRelease(_Strict):
    """A model served by the API and when it became available."""

    name: str
    released_at: datetime


class Hobby(_Strict):
    """Hobby and chat users: multi-turn, diurnal in their own timezone, home ISP addresses."""

    accounts: int = Field(default=1000, ge=0)
    sessions_per_day: float = Field(default=0.6, ge=0)
    turns_mean: float = Field(default=3.0, ge=1)
    console_share: float = Field(default=0.35, ge=0, le=1)


class ProductionApp(_Strict):
    """Production apps: one system prompt and template at high volume from one cloud."""

    apps: int = Field(default=5, ge=0)
    exchanges_per_day: int = Field(default=1500, ge=0)


class Enterprise(_Strict):
    """Enterprises: tens to hundreds of service accounts on one invoice running agents."""

    orgs: int = Field(default=3, ge=0)
    accounts_per_org: tuple[int, int] = (20, 120)
    exchanges_per_account_day: float = Field(default=12.0, ge=0)


class EvalLab(_Strict):
    """Eval labs: the same public benchmark prompts in bursts, temperature 0."""

    labs: int = Field(default=3, ge=0)
    accounts_per_lab: tuple[int, int] = (2, 6)
    benchmark_prompts: int = Field(default=300, ge=1)
    runs_per_day: float = Field(default=1.5, ge=0)


class UniversityClass(_Strict):
    """University classes: hundreds of education accounts, one grant, a few campus IPs."""

    classes: int = Field(default=2, ge=0)
    students: tuple[int, int] = (120, 300)
    deadline_every_days: int = Field(default=7, ge=1)
    exchanges_per_student_deadline: float = Field(default=12.0, ge=0)


class CodingAgent(_Strict):
    """Developers driving coding agents: long tool loops, big outputs, growing sessions."""

    developers: int = Field(default=150, ge=0)
    sessions_per_day: float = Field(default=1.2, ge=0)
    loop_length_mean: float = Field(default=25.0, ge=1)


class Reseller(_Strict):
    """Legitimate resellers and routers: many keys, diverse end-user prompts, cloud egress."""

    resellers: int = Field(default=2, ge=0)
    accounts_per_reseller: tuple[int, int] = (1, 4)
    keys_per_account: tuple[int, int] = (20, 120)
    exchanges_per_day: int = Field(default=2500, ge=0)


class Populations(_Strict):
    """Every benign population; set a count to 0 to leave one out."""

    hobby: Hobby = Hobby()
    production_app: ProductionApp = ProductionApp()
    enterprise: Enterprise = Enterprise()
    eval_lab: EvalLab = EvalLab()
    university_class: UniversityClass = UniversityClass()
    coding_agent: CodingAgent = CodingAgent()
    reseller: Reseller = Reseller()


class Exits(_Strict):
    """Shares of the network exits a campaign's traffic leaves from (normalised)."""

    datacenter: float = Field(default=1.0, ge=0)
    residential: float = Field(default=0.0, ge=0)
    vpn: float = Field(default=0.0, ge=0)
    tor: float = Field(default=0.0, ge=0)
    proxy: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _some(self) -> Exits:
        if self.datacenter + self.residential + self.vpn + self.tor + self.proxy <= 0:
            raise ValueError("at least one exit share must be positive")
        return self


class CampaignSpec(_Strict):
    """One distillation campaign: an actor running an archetype with evasion knobs."""

    actor: str = Field(min_length=1)
    archetype: Archetype
    enabled: bool = True
    accounts: int = Field(default=100, ge=1)
    exchanges: int = Field(default=20000, ge=0, description="total over one period")
    start_day: float = Field(default=0.0, ge=0)
    exits: Exits = Exits()
    ip_rotation: Literal["sticky", "session", "request"] = "session"
    ip_pool: int = Field(
        default=200, ge=1, description="distinct exit addresses the actor controls"
    )
    timing: Literal["machine", "human"] = "machine"
    synchronized: bool = True
    paraphrase: float = Field(default=0.0, ge=0, le=1)
    mixed_ordinary: float = Field(default=0.0, ge=0, le=1)
    account_age_days: tuple[float, float] = (0.0, 14.0)
    account_types: dict[str, float] = Field(default_factory=lambda: {"individual": 1.0})
    payment_reuse: int = Field(default=20, ge=1, description="accounts per payment instrument")
    sdk_spread: float = Field(default=0.0, ge=0, le=1)
    access_paths: dict[str, float] = Field(default_factory=lambda: {"api": 1.0})
    apis: dict[str, float] = Field(default_factory=lambda: {"anthropic.messages": 1.0})
    billing_countries: list[str] = Field(default_factory=lambda: ["US"])
    pivot_share: float | None = Field(
        None, ge=0, le=1, description="default 0.5 for agentic_coding, else 0"
    )
    pivot_hours: float = Field(default=20.0, gt=0)
    ban_rate_per_day: float = Field(default=0.0, ge=0, le=1)
    replace_banned: bool = True
    replace_delay_hours: tuple[float, float] = (0.5, 6.0)

    @field_validator("account_types")
    @classmethod
    def _types(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = ("individual", "startup", "research", "education", "enterprise")
        for k in v:
            if k not in allowed:
                raise ValueError(f"unknown account type {k!r}; use one of {allowed}")
        if sum(v.values()) <= 0:
            raise ValueError("shares must sum to more than 0")
        return v

    @field_validator("access_paths")
    @classmethod
    def _paths(cls, v: dict[str, float]) -> dict[str, float]:
        for k in v:
            if k not in ("api", "console") and not k.startswith("cloud:"):
                raise ValueError(f"unknown access path {k!r}; use api, console or cloud:<platform>")
        if sum(v.values()) <= 0:
            raise ValueError("shares must sum to more than 0")
        return v

    @field_validator("apis")
    @classmethod
    def _apis(cls, v: dict[str, float]) -> dict[str, float]:
        for k in v:
            if k not in ("anthropic.messages", "openai.chat_completions"):
                raise ValueError(f"unknown api {k!r}")
        if sum(v.values()) <= 0:
            raise ValueError("shares must sum to more than 0")
        return v


class Scenario(_Strict):
    """A whole simulation: span, models, populations, campaigns, periods."""

    name: str = "custom"
    description: str = ""
    seed: int = 0
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    days: float = Field(default=7.0, gt=0, le=366)
    periods: Literal[1, 2] = 1
    period_ban_share: float = Field(default=0.6, ge=0, le=1)
    models: list[ModelRelease] = Field(
        default_factory=lambda: [
            ModelRelease(name="frontier-1", released_at=datetime(2025, 9, 1, tzinfo=UTC))
        ],
        min_length=1,
    )
    disable_archetypes: list[Archetype] = Field(default_factory=list)
    populations: Populations = Populations()
    campaigns: list[CampaignSpec] = Field(default_factory=list)

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        first = min(m.released_at for m in self.models)
        if first.astimezone(UTC) > self.start:
            raise ValueError("the first model must be released before `start`")
        actors = [c.actor for c in self.campaigns]
        if len(set(actors)) != len(actors):
            raise ValueError("campaign actors must be unique")
        return self

    @property
    def end(self) -> datetime:
        """End of the simulated span (all periods)."""
        return self.start + timedelta(days=self.days * self.periods)

    def active_campaigns(self) -> list[CampaignSpec]:
        """Campaigns that are enabled and whose archetype is not disabled."""
        return [
            c for c in self.campaigns if c.enabled and c.archetype not in self.disable_archetypes
        ]


# ----------------------------------------------------------------------------- loading
def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    root = resources.files("distillguard.simulate") / "scenarios"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _node_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """Follow a pydantic error location through the YAML node tree; return its line."""
    line = node.start_mark.line + 1 if node is not None else None
    keys: list[str] = []
    for part in loc:
        if node is None:
            keys.append(f"[{part}]" if isinstance(part, int) else str(part))
            continue
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(part):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        keys.append(f"[{part}]" if isinstance(part, int) else str(part))
        node = nxt
    return line, ".".join(keys).replace(".[", "[")


def scenario_from_dict(
    data: Any, *, file: str = "<scenario>", node: yaml.Node | None = None
) -> Scenario:
    """Validate a parsed scenario; errors name file, line (when known) and key."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}: a scenario must be a mapping of keys, got {type(data).__name__}"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            line, key = _node_line(node, loc)
            where = f"{file}:{line}" if line else file
            msgs.append(f"{where} [{key or '<root>'}] {err['msg']}")
        raise ConfigError("invalid scenario:\n  " + "\n  ".join(msgs)) from None


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name or a YAML file by path."""
    text: str
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise ConfigError(f"{p}: scenario file not found")
        text, file = p.read_text(encoding="utf-8"), str(p)
    else:
        name = str(name_or_path)
        if name not in builtin_scenarios():
            raise ConfigError(
                f"unknown scenario {name!r}; built-ins: {', '.join(builtin_scenarios())}"
            )
        res = resources.files("distillguard.simulate") / "scenarios" / f"{name}.yaml"
        text, file = res.read_text(encoding="utf-8"), f"{name}.yaml"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{file}{line} not valid YAML: {exc}") from None
    return scenario_from_dict(data if data is not None else {}, file=file, node=node)
