"""The fake engine's events and cost model, read through the real SDK and our engine reader:
the pitfalls of docs/engine-events.md each shown on the fake, and the reader coping with them."""
import ovirtsdk4
import pytest

from ovirt_scheduler_proxy_plugins import engine as engine_reader
from ovirt_scheduler_proxy_plugins.config import EngineSettings
from ovirt_scheduler_proxy_plugins.sim.engine.events import (NIC_UNPLUGGED, USER_RUN_VM, USER_STARTED_VM, VM_DOWN,
                                                             VM_MIGRATION_DONE)
from ovirt_scheduler_proxy_plugins.store import TokenCache


@pytest.fixture
def sdk(engine):
    conn = ovirtsdk4.Connection(url=engine.url, username="admin@internal", password="secret", insecure=True)
    yield conn.system_service().events_service()
    conn.close()


@pytest.fixture
def session(engine, tmp_path):
    settings = EngineSettings(url=engine.url, username="admin@internal", password="secret", insecure=True)
    found = engine_reader.EngineSession(settings, TokenCache(str(tmp_path), engine.url, settings.username, "secret"), None)
    yield found
    found.close()


def codes(events):
    return [(e.index, e.code) for e in events]


def test_changes_the_engine_performs_are_logged_with_vm_and_host(world, engine, sdk):
    h1, h2 = world.add_host("h1"), world.add_host("h2")
    vm = world.add_vm("a", vmfex_nics=1)
    engine.place_vm(vm.id, h1.id, "wait_for_launch").wait(2)
    engine.place_vm(vm.id, h1.id, "up").wait(2)
    engine.place_vm(vm.id, h2.id, "up").wait(2)                       # migrated
    with engine.mutate():
        vm.nics[0].plugged = False
    engine.place_vm(vm.id, None, "down").wait(2)
    found = list(reversed(sdk.list(search="")))
    assert [e.code for e in found] == [USER_STARTED_VM, USER_RUN_VM, VM_MIGRATION_DONE, NIC_UNPLUGGED, VM_DOWN]
    assert [e.host.id for e in found] == [h1.id, h1.id, h1.id, h2.id, h2.id]   # migration: the source
    assert {e.vm.id for e in found} == {vm.id}


def test_from_is_strict_and_answers_come_newest_first(world, engine, sdk):
    h = world.add_host("h")
    vms = [world.add_vm("v%d" % i, vmfex_nics=1) for i in range(5)]
    with engine.mutate():
        for v in vms:
            v.host_id, v.status = h.id, "up"
    every = sdk.list()
    indices = [e.index for e in every]
    assert indices == sorted(indices, reverse=True) and len(indices) == 10
    after = sdk.list(from_=indices[3])
    assert [e.index for e in after] == indices[:3]                    # strictly greater
    assert [e.index for e in sdk.list(max=2)] == indices[:2]          # max keeps the NEWEST


def test_a_filtered_user_needs_a_search_for_from(world, engine):
    world.users["user@internal"] = "pw"
    world.filtered_users = frozenset(["user@internal"])
    h = world.add_host("h")
    with engine.mutate():
        for i in range(3):
            world.add_vm("v%d" % i, host=h, vmfex_nics=1)
    conn = ovirtsdk4.Connection(url=engine.url, username="user@internal", password="pw", insecure=True)
    events = conn.system_service().events_service()
    newest = events.list()[0].index
    assert len(events.list(from_=newest)) == 6                        # `from` ignored: everything
    assert events.list(from_=newest, search="type=%d" % USER_RUN_VM) == []
    conn.close()


def test_the_reader_gets_from_honoured_for_a_filtered_user(world, engine, tmp_path):
    """Its search of the usage codes is what makes a filtered account's `from` count."""
    world.users["user@internal"] = "pw"
    world.filtered_users = frozenset(["user@internal"])
    h = world.add_host("h")
    with engine.mutate():
        world.add_vm("v", host=h, vmfex_nics=1)
    settings = EngineSettings(url=engine.url, username="user@internal", password="pw", insecure=True)
    session = engine_reader.EngineSession(settings, TokenCache(str(tmp_path), engine.url, "user@internal", "pw"), None)
    newest = session.newest_event()
    assert session.events_after(newest) == []
    assert len(session.events_after(newest - 1)) == 1
    session.close()


def test_the_reader_pages_through_a_burst_larger_than_a_page(world, engine, session, monkeypatch):
    monkeypatch.setattr(engine_reader, "EVENT_PAGE", 7)
    h = world.add_host("h")
    with engine.mutate():
        for i in range(12):
            world.add_vm("v%d" % i, host=h, vmfex_nics=1)             # 24 events: 153 and 32 each
    found = session.events_after(0)
    assert len(found) == 24 and [e.index for e in found] == sorted(e.index for e in found)
    assert sum("page" in r for r in session.drain_requests()) == 4    # 7 + 7 + 7 + 3


def test_the_reader_gives_up_past_its_page_limit(world, engine, session, monkeypatch):
    monkeypatch.setattr(engine_reader, "EVENT_PAGE", 2)
    monkeypatch.setattr(engine_reader, "EVENT_PAGES", 3)
    h = world.add_host("h")
    with engine.mutate():
        for i in range(4):
            world.add_vm("v%d" % i, host=h, vmfex_nics=1)
    with pytest.raises(engine_reader.TooManyEvents):
        session.events_after(0)


def test_a_late_commit_shows_below_an_index_already_seen(world, engine, session):
    engine.watch_inventory = False                                    # only the events written here
    h = world.add_host("h")
    late = engine.events.reserve()
    engine.events.emit(USER_RUN_VM, world.add_vm("seen", host=h, vmfex_nics=1), h.id, "started")
    first = session.events_after(0)
    assert [e.index for e in first] == [late + 1]
    engine.events.commit(late, VM_DOWN, world.add_vm("late", vmfex_nics=1), h.id, "is down")
    assert [e.index for e in session.events_after(late + 1)] == []    # not above the newest
    assert [e.index for e in session.events_after(late - 1)] == [late, late + 1]   # the overlap finds it


def test_newest_event_and_deleted_events(world, engine, session):
    h = world.add_host("h")
    assert session.newest_event() == 0
    with engine.mutate():
        world.add_vm("v", host=h, vmfex_nics=1)
    newest = session.newest_event()
    engine.events.delete_up_to(newest)
    assert session.events_after(0) == []
    assert session.newest_event() == 0


def test_the_cost_model_charges_a_vm_list_3n_plus_3(world, engine, session):
    h = world.add_host("h", vf_devices=4)
    for i in range(10):
        world.add_vm("up%d" % i, host=h, vmfex_nics=1)
    for i in range(4):
        world.add_vm("down%d" % i, vmfex_nics=1)
    before = engine.cost.total
    session.vms(None, frozenset(["vmfex"]))                          # the 10 running VMs
    assert engine.cost.total - before == 1 + 2 + 10 * 3
    before = engine.cost.total
    session.vm(world.vm_by_name("up0").id)
    assert engine.cost.total - before == 1 + 1 + 3                   # request, GetVmByVmId, cert x2, nics
    before = engine.cost.total
    session.hosts()
    assert engine.cost.total - before == 1 + 1 * 2                   # nics and devices followed
    before = engine.cost.total
    session.events_after(0)
    assert engine.cost.total - before == 1
