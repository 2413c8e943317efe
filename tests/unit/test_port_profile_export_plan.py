"""The export planner: oVirt facts + UCS facts -> writes with reasons (pure, no I/O)."""
import pytest

from ovirt_scheduler_proxy_plugins.tools.port_profile_export_plan import (
    MARK, ExportedProfile, ExportOptions, NetworkQos, UcsDomainFacts, UcsQosPolicy, export_plan, map_qos,
    port_profile_name, profile_descr, qos_descr, vlan_problem)
from ucsm_source import PortProfile

URL = "https://ucsm-a"
QOS_100 = NetworkQos("q100", outbound_average=100, outbound_peak=100, outbound_burst=5)


@pytest.mark.parametrize("qos, rate_kbps, burst_bytes, lost", [
    # 100 Mbps -> 100 x 1000 = 100000 kbps; 5 MB = 5 x 10^6 = 5000000 bytes -> 65535 (the UCS maximum), lossy;
    # the peak (100 Mbps) has no UCS counterpart
    (NetworkQos("a", 100, 100, 5), 100000, 65535, ["outbound peak 100 Mbps", "outbound burst 5 MB = 5000000 bytes"]),
    # 1 Mbps -> 1000 kbps; 1 MB = 1000000 bytes -> 65535
    (NetworkQos("b", 1, None, 1), 1000, 65535, ["outbound burst 1 MB = 1000000 bytes"]),
    # 17179 Mbps (oVirt's maximum) -> 17179000 kbps, within UCS's 8..100000000; no burst -> UCS default 10240
    (NetworkQos("c", 17179), 17179000, 10240, []),
    # outbound plus inbound: inbound is not exported (UCS shapes only what the VM sends)
    (NetworkQos("d", 10, None, None, 20, 30, 2), 10000, 10240, ["inbound limits (average 20 Mbps, peak 30 Mbps"]),
])
def test_qos_arithmetic_and_what_is_lost(qos, rate_kbps, burst_bytes, lost):
    mapping = map_qos(qos)
    assert (mapping.rate_kbps, mapping.burst_bytes) == (rate_kbps, burst_bytes)
    assert len(mapping.not_exported) == len(lost)
    for note, words in zip(sorted(mapping.not_exported), sorted(lost)):
        assert note.startswith(words)


def test_no_qos_or_inbound_only_gives_no_policy():
    assert map_qos(None) is None
    inbound = map_qos(NetworkQos("in", inbound_average=5, inbound_peak=5, inbound_burst=1))
    assert inbound.rate_kbps == 0 and inbound.not_exported[0].startswith("inbound limits (average 5 Mbps")


@pytest.mark.parametrize("vlan_id, words", [
    (None, "untagged"), (0, "VLAN id 0"), (4043, "reserved"), (4047, "reserved"), (4094, "reserved"),
    (1, ""), (4042, ""), (4048, ""), (4093, ""),
])
def test_vlan_ids_ucs_cannot_carry(vlan_id, words):
    problem = vlan_problem(vlan_id)
    assert (words in problem and problem != "") if words else problem == ""


@pytest.mark.parametrize("name, value, expected", [
    ("web", None, "web"),
    ("web tier (prod)", None, "web-tier--prod-"),
    ("a.b:c", None, "a-b-c"),                      # UCS allows . and :, the vdsm hook does not
    ("x" * 40, None, "x" * 31),                    # cut to 31
    ("anything", "pp-set", "pp-set"),              # an existing VF property value wins
])
def test_port_profile_names(name, value, expected):
    assert port_profile_name(ExportedProfile("id", name, value)) == expected


def plan(profiles, domains=None, vlan_id=100, **options):
    domains = domains if domains is not None else [UcsDomainFacts(URL, vlans={"prod-100": 100})]
    return export_plan("blue", vlan_id, profiles, domains, ExportOptions(**options))


