# examples/plugin/src/gamsi_example/__init__.py
"""An example Gamsi plugin package: one input, one stream processor, one channel."""
