"""Request and response models of the decision service (what ``/openapi.json`` describes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from ..contracts import Action

__all__ = [
    "ClientInfo",
    "DecideRequest",
    "DecideResponse",
    "ObserveRequest",
    "RefusalOut",
    "VerifyRequest",
]


class ClientInfo(BaseModel):
    """The calling client as the gateway saw it."""

    model_config = ConfigDict(extra="ignore")
    ip: str | None = None
    user_agent: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class DecideRequest(BaseModel):
    """A request to decide: the native exchange record, ``response`` not needed."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=256)
    timestamp: datetime | StrictFloat | StrictInt | None = Field(
        default=None, description="RFC 3339 or epoch seconds; the server's clock when absent"
    )
    account_id: str = Field(min_length=1, max_length=256)
    org_id: str | None = None
    api_key_id: str | None = None
    access_path: str | None = None
    client: ClientInfo = Field(default_factory=ClientInfo)
    api: Literal["anthropic.messages", "openai.chat_completions"] = "openai.chat_completions"
    request: dict[str, Any] = Field(default_factory=dict)


class ObserveRequest(DecideRequest):
    """A served exchange: the native record with its ``response`` (status, usage)."""

    response: dict[str, Any] = Field(default_factory=dict)


class VerifyRequest(BaseModel):
    """An account that passed step-up verification."""

    account_id: str = Field(min_length=1, max_length=256)


class RefusalOut(BaseModel):
    """What the gateway returns to its caller instead of serving."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class DecideResponse(BaseModel):
    """The decision and what the gateway should do with it."""

    action: Action
    risk: float
    tier: str
    reasons: list[str]
    contributions: list[dict[str, Any]]
    retry_after_s: int | None
    rewrite: dict[str, Any] | None
    alert: bool
    ttl_s: int | None
    campaign_id: str | None
    refusal: RefusalOut | None = None
    rewritten_request: dict[str, Any] | None = None
