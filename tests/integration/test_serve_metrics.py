"""serve's /metrics: decisions counted, the view reported, every error series present from zero."""
import re

from tests.integration.helpers import host_ids


def test_metrics_count_decisions_and_report_the_view(bed, world):
    a, b = host_ids(world, "a", "b")
    vm = world.vm_by_name("new").id
    bed.client().runFilters(["VfFilter"], [a, b], vm, {})
    bed.client().runCostFunctions([["VfWeight", 1]], [a, b], vm, {})
    status, text = bed.get("/metrics")
    text = text.decode()
    assert 'ovirt_vf_scheduler_decisions_total{outcome="ok",unit="VfFilter"} 1.0' in text
    assert 'ovirt_vf_scheduler_decisions_total{outcome="ok",unit="VfWeight"} 1.0' in text
    assert 'ovirt_vf_scheduler_call_seconds_count{method="runFilters"} 1.0' in text
    assert "ovirt_vf_scheduler_pending_claims 1.0" in text        # new's claim (of 2 VFs, on b), as status counts
    assert re.search(r"ovirt_vf_scheduler_usage_view_age_seconds (\d+\.\d+)", text)


def test_error_series_exist_at_zero_and_count_every_plugin_error(bed, world):
    """Alerts need each error series before the first error; every unit the engine is told failed
    counts, a name no plugin answers to included (runLoadBalancing's too), as "unknown": a caller
    cannot make new series."""
    text = bed.get("/metrics")[1].decode()
    zero = ['ovirt_vf_scheduler_plugin_errors_total{unit="VfFilter"} 0.0',
            'ovirt_vf_scheduler_plugin_errors_total{unit="VfWeight"} 0.0',
            'ovirt_vf_scheduler_decisions_total{outcome="fail_open",unit="VfFilter"} 0.0',
            'ovirt_vf_scheduler_decisions_total{outcome="fail_closed",unit="VfWeight"} 0.0',
            'ovirt_vf_scheduler_call_faults_total{method="runLoadBalancing"} 0.0',
            'ovirt_vf_scheduler_source_errors_total{source="engine"} 0.0',
            'ovirt_vf_scheduler_source_errors_total{source="ucsm"} 0.0']
    assert [line for line in zero if line not in text] == []
    a, b = host_ids(world, "a", "b")
    client = bed.client()
    assert client.runLoadBalancing("Nope", [a], {})["plugin_errors"] == {"Nope": ["plugin not found: 'Nope'"]}
    assert client.runFilters(["Gone", "NoisyFilter"], [a, b], world.vm_by_name("new").id, {})["result_code"] == 1
    text = bed.get("/metrics")[1].decode()
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="unknown"} 2.0' in text          # Nope, Gone
    assert "Nope" not in text and "Gone" not in text
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="NoisyFilter"} 1.0' in text


def test_foreign_plugin_failures_are_counted_in_plugin_errors_total(bed, world):
    a, b = host_ids(world, "a", "b")
    bed.client().runFilters(["NoisyFilter", "FirstHostFilter", "NoSuchFilter"], [a, b],
                            world.vm_by_name("new").id, {})
    text = bed.get("/metrics")[1].decode()
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="NoisyFilter"} 1.0' in text
    assert 'ovirt_vf_scheduler_plugin_errors_total{unit="unknown"} 1.0' in text
    assert 'unit="FirstHostFilter"' not in text and 'unit="NoSuchFilter"' not in text


def test_metrics_count_the_decisions_that_held_hosts_back(bed, world):
    """c and d have 6 VFs each: vm1 (3 VFs) keeps both, vm2 (1 VF) then finds VFs scarce (margin 3,
    3 - 1 < 3): one host kept, one held back, counted once."""
    c, d = (world.add_host(name, vf_devices=6).id for name in ("c", "d"))
    vm1, vm2 = world.add_vm("vm1", vmfex_nics=3).id, world.add_vm("vm2", vmfex_nics=1).id
    assert "ovirt_vf_scheduler_held_back_decisions_total 0.0" in bed.get("/metrics")[1].decode()
    assert bed.client().runFilters(["VfFilter"], [c, d], vm1, {})["result"] == [c, d]
    assert bed.client().runFilters(["VfFilter"], [c, d], vm2, {})["result"] == [c]
    assert "ovirt_vf_scheduler_held_back_decisions_total 1.0" in bed.get("/metrics")[1].decode()
