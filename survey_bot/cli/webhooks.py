"""`survey-bot webhooks add|list|remove|rotate-secret|deliveries|redeliver`: the receivers responses are handed on
to (signed Standard Webhooks; /api/webhooks does the same). `add` and `rotate-secret` print the endpoint id and
its secret as their last line; the running server delivers."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from survey_bot.campaigns.settings import SettingError
from survey_bot.cli.common import Commands, os_actor
from survey_bot.errors import ConfigError
from survey_bot.forms.model import FormCatalog
from survey_bot.jobs.webhook_targets import TargetError, resolve_target
from survey_bot.reports.webhook_views import delivery_view, endpoint_view
from survey_bot.runtime import Runtime, running
from survey_bot.storage import webhook_endpoints as store
from survey_bot.storage.webhook_outbox import DEFAULT_EVENTS, EVENTS
from survey_bot.utc import now as utc_now

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """Register `webhooks` and its verbs."""
    command = commands.add_parser("webhooks", help="outbound webhooks: receivers of finished responses",
                                  description=__doc__)
    verbs = command.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="add a receiver; prints its id and secret last")
    add.add_argument("url", metavar="URL", help="https:// URL of the receiver")
    add.add_argument("--event", action="append", choices=EVENTS, metavar="E", dest="events",
                     help=f"an event to send (repeat; one of {', '.join(EVENTS)}; "
                          f"default: {', '.join(DEFAULT_EVENTS)})")
    add.add_argument("--include-sensitive", action="store_true",
                     help="include x-sensitive answers in the bodies (recorded in the audit log)")
    add.set_defaults(handler=_run(_add))
    listing = verbs.add_parser("list", help="list the receivers")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=_run(_list))
    remove = verbs.add_parser("remove", help="remove a receiver and its deliveries")
    remove.add_argument("id", metavar="ID", help="the endpoint id (ep_...), as `webhooks list` shows it")
    remove.set_defaults(handler=_run(_remove))
    rotate = verbs.add_parser("rotate-secret", help="give a receiver a new secret; prints its id and secret last")
    rotate.add_argument("id", metavar="ID", help="the endpoint id (ep_...) whose secret is replaced")
    rotate.add_argument("--overlap", default=store.DEFAULT_OVERLAP, metavar="DURATION",
                        help="how long the old secret still signs too, e.g. 30m, 24h; 0: it stops at once "
                             "(default: %(default)s)")
    rotate.set_defaults(handler=_run(_rotate))
    deliveries = verbs.add_parser("deliveries", help="a receiver's newest deliveries and every attempt")
    deliveries.add_argument("id", metavar="ID", help="the endpoint id (ep_...) whose deliveries are listed")
    deliveries.add_argument("--limit", type=int, default=50, metavar="N", help="the N newest (default: %(default)s)")
    deliveries.add_argument("--json", action="store_true", help="print a JSON array")
    deliveries.set_defaults(handler=_run(_deliveries))
    redeliver = verbs.add_parser("redeliver", help="send a delivery again (same webhook-id)")
    redeliver.add_argument("delivery_id", metavar="DELIVERY_ID", help="the delivery id (msg_...)")
    redeliver.set_defaults(handler=_run(_redeliver))


Verb = Callable[[Runtime, argparse.Namespace], Awaitable[int]]


def _run(verb: Verb) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        async def main() -> int:
            async with running(catalog=FormCatalog({})) as runtime:
                return await verb(runtime, args)

        return asyncio.run(main())

    return handler


async def _add(runtime: Runtime, args: argparse.Namespace) -> int:
    try:
        await resolve_target(args.url, runtime.settings.webhooks_allow_private)
    except TargetError as exc:
        raise ConfigError(f"URL: {exc}") from None
    async with runtime.sessions() as session, session.begin():
        endpoint = await store.add_endpoint(session, args.url, args.events or DEFAULT_EVENTS, args.include_sensitive,
                                            os_actor(), utc_now())
    print(f"added {endpoint.url} for {', '.join(endpoint.events)}"
          + (" (with sensitive answers: recorded in the audit log)" if endpoint.include_sensitive else ""))
    print("keep the secret: it is not shown again")
    print(f"{endpoint.id} {endpoint.secret}")
    return 0


async def _list(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.sessions() as session:
        views = [endpoint_view(e) for e in await store.endpoints(session)]
    if args.json:
        _print_json([v.model_dump(mode="json") for v in views])
        return 0
    for v in views:
        state = f"disabled {v.disabled_at:%Y-%m-%d %H:%M} ({v.disabled_reason})" if v.disabled_at else "enabled"
        sensitive = "  include-sensitive" if v.include_sensitive else ""
        until = v.previous_secret_until
        overlap = f"  old secret also signs until {until:%Y-%m-%d %H:%M}" if until and until > utc_now() else ""
        print(f"{v.id}  {v.url}  {','.join(v.events)}  {state}{sensitive}{overlap}")
    if not views:
        print("no webhook endpoints")
    return 0


async def _remove(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.sessions() as session, session.begin():
        if not await store.remove_endpoint(session, args.id):
            raise _unknown(args.id)
    print(f"removed {args.id}")
    return 0


async def _rotate(runtime: Runtime, args: argparse.Namespace) -> int:
    try:
        overlap = store.parse_overlap(args.overlap)
    except SettingError as exc:
        raise ConfigError(str(exc)) from None
    now = utc_now()
    async with runtime.sessions() as session, session.begin():
        secret = await store.rotate_secret(session, args.id, now, overlap)
    if secret is None:
        raise _unknown(args.id)
    if overlap:
        print(f"deliveries carry two signatures, the new secret's and the old one's, until "
              f"{(now + overlap).isoformat(timespec='seconds')}: switch the receiver to the new secret before then")
    else:
        print("the next attempt is signed with the new secret only")
    print("keep the new secret: it is not shown again")
    print(f"{args.id} {secret}")
    return 0


async def _deliveries(runtime: Runtime, args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise ConfigError(f"--limit {args.limit}: give a number from 1 to 1000")
    async with runtime.sessions() as session:
        found = await store.delivery_log(session, args.id, args.limit)
    if found is None:
        raise _unknown(args.id)
    views = [delivery_view(log) for log in found]
    if args.json:
        _print_json([v.model_dump(mode="json") for v in views])
        return 0
    for v in views:
        print(f"{v.id}  {v.event_type}  {v.response_id or '-'}  {v.status}  {len(v.attempts)} attempt(s)")
        for a in v.attempts:
            print(f"    {a.at:%Y-%m-%d %H:%M:%S}  {a.status_code or '-'}  {a.latency_ms} ms  {a.error or 'ok'}")
    if not views:
        print("no deliveries yet")
    return 0


async def _redeliver(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.sessions() as session, session.begin():
        delivery = await store.redeliver(session, args.delivery_id, utc_now())
    if delivery is None:
        raise ConfigError(f"no webhook delivery {args.delivery_id!r} (see `survey-bot webhooks deliveries ID`)")
    print(f"{delivery.id} ({delivery.event_type}) is due now; the running server sends it")
    return 0


def _unknown(endpoint_id: str) -> ConfigError:
    return ConfigError(f"no webhook endpoint {endpoint_id!r} (see `survey-bot webhooks list`)")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
