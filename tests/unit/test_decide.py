"""The pure rules: fits, filter verdicts and scores, each case showing its arithmetic."""
import pytest

from ovirt_scheduler_proxy_plugins import decide
from ovirt_scheduler_proxy_plugins.model import Reason

from tests.builders import domain, host, need


@pytest.mark.parametrize("demand, h, keep, reason, free", [
    (2, host(vfs=8, used=6), True, Reason.FITS, 2),                 # 8-6 = 2 free >= 2
    (2, host(vfs=8, used=7), False, Reason.INSUFFICIENT, 1),        # 8-7 = 1 free < 2
    (1, host(vfs=8, used=8), False, Reason.INSUFFICIENT, 0),        # full
    (1, host(vfs=0), False, Reason.NO_VFS, 0),                      # host without VFs
    (1, host(vfs=8, used=5, pending=1, reserve=2), False, Reason.INSUFFICIENT, 0),  # 8-5-1-2 = 0
    (1, host(vfs=8, used=5, pending=1, reserve=1), True, Reason.FITS, 1),
    (0, host(vfs=0), True, Reason.NO_DEMAND, 0),                    # no demand: every host passes
    (3, host(vfs=2, used=2, current=True), True, Reason.CURRENT_HOST, 0),  # already holds its VFs
    (1, host(vfs=None), True, Reason.UNKNOWN, None),                # unknown, fail-open keeps
])
def test_fits(demand, h, keep, reason, free):
    verdict = decide.fits(need(demand), h, keep_unknown=True)
    assert (verdict.keep, verdict.reason, verdict.free) == (keep, reason, free)


def test_unknown_is_dropped_when_failing_closed_and_never_read_as_zero():
    verdict = decide.fits(need(1), host(vfs=None), keep_unknown=False)
    assert (verdict.keep, verdict.reason) == (False, Reason.UNKNOWN)
    assert decide.fits(need(1), None, keep_unknown=False).reason is Reason.NOT_FOUND


def test_filter_keeps_proxy_order_and_names_unknown_ids():
    hosts = {"a": host("a", vfs=4), "b": host("b", vfs=1, used=1), "c": host("c", vfs=4, used=3)}
    verdicts = decide.filter_hosts(need(1), ["c", "zz", "b", "a"], hosts, keep_unknown=False)
    assert [(v.host_id, v.keep) for v in verdicts] == [("c", True), ("zz", False), ("b", False), ("a", True)]
    assert verdicts[1].reason is Reason.NOT_FOUND


def _scores(mode, demand, hosts):
    by_id = {h.host_id: h for h in hosts}
    scores = decide.score_hosts(mode, need(demand) if isinstance(demand, int) else demand, list(by_id), by_id)
    assert all(type(s.value) is int for s in scores), scores      # 996.0 == 996 would pass below
    return {s.host_id: s.value for s in scores}


def test_spread_prefers_most_free_after_placement():
    # free after placing 1: a=7, b=2, c=0, d does not fit, e unknown
    scores = _scores("spread", 1, [host("a", 8), host("b", 8, used=5), host("c", 8, used=7),
                                   host("d", 8, used=8), host("e", None)])
    assert scores == {"a": 998 - 7, "b": 998 - 2, "c": 998, "d": 1000, "e": 999}
    assert sorted(scores, key=scores.get) == ["a", "b", "c", "e", "d"]


def test_pack_prefers_tightest_fit():
    scores = _scores("pack", 2, [host("a", 8), host("b", 8, used=5), host("c", 8, used=6),
                                 host("d", 8, used=7)])
    assert scores == {"a": 6, "b": 1, "c": 0, "d": 1000}


def test_reserve_sends_vms_without_vfs_to_hosts_with_fewest_free_vfs():
    scores = _scores("reserve", 0, [host("rich", 32), host("poor", 2), host("none", 0), host("unk", None)])
    assert sorted(scores, key=scores.get) == ["none", "poor", "rich", "unk"]
    assert scores["none"] == 0 and scores["rich"] == 32


