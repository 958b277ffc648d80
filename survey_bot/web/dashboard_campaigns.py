"""The dashboard's campaign pages: every campaign, and one campaign's progress, dispositions and AAPOR rates as
charts, its contacts a page at a time, and start/pause/resume/cancel buttons (CSRF-checked POSTs that come back).

A nested blueprint of the dashboard's, so its guard (session, CSRF) covers these routes too. What the pages show
is reports.campaigns' (the CLI's and the API's figures); state changes go through storage.campaigns.transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from markupsafe import Markup
from quart import Blueprint, current_app, redirect, request, url_for

from survey_bot.campaigns.rates import group_of
from survey_bot.reports.campaign_views import CampaignReport, CampaignStatus, ContactPage
from survey_bot.reports.campaigns import campaign_list, campaign_report, campaign_status, contact_page
from survey_bot.storage.campaigns import ACTIONS, CampaignNotFound, TransitionRefused, transition
from survey_bot.utc import now as utc_now
from survey_bot.web import charts
from survey_bot.web.dashboard_page import Reply, page
from survey_bot.web.state import state

__all__ = ["CampaignPage", "blueprint"]

blueprint = Blueprint("campaigns", __name__, url_prefix="/campaigns")

CONTACTS_PAGE: Final = 50  # contacts per page of the table
DONE: Final = {"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}
BUTTONS: Final = {"start": "Start calling", "pause": "Pause", "resume": "Resume", "cancel": "Cancel campaign"}
RATE_LABELS: Final = {"RR1": "RR1 response rate", "RR2": "RR2 response rate (with partials)",
                      "COOP1": "COOP1 cooperation rate", "REF1": "REF1 refusal rate", "CON1": "CON1 contact rate"}
# AAPOR groups' colours (4.5:1 against white), so a disposition's bar says which part of the rates it feeds.
GROUP_COLOURS: Final = {"I": "#1d6b35", "P": "#1f5fa8", "R": "#b00020", "NC": "#6b6b6b", "O": "#7a4fa0",
                        "UH": "#4a4a4a", "UO": "#4a4a4a", "NE": "#b35900"}
GROUP_NAMES: Final = {"I": "complete", "P": "partial", "R": "refusal and break-off", "NC": "non-contact",
                      "O": "other", "UH": "unknown if household", "UO": "unknown, other", "NE": "not eligible"}


@dataclass(frozen=True)
class CampaignPage:
    """Everything one campaign's page shows."""

    status: CampaignStatus
    report: CampaignReport
    contacts: ContactPage
    after: int
    actions: list[str]  # the buttons this campaign's state allows, in ACTIONS' order
    state_svg: Markup
    disposition_svg: Markup
    rate_svg: Markup


def _charts(status: CampaignStatus, report: CampaignReport) -> tuple[Markup, Markup, Markup]:
    counts = status.contacts
    states = charts.bar_chart("contact-states", f"Contacts of {status.name} by state", [
        charts.Bar("waiting to be called", counts.pending, charts.NONE),
        charts.Bar("being called now", counts.dialing, charts.KEYPAD),
        charts.Bar("done", counts.done, GROUP_COLOURS["I"])], total=counts.total)
    dispositions = charts.bar_chart("dispositions", f"Final dispositions of {status.name}", [
        charts.Bar(f"{line.disposition.replace('_', ' ')} ({line.code})", line.count,
                   GROUP_COLOURS[group_of(line.code)], GROUP_NAMES[group_of(line.code)])
        for line in report.dispositions], total=report.contacts - report.open_contacts)
    rates = charts.share_chart("rates", f"AAPOR rates of {status.name}", [
        charts.Share(RATE_LABELS.get(name, name), value) for name, value in report.rates.items()])
    return states, dispositions, rates


def _campaign_id_404(campaign_id: str) -> str:
    return f"No campaign has the id {campaign_id!r}."


@blueprint.get("/")
async def index() -> Reply:
    """Every campaign, newest first, with its progress in one line."""
    async with state(current_app).sessions() as db:
        found = await campaign_list(db)
    return await page("dashboard_campaigns.html", campaigns=found.campaigns)


@blueprint.get("/<campaign_id>")
async def campaign(campaign_id: str) -> Reply:
    """One campaign: progress, dispositions and rates as charts, a page of its contacts, its buttons."""
    after_text = request.args.get("after", "0") or "0"
    if not after_text.isdigit() or len(after_text) > 18:
        return await page("dashboard_error.html", 400, title="Page not found",
                          message=f"after: {after_text[:40]!r} is not a page of this table; start from the first.",
                          back=url_for(".campaign", campaign_id=campaign_id))
    after = int(after_text)
    try:
        async with state(current_app).sessions() as db:
            status = await campaign_status(db, campaign_id)
            report = await campaign_report(db, campaign_id)
            contacts = await contact_page(db, campaign_id, CONTACTS_PAGE, after)
    except CampaignNotFound:
        return await page("dashboard_error.html", 404, title="No such campaign", message=_campaign_id_404(campaign_id),
                          back=url_for(".index"))
    actions = [name for name, (sources, _) in ACTIONS.items() if status.status in sources]
    view = CampaignPage(status, report, contacts, after, actions, *_charts(status, report))
    done = request.args.get("done", "")
    return await page("dashboard_campaign.html", c=view, buttons=BUTTONS, formulas=report.formulas,
                      rate_labels=RATE_LABELS, done=done if done in DONE.values() else "")


@blueprint.post("/<campaign_id>/<action>")
async def act(campaign_id: str, action: str) -> Reply:
    """Start, pause, resume or cancel the campaign, then show its page again (a refusal says why: 409)."""
    back = url_for(".campaign", campaign_id=campaign_id)
    if action not in ACTIONS:
        return await page("dashboard_error.html", 404, title="Unknown action",
                          message=f"{action!r} is not one of {', '.join(ACTIONS)}.", back=back)
    if action == "cancel" and (await request.form).get("confirm") != "yes":
        return await page("dashboard_error.html", 400, title="Not cancelled",
                          message="Cancelling cannot be undone: tick the box beside the button to confirm.", back=back)
    try:
        async with state(current_app).sessions() as db, db.begin():
            await transition(db, campaign_id, action, utc_now())
    except CampaignNotFound:
        return await page("dashboard_error.html", 404, title="No such campaign", message=_campaign_id_404(campaign_id),
                          back=url_for(".index"))
    except TransitionRefused as exc:
        return await page("dashboard_error.html", 409, title=f"Could not {action} the campaign",
                          message=f"{exc}. Nothing was changed.", back=back)
    return redirect(url_for(".campaign", campaign_id=campaign_id, done=DONE[action]))
