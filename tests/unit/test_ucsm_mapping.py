"""Mapping oVirt hosts to UCS-M service profiles and their dynamic vNIC count, without a server."""
import logging

import pytest

from ucsm_source.mapping import (index_domain, map_domain, merge_domains, parse_dynamic_eth,
                                 swap_uuid)
from ucsm_source.model import HostIdentity, ManagedObject, PortProfile
from ucsm_source.profiles import port_profiles

UUID = "4b279c8a-5f19-11e2-0000-0000000003bf"
SWAPPED = "8a9c274b-195f-e211-0000-0000000003bf"
SP = "org-root/org-ovirt/ls-kvm-host1"
POLICY = "org-root/org-ovirt/dynamic-con-kvm10"
BLADE = "sys/chassis-1/blade-1"


def blade(dn=BLADE, uuid=UUID, serial="FCH1234ABCD", assigned=SP, class_id="computeBlade"):
    return ManagedObject(class_id, {"dn": dn, "uuid": uuid, "serial": serial,
                                    "assignedToDn": assigned})


def profile(dn=SP, pn_dn=BLADE, policy=POLICY, assoc="associated", kind="instance", uuid="derived"):
    return ManagedObject("lsServer", {"dn": dn, "pnDn": pn_dn, "operDynamicConPolicyName": policy,
                                      "assocState": assoc, "type": kind, "uuid": uuid})


def policy(dn=POLICY, eth="10", class_id="vnicDynamicConPolicy"):
    return ManagedObject(class_id, {"dn": dn, "dynamicEth": eth})


def ether(sp, name, inst):
    return ManagedObject("vnicEther", {"dn": "%s/ether-%s" % (sp, name), "instType": inst})


def host(hw_uuid=UUID, serial=None, name="host1", host_id="id-1"):
    return HostIdentity(host_id=host_id, name=name, hw_uuid=hw_uuid, serial=serial)


def answer(objects, the_host=None, host_map=None, count_in_use=True, url="https://ucsm-a"):
    """One host through index -> map -> merge, as read_domains does for one domain."""
    the_host = the_host or host()
    host_map = host_map or {}
    inventory = index_domain(url, objects, count_in_use)
    found = map_domain(inventory, [the_host], host_map)
    return merge_domains([the_host], [found], host_map)[the_host.host_id]


STANDARD = [blade(), profile(), policy()]


def test_uuid_match_is_case_insensitive_and_reads_the_named_policy():
    result = answer(STANDARD, host(hw_uuid=UUID.upper()))
    assert (result.dynamic_eth, result.matched_by, result.service_profile, result.policy,
            result.domain) == (10, "uuid", SP, POLICY, "https://ucsm-a")
    assert result.reason == "dynamicEth=10 (%s)" % POLICY


def test_rack_units_match_like_blades():
    objects = [blade(dn="sys/rack-unit-3", class_id="computeRackUnit"),
               profile(pn_dn="sys/rack-unit-3"), policy()]
    assert answer(objects).dynamic_eth == 10


def test_byte_swapped_uuid_matches_only_after_the_plain_one():
    assert swap_uuid(UUID) == SWAPPED
    assert answer(STANDARD, host(hw_uuid=SWAPPED)).matched_by == "uuid-swapped"
    # a server whose uuid IS the swapped form must lose to the plain match of another server
    other_sp = "org-root/ls-other"
    objects = STANDARD + [blade(dn="sys/chassis-2/blade-1", uuid=SWAPPED, assigned=other_sp),
                          profile(dn=other_sp, pn_dn="sys/chassis-2/blade-1")]
    result = answer(objects, host(hw_uuid=UUID))
    assert (result.matched_by, result.service_profile) == ("uuid", SP)


