"""survey-bot on loopback with the fake Telnyx: the running stack, the demo, and "try it" from the dashboard.

Imports web, serving, simulator and below.
"""
