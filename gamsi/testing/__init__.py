"""Contract tests for Gamsi plugins, importable by any package: ``gamsi.testing``.

What Alertmanager's ``notify/test`` package is to its integrations, this is to a
Gamsi plugin: the checks every built-in passes, callable from a third-party
package's own test suite (pytest or not; each check raises ``AssertionError``
saying what broke). docs/extending.md shows a plugin package using them.

- :mod:`gamsi.testing.channels`: a channel against a local HTTP server: the status
  table (429/408/5xx retryable with ``Retry-After``, other 4xx permanent, 2xx
  delivered) and "no secret in error text or logs"; :func:`~.channels.notification`
  builds a realistic message to send.
- :mod:`gamsi.testing.inputs`: a collector input replayed on frames captured from a
  real host (one ships with Gamsi: :func:`~.inputs.linux_vm`), with the sample checks.
- :mod:`gamsi.testing.processors`: a stream processor's timeline ``[(t, value), ...]``
  → ``[(t, derived), ...]``, its state round-tripped through JSON at every step as
  the changelog does, and the same timeline twice giving the same answers.
- :mod:`gamsi.testing.http`: the local HTTP server the channel checks use.
- :mod:`gamsi.testing.process`: a process a test or benchmark starts, checked so that a
  wait fails at once, with its log's last lines, when it has died.

Importing this package imports nothing heavy; each module imports only its stage.
"""
