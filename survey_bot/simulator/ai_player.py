"""The scripted caller talking to Telnyx's voice AI: each `gather_using_ai` plays the scenario's next gather."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from survey_bot.simulator.call_events import Planned, Reaction, hang_up
from survey_bot.simulator.calls import Call
from survey_bot.simulator.scenario import AIGather, AIHistory, AIPartial, AIStep

__all__ = ["play_ai_gather"]


def play_ai_gather(call: Call, body: Mapping[str, Any]) -> Reaction:
    """Hear the next scripted gather; report it as the flags in `body` ask, then end (or hang up)."""
    scenario = call.scenario
    gathers = scenario.gathers() if scenario.who_answers() == "human" else []  # a machine says nothing we use
    gather = gathers[call.ai_used] if call.ai_used < len(gathers) else AIGather(status="invalid")
    first = call.ai_used == 0
    call.ai_used += 1
    hangs_up = first and (scenario.hangup == "during_ai" or scenario.hangup_during_ai_after is not None)
    history, events = list(call.history), []
    partial: dict[str, Any] = {}
    for step in gather.steps:
        if isinstance(step, AIStep):
            history += [{"role": "assistant", "content": step.assistant}, {"role": "user", "content": step.user}]
            partial = dict(step.partial_results)
            events += _partial(body, partial, history) + _history(body, history)
        elif isinstance(step, AIPartial):
            partial = dict(step.partial_results)
            events += _partial(body, partial, history)
        elif isinstance(step, AIHistory):
            history += [dict(turn) for turn in step.turns]
            events += _history(body, history)
    call.history = history
    conversation_id = str(uuid.uuid4())
    if hangs_up:
        return Reaction(events + hang_up(call, "normal_clearing", by_person=True), {"conversation_id": conversation_id})
    result = gather.result
    if result is None and gather.status == "valid" and gather.steps:
        result = partial
    events.append(("call.ai_gather.ended", {"result": result, "status": gather.status, "message_history": history}))
    events.append(("call.conversation.ended", _conversation_ended(conversation_id, body, history)))
    return Reaction(events, {"conversation_id": conversation_id})


def _partial(body: Mapping[str, Any], partial: dict[str, Any], history: list[dict[str, str]]) -> list[Planned]:
    if not body.get("send_partial_results", False):
        return []
    return [("call.ai_gather.partial_results", {"partial_results": dict(partial), "message_history": list(history)})]


def _history(body: Mapping[str, Any], history: list[dict[str, str]]) -> list[Planned]:
    if not body.get("send_message_history_updates", False):
        return []
    return [("call.ai_gather.message_history_updated", {"message_history": list(history)})]


def _conversation_ended(conversation_id: str, body: Mapping[str, Any], history: list[dict[str, str]]) -> dict[str, Any]:
    voice = str(body.get("voice", "Telnyx.KokoroTTS.af"))
    parts = voice.split(".", 2)
    provider, model, voice_id = parts if len(parts) == 3 else ("telnyx", "", voice)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "conversation_id": conversation_id,
        "calling_party_type": "pstn",
        "duration_sec": 5 * len(history) // 2,  # a plausible 5 s per exchange; nothing waits in the simulator
        "llm_model": (body.get("assistant") or {}).get("model", "Qwen/Qwen3-235B-A22B"),
        "stt_model": (body.get("transcription") or {}).get("model", "distil-whisper/distil-large-v2"),
        "tts_provider": provider.lower(),
        "tts_model_id": model,
        "tts_voice_id": voice_id,
        "reason": None,
        "messages": [{**turn, "timestamp": stamp} for turn in history],
    }