def test_a_new_profile_with_qos_is_one_policy_then_one_profile():
    result = plan([ExportedProfile("p1", "blue", qos=QOS_100)])
    (domain,) = result.domains
    assert domain.vlan_name == "prod-100" and domain.vlan_write is None      # the existing VLAN, by id
    qos, profile = domain.writes
    assert qos.mo.dn == "org-root/ep-qos-blue" and qos.mo.get("status") == "created,modified"
    egress = dict(qos.mo.children[0].attrs)
    assert egress == {"rate": "100000", "burst": "65535", "prio": "best-effort", "hostControl": "none"}
    assert profile.mo.dn == "fabric/lan/profiles/vnic-blue"
    assert dict(profile.mo.attrs) == {"name": "blue", "status": "created,modified", "policyOwner": "local",
                                      "descr": "ovirt-vf-scheduler: oVirt network blue, vNIC profile blue",
                                      "maxPorts": "64", "hostNwIOPerf": "none", "qosPolicyName": "blue"}
    vlan, client = profile.mo.children
    assert (vlan.dn, dict(vlan.attrs)) == ("fabric/lan/profiles/vnic-blue/if-prod-100",
                                           {"name": "prod-100", "defaultNet": "yes"})
    assert dict(client.attrs) == {"name": "ovirt", "dcName": ".*", "orgPath": ".*", "swName": ".*",
                                  "policyOwner": "local"}
    (outcome,) = domain.outcomes
    assert outcome.state == "create" and len(outcome.not_exported) == 2
    assert [(b.vnic_profile, b.value) for b in result.bindings] == [("blue", "blue")]


def test_no_qos_means_no_policy_and_an_empty_policy_name():
    (write,) = plan([ExportedProfile("p1", "blue")]).domains[0].writes
    assert write.mo.class_id == "vnicProfile" and write.mo.get("qosPolicyName") == ""


def existing(name="blue", vlans=("prod-100",), qos="", descr=None, clients=("ovirt",), max_ports=64):
    return PortProfile(name=name, descr=profile_descr("blue", "blue") if descr is None else descr, vlans=vlans,
                       native_vlan=vlans[0] if vlans else None, qos_policy=qos, max_ports=max_ports,
                       clients=clients)


def test_what_the_domain_already_holds_is_not_written_again():
    policy = UcsQosPolicy("blue", qos_descr("blue"), rate="100000", burst="65535")
    domain = UcsDomainFacts(URL, vlans={"prod-100": 100}, port_profiles={"blue": existing(qos="blue")},
                            qos_policies={"blue": policy})
    result = plan([ExportedProfile("p1", "blue", value="blue", qos=QOS_100)], [domain])
    assert result.domains[0].writes == [] and result.bindings == () and result.writes == 0
    assert result.domains[0].outcomes[0].state == "unchanged"


def test_an_update_removes_vlans_no_longer_wanted_and_fixes_the_policy():
    policy = UcsQosPolicy("blue", qos_descr("blue"), rate="5000", burst="65535")
    domain = UcsDomainFacts(URL, vlans={"prod-100": 100, "old-99": 99},
                            port_profiles={"blue": existing(vlans=("old-99",), qos="blue", max_ports=32)},
                            qos_policies={"blue": policy})
    qos, profile = plan([ExportedProfile("p1", "blue", value="blue", qos=QOS_100)], [domain]).domains[0].writes
    assert qos.reason == "differs: rate 5000 -> 100000"
    assert "maxPorts '32' -> '64'" in profile.reason and "VLANs old-99 -> prod-100" in profile.reason
    assert [(c.dn.rsplit("/", 1)[1], dict(c.attrs)) for c in profile.mo.children] == [
        ("if-prod-100", {"name": "prod-100", "defaultNet": "yes"}),
        ("if-old-99", {"name": "old-99", "status": "deleted"})]        # client present: not sent again


def test_unmarked_objects_are_refused_by_name():
    domain = UcsDomainFacts(URL, vlans={"v": 100}, port_profiles={"blue": existing(descr="made by hand")},
                            qos_policies={"red": UcsQosPolicy("red", "gold for red")})
    result = plan([ExportedProfile("p1", "blue"), ExportedProfile("p2", "red", qos=QOS_100)], [domain])
    blue, red = result.domains[0].outcomes
    assert blue.state == red.state == "refused" and result.domains[0].writes == []
    assert "port profile blue exists in UCS-M without the %s mark" % MARK in blue.reason
    assert "QoS policy org-root/ep-qos-red exists without the %s mark" % MARK in red.reason
    assert result.bindings == () and "not exported to %s" % URL in result.unbindable["blue"]


