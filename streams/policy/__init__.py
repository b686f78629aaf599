"""Watch policies: the model, strict YAML loading, host matching, plain-dict form."""

from gamsi.streams.policy.dump import policy_to_dict
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.load import load_defaults, load_policy
from gamsi.streams.policy.match import Effective, effective_watches, enabled_watches
from gamsi.streams.policy.model import HostSelector, Level, NoData, Policy, Watch
from gamsi.streams.policy.parse import policy_from_plain

__all__ = [
    "Effective",
    "HostSelector",
    "Level",
    "NoData",
    "Policy",
    "PolicyError",
    "Watch",
    "effective_watches",
    "enabled_watches",
    "load_defaults",
    "load_policy",
    "policy_from_plain",
    "policy_to_dict",
]
