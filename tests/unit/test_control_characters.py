"""Control characters in names from the field: refused by the one validation, escaped by
every printer, never produced by the collector (the tester's escape-injection defect)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from gamsi.collector.agent import build_batch
from gamsi.events_tail import format_event
from gamsi.history.cli import format_table
from gamsi.notifier.channels.console import ConsoleChannel
from gamsi.notifier.cli import _print_acks
from gamsi.notifier.message import Notification
from gamsi.notifier.silence_cli import _line
from gamsi.notifier.silences import Silence
from gamsi.remediator.cli import log_line
from gamsi.schemas.codec import DecodeError, decode, encode
from gamsi.schemas.records import MetricBatch, Sample, SeverityEvent
from gamsi.schemas.validate import ValidationError, check_batch, check_event
from gamsi.settings import load_settings
from gamsi.terminal import display_width, pad, printable
from gamsi.web.cli import render
from gamsi.web.status import Filters, FleetStatus

ESC_HOST = "evil\x1b[31mRED\x1b[0m"
NEWLINE_HOST = "evil2\nFAKE [URGENT] line"
BAD_NAMES = [ESC_HOST, NEWLINE_HOST, "tab\there", "cr\rhere", "del\x7f", "c1\x9bhere", "nul\x00"]
RAW = ("\x1b", "\r", "\x9b")  # a raw newline shows up as an extra line


def batch(host: str = "web-1", item: str = "cpu.util", instance: str = "", **kw: Any) -> Any:
    return MetricBatch(host=host, ts=1_700_000_000.0, samples=[Sample(item, 99.0, instance)], **kw)


def event(**kw: Any) -> SeverityEvent:
    values: dict[str, Any] = {
        "event_id": "abc",
        "host": "web-1",
        "item": "cpu.util",
        "instance": "",
        "watch": "cpu-busy",
        "severity": 4,
        "previous": 0,
        "transition": "raise",
        "value": 99.0,
        "threshold": 90.0,
        "ts": 1_700_000_000.0,
        "since": 1_700_000_000.0,
        "emitted_at": 1_700_000_000.1,
        "message": "web-1 cpu.util is URGENT",
        "tags": ["web"],
    }
    return SeverityEvent(**{**values, **kw})


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("field", ["host", "item", "instance", "tags"])
def test_a_batch_with_a_control_character_in_a_name_is_refused(field: str, name: str) -> None:
    bad = batch(tags=[name]) if field == "tags" else batch(**{field: name})
    with pytest.raises(ValidationError, match="control character"):
        check_batch(bad)
    with pytest.raises(DecodeError, match=r"control character \\x[0-9a-f]{2} at position"):
        decode(encode(bad))  # the consumers' path: a DecodeError becomes a dead letter


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("field", ["event_id", "host", "item", "instance", "watch", "tags"])
def test_an_event_with_a_control_character_in_a_name_is_refused(field: str, name: str) -> None:
    bad = event(**{field: [name] if field == "tags" else name})
    with pytest.raises(ValidationError, match=f"{field}.*control character"):
        check_event(bad)
    with pytest.raises(DecodeError, match="control character"):
        decode(encode(bad))


def test_printable_names_and_free_form_messages_are_kept() -> None:
    good = batch(host="서버-1", instance="/mnt/my disk")  # a space in a mount point is fine
    assert decode(encode(good)) == good
    ev = event(message="line one\nline two\x1b[0m")  # a message may; printers escape it
    assert decode(encode(ev)) == ev


def test_printable_escapes_every_control_character_and_keeps_the_rest() -> None:
    assert printable(ESC_HOST) == "evil\\x1b[31mRED\\x1b[0m"
    assert printable(NEWLINE_HOST) == "evil2\\x0aFAKE [URGENT] line"
    assert printable("a\x7fb\x85c\x00") == "a\\x7fb\\x85c\\x00"
    assert printable("a\nb\r\n", keep_newlines=True) == "a\nb\\x0d\n"
    plain = "감시 web-1 /mnt/my disk ✓"
    assert printable(plain) is plain
    assert (display_width("감시"), display_width("ab"), display_width("e\u0301")) == (4, 2, 1)
    assert pad("감시", 6) == "감시  "
    assert pad("7", 3, right=True) == "  7"


def assert_escaped(text: str, lines: int) -> None:
    assert not any(ch in text for ch in RAW), repr(text)
    assert "\\x1b" in text
    assert len(text.splitlines()) == lines, repr(text)


def test_status_table_escapes_names_and_pads_by_display_width() -> None:
    st = FleetStatus()
    for host, item in [(ESC_HOST, "cpu.util"), (NEWLINE_HOST, "cpu.util"), ("서버", "disk\r")]:
        st.apply(
            {
                "host": host,
                "item": item,
                "instance": "",
                "watch": "w\x1b]0;title\x07",
                "severity": 4,
                "event_id": host,
                "value": 99.0,
                "threshold": 90.0,
                "ts": 10.0,
            }
        )
    text = render(st, st.select(Filters(min_severity=1)), colour=False, shown_all=False)
    assert_escaped(text, 2 + 1 + 3)  # counts, blank, header, three cells
    table = text.splitlines()[2:]
    starts = {display_width(line[: line.index("ITEM")]) for line in table[:1]}
    cols = {display_width(line.split("cpu.util")[0]) for line in table if "cpu.util" in line}
    cols |= {display_width(line.split("disk")[0]) for line in table if "disk" in line}
    assert cols == starts  # ITEM starts at the same column on every row, Korean host too


def test_events_tail_line_is_one_escaped_line() -> None:
    ev = event(message=f"{NEWLINE_HOST} cpu {ESC_HOST}", transition="raise\x1b[2J")
    assert_escaped(format_event(ev, colour=False), 1)


def test_console_channel_escapes_but_keeps_its_own_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    channel = ConsoleChannel("console", {"type": "console"}, secrets=None)  # type: ignore[arg-type]
    ev = event(host=ESC_HOST, message="cpu\r\x1b[2Khidden")
    n = Notification("r\x1b[1m", "ops\n", "console", "", "raise", [ev], 0.0)
    asyncio.run(channel.send(n))
    out = capsys.readouterr().out
    assert not any(ch in out for ch in ("\x1b", "\r")), repr(out)
    assert out.startswith("--- r\\x1b[1m → ops\\x0a\n")
    assert "\\x1b" in out.split("\n", 1)[1]


def test_remediate_log_and_history_tables_escape() -> None:
    line = log_line("2026-01-01 00:00:00", ESC_HOST, "ok", "restart a\nb \x1b[31m", "", "kim")
    assert_escaped(line, 1)
    table = format_table(["host", "n"], [[NEWLINE_HOST, 1], ["서버\x1b[0m", 22]])
    assert_escaped(table, 5)
    rows = table.splitlines()
    assert len({display_width(r) for r in rows[:4]}) == 1  # numbers right-aligned by width


def test_the_collector_never_sends_a_name_validation_refuses() -> None:
    config = replace(load_settings(environ={}).collector, host="h\x1bx", tags=["t\n"])
    samples = [Sample("disk.used_pct", 5.0, "/mnt/a\nb"), Sample("net.rx", 1.0, "eth\x1b0")]
    sent = build_batch(config, "linux", 1, 1_700_000_000.0, samples)
    check_batch(sent)
    assert (sent.host, sent.tags) == ("h\\x1bx", ["t\\x0a"])
    assert [s.instance for s in sent.samples] == ["/mnt/a\\x0ab", "eth\\x1b0"]
    plain = Sample("cpu.util", 1.0)
    assert build_batch(config, "linux", 1, 1.0, [plain]).samples[0] is plain


def test_ack_list_escapes_the_comment_and_who(capsys: pytest.CaptureFixture[str]) -> None:
    record = {"event_id": "abc", "by": "kim\x1b[8m", "at": 0.0, "comment": "ok\nFAKE line"}
    _print_acks([(SimpleNamespace(event=event()), record)])
    out = capsys.readouterr().out
    assert_escaped(out, 1)
    assert "ok\\x0aFAKE line" in out


def test_silence_list_escapes_the_comment_and_matchers() -> None:
    s = Silence("3f2a9c1e00", 0.0, 60.0, by="kim", comment="swap\r\x1b[2K", hosts=("db\n*",))
    line = _line(s, 30.0)
    assert_escaped(line, 1)
    assert "swap\\x0d\\x1b[2K" in line
