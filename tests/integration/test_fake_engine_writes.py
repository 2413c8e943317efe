"""vNIC profile creation on the fake engine, through the real ovirtsdk4 client: validated as the
engine's AddVnicProfileCommand validates it (refusals are 409 faults with the engine's words)."""
import ovirtsdk4
import pytest
from ovirtsdk4 import types

from ovirt_scheduler_proxy_plugins.sim.engine import FakeEngine
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory, sim_id

ACTION = "Cannot add VM network interface profile"


@pytest.fixture
def inv():
    world = Inventory()
    world.add_profile("vmfex", network_name="vmfex", vmfex="pp-vmfex")
    world.add_profile("ovirtmgmt")
    return world


@pytest.fixture
def connection(inv):
    with FakeEngine(inv) as engine:
        conn = ovirtsdk4.Connection(url=engine.url, username="admin@internal", password="secret", insecure=True)
        yield conn
        conn.close()


@pytest.fixture
def system(connection):
    return connection.system_service()


def profile(name, value="pp-db", prop="vmfex", network_id=None, description="mine"):
    return types.VnicProfile(name=name, description=description,
                             network=types.Network(id=network_id) if network_id else None,
                             custom_properties=[types.CustomProperty(name=prop, value=value)])


def test_networks_are_listed_and_read_by_id(system):
    networks = {n.name: n for n in system.networks_service().list()}
    assert sorted(networks) == ["ovirtmgmt", "vmfex"]
    assert system.networks_service().network_service(networks["vmfex"].id).get().name == "vmfex"


def test_a_profile_added_under_its_network_is_listed_with_its_property_and_description(system):
    net = sim_id("network", "vmfex")
    added = system.networks_service().network_service(net).vnic_profiles_service().add(profile("pp-db"))
    assert added.id and added.name == "pp-db" and added.network.id == net
    listed = {p.name: p for p in system.vnic_profiles_service().list()}
    assert [(c.name, c.value) for c in listed["pp-db"].custom_properties] == [("vmfex", "pp-db")]
    assert listed["pp-db"].description == "mine"


def test_a_profile_added_at_the_top_names_its_network(system):
    net = sim_id("network", "ovirtmgmt")
    added = system.vnic_profiles_service().add(profile("db2", network_id=net))
    assert added.network.id == net


@pytest.mark.parametrize("change, status, words", [
    (dict(value="a:b"), 409, ACTION + " if some of the specified custom properties have illegal values. "
                                      "The keys are: vmfex"),
    (dict(value="x"), 409, "have illegal values"),                       # {2,32}: one character is refused
    (dict(prop="vf"), 409, ACTION + " if some of the specified custom properties are not configured by the "
                                    "system. The keys are: vf"),
    (dict(value=""), 409, ACTION + " if custom properties are in invalid format. Please check the input."),
    (dict(name="vmfex"), 409, "name is already used by an existing profile for the same network"),
])
def test_refusals_name_the_engines_reason(system, change, status, words):
    args = dict(name="pp-db", value="pp-db", prop="vmfex")
    args.update(change)
    service = system.networks_service().network_service(sim_id("network", "vmfex")).vnic_profiles_service()
    with pytest.raises(ovirtsdk4.Error) as err:
        service.add(profile(args["name"], args["value"], args["prop"]))
    assert err.value.code == status and words in str(err.value)
    assert sorted(p.name for p in system.vnic_profiles_service().list()) == ["ovirtmgmt", "vmfex"]   # nothing added


def test_an_undefined_property_is_refused_until_the_engine_defines_it(inv, system):
    inv.device_properties.clear()                       # the engine's default: vmfex not in CustomDeviceProperties
    with pytest.raises(ovirtsdk4.Error, match="not configured by the system. The keys are: vmfex"):
        system.vnic_profiles_service().add(profile("pp-db", network_id=sim_id("network", "vmfex")))


def test_unknown_networks_and_missing_fields(system):
    with pytest.raises(ovirtsdk4.NotFoundError):
        system.networks_service().network_service(sim_id("network", "nope")).vnic_profiles_service().add(
            profile("pp-db"))
    with pytest.raises(ovirtsdk4.Error, match="The specified Logical Network doesn't exist") as err:
        system.vnic_profiles_service().add(profile("pp-db", network_id=sim_id("network", "nope")))
    assert err.value.code == 409
    with pytest.raises(ovirtsdk4.Error, match=r"VnicProfile \[network.id\] required for add") as err:
        system.vnic_profiles_service().add(profile("pp-db"))
    assert err.value.code == 400


def test_an_account_without_rights_is_refused(inv, system):
    inv.forbidden["admin@internal"] = frozenset({"networks"})
    with pytest.raises(ovirtsdk4.Error, match="not authorized") as err:
        system.networks_service().network_service(sim_id("network", "vmfex")).vnic_profiles_service().add(
            profile("pp-db"))
    assert err.value.code == 403


# -- what `port-profiles export` reads and writes: VLAN ids, the data center's QoS, profile updates

def test_networks_carry_their_vlan_and_profiles_their_qos_link(inv, connection, system):
    qos = inv.add_qos("100M", outbound_average=100, outbound_peak=100, outbound_burst=5, inbound_average=50,
                      inbound_peak=50, inbound_burst=1)
    inv.add_network("blue", vlan_id=100)
    inv.add_profile("blue", network_name="blue", qos=qos)
    networks = {n.name: n for n in system.networks_service().list()}
    assert networks["blue"].vlan.id == 100 and networks["vmfex"].vlan is None          # untagged: no <vlan>
    listed = system.networks_service().network_service(networks["blue"].id).vnic_profiles_service().list()
    assert [p.name for p in listed] == ["blue"]
    link = listed[0].qos
    assert link.href.endswith("/datacenters/%s/qoss/%s" % (sim_id("datacenter", "Default"), qos.id))
    followed = connection.follow_link(link)
    assert (followed.name, followed.type, followed.outbound_average, followed.outbound_burst,
            followed.inbound_average) == ("100M", types.QosType.NETWORK, 100, 5, 50)
    dc = system.data_centers_service().data_center_service(sim_id("datacenter", "Default"))
    assert [q.name for q in dc.qoss_service().list()] == ["100M"]


def test_a_profile_update_sets_the_property_validated_like_the_engine(inv, system):
    inv.add_profile("blue", network_name="blue")
    pid = sim_id("vnicprofile", "blue")
    service = system.vnic_profiles_service().profile_service(pid)
    updated = service.update(types.VnicProfile(custom_properties=[types.CustomProperty(name="vmfex", value="blue")]))
    assert [(c.name, c.value) for c in updated.custom_properties] == [("vmfex", "blue")]
    assert inv.profiles[pid].custom_properties == {"vmfex": "blue"} and inv.profiles[pid].name == "blue"
    with pytest.raises(ovirtsdk4.Error) as caught:
        service.update(types.VnicProfile(custom_properties=[types.CustomProperty(name="vmfex", value="x")]))
    assert "Cannot edit VM network interface profile if some of the specified custom properties have illegal " \
           "values. The keys are: vmfex" in str(caught.value)
    assert inv.profiles[pid].custom_properties == {"vmfex": "blue"}
