"""One decision path: a plugin process and serve give the same answer on the same data.

The other scenario tests run both ways against expectations written per test; here the two run
modes are compared with each other, answer for answer, over a varied world and a sequence of
decisions whose pending claims pile up (each mode in its own state dir, so each keeps its own
ledger and both see the same sequence of claims). serve keeps its default usage_max_age, as in
production: the world does not change between calls, so a reused view must not change a verdict.
The migrating VM shows as migrating once scheduled, as the engine shows it: otherwise its claim
would end MIGRATION_GRACE (15 s) after it was made, a point a loaded machine reaches at another
decision in each mode.
"""
import os

import pytest

from tests.integration.helpers import int_scores, Proxy, write_conf


def _varied_world(world):
    """Hosts in every state the arithmetic knows, VMs with every kind of demand."""
    world.add_host("roomy", vf_devices=16)
    world.add_host("full", vf_devices=4)
    world.add_host("tight", vf_devices=8)
    world.add_host("nic-config", nic_vfs_configured=6, vf_nics=1)
    world.add_host("other-driver", vf_devices=8, vf_driver="ixgbevf")
    world.add_host("no-vfs")
    world.add_host("down-host", vf_devices=16, status="maintenance")
    for i in range(2):
        world.add_vm("full-%d" % i, host="full", vmfex_nics=2)
    world.add_vm("tight-a", host="tight", vmfex_nics=3, unplugged_vmfex=1)
    world.add_vm("tight-b", host="tight", vmfex_nics=2, plain_nics=2)
    world.add_vm("roomy-a", host="roomy", vmfex_nics=1)
    mover = world.add_vm("mover", host="tight", vmfex_nics=2)
    new = [world.add_vm("new-%d" % i, vmfex_nics=n, plain_nics=1, unplugged_vmfex=i % 2)
           for i, n in enumerate((2, 1, 3, 2, 0, 4, 2))]
    return [mover] + new


@pytest.mark.parametrize("settings", ["", "reserve = 1\nweight_mode = pack\n"], ids=["defaults", "reserve-pack"])
def test_a_plugin_process_and_serve_answer_alike(world, engine, plugins_dir, tmp_path, settings):
    vms = _varied_world(world)
    hosts = [host.id for host in world.hosts.values()]
    runners = []
    for mode in ("process", "serve"):
        state = str(tmp_path / mode)
        runners.append(Proxy(plugins_dir, write_conf(state, engine.url, "usage_max_age = 2\n" + settings),
                             state, mode))
    try:
        answers = {}
        mover, source = vms[0], world.vm_by_name("mover").host_id
        for runner in runners:
            engine.place_vm(mover.id, source, "up", after=0).wait(2)              # the same start for both
            seen = []
            for vm in vms:
                kept = runner.filter(hosts, vm.id)
                assert kept.ok and kept.stderr == "", (runner.mode, vm.name, kept.stderr)
                weighed = runner.weight(kept.result, vm.id) if len(kept.result) > 1 else None
                scores = None
                if weighed is not None:
                    assert weighed.ok and weighed.stderr == "", (runner.mode, vm.name, weighed.stderr)
                    scores = int_scores(weighed.result)
                    assert sorted(h for h, _ in scores) == sorted(kept.result)    # every kept host scored
                seen.append((vm.name, sorted(kept.result), sorted(scores) if scores is not None else None))
                if vm is mover:     # the engine starts the migration: its claim then holds however long the
                    engine.place_vm(mover.id, source, "migrating", after=0).wait(2)   # sequence takes
            answers[runner.mode] = seen
    finally:
        for runner in runners:
            runner.stop()
    assert answers["process"] == answers["serve"]
    # The comparison means something only if the sequence has varied answers: drops, several kept
    # hosts, and claims that change later verdicts.
    kept_counts = {len(kept) for _, kept, _ in answers["process"]}
    assert len(kept_counts) >= 3, answers["process"]
    assert any(scores and len({s for _, s in scores}) > 1 for _, _, scores in answers["process"])
    ledger = os.path.join(str(tmp_path / "process"), "cache", "claims.json")
    assert os.path.exists(ledger)
