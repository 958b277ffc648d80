"""/api/webhooks: outbound webhook endpoints (add, list, remove, rotate-secret), their delivery log and
redelivery; behind the admin token like the rest of /api (the same checks run first)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, request
from quart_schema import validate_querystring, validate_request, validate_response

from survey_bot.campaigns.settings import SettingError
from survey_bot.jobs.webhook_targets import TargetError, resolve_target
from survey_bot.reports.webhook_views import (
    DeliveryList,
    DeliveryView,
    EndpointList,
    NewSecret,
    delivery_view,
    endpoint_view,
)
from survey_bot.storage import webhook_endpoints as store
from survey_bot.utc import now as utc_now
from survey_bot.web.api import request_actor, require_json, require_token
from survey_bot.web.api_models import DeliveriesQuery, EndpointRequest, RotateQuery
from survey_bot.web.openapi import ApiError, errors
from survey_bot.web.state import state

__all__ = ["blueprint"]

blueprint = Blueprint("webhooks_api", __name__, url_prefix="/api/webhooks")
blueprint.before_request(require_token)


@blueprint.before_request
async def require_json_body() -> tuple[Response, int] | None:
    """The API's JSON check for a request with a body (rotate-secret and redeliver take none)."""
    if not await request.get_data(cache=True, as_text=False, parse_form_data=False):
        return None
    return await require_json()


@blueprint.post("")
@validate_request(EndpointRequest)
@validate_response(NewSecret, 201)
async def add_endpoint(data: EndpointRequest) -> tuple[NewSecret, int]:
    """Add a receiver; the answer holds its signing secret (`whsec_...`), shown only now.

    Loopback and private addresses are refused (400) unless SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE=1.
    """
    app_state = state(current_app)
    try:
        await resolve_target(data.url, app_state.settings.webhooks_allow_private)
    except TargetError as exc:
        raise ApiError(400, "invalid_request", f"url: {exc}") from None
    async with app_state.sessions() as session, session.begin():
        endpoint = await store.add_endpoint(session, data.url, data.events, data.include_sensitive, request_actor(),
                                            utc_now())
    return NewSecret(endpoint=endpoint_view(endpoint), secret=endpoint.secret), 201


@blueprint.get("")
@validate_response(EndpointList)
async def list_endpoints() -> EndpointList:
    """List the receivers, oldest first (without their secrets)."""
    async with state(current_app).sessions() as session:
        return EndpointList(items=[endpoint_view(e) for e in await store.endpoints(session)])


@blueprint.delete("/<endpoint_id>")
@validate_response(EndpointList, 200)
async def remove_endpoint(endpoint_id: str) -> EndpointList:
    """Remove a receiver with its deliveries; answer the receivers left."""
    async with state(current_app).sessions() as session, session.begin():
        if not await store.remove_endpoint(session, endpoint_id):
            raise ApiError(404, "not_found", f"no webhook endpoint {endpoint_id!r}")
        return EndpointList(items=[endpoint_view(e) for e in await store.endpoints(session)])


@blueprint.post("/<endpoint_id>/rotate-secret")
@validate_querystring(RotateQuery)
@validate_response(NewSecret)
async def rotate_secret(endpoint_id: str, query_args: RotateQuery) -> NewSecret:
    """Give a receiver a new signing secret, shown only now: the next attempt signs with it and, during
    `overlap` (default 24h), with the old one too (two signatures in `webhook-signature`)."""
    try:
        overlap = store.parse_overlap(query_args.overlap)
    except SettingError as exc:
        raise ApiError(400, "invalid_request", f"overlap: {exc.message}") from None
    async with state(current_app).sessions() as session, session.begin():
        secret = await store.rotate_secret(session, endpoint_id, utc_now(), overlap)
        endpoint = await store.endpoint(session, endpoint_id)
    if secret is None or endpoint is None:
        raise ApiError(404, "not_found", f"no webhook endpoint {endpoint_id!r}")
    return NewSecret(endpoint=endpoint_view(endpoint), secret=secret)


@blueprint.get("/<endpoint_id>/deliveries")
@validate_querystring(DeliveriesQuery)
@validate_response(DeliveryList)
async def list_deliveries(endpoint_id: str, query_args: DeliveriesQuery) -> DeliveryList:
    """A receiver's newest deliveries, each with every attempt (status, latency, error)."""
    async with state(current_app).sessions() as session:
        found = await store.delivery_log(session, endpoint_id, query_args.limit)
    if found is None:
        raise ApiError(404, "not_found", f"no webhook endpoint {endpoint_id!r}")
    return DeliveryList(items=[delivery_view(log) for log in found])


@blueprint.post("/deliveries/<delivery_id>/redeliver")
@validate_response(DeliveryView, 202)
@errors(404)
async def redeliver(delivery_id: str) -> tuple[DeliveryView, int]:
    """Send a delivery again (same webhook-id, a fresh retry schedule; a receiver a 410 disabled is enabled)."""
    async with state(current_app).sessions() as session, session.begin():
        found = None
        if await store.redeliver(session, delivery_id, utc_now()) is not None:
            found = await store.delivery_entry(session, delivery_id)
    if found is None:
        raise ApiError(404, "not_found", f"no webhook delivery {delivery_id!r}")
    return delivery_view(found), 202
