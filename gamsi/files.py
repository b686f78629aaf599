"""Reading configuration files: YAML and TOML documents, and secrets kept in files.

The one place where Gamsi turns a file into data, so every reader reports a bad
file the same way, as ``FILE:LINE: what was expected``:

- :func:`read_yaml` / :func:`parse_yaml`: every document of a YAML file (policies,
  the routing file), with a map from each key path (``routes[0].match.hosts``) to
  its line so that later validation errors can name the line too. A key given
  twice in one mapping is an error: PyYAML would silently keep the last one, and a
  policy or routing file whose second ``hosts:`` quietly wins is a monitoring gap
  nobody sees. (YAML 1.2 requires keys to be unique; PyYAML does not enforce it.)
- :func:`read_toml`: a TOML table (gamsi.toml); ``tomllib`` already rejects
  duplicate keys, its error is mapped to the same ``FILE:LINE:`` form.
- :func:`read_secret_file`: the first line of a file holding a token or password,
  with an error that names the file but never its content.

Errors are :class:`FileFormatError`, a :class:`~gamsi.config_fields.ConfigError`;
callers with their own error type (the policy loader's ``PolicyError``) map its
``file``, ``line``, ``key`` and ``detail`` attributes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gamsi.config_fields import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")


class FileFormatError(ConfigError):
    """A file is missing, unreadable or not valid. ``str()`` reads ``FILE:LINE: KEY: DETAIL``.

    ``line`` (1-based) and ``key`` (a key path such as ``routes[1].name``) are given
    when known; ``detail`` says what was expected.
    """

    def __init__(self, file: str, detail: str, line: int | None = None, key: str = "") -> None:
        self.file, self.detail, self.line, self.key = file, detail, line, key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.detail}" if self.key else f"{where}: {self.detail}"


@dataclass(frozen=True)
class Document:
    """One decoded YAML document: its ``source`` name, its ``data`` and key-path lines.

    ``source`` is the file name, or ``FILE#N`` for the N-th document (1-based) of a
    file holding several. ``lines`` maps key paths (``a.b[0].c``) to 1-based lines.
    """

    source: str
    data: Any
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest enclosing key that has one (None if none)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None


def read_text(path: str | Path, what: str) -> tuple[Path, str]:
    """(the expanded path, its UTF-8 text); ``what`` names the file in errors ("routing file")."""
    file = Path(path).expanduser()
    try:
        return file, file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileFormatError(str(file), f"no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(str(file), f"cannot read this {what}: {type(exc).__name__}") from None


def read_yaml(path: str | Path, what: str = "YAML file") -> list[Document]:
    """Every document of the YAML file at ``path``; see :func:`parse_yaml`."""
    file, text = read_text(path, what)
    return parse_yaml(text, str(file))


def read_yaml_document(path: str | Path, what: str = "YAML file") -> Document:
    """The single document of the YAML file at ``path`` (``data`` None when it is empty).

    Raises :class:`FileFormatError` when the file holds more than one document.
    """
    file, text = read_text(path, what)
    docs = parse_yaml(text, str(file))
    if len(docs) > 1:
        raise FileFormatError(
            str(file), f"expected one YAML document, found {len(docs)}", docs[1].lines.get("")
        )
    return Document(str(file), docs[0].data, docs[0].lines) if docs else Document(str(file), None)


def parse_yaml(text: str, source: str) -> list[Document]:
    """Decode every document in ``text`` (safe loader), rejecting keys given twice.

    Raises :class:`FileFormatError` naming ``source`` and the line: for a syntax
    error ``expected valid YAML (<PyYAML's problem>)``, for a duplicate key the key
    path and ``expected each key once; this key is given twice``.
    """
    loader = _Loader(text)
    nodes: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            nodes.append((node, loader.construct_document(node)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}: {what}" if context else what
        raise FileFormatError(
            source, f"expected valid YAML ({detail})", mark.line + 1 if mark else None
        ) from None
    except (RecursionError, ValueError, OverflowError) as exc:
        # not YAMLErrors: nesting beyond the pure-Python loader's stack (libyaml stops at
        # 1000), an integer of over 4300 digits, a date like 2001-13-45
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise FileFormatError(source, f"expected valid YAML ({why.split(';')[0][:200]})") from None
    finally:
        loader.dispose()
    docs = []
    for n, (node, data) in enumerate(nodes):
        name = source if len(nodes) == 1 else f"{source}#{n + 1}"
        lines: dict[str, int] = {"": node.start_mark.line + 1}
        try:
            _walk(node, "", lines, name)
        except RecursionError:
            raise FileFormatError(name, "expected YAML nested less deeply") from None
        docs.append(Document(name, data, lines))
    return docs


def _walk(
    node: yaml.Node, path: str, out: dict[str, int], source: str, seen: set[int] | None = None
) -> None:
    """Map each key path under ``node`` to its line, rejecting duplicate keys on the way.

    An alias is the very node of its anchor: it is walked once, where the anchor is, so
    nested aliases (a "billion laughs" file) cost their size in the file, not 9**9.
    """
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = f"{path}.{key}" if path else key
            if key in seen:
                raise FileFormatError(
                    source,
                    "expected each key once; this key is given twice",
                    key_node.start_mark.line + 1,
                    sub,
                )
            seen.add(key)
            out[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, out, source, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            sub = f"{path}[{i}]"
            out[sub] = child.start_mark.line + 1
            _walk(child, sub, out, source, seen)


def read_toml(path: str | Path, what: str = "TOML file") -> dict[str, Any]:
    """The top-level table of the TOML file at ``path``.

    Raises :class:`FileFormatError`: ``FILE: no such <what>``, or
    ``FILE:LINE: expected valid TOML (<tomllib's message>)`` (duplicate keys included).
    """
    file, text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        line = int(at.group(1)) if at else None
        detail = message[: at.start()] if at else message
        raise FileFormatError(str(file), f"expected valid TOML ({detail})", line) from None


def read_secret_file(path: str | Path, where: str) -> str:
    """The first line of the file at ``path``, stripped: a token or password kept out of config.

    ``where`` names the setting (``[notifier] slack_token_file``). Raises
    :class:`~gamsi.config_fields.ConfigError` ``WHERE: cannot read a secret from FILE:
    REASON`` when the file is missing, unreadable or empty; the message never holds
    any of the file's content.
    """
    file = Path(str(path)).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = type(exc).__name__
    else:
        if lines and lines[0].strip():
            return lines[0].strip()
        reason = "the file is empty"
    raise ConfigError(f"{where}: cannot read a secret from {file}: {reason}")
