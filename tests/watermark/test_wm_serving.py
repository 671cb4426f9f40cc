"""Marking responses on their way out: shapes, streams, keys from the environment or a file."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest

from distillguard.errors import ConfigError
from distillguard.watermark.lexical import LexicalKey, detect_text, mark_text
from distillguard.watermark.serving import StreamMarker, mark_response, resolve_key

SECRET = "serving-test-secret"
TEXT = (
    "We often do not calculate it quickly, but it is important and we are usually careful. "
    "Perhaps the main point is obvious; moreover they are certainly aware it is not easy."
)


def test_openai_dict_is_marked_in_every_choice_and_logprobs_are_dropped() -> None:
    resp = {
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": TEXT}, "logprobs": {"x": 1}}
            for i in range(2)
        ]
    }
    out = mark_response(copy.deepcopy(resp), SECRET)
    want = mark_text(TEXT, LexicalKey(SECRET))
    assert want != TEXT
    assert [c["message"]["content"] for c in out["choices"]] == [want, want]
    assert all(c["logprobs"] is None for c in out["choices"])


def test_litellm_style_objects_and_anthropic_blocks_are_marked() -> None:
    msg = SimpleNamespace(content=TEXT, tool_calls=None)
    obj = SimpleNamespace(choices=[SimpleNamespace(message=msg, logprobs=None)])
    mark_response(obj, SECRET)
    assert obj.choices[0].message.content == mark_text(TEXT, LexicalKey(SECRET))
    anth = {
        "content": [
            {"type": "thinking", "thinking": TEXT},
            {"type": "text", "text": TEXT},
            {"type": "tool_use", "input": {"q": TEXT}},
        ]
    }
    out = mark_response(anth, SECRET)
    assert out["content"][0]["thinking"] == TEXT  # not an answer text
    assert out["content"][1]["text"] == mark_text(TEXT, LexicalKey(SECRET))
    assert out["content"][2]["input"] == {"q": TEXT}


def test_a_stream_split_mid_phrase_is_marked_as_the_whole_text() -> None:
    pieces = [TEXT[i : i + 7] for i in range(0, len(TEXT), 7)]  # splits "do not" etc.
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    marker = StreamMarker(SECRET)
    for c in chunks:
        marker.push(c)
    marker.finish()
    got = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert got == mark_text(TEXT, LexicalKey(SECRET))
    assert detect_text(got, LexicalKey(SECRET)).rate == 1.0


def test_key_from_file_wins_over_env_and_missing_keys_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DG_K", "from-env")
    f = tmp_path / "key"
    f.write_text("from-file\n")
    assert resolve_key("DG_K", f) == "from-file"
    assert resolve_key("DG_K", None) == "from-env"
    monkeypatch.delenv("DG_K")
    with pytest.raises(ConfigError, match="DG_K"):
        resolve_key("DG_K", None)
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_key(None, tmp_path / "missing")
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(ConfigError, match="empty"):
        resolve_key(None, tmp_path / "empty")
    with pytest.raises(ConfigError, match="no watermark key source"):
        resolve_key(None, None)