def test_two_vnic_profiles_with_one_port_profile_name_are_both_refused():
    result = plan([ExportedProfile("p1", "web app"), ExportedProfile("p2", "web-app")])
    assert [o.state for o in result.domains[0].outcomes] == ["refused", "refused"]
    assert "vNIC profiles web app and web-app would both be port profile web-app" in \
        result.domains[0].outcomes[0].reason


def test_two_port_profiles_sharing_a_cut_qos_name_refuse_the_second():
    long_a, long_b = "database-network-a", "database-network-b"       # both cut to database-network
    result = plan([ExportedProfile("p1", long_a, qos=QOS_100), ExportedProfile("p2", long_b, qos=QOS_100)])
    first, second = result.domains[0].outcomes
    assert first.state == "create" and second.state == "refused"
    assert "QoS policy name database-network (port profile names cut to 16) is also wanted by port profile " \
           "database-network-a" in second.reason


def test_vlan_missing_is_refused_per_domain_unless_created_first():
    domains = [UcsDomainFacts(URL, vlans={"prod-100": 100}), UcsDomainFacts("https://ucsm-b", vlans={"x": 7})]
    refused = plan([ExportedProfile("p1", "blue")], domains)
    assert refused.domains[1].refusal.startswith("no VLAN with id 100 in this domain")
    assert refused.domains[1].writes == [] and refused.bindings == ()
    created = plan([ExportedProfile("p1", "blue")], domains, create_vlan=True).domains[1]
    vlan, profile = created.writes
    assert vlan is created.vlan_write and vlan.mo.dn == "fabric/lan/net-ovirt-100"
    assert dict(vlan.mo.attrs)["id"] == "100" and profile.mo.children[0].get("name") == "ovirt-100"


def test_reserved_range_of_the_domain_and_untagged_networks():
    reserved = UcsDomainFacts(URL, vlans={"v": 4000}, reserved=(3915, 4042))
    assert "reserved range 3915-4042" in plan([ExportedProfile("p1", "x")], [reserved], vlan_id=4000).domains[0].refusal
    untagged = plan([ExportedProfile("p1", "x")], vlan_id=None)
    assert "untagged" in untagged.refusal and untagged.domains == () and untagged.writes == 0


def test_binding_respects_no_bind_existing_values_and_the_engine_regex():
    profiles = [ExportedProfile("p1", "x"), ExportedProfile("p2", "bound", value="pp-bound")]
    result = plan(profiles, vf_property_regex="^[a-zA-Z0-9_.-]{2,32}$")
    assert result.bindings == () and "refuses 'x'" in result.unbindable["x"]       # one character
    assert plan(profiles, bind=False).bindings == ()
    assert [b.value for b in plan([ExportedProfile("p3", "ok name")]).bindings] == ["ok-name"]


def test_a_marked_profile_of_another_vnic_profile_is_taken_over_only_when_bound_to_it():
    """Network red's vNIC profile web was exported as port profile web; blue's unbound "web" must not
    move it to blue's VLAN, but a vNIC profile whose VF property names it (a rename) updates it."""
    red = existing(name="web", descr=profile_descr("red", "web"), vlans=("red-7",))
    domain = UcsDomainFacts(URL, vlans={"prod-100": 100}, port_profiles={"web": red})
    (refused,) = plan([ExportedProfile("p1", "web")], [domain]).domains[0].outcomes
    assert refused.state == "refused" and "was exported for another vNIC profile " \
        "(ovirt-vf-scheduler: oVirt network red, vNIC profile web): set vmfex=web on this one" in refused.reason
    (renamed,) = plan([ExportedProfile("p1", "web2", value="web")], [domain]).domains[0].outcomes
    assert renamed.state == "update" and "descr" in renamed.writes[0].reason
