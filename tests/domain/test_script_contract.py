"""The typed contract between Python and the Lua scripts: each script's input dataclass names
its KEYS and ARGV in the order the script's header lists them, and the script uses exactly
the positions its header lists."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from worker.domain.scripts import PackedScript, begin, cancel, queueing, settle
from worker.domain.scripts.contract import (
    arg_names,
    args_of,
    call_of,
    encode,
    key_names,
    read_header,
    tristate,
)

# script -> (its input class, the class of its per-item ARGV group, if it has one)
INPUTS: dict[str, tuple[type, type | None]] = {
    "begin": (begin.BeginInput, None),
    "settle": (settle.SettleInput, None),
    "enqueue": (queueing.EnqueueInput, queueing.EnqueueJob),
    "deliver": (queueing.DeliverInput, None),
    "move_due": (queueing.MoveDueInput, None),
    "release": (queueing.ReleaseInput, None),
    "release_held": (queueing.ReleaseHeldInput, None),
    "release_app": (queueing.ReleaseAppInput, None),
    "resume": (queueing.ResumeInput, None),
    "trim_dlq": (queueing.TrimInput, None),
    "cancel": (cancel.CancelInput, cancel.CancelJob),
    "expire": (queueing.ExpireInput, None),
}
# Function libraries put in front of scripts: no KEYS/ARGV of their own.
LIBRARIES = {"index", "lanes", "observe", "tally", "waits"}


def lua(name: str) -> str:
    return files("worker.domain").joinpath("lua", f"{name}.lua").read_text()


def positions(source: str, table: str) -> set[int]:
    return {int(n) for n in re.findall(rf"\b{table}\[(\d+)\]", source)}


def test_every_script_has_a_typed_input() -> None:
    """No script is called with hand-counted lists: each .lua file is an input or a library."""
    shipped = {path.name.removesuffix(".lua")
               for path in files("worker.domain").joinpath("lua").iterdir()
               if path.name.endswith(".lua")}
    assert shipped == set(INPUTS) | LIBRARIES


@pytest.mark.parametrize("script", sorted(INPUTS))
def test_the_input_dataclass_matches_the_script_header(script: str) -> None:
    """Same names, same order, for KEYS and ARGV (and enqueue's per-job group)."""
    header = read_header(lua(script))
    cls, each = INPUTS[script]
    assert header["KEYS"] == list(key_names(cls))
    assert header["ARGV"] == list(arg_names(cls))
    if each is not None:
        assert not key_names(each)
        assert header["ARGV each"] == list(arg_names(each))
    else:
        assert "ARGV each" not in header


@pytest.mark.parametrize("script", sorted(set(INPUTS) - {"enqueue"}))
def test_the_script_uses_exactly_the_positions_its_header_lists(script: str) -> None:
    """Every KEYS[n] and ARGV[n] in the script (and in the libraries it calls) is in its header,
    and every header entry is used: a header can drift neither way unnoticed."""
    header = read_header(lua(script))
    source = lua(script)
    assert positions(source, "KEYS") == set(range(1, len(header["KEYS"]) + 1))
    assert positions(source, "ARGV") == set(range(1, len(header["ARGV"]) + 1))


def test_enqueue_reads_its_shared_values_and_groups_at_the_header_positions() -> None:
    """The shared ARGV come first; each job's GROUP values follow at FIRST_JOB, GROUP apart."""
    header = read_header(lua("enqueue"))
    source = lua("enqueue")
    assert positions(source, "KEYS") == set(range(1, len(header["KEYS"]) + 1))
    assert positions(source, "ARGV") == set(range(1, len(header["ARGV"]) + 1))
    assert re.search(rf"local GROUP = {len(header['ARGV each'])}\b", source)
    assert re.search(rf"local FIRST_JOB = {len(header['ARGV']) + 1}\b", source)
    offsets = {int(n) for n in re.findall(r"ARGV\[base \+ (\d+)\]", source)} | {0}
    assert offsets == set(range(len(header["ARGV each"])))


def test_cancel_reads_its_jobs_after_the_shared_values() -> None:
    """cancel.lua's job ids start right after the header's shared ARGV, one per job."""
    header = read_header(lua("cancel"))
    assert header["ARGV each"] == ["job_id"]
    assert re.search(rf"local FIRST_JOB = {len(header['ARGV']) + 1}\b", lua("cancel"))


def test_begins_verdicts_are_the_ones_its_header_lists() -> None:
    """Each reply shape begin.lua documents has its dataclass, and no other."""
    documented = set(re.findall(r"^--\s+\{'(\w+)'", lua("begin"), flags=re.M))
    assert documented == set(begin.VERDICTS)


def test_values_are_encoded_the_way_the_scripts_read_them() -> None:
    """None and False are '', True is '1', ints and strings go as they are; the packed path
    (begin, settle, enqueue) encodes the same way while it packs."""
    values = (None, True, False, 0, 7, "x", "")
    assert encode(values) == ["", "1", "", 0, 7, "x", ""]
    packed = PackedScript.__new__(PackedScript)
    packed.sha = "0" * 40
    wire = packed.pack(["k"], values)
    assert wire.split(b"\r\n")[10:-1:2] == [b"", b"1", b"", b"0", b"7", b"x", b""]
    assert [tristate(True), tristate(False), tristate(None)] == ["1", "0", ""]


def test_an_input_becomes_its_two_lists_in_field_order() -> None:
    call = call_of(queueing.TrimInput(dlq_index="i", dlq_entries="e", max_entries=5,
                                      oldest_kept_ms=9))
    assert (call.keys, call.args) == (["i", "e"], [5, 9])
    group = queueing.EnqueueJob(account_id="1", tweet_id="2", job_id="j", action="undo",
                                message="m", job_ttl=60, replaces=None, due_ms=None,
                                sent_event="{}", pair=None, expires_ms=None)
    assert encode(args_of(group)) == ["1", "2", "j", "undo", "m", 60, "", "", "{}", "", ""]


def test_a_misnumbered_header_is_refused() -> None:
    """The header parser insists on 1, 2, 3...: a skipped or repeated number names itself."""
    with pytest.raises(ValueError, match="ARGV 3 c: expected number 2"):
        read_header("-- KEYS\n--   1 a\n-- ARGV\n--   1 b\n--   3 c\nlocal x = 1\n")


def test_the_begin_reply_is_parsed_into_its_verdict() -> None:
    go = begin.parse_verdict(["go", "2", "1", "[]", "sealed"], "token")
    assert isinstance(go, begin.Go) and go.sealed == "sealed"
    assert (go.progress.attempts, go.progress.charged, go.progress.token) == (2, 1, "token")
    assert begin.parse_verdict(["wait", "1700000000000"], "t") == begin.Wait(1700000000000)
    assert begin.parse_verdict(["held", "locked"], "t") == begin.Held("locked")
    assert begin.parse_verdict(["app_held", "a1", "credits_depleted"], "t") == begin.AppHeld(
        "a1", "credits_depleted")
    assert begin.parse_verdict(["breaker", "5"], "t") == begin.Paused(5)
    assert begin.parse_verdict(["expired", "1700000000000"], "t") == begin.Expired(
        1700000000000)
    with pytest.raises(ValueError, match="unknown verdict 'nope'"):
        begin.parse_verdict(["nope"], "t")
