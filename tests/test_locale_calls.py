"""One form, several languages, end to end on SQLite and PostgreSQL: the bilingual example survey called on its
Spanish number speaks Spanish in every command (no English built-in phrase anywhere on the keypad path), with
the Spanish voice and language; an outbound call asks for its locale; the language menu picks one, or the
default; the response records its locale and the exports carry it (labels in the response's language)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from survey_bot.config import Settings
from survey_bot.forms.catalogue import catalogue_for
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.scenario_file import load_scenario_document
from survey_bot.sandbox.simulate import CallOutcome, play_call
from survey_bot.sandbox.stack import running_stack
from survey_bot.simulator import FakeTelnyx
from survey_bot.simulator.fake_telnyx import ReceivedCommand
from survey_bot.web.app import create_app

FORMS = Path(__file__).resolve().parent.parent / "forms"
SURVEY = "customer_satisfaction"
SPANISH_NUMBER, ENGLISH_NUMBER = "+15550100012", "+15550100001"
TOKEN = "locale-calls-admin-token"
SPANISH_VOICE, ENGLISH_VOICE = "AWS.Polly.Lupe-Neural", "Telnyx.KokoroTTS.af"
SPOKEN = ("speak", "gather_using_speak")


def english_fragments() -> list[str]:
    """Every literal piece (between placeholders) of the English catalogue long enough to be telling."""
    pieces = (re.split(r"\{[a-z_]+\}", text) for text in catalogue_for("en").values())
    return sorted({p.strip(" .,:") for parts in pieces for p in parts if len(p.strip(" .,:")) >= 6})


async def play(forms_dir: Path, database_url: str, calls: list[dict[str, Any]], form: str = SURVEY,
               ) -> tuple[list[CallOutcome], list[list[ReceivedCommand]], Any, list[tuple[str, str, str]]]:
    """Play the calls; return their outcomes, the commands each was sent, the CSV export's rows and, per call, the
    locale the response API, the dashboard's response page and the form page's responses table show."""
    catalog = load_catalog(Settings(forms_dir=forms_dir))
    loaded = load_scenario_document({"form": form, "calls": calls}, "<test>", catalog.forms)
    fake, outcomes, sent = FakeTelnyx(), [], []
    settings = {"forms_dir": forms_dir, "admin_token": TOKEN, "default_form": form}
    async with running_stack(database_url, settings, fake=fake) as stack:
        for call in loaded.calls:
            before = len(fake.accepted())
            outcome = await play_call(stack, "<test>", form, call, check=True)
            assert outcome.passed, (call.name, outcome.error, [m.as_json() for m in outcome.mismatches])
            outcomes.append(outcome)
            sent.append(fake.accepted()[before:])
        client = stack.app.test_client()
        export = await client.get(f"/api/forms/{form}/export.csv?labels=true",
                                  headers={"Authorization": f"Bearer {TOKEN}"})
        assert export.status_code == 200
        rows = list(csv.DictReader(io.StringIO(await export.get_data(as_text=True))))
        shown = await _locales_shown(client, form, [o.response_id or "" for o in outcomes])
    return outcomes, sent, rows, shown


async def _locales_shown(client: Any, form: str, response_ids: list[str]) -> list[tuple[str, str, str]]:
    api = [await (await client.get(f"/api/responses/{rid}", headers={"Authorization": f"Bearer {TOKEN}"})).get_json()
           for rid in response_ids]
    login = await (await client.get("/dashboard/login")).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert csrf is not None
    await client.post("/dashboard/login", form={"csrf_token": csrf.group(1), "token": TOKEN})
    listed = await (await client.get(f"/dashboard/forms/{form}")).get_data(as_text=True)
    shown = []
    for rid, body in zip(response_ids, api, strict=True):
        page = await (await client.get(f"/dashboard/responses/{rid}")).get_data(as_text=True)
        on_page = re.search(r'<dd id="locale">([^<]*)</dd>', page)
        in_table = re.search(rf'responses/{rid}">.*?data-locale="([^"]*)"', listed, re.S)
        shown.append((body["locale"], on_page.group(1) if on_page else "", in_table.group(1) if in_table else ""))
    return shown


SPANISH_CALL = {
    "name": "a call to the Spanish number: refused entry, menus and read-backs all in Spanish",
    "to": SPANISH_NUMBER,
    "ai": [{"end": "invalid"}],
    "keypad": {"nps": ["11#", "3#"], "satisfaction": ["4"], "would_recommend": ["2"], "improve_first": ["3"]},
    "expect": {"status": "completed", "locale": "es-US",
               "answers": {"nps": 3, "satisfaction": "dissatisfied", "would_recommend": False,
                           "improve_first": "delivery"},
               "asked_on_keypad": ["nps", "satisfaction", "would_recommend", "improve_first"]},
}


async def test_a_spanish_call_speaks_spanish_in_every_command(database_url: str) -> None:
    english_call = {"name": "the English number", "to": ENGLISH_NUMBER, "ai": [{"end": "valid", "result": {
        "nps": 9, "satisfaction": "very_satisfied"}}], "expect": {"status": "completed", "locale": "en-US"}}
    outbound = {"name": "an outbound call asked in Spanish", "direction": "outbound", "locale": "es-US",
                "ai": [{"end": "valid", "result": {"nps": 8, "satisfaction": "satisfied"}}],
                "expect": {"status": "completed", "locale": "es-US"}}
    outcomes, sent, rows, shown = await play(FORMS, database_url, [SPANISH_CALL, english_call, outbound])
    spanish = sent[0]
    ai = next(r.body for r in spanish if r.action == "gather_using_ai")
    assert (ai["language"], ai["voice"]) == ("es", SPANISH_VOICE)
    assert ai["transcription"] == {"model": "deepgram/flux", "language": "es"}
    assert ai["greeting"].startswith("¡Hola! Gracias por comprar con nosotros.")
    assert ai["parameters"]["properties"]["nps"]["title"] == "Probabilidad de recomendarnos"
    spoken = [r.body for r in spanish if r.action in SPOKEN]
    assert len(spoken) >= 6 and all((b["language"], b["voice"]) == ("es-US", SPANISH_VOICE) for b in spoken)
    texts = [b["payload"] for b in spoken] + [b["invalid_payload"] for b in spoken if "invalid_payload" in b]
    english = [(fragment, text) for text in texts for fragment in english_fragments() if fragment in text]
    assert english == []  # no English built-in phrase anywhere on the keypad path
    said = " ".join(texts)
    assert "Lo siento, no se aceptó: 11 es más que el máximo, 10." in said  # the refusal's reason in Spanish
    assert "Oprima 1 para muy satisfecho. Oprima 2 para satisfecho." in said  # labels spoken in Spanish menus
    assert "Oprima 1 para sí. Oprima 2 para no." in said and "Oprima 3 para la entrega." in said
    assert spoken[-1]["payload"] == "Gracias por su opinión. Adiós."  # the closing words
    english_ai = next(r.body for r in sent[1] if r.action == "gather_using_ai")
    assert (english_ai["language"], english_ai["voice"]) == ("en", ENGLISH_VOICE)
    outbound_ai = next(r.body for r in sent[2] if r.action == "gather_using_ai")
    assert outbound_ai["language"] == "es" and outbound_ai["voice"] == SPANISH_VOICE
    by_id = {row["response_id"]: row for row in rows}
    assert list(rows[0])[6:9] == ["to", "locale", "started_at"]
    assert [by_id[o.response_id]["locale"] for o in outcomes] == ["es-US", "en-US", "es-US"]
    assert shown == [(locale, locale, locale) for locale in ("es-US", "en-US", "es-US")]  # API and dashboard too
    # answers are stored as values; with labels, each response's own language
    assert by_id[outcomes[0].response_id]["satisfaction"] == "insatisfecho"
    assert by_id[outcomes[1].response_id]["satisfaction"] == "very satisfied"


async def test_the_language_menu_picks_the_locale_or_the_default(database_url: str, tmp_path: Path) -> None:
    document = json.loads((FORMS / f"{SURVEY}.json").read_text())
    (tmp_path / "menu.json").write_text(json.dumps(document | {"x-language-menu": True,
                                                               "x-numbers": ["+15550100077"]}))
    chose = {"name": "presses 2 for Spanish", "keypad": {"language": ["2"], "satisfaction": ["1"]},
             "ai": [{"end": "valid", "result": {"nps": 9}}],
             "expect": {"status": "completed", "locale": "es-US", "answers": {"satisfaction": "very_satisfied"}}}
    silent = {"name": "presses nothing", "ai": [{"end": "valid", "result": {"nps": 9, "satisfaction": "neutral"}}],
              "expect": {"status": "completed", "locale": "en-US"}}
    wrong = {"name": "presses a key no language has", "keypad": {"language": ["invalid", "invalid", "invalid"]},
             "ai": [{"end": "valid", "result": {"nps": 9, "satisfaction": "neutral"}}],
             "expect": {"status": "completed", "locale": "en-US"}}
    _outcomes, sent, _rows, _shown = await play(tmp_path, database_url, [chose, silent, wrong], form="menu")
    menu = [(r.action, r.body.get("payload"), r.body.get("voice"), r.body.get("language")) for r in sent[0][:3]]
    assert menu == [("answer", None, None, None),
                    ("speak", "For English, press 1.", ENGLISH_VOICE, "en-US"),
                    ("gather_using_speak", "Para español, oprima 2.", SPANISH_VOICE, "es-US")]
    gather = sent[0][2].body
    assert (gather["valid_digits"], gather["maximum_digits"]) == ("12", 1)
    assert next(r.body for r in sent[0] if r.action == "gather_using_ai")["language"] == "es"
    keypad = next(r.body for r in sent[0] if r.action == "gather_using_speak" and r is not sent[0][2])
    assert keypad["payload"].startswith("Terminemos con su teclado.")
    assert [next(r.body for r in s if r.action == "gather_using_ai")["language"] for s in sent[1:]] == ["en", "en"]


async def test_a_locale_the_form_does_not_speak_is_a_400(database_url: str) -> None:
    app = create_app({"database_url": database_url, "admin_token": TOKEN, "forms_dir": FORMS,
                      "dispatch_commands": False, "telnyx_public_key": "a" * 43 + "="})
    async with app.test_app():
        response = await app.test_client().post("/api/calls", headers={"Authorization": f"Bearer {TOKEN}"},
                                                json={"to": "+15557654321", "form": SURVEY, "locale": "fr-FR"})
        body = await response.get_json()
    assert response.status_code == 400
    assert body["detail"] == "locale: 'fr-FR' is not a locale of form 'customer_satisfaction' (it speaks en-US, es-US)"
