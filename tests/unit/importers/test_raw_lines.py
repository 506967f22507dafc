"""Building the `raw` JSON lines of big CSV files from their bytes, in steps."""

from __future__ import annotations

import json

import numpy as np

from workstation.importers import raw_lines


def test_edits_in_steps_equal_one_edit_of_the_whole_file() -> None:
    rng = np.random.default_rng(7)
    alphabet = np.frombuffer(b'ab,"\\\t\r\n\x01 12', dtype=np.uint8)
    data = rng.choice(alphabet, size=3 * raw_lines.STEP_BYTES + 12345).tobytes()
    for plain, escaped in (*raw_lines.JSON_ESCAPES, (b"\n", b'"}{"line":"')):
        edited = raw_lines.replace_in_steps(data, plain, escaped)
        assert bytes(edited) == data.replace(plain, escaped)
        again = raw_lines.replace_in_steps(edited, b"a", b"AA")  # a numpy buffer as input
        assert bytes(again) == data.replace(plain, escaped).replace(b"a", b"AA")
    control = raw_lines.blank_controls_in_steps(data)
    assert bytes(control) == raw_lines.OTHER_CONTROL.sub(b" ", data)
    starts, _ = raw_lines.line_starts(control)
    assert len(starts) == data.count(b"\n") + 1


def test_raw_json_lines_of_a_big_file_are_valid_json() -> None:
    line = 'a,"b ""q""",c\\d\t\r\x01'
    text = ("h1,h2,h3\n" + (line + "\n") * 400_000).encode()
    starts, other = raw_lines.line_starts(text)
    lines = raw_lines.raw_json_lines(text, starts, other)
    assert len(lines) == 400_000
    first, last = json.loads(lines[0].as_py()), json.loads(lines[-1].as_py())
    assert first == last == {"line": line.replace("\r", "").replace("\x01", " ")}
