"""Scripted callers for the two example forms: what `survey-bot demo` plays and the end-to-end tests reuse."""

from __future__ import annotations

from survey_bot.simulator.scenario import AIStep, KeypadHangup, Scenario

__all__ = [
    "DEMO_SCENARIOS",
    "ai_fills_everything",
    "ai_invalid_keypad_completes",
    "caller_hangs_up_midway",
    "one_answer_breaks_schema",
]

SURVEY_NUMBER = "+15550100001"
CLINIC_NUMBER = "+15550100002"


def ai_fills_everything() -> Scenario:
    """The voice AI gets every answer of the satisfaction survey right."""
    steps = [
        AIStep({"nps": 9}, "How likely are you to recommend us, from 0 to 10?", "Nine, definitely."),
        AIStep({"nps": 9, "satisfaction": "very_satisfied"}, "And how satisfied are you overall?", "Very satisfied."),
        AIStep(
            {
                "nps": 9,
                "satisfaction": "very_satisfied",
                "would_recommend": True,
                "topics": ["delivery"],
                "comment": "Parcel came a day late, otherwise great.",
            },
            "Would you recommend the product, and is there anything we could improve?",
            "Yes I would. Delivery could be faster, the parcel came a day late, otherwise great.",
        ),
    ]
    return Scenario(from_number="+15557770001", to_number=SURVEY_NUMBER, ai_steps=steps)


def ai_invalid_keypad_completes() -> Scenario:
    """The AI cannot make sense of the caller; the keypad collects the survey instead."""
    steps = [AIStep({}, "How likely are you to recommend us, from 0 to 10?", "Eh, what? Sorry, bad line.")]
    return Scenario(
        from_number="+15557770002",
        to_number=SURVEY_NUMBER,
        ai_steps=steps,
        ai_status="invalid",
        keypad=["7#", "2", "1"],
    )


def one_answer_breaks_schema() -> Scenario:
    """The clinic intake: the AI hears everything but the date of birth it reports is not a real date."""
    result = {
        "full_name": "Amélie Dupont",
        "date_of_birth": "1984-02-30",
        "visit_reason": "follow-up",
        "preferred_slot": {"date": "2026-12-03", "period": "morning"},
        "callback_number": "5551234567",
        "new_patient": False,
    }
    steps = [
        AIStep({"full_name": "Amélie Dupont"}, "Hello, may I have your full name?", "Amélie Dupont."),
        AIStep(
            {"full_name": "Amélie Dupont", "date_of_birth": "1984-02-30"},
            "Your date of birth?",
            "The thirtieth of February, 1984.",
        ),
        AIStep(
            {k: v for k, v in result.items() if k != "date_of_birth"} | {"date_of_birth": "1984-02-30"},
            "What is the visit for, and when would you like to come?",
            "A follow-up, on December third in the morning. Call me back on 555 123 4567. I'm not new.",
        ),
    ]
    return Scenario(
        from_number="+15557770003", to_number=CLINIC_NUMBER, ai_steps=steps, ai_result=result, keypad=["19840220#"]
    )


def caller_hangs_up_midway() -> Scenario:
    """The caller gives two answers to the AI and hangs up."""
    steps = [
        AIStep({"full_name": "Kenji Sato"}, "Hello, may I have your full name?", "Kenji Sato."),
        AIStep({"full_name": "Kenji Sato", "visit_reason": "checkup"}, "What is the visit for?", "A checkup."),
        AIStep({"full_name": "Kenji Sato", "visit_reason": "checkup"}, "And your date of birth?", "Hold on..."),
    ]
    return Scenario(
        from_number="+15557770004",
        to_number=CLINIC_NUMBER,
        ai_steps=steps,
        hangup_during_ai_after=2,
        keypad=[KeypadHangup()],
    )


DEMO_SCENARIOS = {
    "AI fills everything": ai_fills_everything,
    "AI result invalid, keypad completes": ai_invalid_keypad_completes,
    "AI valid but one answer breaks the schema": one_answer_breaks_schema,
    "caller hangs up midway": caller_hangs_up_midway,
}
