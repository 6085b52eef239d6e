"""Transcripts are bounded and never show a registered secret, however the bytes were cut."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.transcript import MASK, Transcript
from tests.foundation.conftest import PROMPT

SECRET = "QZ#JX@"  # characters that appear nowhere else in these transcripts
SECRET_CHARS = set(SECRET)


def shows_part_of_secret(text: str) -> bool:
    # The filler below never uses these characters, so any of them is a piece of the secret.
    return any(c in SECRET_CHARS for c in text.replace(MASK, ""))


def test_secret_split_across_two_reads_is_masked() -> None:
    tr = Transcript()
    tr.add_secret(SECRET)
    tr.record("tx", b"login admin ")
    tr.record("rx", b"password: " + SECRET[:3].encode())
    tr.record("rx", SECRET[3:].encode() + b"\r\nwelcome")
    text = tr.render()
    assert SECRET not in text
    assert not shows_part_of_secret(text)
    assert MASK in text
    assert "welcome" in text


def test_secret_in_a_note_and_in_bytes_is_masked() -> None:
    tr = Transcript()
    tr.add_secret(SECRET.encode())
    tr.add_secret("")      # ignored, not a mask for everything
    tr.add_secret(None)
    tr.note(f"retrying with {SECRET}")
    tr.record("tx", b"\x00" + SECRET.encode() + b"\xff")
    assert not shows_part_of_secret(tr.render())
    assert all(not shows_part_of_secret(e.text) for e in tr.entries())
    assert SECRET not in repr(tr)


def test_size_is_bounded() -> None:
    tr = Transcript(max_entries=10, max_entry_bytes=100)
    for i in range(1000):
        tr.record("tx" if i % 2 else "rx", b"a" * 50)
    assert len(tr.entries()) == 10
    tr.clear()
    for _ in range(1000):
        tr.record("rx", b"0123456789")  # one ever-growing entry in the same direction
    (entry,) = tr.entries()
    assert entry.text.startswith("...")
    assert len(entry.text) <= 100 + 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.integers(1, 6)), min_size=1, max_size=30),
       st.integers(4, 32))
def test_no_cut_ever_shows_part_of_the_secret(pieces, max_entry_bytes: int) -> None:
    """Random filler with the secret at random places, delivered in random chunk sizes, into a
    transcript small enough to truncate in the middle of a secret."""
    stream = b""
    for filler, with_secret, _chunk in pieces:
        stream += b"." * filler + (SECRET.encode() if with_secret else b"")
    tr = Transcript(max_entry_bytes=max_entry_bytes)
    tr.add_secret(SECRET)
    pos = 0
    sizes = [chunk for _f, _s, chunk in pieces]
    i = 0
    while pos < len(stream):
        size = sizes[i % len(sizes)]
        tr.record("rx", stream[pos:pos + size])
        pos += size
        i += 1
    for entry in tr.entries():
        assert not shows_part_of_secret(entry.text), entry.text


def test_real_session_transcript_masks_the_login(serve) -> None:
    from drivers.transports import prompt_login
    from tests.foundation.conftest import PASSWORD

    served = serve("telnet", login=True)
    with served.transport() as t:
        prompt_login(t, password=PASSWORD, ready=PROMPT, timeout=2.0)
        t.write(f"echo {PASSWORD}\n".encode())
        t.read_until(b"\r\n", 2.0)
    text = t.transcript.render()
    assert PASSWORD not in text
    assert text.count(MASK) == 3  # typed at the prompt, typed again, echoed back
    assert "open telnet://" in text and "close" in text
