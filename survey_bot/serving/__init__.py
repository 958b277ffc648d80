"""Running the app under an ASGI server: `survey-bot serve` (uvicorn or Hypercorn, the draining shutdown, GC
tuning in every worker) and serve_asgi, which runs any ASGI app inside the current event loop (tests, demo).

Imports web and below.
"""
