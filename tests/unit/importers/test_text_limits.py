"""Decoding never drops a character; line length is bounded on the raw bytes."""

from __future__ import annotations

import pytest

from workstation.errors import UserError
from workstation.importers.text import DecodeError, check_line_length, decode


def test_utf8_round_trip_and_legacy_charset() -> None:
    assert decode("Gödel\n".encode()) == ("Gödel\n", "utf-8")
    text, _enc = decode("Müller;Straße;Café\n".encode("cp1252") * 20)
    assert "Müller" in text and "\ufffd" not in text


def test_mixed_utf8_is_refused_with_its_line() -> None:
    with pytest.raises(DecodeError) as err:
        decode("a,b\nGödel,1\n".encode() + b"Caf\xe9,2\n", file="f.csv")
    assert (err.value.file, err.value.line) == ("f.csv", 3)
    assert isinstance(err.value, UserError) and isinstance(err.value, UnicodeError)


def test_broken_utf16_is_refused_not_replaced() -> None:
    data = b"\xff\xfe" + "a,b\n1,2\n".encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le")
    with pytest.raises(DecodeError) as err:
        decode(data, file="f.csv")
    assert err.value.line == 3


def test_line_length() -> None:
    check_line_length(b"a\n" * 1000, "f", limit=10)
    with pytest.raises(UserError) as err:
        check_line_length(b"short\n" + b"x" * 11 + b"\nshort\n", "f", limit=10)
    assert err.value.line == 2 and "longer than 10 bytes" in err.value.message
    with pytest.raises(UserError) as err:  # the last line, without a newline
        check_line_length(b"short\n" * 3 + b"x" * 11, "f", limit=10)
    assert err.value.line == 4


def test_line_length_across_windows() -> None:
    # lines are looked at closer only where a window of limit/2 bytes has no newline
    check_line_length(b"123456789\n" * 5 + b"x" * 10 + b"\n" + b"12\n" * 9, "f", limit=10)
    for offset in range(6):  # a long line anywhere relative to the windows
        data = b"a\n" * offset + b"123456789\n" * 3 + b"x" * 11 + b"\nend\n"
        with pytest.raises(UserError) as err:
            check_line_length(data, "f", limit=10)
        assert err.value.line == offset + 4
