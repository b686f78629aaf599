"""The pure rule engine's parts: one module per aspect of a watch.

``threshold`` classifies a value against the levels, ``duration`` tracks consecutive
breaching runs, ``window`` counts breaching samples in a sliding window, ``aggregate``
folds a window into avg/min/max, ``hysteresis`` decides de-escalation and recovery,
``nodata`` notices silent series, and ``machine`` combines them into the state machine
of one (host, watch, instance). No module here imports Kafka or Faust or reads a clock.
"""
