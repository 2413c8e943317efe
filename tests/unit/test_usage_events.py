"""The rules that keep a usage view current from events (usage_events), without any server."""
from ovirt_scheduler_proxy_plugins.accounting import VmRecord, VnicRecord
from ovirt_scheduler_proxy_plugins.usage_events import (OVERLAP, Cursor, EventRecord, apply_reads, catch_up,
                                                        unknown_profiles)

VF, PLAIN = "vf-profile", "plain-profile"


def ev(index, code=153, vm="vm-a", host="h1"):
    return EventRecord(index, code, vm, host)


def vm(vm_id, status="up", host="h1", profiles=(VF,)):
    return VmRecord(vm_id=vm_id, name=vm_id, status=status, host_id=host,
                    nics=tuple(VnicRecord(plugged=True, profile_id=p) for p in profiles))


def test_the_docstring_example():
    step = catch_up(Cursor(1050, frozenset([1040, 1050])),
                    [ev(1062, 153, "A"), ev(1051, 61, "B"), ev(1050, 32, "C"), ev(1040, 61, "D")])
    assert step.vm_ids == ("B", "A")                 # oldest first; 1040 and 1050 already applied
    assert step.cursor == Cursor(1062, frozenset([1040, 1050, 1051, 1062]))
    assert step.cursor.poll_from == 962
    assert step.gap is None


def test_a_poll_reaches_back_by_the_overlap_and_never_below_zero():
    assert Cursor(1050).poll_from == 1050 - OVERLAP
    assert Cursor(30).poll_from == 0


def test_a_late_commit_inside_the_overlap_is_applied_once():
    """Index 1049 commits after 1050 was seen: the next poll (from 950) finds it; a third poll
    that sees both again reads nothing more."""
    first = catch_up(Cursor(1048, frozenset([1048])), [ev(1050, 32, "A"), ev(1048, 153, "X")])
    assert first.vm_ids == ("A",)
    second = catch_up(first.cursor, [ev(1050, 32, "A"), ev(1049, 61, "B"), ev(1048, 153, "X")])
    assert second.vm_ids == ("B",) and second.gap is None
    third = catch_up(second.cursor, [ev(1050, 32, "A"), ev(1049, 61, "B"), ev(1048, 153, "X")])
    assert third.vm_ids == () and third.gap is None


def test_an_applied_event_missing_from_the_answer_is_a_gap():
    cursor = Cursor(1050, frozenset([1040, 1050]))
    step = catch_up(cursor, [ev(1060, 153, "A"), ev(1050, 32, "C")])      # 1040 deleted
    assert step.gap and "1040" in step.gap
    assert step.vm_ids == ("A",)                  # what it did get is still applied


def test_an_applied_event_below_the_poll_floor_is_no_gap():
    cursor = Cursor(1200, frozenset([1050, 1200]))      # 1050 < 1200 - OVERLAP: not asked for
    assert catch_up(cursor, [ev(1200, 32, "A")]).gap is None


def test_an_event_that_moves_usage_without_a_vm_is_a_gap():
    step = catch_up(Cursor(10), [ev(11, 61, None)])
    assert step.gap and "names no VM" in step.gap


def test_codes_that_move_no_usage_are_skipped():
    step = catch_up(Cursor(10), [ev(11, 9999, "A"), ev(12, 1014, "B")])
    assert step.vm_ids == ("B",)
    assert step.cursor.newest == 12


def test_a_vm_named_twice_is_read_once():
    assert catch_up(Cursor(0), [ev(1, 153, "A"), ev(2, 32, "A")]).vm_ids == ("A",)


def test_reads_replace_add_and_drop():
    vms = {"a": vm("a", host="h1"), "b": vm("b")}
    out = apply_reads(vms, {"a": vm("a", host="h2"),                  # migrated
                            "b": vm("b", status="down", host=None),    # stopped
                            "c": vm("c"),                              # started
                            "d": vm("d", profiles=(PLAIN,)),           # started, no VF vNIC
                            "e": None}, frozenset([VF]))               # removed (never known)
    assert sorted(out) == ["a", "c"] and out["a"].host_id == "h2"
    assert vms["b"].status == "up"                                     # the input is left alone


def test_profiles_the_view_did_not_read_are_named():
    records = [vm("a", profiles=(VF, PLAIN)), vm("b", profiles=("new",))]
    assert unknown_profiles(records, frozenset([VF, PLAIN])) == frozenset(["new"])
    assert unknown_profiles(records[:1], frozenset([VF, PLAIN])) == frozenset()
