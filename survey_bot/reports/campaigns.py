"""A campaign read back: its status (contacts by state, attempts, calls in progress, next call, completes vs quota),
its report (final dispositions and AAPOR rates) and pages of its contacts, for the CLI, the API and the dashboard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns.dispositions import CODES
from survey_bot.campaigns.rates import FORMULAS, rates_from_codes
from survey_bot.campaigns.settings import format_duration
from survey_bot.reports.campaign_views import (
    CampaignList,
    CampaignReport,
    CampaignRules,
    CampaignStatus,
    ContactCounts,
    ContactLine,
    ContactPage,
    DispositionCount,
)
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt
from survey_bot.storage.campaigns import get_campaign
from survey_bot.utc import as_utc

__all__ = ["campaign_list", "campaign_report", "campaign_status", "contact_page", "percent", "report_lines", "rules_of"]

# Every (disposition, code) a report lists, in the order (machine twice: 2.22 and 3.14).
REPORTED = [(slug if slug != "machine_human_reached" else "machine", code) for slug, code in CODES.items()]


def rules_of(campaign: Campaign) -> CampaignRules:
    """The campaign's calling rules as a user wrote them."""
    return CampaignRules(
        window=f"{campaign.window_start}-{campaign.window_end}", days=campaign.days,
        max_attempts=campaign.max_attempts, retry_after=format_duration(campaign.retry_after_seconds),
        concurrency=campaign.concurrency, rate=campaign.rate, amd=campaign.amd, voicemail=campaign.voicemail,
        quota=campaign.quota, locale=campaign.locale, default_region=campaign.default_region)


async def campaign_status(session: AsyncSession, campaign_id: str) -> CampaignStatus:
    """The campaign's status (CampaignNotFound for an unknown id)."""
    campaign = await get_campaign(session, campaign_id)
    return (await _statuses(session, [campaign]))[0]


async def campaign_list(session: AsyncSession) -> CampaignList:
    """Every campaign with its status, newest first."""
    campaigns = list(await session.scalars(select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id)))
    return CampaignList(campaigns=await _statuses(session, campaigns))


async def _statuses(session: AsyncSession, campaigns: list[Campaign]) -> list[CampaignStatus]:
    ids = [campaign.id for campaign in campaigns]
    if not ids:
        return []
    by_state: dict[str, ContactCounts] = {i: ContactCounts() for i in ids}
    completes = dict.fromkeys(ids, 0)
    rows = await session.execute(
        select(CampaignContact.campaign_id, CampaignContact.state, CampaignContact.disposition, func.count())
        .where(CampaignContact.campaign_id.in_(ids))
        .group_by(CampaignContact.campaign_id, CampaignContact.state, CampaignContact.disposition))
    for campaign_id, state, disposition, n in rows:
        counts = by_state[campaign_id]
        if state in ("pending", "dialing", "done"):
            setattr(counts, state, getattr(counts, state) + n)
        counts.total += n
        completes[campaign_id] += n if disposition == "complete" else 0
    next_due: dict[str, datetime | None] = {campaign_id: due for campaign_id, due in await session.execute(
        select(CampaignContact.campaign_id, func.min(CampaignContact.next_attempt_at))
        .where(CampaignContact.campaign_id.in_(ids), CampaignContact.state == "pending")
        .group_by(CampaignContact.campaign_id))}
    attempts: dict[str, int] = {campaign_id: n for campaign_id, n in await session.execute(
        select(ContactAttempt.campaign_id, func.count()).where(ContactAttempt.campaign_id.in_(ids))
        .group_by(ContactAttempt.campaign_id))}
    found = []
    for campaign in campaigns:
        counts = by_state[campaign.id]
        due = next_due.get(campaign.id) if campaign.status == "running" else None
        found.append(CampaignStatus(
            campaign_id=campaign.id, name=campaign.name, form_id=campaign.form_id, status=campaign.status,
            created_at=as_utc(campaign.created_at), started_at=_utc(campaign.started_at),
            ended_at=_utc(campaign.ended_at), rules=rules_of(campaign), columns=list(campaign.columns),
            contacts=counts, attempts=attempts.get(campaign.id, 0), calls_in_progress=counts.dialing,
            next_call_at=_utc(due), completes=completes[campaign.id], quota=campaign.quota))
    return found


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


async def campaign_report(session: AsyncSession, campaign_id: str) -> CampaignReport:
    """Counts per final disposition and the rates (CampaignNotFound for an unknown id)."""
    await get_campaign(session, campaign_id)
    rows = await session.execute(
        select(CampaignContact.disposition, CampaignContact.disposition_code, func.count())
        .where(CampaignContact.campaign_id == campaign_id).group_by(CampaignContact.disposition,
                                                                   CampaignContact.disposition_code))
    counts: dict[tuple[str, str], int] = {}
    open_contacts = total = 0
    for slug, code, n in rows:
        total += n
        if slug is None or code is None:
            open_contacts += n
        else:
            counts[(slug, code)] = counts.get((slug, code), 0) + n
    listed = [DispositionCount(disposition=slug, code=code, count=counts.pop((slug, code), 0))
              for slug, code in REPORTED]
    listed += [DispositionCount(disposition=slug, code=code, count=n) for (slug, code), n in sorted(counts.items())]
    rates = rates_from_codes({line.code: line.count for line in listed})
    return CampaignReport(campaign_id=campaign_id, contacts=total, open_contacts=open_contacts, dispositions=listed,
                          groups=rates.groups, rates=rates.as_dict(), formulas=dict(FORMULAS))


async def contact_page(session: AsyncSession, campaign_id: str, limit: int, after: int = 0) -> ContactPage:
    """Up to `limit` contacts after contact id `after`, in list order (CampaignNotFound for an unknown id)."""
    await get_campaign(session, campaign_id)
    contacts = list(await session.scalars(
        select(CampaignContact).where(CampaignContact.campaign_id == campaign_id, CampaignContact.id > after)
        .order_by(CampaignContact.id).limit(limit)))
    items = [ContactLine(
        contact_id=c.id, phone=c.phone, name=c.name, timezone=c.timezones, locale=c.locale, state=c.state,
        attempts=c.attempts, last_attempt_at=_utc(c.last_attempt_at),
        last_outcome=c.last_outcome, disposition=c.disposition, disposition_code=c.disposition_code,
        response_id=c.response_id, variables=dict(c.variables)) for c in contacts]
    return ContactPage(items=items, next_cursor=str(contacts[-1].id) if len(contacts) == limit else "")


def percent(value: float | None) -> str:
    """A rate as a percentage with one decimal, or "-" when it has nothing to divide."""
    return "-" if value is None else f"{value * 100:.1f}%"


def report_lines(report: CampaignReport) -> list[str]:
    """The report as a person reads it (`campaign report`, the demo): counts per disposition with their AAPOR
    codes, the groups, then the rates with their formulas."""
    lines = [f"campaign {report.campaign_id}: {report.contacts} contacts, {report.open_contacts} not final yet"]
    lines += [f"  {line.code:<5} {line.disposition:<15} {line.count}" for line in report.dispositions]
    lines.append("groups: " + "  ".join(f"{name}={n}" for name, n in report.groups.items()))
    lines += [f"  {name:<6} {percent(value):>7}  = {report.formulas[name]}" for name, value in report.rates.items()]
    return lines
