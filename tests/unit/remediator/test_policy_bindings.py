"""How the remediator finds an event's bindings in the policy in force (by watch name)."""

from __future__ import annotations

from pathlib import Path

from gamsi.remediator.service import PolicyBindings
from gamsi.schemas.records import SeverityEvent
from gamsi.streams.policy import load_policy

POLICY = """
version: 1
use_defaults: false
watches:
  - name: svc
    item: svc.up
    hosts: {os: [linux]}
    levels: {urgent: "< 1"}
    nodata: {after: 30s}
    remediate: [{script: restart-linux, on: [urgent]}]
  - name: svc
    item: svc.up
    hosts: {os: [windows]}
    levels: {urgent: "< 1"}
    remediate: [{script: restart-windows, on: [urgent]}]
  - name: iis
    item: iis.up
    hosts: {os: [windows]}
    levels: {urgent: "< 1"}
    remediate: [{script: iisreset, on: [urgent]}]
  - name: plain
    item: plain.up
    levels: {urgent: "< 1"}
"""


def event(watch: str, item: str) -> SeverityEvent:
    return SeverityEvent(
        event_id="e", host="web-1", item=item, instance="", watch=watch, severity=4,
        previous=0, transition="raise", value=0.0, threshold=1.0, ts=1.0, since=1.0,
    )  # fmt: skip


def scripts(lookup: PolicyBindings, watch: str, item: str) -> list[str]:
    return [b.script for b in lookup(event(watch, item))]


def test_lookup_by_watch_name_default_os_first_then_the_others(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    lookup = PolicyBindings(load_policy(tmp_path / "p.yaml", "linux"))
    assert scripts(lookup, "svc", "svc.up") == ["restart-linux"]  # the default OS wins
    assert scripts(lookup, "iis", "iis.up") == ["iisreset"]  # only windows has it
    assert scripts(lookup, "svc/nodata", "svc.up") == ["restart-linux"]  # a silent agent
    assert scripts(lookup, "plain", "plain.up") == []
    assert scripts(lookup, "svc", "other.item") == []  # a name reused for another item
    assert scripts(lookup, "gone", "svc.up") == []
