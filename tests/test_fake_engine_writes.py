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
def system(inv):
    with FakeEngine(inv) as engine:
        conn = ovirtsdk4.Connection(url=engine.url, username="admin@internal", password="secret", insecure=True)
        yield conn.system_service()
        conn.close()


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
