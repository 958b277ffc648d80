"""Trying a form without a phone: the dashboard plays a scenario (the form's example, edited, pasted or uploaded)
on the simulator it runs beside and shows each call's result; the simulator's own callees answer outbound
calls (`survey-bot call`, POST /api/calls) as the form's example caller instead of never answering."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from quart.datastructures import FileStorage
from quart.testing import QuartClient

from survey_bot.sandbox.callees import example_callees
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.sandbox.try_it import attach_simulator
from survey_bot.storage.models import Response
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
TOKEN = "try-it-admin-token"


@pytest.fixture
async def stack(sqlite_url: str) -> AsyncIterator[Stack]:
    async with running_stack(sqlite_url, {"forms_dir": FORMS, "admin_token": TOKEN}) as running:
        attach_simulator(running)
        running.fake.callee = example_callees(running.app)
        yield running


async def signed_in(stack: Stack) -> tuple[QuartClient, str]:
    client = stack.app.test_client()
    login = await (await client.get("/dashboard/login")).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert csrf
    await client.post("/dashboard/login", form={"csrf_token": csrf.group(1), "token": TOKEN, "next": "/dashboard/"})
    page = await (await client.get("/dashboard/")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token and "Play a scenario" in page
    return client, token.group(1)


async def test_the_example_plays_and_each_call_shows_its_result(stack: Stack) -> None:
    client, csrf = await signed_in(stack)
    page = await client.get("/dashboard/forms/customer_satisfaction/try")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    example = re.search(r'<textarea id="scenario" name="scenario"[^>]*>(.*?)</textarea>', html, re.S)
    assert example
    text = example.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    document = json.loads(text)
    assert document["form"] == "customer_satisfaction" and len(document["calls"]) == 3
    played = await client.post("/dashboard/forms/customer_satisfaction/try",
                               form={"csrf_token": csrf, "scenario": text})
    result = await played.get_data(as_text=True)
    assert played.status_code == 200, result[:300]
    rows = re.findall(r'<tr data-call="\d+">(.*?)</tr>', result, re.S)
    assert len(rows) == 3
    assert "status-completed" in rows[0] and "status-abandoned" in rows[2]
    assert all("no expectations" in row for row in rows)  # the example comes without them: the page shows all
    assert all("/dashboard/responses/" in row for row in rows)


async def test_an_uploaded_yaml_scenario_is_checked_against_its_expectations(stack: Stack) -> None:
    client, csrf = await signed_in(stack)
    scenario = ("form: customer_satisfaction\ncalls:\n"
                "  - name: a detractor\n    ai: [{end: valid, result: {nps: 2, satisfaction: dissatisfied}}]\n"
                "    keypad: {would_recommend: ['2'], improve_first: ['1']}\n"
                "    expect: {status: completed, answers: {nps: 2, would_recommend: false, improve_first: price}}\n"
                "  - name: expected wrongly\n    ai: [{end: invalid}]\n    expect: {status: completed}\n")
    upload = FileStorage(BytesIO(scenario.encode()), filename="mine.yaml", content_type="application/yaml")
    played = await client.post("/dashboard/forms/customer_satisfaction/try",
                               form={"csrf_token": csrf, "scenario": ""}, files={"file": upload})
    html = await played.get_data(as_text=True)
    assert played.status_code == 200, html[:300]
    rows = re.findall(r'<tr data-call="\d+">(.*?)</tr>', html, re.S)
    assert "as expected" in rows[0]
    assert "differs" in rows[1] and "status: expected &#34;completed&#34;, got &#34;partial&#34;" in rows[1]


async def test_a_scenario_that_is_not_valid_is_shown_with_its_pointers(stack: Stack) -> None:
    client, csrf = await signed_in(stack)
    bad = json.dumps({"form": "customer_satisfaction", "calls": [{"name": "x", "keypad": {"nps": ["soon"]}}]})
    played = await client.post("/dashboard/forms/customer_satisfaction/try", form={"csrf_token": csrf, "scenario": bad})
    html = await played.get_data(as_text=True)
    assert played.status_code == 400
    assert "/calls/0/keypad/nps/0" in html and "nothing was played" in html
    async with state(stack.app).sessions() as session:
        assert await session.get(Response, "nothing") is None
    forged = await client.post("/dashboard/forms/customer_satisfaction/try", form={"csrf_token": "x", "scenario": bad})
    assert forged.status_code == 400 and "security token" in await forged.get_data(as_text=True)


async def test_an_api_call_on_the_simulator_is_answered_by_the_example_caller(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.app_url, trust_env=False) as client:
        created = await client.post("/api/calls", json={"to": "+15557654321", "form": "customer_satisfaction"},
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert created.status_code == 202, created.text
    await stack.fake.wait_idle(20)
    await stack.settle()
    async with state(stack.app).sessions() as session:
        response = await session.get(Response, created.json()["response_id"])
    assert response is not None and response.status == "completed", response and response.status
    assert response.answers["nps"] == 7 and set(response.sources.values()) == {"ai"}


async def test_a_campaign_scenario_is_refused_with_where_to_play_it(stack: Stack) -> None:
    client, csrf = await signed_in(stack)
    text = ("form: customer_satisfaction\ncampaign:\n  contacts:\n"
            "    - {name: Ada, phone: '+12125550760', timezone: UTC}\n")
    played = await client.post("/dashboard/forms/customer_satisfaction/try",
                               form={"csrf_token": csrf, "scenario": text})
    html = await played.get_data(as_text=True)
    assert played.status_code == 409 and "survey-bot simulate" in html and "campaign" in html
    assert stack.fake.accepted() == []  # nothing was dialled
