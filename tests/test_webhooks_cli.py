"""`survey-bot webhooks`: add prints the endpoint id and its secret last, refuses private addresses without the
setting (one line, exit 2), records --include-sensitive in the audit log; list, rotate-secret, deliveries,
redeliver and remove, and unknown ids said in one line."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from survey_bot.cli.main import main

LAST_LINE = re.compile(r"^(ep_[0-9a-f]+) (whsec_[A-Za-z0-9+/=]+)$")


async def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["webhooks", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def test_webhooks_on_the_command_line(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SURVEY_BOT_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    code, out, err = await run(capsys, "add", "http://127.0.0.1:9/hook")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE" in err

    monkeypatch.setenv("SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE", "1")
    code, out, err = await run(capsys, "add", "http://127.0.0.1:9/hook", "--event", "response.updated",
                               "--event", "contact.disposed", "--include-sensitive")
    assert code == 0, err
    found = LAST_LINE.match(out.splitlines()[-1])
    assert found, out
    endpoint, secret = found.groups()
    code, out, _ = await run(capsys, "list")
    assert endpoint in out and "response.updated,contact.disposed" in out and "include-sensitive" in out
    code, out, _ = await asyncio.to_thread(main, ["audit"]), *capsys.readouterr()
    assert "webhook_sensitive" in out and endpoint in out

    code, out, _ = await run(capsys, "rotate-secret", endpoint)
    rotated = LAST_LINE.match(out.splitlines()[-1])
    assert code == 0 and rotated and rotated.group(1) == endpoint and rotated.group(2) != secret
    assert "two signatures" in out and "until" in out  # the old secret signs too for the default 24h
    code, out, _ = await run(capsys, "list", "--json")
    assert json.loads(out)[0]["previous_secret_until"] is not None
    code, out, _ = await run(capsys, "list")
    assert "old secret also signs until" in out
    code, _, err = await run(capsys, "rotate-secret", endpoint, "--overlap", "800h")
    assert code == 2 and err.strip().endswith("longer than 30 days: an old secret should retire") and "--overlap" in err
    code, out, _ = await run(capsys, "rotate-secret", endpoint, "--overlap", "0")
    assert code == 0 and "new secret only" in out and LAST_LINE.match(out.splitlines()[-1])
    code, out, _ = await run(capsys, "deliveries", endpoint)
    assert code == 0 and "no deliveries yet" in out
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        await run(capsys, "add", "http://127.0.0.1:9/hook", "--event", "response.nothing")
    assert usage.value.code == 2 and "invalid choice" in capsys.readouterr().err
    for verb, name in (("redeliver", "msg_nope"), ("deliveries", "ep_nope"), ("rotate-secret", "ep_nope")):
        code, _, err = await run(capsys, verb, name)
        assert code == 2 and name in err and len(err.strip().splitlines()) == 1, (verb, err)
    code, out, _ = await run(capsys, "remove", endpoint)
    assert code == 0 and endpoint in out
    code, out, err = await run(capsys, "remove", endpoint)
    assert code == 2 and "no webhook endpoint" in err
    code, out, _ = await run(capsys, "list", "--json")
    assert code == 0 and out.strip() == "[]"
