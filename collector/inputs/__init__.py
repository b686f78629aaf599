"""Built-in collector inputs: one module per input, each registering itself.

The list of built-ins is :data:`gamsi.collector.registry.BUILTIN_INPUTS`;
docs/items.md documents every item they emit.
"""