@pytest.mark.parametrize("mode", ["spread", "pack"])
def test_no_demand_is_neutral(mode):
    scores = _scores(mode, 0, [host("a", 32), host("b", 0), host("c", None)])
    assert set(scores.values()) == {0}


@pytest.mark.parametrize("mode", sorted(decide.WEIGHT_MODES))
def test_every_host_gets_an_int_score_in_range(mode):
    hosts = {"a": host("a", 5000), "b": host("b", 4, used=9)}
    scores = decide.score_hosts(mode, need(1), ["a", "b", "missing", "a"], hosts)
    assert [s.host_id for s in scores] == ["a", "b", "missing", "a"]
    assert all(type(s.value) is int and 0 <= s.value <= 1000 for s in scores)


def test_current_host_scores_with_its_own_vfs_counted_free():
    # the VM holds 2 of the 4 VFs on its current host; `used` counts only the others (2)
    scores = _scores("spread", 2, [host("src", 4, used=2, current=True), host("dst", 4, used=2)])
    assert scores["src"] == 998 and scores["dst"] == 998


# --- the port-profile rule ----------------------------------------------------------------

PP = need(2, "pp-db", "pp-web")


@pytest.mark.parametrize("h, keep, reason, missing", [
    (host(port_profiles=domain("pp-db", "pp-web", "other")), True, Reason.FITS, set()),
    (host(port_profiles=domain("pp-web")), False, Reason.PORT_PROFILE_MISSING, {"pp-db"}),
    (host(port_profiles=domain()), False, Reason.PORT_PROFILE_MISSING, {"pp-db", "pp-web"}),
    # a definite "missing" beats unknown capacity; too few VFs beats unknown port profiles
    (host(vfs=None, port_profiles=domain("pp-web")), False, Reason.PORT_PROFILE_MISSING, {"pp-db"}),
    (host(vfs=1, port_profiles=domain(unknown="not in any UCS domain")), False, Reason.INSUFFICIENT, set()),
    (host(port_profiles=domain(unknown="not in any UCS domain")), True, Reason.PORT_PROFILES_UNKNOWN,
     {"pp-db", "pp-web"}),
    (host(port_profiles=None), True, Reason.FITS, set()),                  # rule off
    (host(vfs=2, used=2, current=True, port_profiles=domain()), True, Reason.CURRENT_HOST, set()),
])
def test_port_profiles_are_part_of_fits(h, keep, reason, missing):
    verdict = decide.fits(PP, h, keep_unknown=True)
    assert (verdict.keep, verdict.reason, set(verdict.port_profiles)) == (keep, reason, missing)


def test_unknown_port_profiles_follow_on_error_and_are_never_missing():
    h = host(port_profiles=domain(unknown="UCS domain https://ucsm-b could not be read"))
    assert decide.fits(PP, h, keep_unknown=False).keep is False
    assert decide.fits(PP, h, keep_unknown=False).reason is Reason.PORT_PROFILES_UNKNOWN


def test_a_vm_naming_no_port_profile_ignores_the_domains():
    assert decide.fits(need(1), host(port_profiles=domain()), keep_unknown=False).reason is Reason.FITS


def test_weight_ranks_missing_port_profiles_last_and_unknown_after_fits():
    hosts = [host("fit", 8, port_profiles=domain("pp-db", "pp-web")),
             host("missing", 16, port_profiles=domain("pp-db")),
             host("missing-unknown-cap", None, port_profiles=domain()),
             host("unknown", 16, port_profiles=domain(unknown="not in any UCS domain"))]
    for mode in ("spread", "pack", "reserve"):
        scores = _scores(mode, PP, hosts)
        assert (scores["missing"], scores["missing-unknown-cap"], scores["unknown"]) == (1000, 1000, 999), mode
        assert scores["fit"] < 999