def test_serial_is_the_fallback_and_uuid_wins_over_it():
    result = answer(STANDARD, host(hw_uuid="00000000-1111-2222-3333-444444444444",
                                   serial=" fch1234abcd "))
    assert (result.matched_by, result.dynamic_eth) == ("serial", 10)
    other_sp = "org-root/ls-other"
    objects = STANDARD + [blade(dn="sys/chassis-2/blade-1", uuid="", serial="FCH-OTHER",
                                assigned=other_sp),
                          profile(dn=other_sp, pn_dn="sys/chassis-2/blade-1", policy="")]
    result = answer(objects, host(hw_uuid=UUID, serial="FCH-OTHER"))
    assert (result.matched_by, result.service_profile) == ("uuid", SP)


@pytest.mark.parametrize("key", ["host1", "id-1"])
def test_host_map_overrides_automatic_matching(key):
    other_sp = "org-root/ls-mapped"
    objects = STANDARD + [profile(dn=other_sp, pn_dn="sys/chassis-3/blade-1", policy="")]
    result = answer(objects, host(hw_uuid=UUID), host_map={key: other_sp})
    assert (result.matched_by, result.service_profile, result.dynamic_eth) == (
        "host_map", other_sp, 0)


def test_a_wrong_host_map_entry_is_reported_not_guessed_around():
    result = answer(STANDARD, host(hw_uuid=UUID), host_map={"host1": "org-root/ls-typo"})
    assert result.dynamic_eth is None and result.service_profile is None
    assert result.reason == "host_map entry org-root/ls-typo not found in any UCS domain"


def test_templates_are_never_profiles():
    template = profile(dn="org-root/ls-tmpl", kind="updating-template", pn_dn=BLADE)
    # server found via pnDn only: the template listed first must not be taken
    objects = [blade(assigned=""), template, profile(), policy()]
    assert answer(objects).service_profile == SP
    mapped = answer(objects, host_map={"host1": "org-root/ls-tmpl"})
    assert mapped.dynamic_eth is None and "not found" in mapped.reason


def test_profile_uuid_is_never_compared_derived_or_not():
    # the profile says "derived"; the server's uuid is what SMBIOS shows
    assert answer([blade(), profile(uuid="derived"), policy()]).dynamic_eth == 10
    # a spare profile carrying the host's UUID, on no server with that UUID: no match
    spare = profile(dn="org-root/ls-spare", pn_dn="", uuid=UUID, assoc="unassociated")
    elsewhere = blade(uuid="11111111-2222-3333-4444-555555555555")
    result = answer([elsewhere, profile(), spare, policy()])
    assert result.matched_by is None and result.reason == "not found in any UCS domain"


@pytest.mark.parametrize("state", ["unassociated", "failed", "associating"])
def test_profile_not_associated_is_unknown_not_zero(state):
    result = answer([blade(), profile(assoc=state), policy()])
    assert result.dynamic_eth is None
    assert result.service_profile == SP and state in result.reason


def test_server_without_profile_is_unknown():
    result = answer([blade(assigned="")])
    assert (result.dynamic_eth, result.matched_by) == (None, "uuid")
    assert result.reason == "server %s has no service profile" % BLADE


@pytest.mark.parametrize("raw, expected", [("off", 0), ("", 0), ("OFF", 0), ("0", 0),
                                           ("54", 54), ("256", 256)])
def test_dynamic_eth_values(raw, expected):
    assert parse_dynamic_eth(raw) == expected
    assert answer([blade(), profile(), policy(eth=raw)]).dynamic_eth == expected


@pytest.mark.parametrize("raw", ["257", "-1", "ten", "1.5", "\u0661"])
def test_garbage_dynamic_eth_is_unknown(raw):
    assert parse_dynamic_eth(raw) is None
    result = answer([blade(), profile(), policy(eth=raw)])
    assert result.dynamic_eth is None and "invalid dynamicEth" in result.reason
    assert result.policy == POLICY


