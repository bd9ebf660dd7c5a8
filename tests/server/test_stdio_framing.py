"""server.stdio_framing: lines cut from arbitrary chunks, long ones dropped without being held."""

from __future__ import annotations

from casebridge.server.stdio_framing import LineSplitter, LineTooLong, UnreadableLine, parse_line


def test_the_splitter_keeps_lines_across_chunks_and_drops_long_ones_at_any_boundary() -> None:
    splitter = LineSplitter(max_line=5)
    out: list[bytes | LineTooLong] = []
    for chunk in (b"ab", b"c\nde", b"f\n1234567", b"89", b"0\nok\n\n", b"tail"):
        out += splitter.feed(chunk)
    assert [x if isinstance(x, bytes) else "too long" for x in out] == [b"abc", b"def", "too long", b"ok", b""]
    assert splitter.finish() == b"tail"
    splitter = LineSplitter(max_line=3)
    assert [type(x) for x in splitter.feed(b"abcd\nxyz\n")] == [LineTooLong, bytes]
    assert splitter.feed(b"abcdef") and splitter.finish() is None  # a long unfinished last line is dropped


def test_bad_lines_get_json_rpc_errors_with_the_id_only_when_a_request_has_one() -> None:
    assert parse_line(b"  ") is None
    cases = {
        b"hello": (-32700, None),
        b"[1, 2]": (-32600, None),
        b'{"jsonrpc": "2.0", "id": 4, "method": 1}': (-32600, 4),
    }
    for line, (code, request_id) in cases.items():
        try:
            parse_line(line)
        except UnreadableLine as exc:
            assert (exc.reply.error.code, exc.reply.id) == (code, request_id)
        else:
            raise AssertionError(line)
