"""Secrets never shown: credentials in URLs are masked in settings, logs and errors."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

import pytest

from gamsi.masking import install_log_masking, mask, mask_url
from gamsi.notifier.secrets import Secrets
from gamsi.settings import describe, load_settings

PASSWORD = "pw-9Xq2s3cret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"http://gamsi:{PASSWORD}@ch:8123/gamsi", "http://gamsi:***@ch:8123/gamsi"),
        (f"https://u:{PASSWORD}@ch", "https://u:***@ch"),
        (f"clickhouse://default:{PASSWORD}@ch:9000/db", "clickhouse://default:***@ch:9000/db"),
        (f"kafka://app:{PASSWORD}@b1:9093", "kafka://app:***@b1:9093"),
        (f"http://u:p@{PASSWORD}@ch/db", "http://u:***@ch/db"),  # '@' inside the password
        (f"http://ch/q?user=u&password={PASSWORD}", "http://ch/q?user=u&password=***"),
        (f"https://h/hook?token={PASSWORD}#x", "https://h/hook?token=***#x"),
        (f"https://h/?a=1&api_key={PASSWORD}&b=2", "https://h/?a=1&api_key=***&b=2"),
        (f"https://h/?X-Amz-Signature={PASSWORD}", "https://h/?X-Amz-Signature=***"),
        (f"https://h/?access_token={PASSWORD}", "https://h/?access_token=***"),
        (f"https://h/?sig={PASSWORD}", "https://h/?sig=***"),
        ("http://user@ch:8123/db", "http://user@ch:8123/db"),  # a user alone is no secret
        ("chdb:///var/lib/gamsi/chdb", "chdb:///var/lib/gamsi/chdb"),
        ("http://ch/q?keyboard=1", "http://ch/q?keyboard=1"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_every_url_in_a_text_is_masked() -> None:
    text = (
        f"cannot open http://gamsi:{PASSWORD}@ch:8123/gamsi: refused; "
        f"retrying via 'https://backup:{PASSWORD}@ch2/gamsi'"
    )
    masked = mask(text)
    assert PASSWORD not in masked
    assert "http://gamsi:***@ch:8123/gamsi" in masked
    assert "'https://backup:***@ch2/gamsi'" in masked


def test_settings_rows_mask_the_dsn_password_and_secret_settings() -> None:
    settings = load_settings(
        environ={
            "GAMSI_HISTORY_DSN": f"http://gamsi:{PASSWORD}@ch:8123/gamsi",
            "GAMSI_NOTIFIER_SLACK_TOKEN": PASSWORD,
            "GAMSI_NOTIFIER_DASHBOARD_URL": f"https://ops:{PASSWORD}@status.example/",
        }
    )
    rows = {(s, k): v for s, k, v, _ in describe(settings)}
    assert rows["history", "dsn"] == "http://gamsi:***@ch:8123/gamsi"
    assert rows["notifier", "slack_token"] == "***"
    assert rows["notifier", "dashboard_url"] == "https://ops:***@status.example/"
    assert PASSWORD not in repr(rows)


def test_gamsi_config_show_never_prints_the_dsn_password(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMSI_")}
    env["GAMSI_HISTORY_DSN"] = f"http://gamsi:{PASSWORD}@ch:8123/gamsi"
    env["GAMSI_HISTORY_QUERY_TOKEN"] = PASSWORD
    done = subprocess.run(
        [sys.executable, "-m", "gamsi", "config", "show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=str(tmp_path),
    )
    assert "[history] dsn = 'http://gamsi:***@ch:8123/gamsi'" in done.stdout
    assert "[history] query_token = '***'" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_log_lines_and_tracebacks_are_masked() -> None:
    logger = logging.getLogger("gamsi.test.masking")
    logger.propagate = False
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        install_log_masking(logger)
        install_log_masking(logger)  # idempotent
        dsn = f"http://gamsi:{PASSWORD}@ch:8123/gamsi"
        logger.warning("history: writing to %s", dsn)
        try:
            raise ConnectionError(f"cannot reach {dsn}")
        except ConnectionError:
            logger.exception("insert failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "writing to http://gamsi:***@ch:8123/gamsi" in text
    assert "ConnectionError: cannot reach http://gamsi:***@ch:8123/gamsi" in text
    assert PASSWORD not in text


def test_channel_errors_mask_url_credentials_too() -> None:
    secrets = Secrets(environ={})
    text = secrets.redact(f"webhook ops: InvalidURL: https://bot:{PASSWORD}@hooks.example/x")
    assert PASSWORD not in text
    assert "https://bot:***@hooks.example/x" in text
