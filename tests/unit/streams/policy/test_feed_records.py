"""Reading a record of the policy topic is total: a valid policy, or one PolicyError line."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamsi.streams.policy import PolicyError, load_policy
from gamsi.streams.policy.dump import policy_to_dict
from gamsi.streams.policy.feed import policy_record, read_policy_record
from gamsi.streams.policy.watches import WATCH_KEYS

EMPTY = load_policy(None).__class__()  # no watches at all


def test_a_published_policy_reads_back():
    policy = load_policy(None, "linux")
    again, source = read_policy_record(policy_record(policy, "site.yaml"))
    assert source == "site.yaml"
    assert again.watches == policy.watches


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (b'{"policy": "xyz"}', "expected a version 1 policy record"),  # the example
        (orjson.dumps({"v": 1, "kind": "policy", "policy": "xyz"}), "expected the policy as a"),
        (orjson.dumps({"v": 1, "kind": "policy", "policy": {"watches": 3}}), "a list of watches"),
        (b"\xff\xfe", "expected JSON"),
        (b"[" * 5000, "expected JSON"),
        (None, "expected a version 1 policy record"),  # a tombstone
    ],
)
def test_a_bad_record_is_one_policy_error_line(record, expected):
    with pytest.raises(PolicyError) as info:
        read_policy_record(record)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_an_empty_policy_needs_the_allow_empty_mark():
    with pytest.raises(PolicyError, match="expected at least one enabled watch"):
        read_policy_record(policy_record(EMPTY, "empty.yaml"))
    policy, _ = read_policy_record(policy_record(EMPTY, "empty.yaml", allow_empty=True))
    assert policy.watches == ()


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
PLAIN = policy_to_dict(load_policy(None, "linux"))


def _record(policy: object) -> bytes:
    return orjson.dumps({"v": 1, "kind": "policy", "policy": policy})


def _with_watch_field(kv: tuple[str, object]) -> bytes:
    watches = [dict(w) for w in PLAIN["watches"]]
    watches[0][kv[0]] = kv[1]
    return _record({**PLAIN, "watches": watches})


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        JSON.map(orjson.dumps),
        JSON.map(_record),
        st.tuples(st.sampled_from(sorted(PLAIN)), JSON).map(
            lambda kv: _record({**PLAIN, kv[0]: kv[1]})
        ),
        st.tuples(st.sampled_from(WATCH_KEYS), JSON).map(_with_watch_field),
    )
)
def test_any_record_reads_or_raises_policy_error(record):
    error = ""
    try:
        read_policy_record(record)
    except PolicyError as exc:
        error = str(exc)
    assert "\n" not in error
    assert "unreadable (" not in error  # validation said what it expected; no stray exception
