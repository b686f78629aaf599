"""Load policies from YAML: a file, a multi-document file, or a directory of files.

Documents are read in order (a directory in file-name order, a file document by
document), after the shipped OS defaults unless a document says
``use_defaults: false``. A later watch with the same name replaces an earlier one
for the hosts it selects, so a user file can redefine ``disk-space`` for ``db-*``
and keep the default everywhere else. Every error names the file, the line, the
path to the key and what was expected; YAML keys given twice are errors too
(:mod:`gamsi.files` reads the YAML), because PyYAML would silently keep the last.
"""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from gamsi.files import FileFormatError, parse_yaml
from gamsi.streams.policy.errors import PolicyError
from gamsi.streams.policy.limits import MAX_FILE_BYTES, MAX_FILES, MAX_OVERRIDES, MAX_POLICY_BYTES
from gamsi.streams.policy.model import HostSelector, Policy, Watch
from gamsi.streams.policy.parse import policy_from_dict
from gamsi.streams.policy.values import Reader
from gamsi.streams.policy.watches import watch_from_dict

DEFAULT_OSES = ("linux", "windows", "darwin")


def _with_line(exc: PolicyError, lines: dict[str, int]) -> PolicyError:
    path = exc.path
    while path:
        if path in lines:
            return exc.at_line(lines[path])
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return exc


def read_documents(path: Path) -> list[tuple[str, Any, dict[str, int]]]:
    """(source name, data, key-path → line) for every YAML document under ``path``."""
    if path.is_dir():
        chosen = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not chosen:
            raise PolicyError(
                str(path), "", "expected a directory with *.yaml policy files; none found"
            )
    elif path.exists():
        chosen = [path]
    else:
        raise PolicyError(str(path), "", "expected a policy file or directory; it does not exist")
    if len(chosen) > MAX_FILES:
        raise PolicyError(
            str(path), "", f"expected at most {MAX_FILES} policy files, found {len(chosen)}"
        )
    docs, total = [], 0
    for file in chosen:
        text = _read_text(file)
        total += len(text)
        if total > MAX_POLICY_BYTES:
            raise PolicyError(
                str(file),
                "",
                f"expected policy files of at most {MAX_POLICY_BYTES:,} characters in all",
            )
        try:  # gamsi.files: duplicate keys rejected, every key path mapped to its line
            docs += [(d.source, d.data, dict(d.lines)) for d in parse_yaml(text, str(file))]
        except FileFormatError as exc:
            raise PolicyError(exc.file, exc.key, exc.detail, exc.line) from None
    return docs


def _read_text(file: Path) -> str:
    """The UTF-8 text of one policy file of at most :data:`MAX_FILE_BYTES` (never reads more)."""
    try:
        with file.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PolicyError(str(file), "", f"cannot read the policy file ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise PolicyError(
            str(file), "", f"expected a policy file of at most {MAX_FILE_BYTES:,} bytes"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError(
            str(file), "", f"expected UTF-8 text; byte 0x{data[exc.start]:02x} is not", line
        ) from None


def load_defaults() -> Policy:
    """The OS default policies shipped in ``gamsi/streams/defaults`` (each limited to its OS)."""
    watches: list[Watch] = []
    processors: dict[str, dict[str, object]] = {}
    sources = []
    root = files("gamsi.streams").joinpath("defaults")
    for os_name in DEFAULT_OSES:
        resource = root.joinpath(f"{os_name}.yaml")
        source = f"defaults/{os_name}.yaml"
        data = parse_yaml(resource.read_text(encoding="utf-8"), source)[0].data
        policy, _ = policy_from_dict(data, source)
        for w in policy.watches:
            hosts = w.hosts if w.hosts.os else replace(w.hosts, os=(os_name,))
            watches.append(replace(w, hosts=hosts))
        processors.update(policy.processors)
        sources.append(source)
    return Policy(tuple(watches), (), processors, sources=tuple(sources))


def load_policy(
    path: str | Path | None,
    os_name: str | None = None,
    lines: dict[str, dict[str, int]] | None = None,
) -> Policy:
    """The policy at ``path`` (file or directory) or, with None, the OS defaults alone.

    ``os_name`` is the OS assumed for hosts whose collector does not say (``batch.os`` empty).
    ``lines``, if given, receives each document's key-path → line map under its source
    name, so later findings (:mod:`gamsi.streams.policy.checks`) can name the line too.
    Raises :class:`PolicyError` naming the file, line, key path and what was expected.
    """
    defaults = load_defaults()
    if path is None or str(path) == "":
        return replace(defaults, default_os=os_name or "")
    docs = read_documents(Path(path).expanduser())
    use_defaults = all(
        not isinstance(d, dict) or d.get("use_defaults", True) is not False for _, d, _ in docs
    )
    base = defaults if use_defaults else Policy()
    watches, overrides = list(base.watches), list(base.overrides)
    processors = dict(base.processors)
    sources = list(base.sources)
    for source, data, doc_lines in docs:
        if lines is not None:
            lines[source] = doc_lines
        try:
            policy, _ = policy_from_dict(data or {}, source, tuple(watches))
        except PolicyError as exc:
            raise _with_line(exc, doc_lines) from None
        except RecursionError:  # the data is as deep as YAML allows (1000)
            raise PolicyError(source, "", "expected values nested less deeply") from None
        watches.extend(policy.watches)
        overrides.extend(policy.overrides)
        if len(overrides) > MAX_OVERRIDES:
            raise PolicyError(
                source, "overrides", f"expected at most {MAX_OVERRIDES:,} overrides in a policy"
            )
        processors.update(policy.processors)
        sources.append(source)
    return Policy(tuple(watches), tuple(overrides), processors, os_name or "", tuple(sources))


def validate_file(path: str | Path) -> Policy:
    """`gamsi policy validate`: load ``path`` exactly as the engine would, or raise."""
    return load_policy(path)


def host_watch(template: Watch, host: str, instance: str, origin: str) -> Watch:
    """A copy of ``template`` for one host and one instance (what `policy register` writes)."""
    w = replace(
        template,
        name=f"{template.name}@{host}" + (f":{instance}" if instance else ""),
        instance=glob_escape(instance),
        exclude=(),
        hosts=HostSelector(names=(host,)),
        enabled=True,
        origin=origin,
    )
    return watch_from_dict(Reader(origin), _plain(w), "watch", origin)


def glob_escape(text: str) -> str:
    """A glob that matches exactly ``text`` (mount points may contain ``[`` or ``*``)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _plain(w: Watch) -> dict[str, Any]:
    from gamsi.streams.policy.dump import watch_to_dict

    return watch_to_dict(w, origin=True)
