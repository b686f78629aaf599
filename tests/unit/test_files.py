"""gamsi.files: YAML and TOML read one way, errors as FILE:LINE, secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gamsi.config_fields import ConfigError
from gamsi.files import (
    FileFormatError,
    parse_yaml,
    read_secret_file,
    read_toml,
    read_yaml,
    read_yaml_document,
)


def test_yaml_documents_with_key_lines() -> None:
    text = "a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n---\nz: 3\n"
    first, second = parse_yaml(text, "f.yaml")
    assert (first.source, second.source) == ("f.yaml#1", "f.yaml#2")
    assert first.data == {"a": 1, "b": {"c": ["x", "y"], "d": [{"e": 2}]}}
    assert first.lines["b.c"] == 3
    assert first.lines["b.d[0].e"] == 5
    assert first.line_of("b.d[0].missing") == 5
    assert first.line_of("b.nothing") == 2
    assert second.data == {"z": 3}


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("a: 1\na: 2\n", 2, "a"),
        ("x:\n  - y: 1\n    z: 2\n    y: 3\n", 4, "x[0].y"),
        ("ok: 1\n---\nm: {k: 1, k: 2}\n", 3, "m.k"),
    ],
)
def test_yaml_key_given_twice_is_an_error(text: str, line: int, key: str) -> None:
    with pytest.raises(FileFormatError) as info:
        parse_yaml(text, "f.yaml")
    assert (info.value.line, info.value.key) == (line, key)
    assert "this key is given twice" in str(info.value)
    assert str(info.value).startswith(f"f.yaml{'#2' if '---' in text else ''}:{line}: {key}: ")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(FileFormatError, match=r"^f.yaml:3: expected valid YAML \("):
        parse_yaml("a: 1\nb: [1,\nc: d: e\n", "f.yaml")


def test_yaml_never_builds_python_objects() -> None:
    with pytest.raises(FileFormatError, match="expected valid YAML"):
        parse_yaml("a: !!python/object/apply:os.system [echo]\n", "f.yaml")


def test_yaml_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"nope.yaml: no such routing file$"):
        read_yaml(tmp_path / "nope.yaml", "routing file")
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml(tmp_path / "empty.yaml") == []
    assert read_yaml_document(tmp_path / "empty.yaml").data is None
    (tmp_path / "two.yaml").write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(FileFormatError, match=r"two.yaml:3: expected one YAML document, found 2"):
        read_yaml_document(tmp_path / "two.yaml")


def test_toml_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[kafka]\nbootstrap = "a"\nbootstrap = "b"\n')
    with pytest.raises(FileFormatError, match=r"g.toml:3: expected valid TOML \(Cannot overwrite"):
        read_toml(path)
    path.write_text("[kafka]\nbootstrap = 'a'\n")
    assert read_toml(path) == {"kafka": {"bootstrap": "a"}}
    with pytest.raises(ConfigError, match="no such configuration file"):
        read_toml(tmp_path / "none.toml", "configuration file")


def test_secret_file_first_line(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  s3cret-value  \nsecond line\n")
    assert read_secret_file(path, "[x] token_file") == "s3cret-value"


@pytest.mark.parametrize(
    ("content", "reason"), [(None, "FileNotFoundError"), ("\n\n", "the file is empty")]
)
def test_secret_file_errors_name_the_file_not_the_content(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        read_secret_file(path, "[x] token_file")
    assert str(info.value) == f"[x] token_file: cannot read a secret from {path}: {reason}"
