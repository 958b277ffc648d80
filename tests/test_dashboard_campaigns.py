"""The dashboard's campaign pages through Quart's test client on both databases: a campaign imported through
storage shows its counts, dispositions and rates; its buttons pause and resume it (CSRF-checked, refusals are
409 pages); unknown campaigns are 404 pages; contact variables are escaped; signed-out visitors go to sign-in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from campaign_lists import T0, dial, dispose
from quart import Quart
from quart.testing import QuartClient
from test_dashboard import csrf_of, make_app, sign_in, text

from survey_bot.campaigns.settings import CampaignSettings
from survey_bot.storage.campaign_models import Campaign
from survey_bot.storage.campaigns import import_campaign
from survey_bot.web.state import state

LIST = ("phone,name,plan\n"
        "+12125550101,Ann,<script>alert(1)</script>\n"
        "+12125550102,Bob,gold\n"
        "+12125550103,Cy,silver\n"
        "+12125550104,Di,\n"
        "+12125550105,Ed,\n")


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Quart]:
    app = make_app(database_url)
    async with app.test_app():
        yield app


async def create(app: Quart, text_: str = LIST, name: str = "spring check-in") -> str:
    """A draft campaign imported through storage, as the CLI and the API do."""
    async with state(app).sessions() as db, db.begin():
        summary = await import_campaign(db, [line.encode() for line in text_.splitlines(keepends=True)],
                                        form_id="customer_satisfaction", name=name, settings=CampaignSettings(quota=4),
                                        caller_id=None, now=T0)
    return summary.campaign_id


async def status_of(app: Quart, campaign_id: str) -> str:
    async with state(app).sessions() as db:
        found = await db.get(Campaign, campaign_id)
    assert found is not None
    return found.status


def metric(html: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}">([^<]*)<', html)
    assert found, f"no metric {name}"
    return found.group(1).strip()


def row_count(html: str, attribute: str, value: str) -> str:
    row = re.search(rf'<tr {attribute}="{re.escape(value)}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row {attribute}={value}"
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    return cells[-1].strip()


async def post(client: QuartClient, path: str, form: dict[str, str]) -> tuple[int, str, str]:
    response = await client.post(path, form=form)
    return response.status_code, response.headers.get("Location", ""), await response.get_data(as_text=True)


async def test_the_page_shows_progress_dispositions_and_rates(app: Quart, database_url: str) -> None:
    campaign_id = await create(app)
    await dial(database_url, campaign_id, "+12125550104", "no_answer", None)  # second attempt in flight
    await dispose(database_url, campaign_id, {("complete", "1.1"): 2, ("refusal", "2.11"): 1})
    client = app.test_client()
    await sign_in(client)
    listing = await text(client, "/dashboard/campaigns/")
    assert 'aria-current="page">Campaigns</a>' in listing and "spring check-in" in listing
    assert f'href="/dashboard/campaigns/{campaign_id}"' in listing
    html = await text(client, f"/dashboard/campaigns/{campaign_id}")
    assert (metric(html, "contacts"), metric(html, "done"), metric(html, "in-progress"), metric(html, "attempts"),
            metric(html, "pending")) == ("5", "3", "1", "2", "1")
    assert re.search(r'data-metric="completes">2<span class="sub">of a quota of 4</span>', html)
    assert metric(html, "next-call") == "not running"  # a draft dials nothing
    assert row_count(html, "data-disposition", "complete") == "2"
    assert row_count(html, "data-disposition", "refusal") == "1"
    assert row_count(html, "data-disposition", "no_answer") == "0"
    # 3 final: RR1 = 2 / 3, REF1 = 1 / 3, COOP1 = 2 / 3, CON1 = 3 / 3
    assert re.search(r'data-rate="RR1">.*?data-col="value">66\.7%<', html, re.S)
    assert re.search(r'data-rate="REF1">.*?data-col="value">33\.3%<', html, re.S)
    assert re.search(r'data-rate="CON1">.*?data-col="value">100\.0%<', html, re.S)
    for chart in ("contact-states", "dispositions", "rates"):
        assert f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart}"' in html
    assert "RR1 response rate: 66.7%" in html and "complete (1.1): 2 (67%) complete" in html
    assert "<script" not in html  # no scripts on this page at all


async def test_pause_and_resume_through_the_buttons(app: Quart) -> None:
    campaign_id = await create(app)
    client = app.test_client()
    csrf = await sign_in(client)
    page = f"/dashboard/campaigns/{campaign_id}"
    html = await text(client, page)
    assert 'data-action="start"' in html and 'data-action="pause"' not in html
    assert csrf_of(html) == csrf
    code, location, _ = await post(client, f"{page}/start", {"csrf_token": csrf})
    assert (code, location) == (302, f"{page}?done=started")
    html = await text(client, location)
    assert 'id="campaign-status">running<' in html and "Campaign started." in html
    assert 'data-action="pause"' in html and 'data-action="resume"' not in html
    code, location, _ = await post(client, f"{page}/pause", {"csrf_token": csrf})
    assert code == 302 and await status_of(app, campaign_id) == "paused"
    assert 'id="campaign-status">paused<' in await text(client, location)
    code, _, body = await post(client, f"{page}/pause", {"csrf_token": csrf})  # a paused one cannot pause
    assert code == 409 and f"campaign {campaign_id} is paused: only a running campaign can pause" in body
    assert f'href="{page}" id="back"' in body
    code, location, _ = await post(client, f"{page}/resume", {"csrf_token": csrf})
    assert code == 302 and await status_of(app, campaign_id) == "running"
    code, _, body = await post(client, f"{page}/cancel", {"csrf_token": csrf})  # not confirmed
    assert code == 400 and await status_of(app, campaign_id) == "running"
    code, _, _ = await post(client, f"{page}/cancel", {"csrf_token": csrf, "confirm": "yes"})
    assert code == 302 and await status_of(app, campaign_id) == "cancelled"
    html = await text(client, page)
    assert "data-action=" not in html and row_count(html, "data-disposition", "not_attempted") == "5"


async def test_a_post_without_the_csrf_token_changes_nothing(app: Quart) -> None:
    campaign_id = await create(app)
    client = app.test_client()
    await sign_in(client)
    for form in ({}, {"csrf_token": "forged"}):
        code, _, body = await post(client, f"/dashboard/campaigns/{campaign_id}/start", form)
        assert code == 400 and "security token" in body
    assert await status_of(app, campaign_id) == "draft"


async def test_unknown_campaigns_and_actions_are_404_pages(app: Quart) -> None:
    campaign_id = await create(app)
    client = app.test_client()
    csrf = await sign_in(client)
    assert "No campaign has the id &#39;nope&#39;." in await text(client, "/dashboard/campaigns/nope", 404)
    code, _, body = await post(client, "/dashboard/campaigns/nope/pause", {"csrf_token": csrf})
    assert code == 404 and "No such campaign" in body
    code, _, body = await post(client, f"/dashboard/campaigns/{campaign_id}/explode", {"csrf_token": csrf})
    assert code == 404 and "Unknown action" in body
    assert "is not a page" in await text(client, f"/dashboard/campaigns/{campaign_id}?after=x", 400)


async def test_contact_variables_are_escaped_and_the_table_pages(app: Quart) -> None:
    many = "phone,name,plan\n" + "".join(f"+1212{2000000 + i:07d},P{i},<b>v{i}</b>\n" for i in range(55))
    campaign_id = await create(app, many, name="<i>big</i>")
    client = app.test_client()
    await sign_in(client)
    html = await text(client, f"/dashboard/campaigns/{campaign_id}")
    assert "<b>v0</b>" not in html and '<td data-variable="plan">&lt;b&gt;v0&lt;/b&gt;</td>' in html
    assert "<i>big</i>" not in html and "&lt;i&gt;big&lt;/i&gt;" in html
    assert html.count("<tr data-contact=") == 50
    found = re.search(r'rel="next" href="([^"]+)"', html)
    assert found
    rest = await text(client, found.group(1).replace("&amp;", "&"))
    assert rest.count("<tr data-contact=") == 5 and "P54" in rest and "P0<" not in rest
    script = await create(app)
    html = await text(client, f"/dashboard/campaigns/{script}")
    assert "<script>alert(1)</script>" not in html
    assert '<td data-variable="plan">&lt;script&gt;alert(1)&lt;/script&gt;</td>' in html


async def test_signed_out_visitors_are_sent_to_sign_in(app: Quart) -> None:
    campaign_id = await create(app)
    client = app.test_client()
    for path in ("/dashboard/campaigns/", f"/dashboard/campaigns/{campaign_id}"):
        response = await client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/dashboard/login?next=/dashboard/campaigns/")
    anonymous = csrf_of(await text(client, "/dashboard/login"))  # a session's token, but nobody signed in
    code, location, _ = await post(client, f"/dashboard/campaigns/{campaign_id}/start", {"csrf_token": anonymous})
    assert code == 302 and location.startswith("/dashboard/login?next=")
    assert await status_of(app, campaign_id) == "draft"
