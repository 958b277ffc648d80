"""/api/campaigns and /api/suppressions over real HTTP (uvicorn, httpx), on both databases: a list uploaded as
the body and as multipart, its summary, the size bound, bad options and unreadable lists (4xx, one reason),
start/pause/resume/cancel with 409s, status, report, contacts, the export read back with csv, the suppression
list, and the OpenAPI document naming every route."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from campaign_lists import LIST, REPO, campaign_forms, dial, dispose, numbered_list

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator.signer import WebhookSigner
from survey_bot.web.app import create_app

FORMS_DIR = campaign_forms()
TOKEN = "campaign-api-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIGNER = WebhookSigner.from_seed(b"c" * 32)
FORM = "customer_satisfaction"


async def _client(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app({"database_url": database_url, "telnyx_public_key": SIGNER.public_key_b64, "admin_token": TOKEN,
                      "forms_dir": FORMS_DIR, "dispatch_commands": False, **overrides})
    async with serve_asgi(app) as base_url, httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=30) as http:
        yield http


@pytest.fixture
async def http(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(database_url):
        yield client


async def create(http: httpx.AsyncClient, text: str, status: int = 201, form: str = FORM,
                 **options: Any) -> dict[str, Any]:
    answer = await http.post("/api/campaigns", params={"form": form, **options}, content=text.encode(),
                             headers={"Content-Type": "text/csv"})
    assert answer.status_code == status, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_list_as_the_body_is_imported_and_summarised(http: httpx.AsyncClient, database_url: str) -> None:
    assert (await http.post("/api/suppressions", json={"numbers": ["+1 212 555 0104"]})).json() == {
        "changed": 1, "unchanged": 0}
    made = await create(http, LIST, retry_after="2s", days="mon-fri")
    assert (made["imported"], made["rejected"], made["duplicates"], made["suppressed"]) == (3, 2, 1, 1)
    assert {row["line"] for row in made["rejected_rows"]} == {5, 8}
    assert made["duplicate_rows"] == [{"line": 4, "reason": "duplicate of line 2 (+12125550101)"}]
    assert made["suppressed_rows"] == [{"line": 6, "reason": "+12125550104 is on the suppression list"}]
    assert made["unfilled_placeholders"] == []
    campaign_id = made["campaign_id"]
    status = (await http.get(f"/api/campaigns/{campaign_id}")).json()
    assert status["status"] == "draft" and status["contacts"]["pending"] == 3
    assert status["rules"]["retry_after"] == "2s" and status["rules"]["days"] == "mon,tue,wed,thu,fri"
    contacts = (await http.get(f"/api/campaigns/{campaign_id}/contacts", params={"limit": 2})).json()
    assert [c["phone"] for c in contacts["items"]] == ["+12125550101", "+12125550102"]
    rest = (await http.get(f"/api/campaigns/{campaign_id}/contacts", params={"cursor": contacts["next_cursor"]}))
    assert [c["phone"] for c in rest.json()["items"]] == ["+442079460958"]
    assert [c["campaign_id"] for c in (await http.get("/api/campaigns")).json()["campaigns"]] == [campaign_id]


async def test_a_list_as_a_multipart_part_is_imported(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/campaigns", params={"form": FORM, "name": "spring"},
                             files={"note": ("x.txt", b"not the list"), "contacts": ("l.csv", numbered_list(4))})
    assert answer.status_code == 201, answer.text
    assert answer.json()["imported"] == 4
    missing = await http.post("/api/campaigns", params={"form": FORM}, files={"list": ("l.csv", b"phone\n")})
    assert missing.status_code == 400 and "no `contacts` file part" in missing.json()["detail"]


async def test_a_list_over_the_upload_bound_is_413_and_a_big_one_under_it_is_taken(database_url: str) -> None:
    text = numbered_list(6000)  # ~150 kB: over the webhook-sized body limit, under this upload bound
    async for http in _client(database_url, max_upload_bytes=len(text) + 10):
        assert (await create(http, text))["imported"] == 6000
        over = await http.post("/api/campaigns", params={"form": FORM}, content=(text + "+12125550199,x\n" * 9),
                               headers={"Content-Type": "text/csv"})
        assert over.status_code == 413 and "SURVEY_BOT_MAX_UPLOAD_BYTES" in over.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(3):
                yield text.encode()

        streamed = await http.post("/api/campaigns", params={"form": FORM}, content=chunks(),
                                   headers={"Content-Type": "text/csv"})
        assert streamed.status_code == 413
        assert len((await http.get("/api/campaigns")).json()["campaigns"]) == 1


async def test_a_50000_row_list_is_imported_whole_as_the_body_and_as_a_multipart_part(database_url: str) -> None:
    text = numbered_list(50_000).encode()  # ~1.2 MB: many times the webhook-sized body limit, in many chunks

    async def chunks() -> AsyncIterator[bytes]:  # streamed without a Content-Length, as a big upload may come
        for start in range(0, len(text), 65536):
            yield text[start:start + 65536]

    async for http in _client(database_url):
        streamed = await http.post("/api/campaigns", params={"form": FORM}, content=chunks(),
                                   headers={"Content-Type": "text/csv"}, timeout=120)
        assert streamed.status_code == 201, streamed.text
        assert (streamed.json()["imported"], streamed.json()["rejected"]) == (50_000, 0)
        parted = await http.post("/api/campaigns", params={"form": FORM}, files={"contacts": ("l.csv", text)},
                                 timeout=120)
        assert parted.status_code == 201, parted.text
        assert parted.json()["imported"] == 50_000
        for made in (streamed, parted):
            status = (await http.get(f"/api/campaigns/{made.json()['campaign_id']}")).json()
            assert status["contacts"]["pending"] == 50_000


@pytest.mark.parametrize(("options", "body", "status", "detail"), [
    ({"form": "nope"}, "phone\n", 404, "form: no form named 'nope'"),
    ({"window": "20:00-09:00"}, "phone\n", 400, "window: '20:00-09:00' ends before it starts"),
    ({"retry_after": "4 days"}, "phone\n", 400, "retry_after: String should match pattern"),
    ({"days": "fri-mon"}, "phone\n", 400, "days: 'fri-mon': fri-mon runs backwards"),
    ({"concurrency": "0"}, "phone\n", 400, "concurrency"),
    ({}, "name\nAnn\n", 400, "contacts: line 1: no `phone` column (columns: name): nothing was imported"),
    ({}, "phone\n\"+1212", 400, "contacts: line 2: not CSV"),
])
async def test_bad_options_and_unreadable_lists_are_4xx_with_a_reason(
        http: httpx.AsyncClient, options: dict[str, str], body: str, status: int, detail: str) -> None:
    answer = await http.post("/api/campaigns", params={"form": FORM, **options}, content=body.encode(),
                             headers={"Content-Type": "text/csv"})
    assert answer.status_code == status and detail in answer.json()["detail"], answer.text
    assert (await http.get("/api/campaigns")).json()["campaigns"] == []


async def test_json_is_not_a_list(http: httpx.AsyncClient) -> None:
    answer = await http.post("/api/campaigns", params={"form": FORM}, json={"phone": "+12125550101"})
    assert answer.status_code == 415


async def test_states_over_http(http: httpx.AsyncClient, database_url: str) -> None:
    campaign_id = (await create(http, numbered_list(3)))["campaign_id"]
    steps = [("pause", 409), ("start", 200), ("start", 409), ("pause", 200), ("resume", 200), ("cancel", 200),
             ("resume", 409)]
    for action, status in steps:
        if action == "cancel":
            await dial(database_url, campaign_id, "+12122000000", "no_answer", "complete")
        answer = await http.post(f"/api/campaigns/{campaign_id}/{action}")
        assert answer.status_code == status, (action, answer.text)
    assert answer.json()["detail"].endswith("only a paused campaign can resume")
    assert (await http.post("/api/campaigns/no-such/start")).status_code == 404
    status = (await http.get(f"/api/campaigns/{campaign_id}")).json()
    assert status["status"] == "cancelled" and status["contacts"]["done"] == 3 and status["completes"] == 1
    assert status["attempts"] == 2


async def test_report_and_export_over_http(http: httpx.AsyncClient, database_url: str) -> None:
    campaign_id = (await create(http, numbered_list(10)))["campaign_id"]
    await dispose(database_url, campaign_id, {("complete", "1.1"): 3, ("refusal", "2.11"): 1,
                                              ("not_attempted", "3.11"): 2, ("machine", "3.14"): 4})
    report = (await http.get(f"/api/campaigns/{campaign_id}/report")).json()
    assert report["rates"] == pytest.approx({"RR1": 0.3, "RR2": 0.3, "COOP1": 0.75, "REF1": 0.1, "CON1": 0.4})
    assert report["formulas"]["COOP1"] == "I / ((I+P) + R + O)"
    export = await http.get(f"/api/campaigns/{campaign_id}/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["disposition_code"] for row in rows] == ["1.1"] * 3 + ["2.11"] + ["3.11"] * 2 + ["3.14"] * 4
    assert (await http.get("/api/campaigns/nope/export.csv")).status_code == 404
    assert (await http.get("/api/campaigns/nope/report")).status_code == 404


async def test_the_suppression_list_over_http(http: httpx.AsyncClient) -> None:
    added = await http.post("/api/suppressions", json={"numbers": ["+12125550101", "+442079460958", "+12125550101"]})
    assert added.json() == {"changed": 2, "unchanged": 0}
    page = (await http.get("/api/suppressions", params={"limit": 1})).json()
    assert page["total"] == 2 and [e["phone"] for e in page["items"]] == ["+12125550101"]
    assert page["items"][0]["source"].startswith("api:") and page["items"][0]["reason"] == "manual"
    rest = (await http.get("/api/suppressions", params={"cursor": page["next_cursor"]})).json()
    assert [e["phone"] for e in rest["items"]] == ["+442079460958"]
    assert (await http.delete("/api/suppressions/+12125550101")).json() == {"changed": 1, "unchanged": 0}
    assert (await http.delete("/api/suppressions/+12125550101")).status_code == 404
    bad = await http.post("/api/suppressions", json={"numbers": ["12125550101"]})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("numbers.0: String should match pattern")
    invalid = await http.post("/api/suppressions", json={"numbers": ["+12125550101", "+1 999 000"]})
    assert invalid.status_code == 400
    assert invalid.json()["detail"] == "numbers.1: phone '+1 999 000' is not a valid number for its country"


async def test_the_routes_are_in_the_openapi_document_behind_the_token(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    for path in ("/api/campaigns", "/api/campaigns/{campaign_id}", "/api/campaigns/{campaign_id}/start",
                 "/api/campaigns/{campaign_id}/report", "/api/campaigns/{campaign_id}/export.csv",
                 "/api/suppressions", "/api/suppressions/{number}"):
        assert path in paths, sorted(paths)
    create_op = paths["/api/campaigns"]["post"]
    assert set(create_op["requestBody"]["content"]) == {"text/csv", "multipart/form-data"}
    assert {"400", "401", "404", "413", "415"} <= set(map(str, create_op["responses"]))
    assert "409" in map(str, paths["/api/campaigns/{campaign_id}/start"]["post"]["responses"])
    unauthorised = await http.get("/api/campaigns", headers={"Authorization": "Bearer wrong-token-000000"})
    assert unauthorised.status_code == 401


async def test_a_form_without_a_disclosure_cannot_run_a_campaign(database_url: str) -> None:
    async for http in _client(database_url, forms_dir=REPO / "forms"):
        answer = await http.post("/api/campaigns", params={"form": FORM}, content=b"phone\n+12125550101\n",
                                 headers={"Content-Type": "text/csv"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"] == ("form: form 'customer_satisfaction' has no x-disclosure: a campaign's calls "
                                           "must say who is calling and why (add \"x-disclosure\" to the form)")


async def test_a_placeholder_no_column_fills_is_named(http: httpx.AsyncClient) -> None:
    """purchase_follow_up greets `{name}`: a list without that column (a misspelt `Name ` would do it) is
    imported, and the summary says which placeholder its calls will leave out."""
    made = await create(http, "phone,first_name\n+12125550199,Ann\n", form="purchase_follow_up")
    assert made["imported"] == 1 and made["unfilled_placeholders"] == ["name"]
    made = await create(http, "phone,name\n+12125550198,Ann\n", form="purchase_follow_up")
    assert made["unfilled_placeholders"] == []
