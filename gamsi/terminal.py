"""Text from the field made safe for a terminal or a log line, and padded by display width.

Host, item and instance names come from the monitored machines. A control character
in one (ESC, newline, carriage return, ...) printed raw would recolour or clear the
terminal, or forge a second log line. The one validation
(:mod:`gamsi.schemas.validate`) refuses such names; every printer also passes field
text through :func:`printable` as a second layer, so an older record or a free-form
message cannot do it either.

Control characters are the Unicode categories C0 (U+0000..U+001F), DEL (U+007F) and
C1 (U+0080..U+009F), as in ECMA-48 (ISO/IEC 6429), which defines the escape and
control sequences terminals act on.
"""

from __future__ import annotations

import re
import unicodedata

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""One control character: C0, DEL or C1 (ECMA-48)."""
CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character replaced by its ``\\xNN`` escape.

    ``"evil\\x1b[31m"`` becomes ``"evil\\\\x1b[31m"`` (the four characters ``\\x1b``),
    ``"a\\nb"`` becomes ``"a\\\\x0ab"``. With ``keep_newlines`` a newline is kept, for
    text that is multi-line by design (a notification body, a script's output); every
    other control character, carriage return included, is still escaped. Printable text
    (Korean, emoji, spaces) is returned unchanged, as the same object."""
    pattern = CONTROL_BUT_NEWLINE if keep_newlines else CONTROL
    if pattern.search(text) is None:
        return text
    return pattern.sub(_escape, text)


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: 2 for East Asian wide and fullwidth characters
    (Hangul, CJK; Unicode UAX #11 classes W and F), 0 for combining marks, else 1."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` display columns (:func:`display_width`),
    on the left when ``right`` (right-aligned numbers); never truncated."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