def test_profile_local_dynamic_con_when_no_policy_is_named():
    local = SP + "/dynamic-con"
    result = answer([blade(), profile(policy=""),
                     policy(dn=local, eth="4", class_id="vnicDynamicCon")])
    assert (result.dynamic_eth, result.policy) == (4, local)
    # with both, the resolved named policy wins
    both = answer([blade(), profile(), policy(),
                   policy(dn=local, eth="4", class_id="vnicDynamicCon")])
    assert (both.dynamic_eth, both.policy) == (10, POLICY)


def test_no_policy_at_all_means_zero():
    result = answer([blade(), profile(policy="")])
    assert (result.dynamic_eth, result.policy, result.reason) == (0, None, "no dynamic vNIC policy")


def test_named_policy_missing_from_the_domain_is_unknown():
    result = answer([blade(), profile()])
    assert result.dynamic_eth is None and POLICY in result.reason


def test_in_use_counts_dynamic_vnics_of_this_profile_only():
    objects = STANDARD + [ether(SP, "eth0", "manual"), ether(SP, "dynamic-prot-001", "dynamic"),
                          ether(SP, "dynamic-prot-002", "dynamic-vf"),
                          ether("org-root/ls-other", "dynamic-prot-001", "dynamic")]
    assert answer(objects).in_use == 2
    assert answer(STANDARD).in_use == 0
    assert answer(objects, count_in_use=False).in_use is None


@pytest.mark.parametrize("hw_uuid, blade_uuid", [
    (None, ""), ("", ""), ("00000000-0000-0000-0000-000000000000", "0"),
    ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"),
    ("not-a-uuid", "not-a-uuid")])
def test_empty_or_zero_identities_never_match(hw_uuid, blade_uuid):
    result = answer([blade(uuid=blade_uuid, serial=""), profile(), policy()],
                    host(hw_uuid=hw_uuid, serial=""))
    assert result.matched_by is None and result.dynamic_eth is None


def test_host_in_two_domains_takes_the_first_and_warns(caplog):
    the_host = host()
    domain_b = index_domain("https://ucsm-b", [blade(), profile(), policy(eth="54")], True)
    domain_a = index_domain("https://ucsm-a", STANDARD, True)
    answers = [map_domain(domain, [the_host], {}) for domain in (domain_a, domain_b)]
    with caplog.at_level(logging.WARNING, logger="ovirt_vf_scheduler.ucsm"):
        result = merge_domains([the_host], answers, {})[the_host.host_id]
    assert (result.domain, result.dynamic_eth) == ("https://ucsm-a", 10)
    assert "2 UCS domains" in caplog.text and "https://ucsm-b" in caplog.text


def test_port_profiles_group_rn_derived_children_under_their_profile():
    base = "fabric/lan/profiles/vnic-"
    objects = [ManagedObject("vnicProfile", {"dn": base + "pp:db", "name": "pp:db", "maxPorts": "64",
                                             "hostNwIOPerf": "high-perf-reqd", "qosPolicyName": "gold"}),
               ManagedObject("vnicEtherIf", {"dn": base + "pp:db/if-v200", "name": "v200", "defaultNet": "no"}),
               ManagedObject("vnicEtherIf", {"dn": base + "pp:db/if-v100", "name": "v100", "defaultNet": "yes"}),
               ManagedObject("faultInst", {"dn": base + "pp:db/fault-F1", "code": "F1"}),
               ManagedObject("vmVnicProfCl", {"dn": base + "pp:db/cl-kvm", "name": "kvm"}),
               ManagedObject("vnicProfile", {"dn": base + "x", "maxPorts": "many"}),
               ManagedObject("vnicEtherIf", {"dn": base + "pp-other/if-v9", "name": "v9"})]
    found = port_profiles(objects)
    assert found == {
        "pp:db": PortProfile("pp:db", "", ("v200", "v100"), "v100", "gold", "", 64, True, ("kvm",)),
        "x": PortProfile("x", max_ports=None)}                  # name from the dn; an odd maxPorts is unknown
