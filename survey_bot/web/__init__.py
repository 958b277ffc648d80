"""The Quart app: its factory, the admin API with its OpenAPI document, the dashboard and its live page.

The webhook endpoint itself is intake's plain ASGI handler, mounted in front of Quart by the factory.
Imports runtime, intake, dispatch, reports and below; never serving, sandbox, simulator or cli.
"""
