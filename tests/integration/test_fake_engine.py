"""The fake engine, read through the real ovirtsdk4 client: if these pass, the plugin tests that
run against the fake exercise the same client behaviour a real engine would trigger."""
import threading
import time

import ovirtsdk4
import pytest
import requests
import trustme
from ovirtsdk4.reader import Reader

from ovirt_scheduler_proxy_plugins.sim.engine import FakeEngine
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory, sim_id


USER, PASSWORD = "admin@internal", "secret"


def make_inventory() -> Inventory:
    inv = Inventory()
    inv.add_profile("vlan100", network_name="net100", vmfex="pp-vlan100")
    inv.add_host("h1", vf_devices=16, nic_vfs_configured=16, vf_nics=2)
    inv.add_host("h10", vf_devices=8)
    inv.add_host("h2", cluster="Other", vf_devices=4, vf_driver="vfio-pci", status="maintenance")
    inv.add_vm("a1", host="h1", vmfex_nics=2, plain_nics=1)
    inv.add_vm("a2", host="h1", status="migrating", vmfex_nics=1, vmfex_profile="vlan100")
    inv.add_vm("b1", host="h10", vmfex_nics=1, unplugged_vmfex=1, empty_nics=1)
    inv.add_vm("c1", host="h2", status="wait_for_launch", plain_nics=1)
    inv.add_vm("d1", host="h1", status="down", vmfex_nics=1)
    inv.add_vm("d2", host="h10", status="suspended")
    inv.add_vm("d3", host="h10", status="image_locked")
    return inv


@pytest.fixture
def engine():
    with FakeEngine(make_inventory()) as eng:
        yield eng


def connect(engine, **kw):
    kw.setdefault("insecure", True)
    return ovirtsdk4.Connection(url=engine.url, username=USER, password=PASSWORD, **kw)


@pytest.fixture
def conn(engine):
    c = connect(engine)
    yield c
    c.close(logout=False)


def names(objs):
    return sorted(o.name for o in objs)


def vm_search(conn, search, **kw):
    return names(conn.system_service().vms_service().list(search=search, **kw))


def raw_get(engine, path, token):
    return requests.get(engine.url + path, headers={"Authorization": "Bearer " + token, "Version": "4"})


# -- SSO -------------------------------------------------------------------------------------

def test_login_once_then_logout_revokes_the_token(engine):
    c = connect(engine)
    vms = c.system_service().vms_service()
    vms.list()
    vms.list()
    token = c.authenticate()
    assert (engine.logins, engine.api_request_count()) == (1, 2)
    method, path, query = engine.requests[-1]
    assert (method, path, query) == ("GET", "/ovirt-engine/api/vms", {})
    assert engine.requests[-1].headers["version"] == "4"
    c.close()
    assert engine.logouts == 1
    assert raw_get(engine, "/vms", token).status_code == 401
    with pytest.raises(ovirtsdk4.AuthError):
        ovirtsdk4.Connection(url=engine.url, token=token, insecure=True).system_service().vms_service().list()


def test_version_header_other_than_4_is_a_400_without_fault(engine, conn):
    """The engine's VersionFilter answers sendError(400) to a version it does not serve; no header
    means the default (4). The auth filters run first, so without a token it is still 401."""
    token = conn.authenticate()
    for version in ("3", "5", "4.5", "v4"):
        response = requests.get(engine.url + "/vms", headers={"Authorization": "Bearer " + token,
                                                              "Version": version})
        assert response.status_code == 400, version
        assert response.headers["Content-Type"].startswith("text/html") and b"<fault>" not in response.content
    plain = requests.get(engine.url + "/vms", headers={"Authorization": "Bearer " + token})
    assert plain.status_code == 200 and len(Reader.read(plain.content)) == 7
    assert requests.get(engine.url + "/vms", headers={"Version": "3"}).status_code == 401
    assert len(conn.system_service().vms_service().list()) == 7      # the SDK sends Version: 4


def test_wrong_password_is_auth_error(engine):
    c = ovirtsdk4.Connection(url=engine.url, username=USER, password="nope", insecure=True)
    with pytest.raises(ovirtsdk4.AuthError, match="access_denied"):
        c.system_service().vms_service().list()
    r = requests.post(engine.url.replace("/api", "/sso/oauth/token"),
                      data={"grant_type": "password", "scope": "ovirt-app-api", "username": USER, "password": "x"})
    assert r.status_code == 400 and r.json()["error_code"] == "access_denied"
    assert engine.api_request_count() == 0


def test_expired_token_is_renewed_transparently(engine, conn):
    vms = conn.system_service().vms_service()
    vms.list()
    old = conn.authenticate()
    engine.expire_tokens()
    assert len(vms.list()) == 7
    assert engine.logins == 2 and conn.authenticate() != old
    assert engine.api_request_count() == 3          # the 401'd request was retried once


def test_reused_token_without_password_fails_after_expiry(engine, conn):
    token = conn.authenticate()
    reuse = ovirtsdk4.Connection(url=engine.url, token=token, insecure=True)
    assert len(reuse.system_service().hosts_service().list()) == 3
    engine.expire_tokens()
    # SDK quirk: on the 401 it still tries an SSO login, as user 'None', and raises that failure.
    with pytest.raises(ovirtsdk4.AuthError, match="user 'None'"):
        reuse.system_service().hosts_service().list()
    assert engine.logins == 2 and engine.api_request_count() == 2


# -- documents -------------------------------------------------------------------------------

def test_all_content_gates_vf_configuration_and_physical_function(engine, conn):
    hosts = conn.system_service().hosts_service()
    h1_id = engine.inventory.host_by_name("h1").id

    def h1(**kw):
        return next(h for h in hosts.list(follow="nics", **kw) if h.id == h1_id)

    plain = {n.name: n for n in h1().nics}
    assert plain["eth1"].virtual_functions_configuration is None
    assert plain["enp28s0f1"].physical_function is None
    full = {n.name: n for n in h1(all_content=True).nics}
    cfg = full["eth1"].virtual_functions_configuration
    assert (cfg.number_of_virtual_functions, cfg.max_number_of_virtual_functions) == (16, 16)
    assert full["enp28s0f1"].physical_function.id == full["eth1"].id
    assert full["eth0"].virtual_functions_configuration is None
    # per-host sub-collection and all_content inherited through a nested follow
    nics = {n.name: n for n in hosts.host_service(h1_id).nics_service().list(all_content=True)}
    assert nics["eth1"].virtual_functions_configuration.number_of_virtual_functions == 16
    vm = conn.system_service().vms_service().list(search="name=a1", follow="host.nics", all_content=True)[0]
    assert {n.name: n for n in vm.host.nics}["eth1"].virtual_functions_configuration is not None
    # either the query parameter or the All-Content header is enough
    token, path = conn.authenticate(), "/hosts/%s/nics" % h1_id
    headers = {"Authorization": "Bearer " + token}
    assert b"<virtual_functions_configuration>" not in requests.get(engine.url + path, headers=headers).content
    for url, extra in ((engine.url + path + "?all_content=true", {}), (engine.url + path, {"All-Content": "true"})):
        assert b"<virtual_functions_configuration>" in requests.get(url, headers=dict(headers, **extra)).content


def test_host_devices_describe_enic_pf_and_vfs(engine, conn):
    hosts = {h.name: h for h in conn.system_service().hosts_service().list(follow="devices")}
    for name, vfs, driver in (("h1", 16, "enic"), ("h10", 8, "enic"), ("h2", 4, "vfio-pci")):
        devs = hosts[name].devices
        assert len(devs) > 120
        vf = [d for d in devs if d.physical_function is not None]
        assert len(vf) == vfs and {d.driver for d in vf} == {driver}
        assert {d.product.id for d in vf} == {"0x0071"} and {d.vendor.id for d in vf} == {"0x1137"}
        pf = [d for d in devs if d.virtual_functions]
        assert [(d.name, d.virtual_functions, d.driver, d.product.name) for d in pf] == [
            ("pci_0000_1c_00_0", vfs, "enic", "VIC Ethernet NIC")]
        assert {d.physical_function.id for d in vf} == {pf[0].id} == {"pci_0000_1c_00_0".encode().hex()}
        assert all(d.id == d.name.encode().hex() for d in devs)
    # enic VFs have a net_* child; VFs bound to vfio-pci have none
    assert sum(d.capability == "net" and d.name.startswith("net_enp28s") for d in hosts["h1"].devices) == 16
    assert not any(d.name.startswith("net_enp28s") for d in hosts["h2"].devices)
    h1 = conn.system_service().hosts_service().host_service(hosts["h1"].id)
    assert len(h1.devices_service().list()) == len(hosts["h1"].devices)
    assert h1.get().hardware_information.uuid == engine.inventory.hosts[hosts["h1"].id].hw_uuid


def test_documents_are_real_engine_sized(engine, conn):
    """A real VM document is several KB, a host with its devices tens of KB."""
    token = conn.authenticate()
    inv = engine.inventory
    vm = raw_get(engine, "/vms/%s?follow=nics" % inv.vm_by_name("a1").id, token)
    host = raw_get(engine, "/hosts/%s?follow=nics,devices&all_content=true" % inv.host_by_name("h1").id, token)
    print("VM with 3 nics: %d bytes; host with nics+devices (16 VFs): %d bytes" % (
        len(vm.content), len(host.content)))
    assert len(vm.content) >= 4096 and len(host.content) >= 50 * 1024
    assert vm.headers["Content-Type"] == "application/xml"


def test_follow_nics_and_profiles(engine, conn):
    vms = conn.system_service().vms_service()
    assert vms.list(search="name=a1")[0].nics is None          # no follow: no inline collection
    a1 = vms.list(search="name=a1", follow="nics")[0]
    vf_profile = sim_id("vnicprofile", "vmfex")
    assert [(n.name, n.plugged, n.vnic_profile.id) for n in a1.nics][:2] == [
        ("nic1", True, vf_profile), ("nic2", True, vf_profile)]
    b1 = vms.list(search="name=b1", follow="nics")[0]
    assert [(n.plugged, n.vnic_profile and n.vnic_profile.id) for n in b1.nics] == [
        (True, vf_profile), (False, vf_profile), (True, None)]
    a2 = vms.list(search="name=a2", follow="nics.vnic_profile.network")[0]
    prof = a2.nics[0].vnic_profile
    assert [(p.name, p.value) for p in prof.custom_properties] == [("vmfex", "pp-vlan100")]
    assert prof.network.name == "net100"
    profiles = {p.name: p for p in conn.system_service().vnic_profiles_service().list(follow="network")}
    assert profiles["vlan100"].network.name == "net100" and profiles["ovirtmgmt"].custom_properties == []
    assert conn.follow_link(a1.nics[0].vnic_profile).name == "vmfex"


def test_null_profile_under_follow_is_a_500_for_the_whole_request(conn):
    vms = conn.system_service().vms_service()
    with pytest.raises(ovirtsdk4.Error) as err:
        vms.list(follow="nics.vnic_profile")
    assert err.value.code == 500 and "vnic_profile" in err.value.fault.detail
    assert len(vms.list(search="name=a1", follow="nics.vnic_profile")) == 1


def test_unknown_follow_and_unknown_id(conn):
    vms = conn.system_service().vms_service()
    with pytest.raises(ovirtsdk4.Error) as err:
        vms.list(follow="disks")
    assert err.value.code == 400
    with pytest.raises(ovirtsdk4.NotFoundError) as err:
        vms.vm_service(sim_id("vm", "nope")).get()
    assert err.value.fault.reason and "Entity not found" in err.value.fault.detail


def test_vm_host_only_while_holding_resources(engine, conn):
    hosts = {v.name: v.host for v in conn.system_service().vms_service().list()}
    for name in ("d1", "d2", "d3"):                     # down, suspended, image_locked
        assert hosts[name] is None, name
    assert hosts["a2"].id == engine.inventory.host_by_name("h1").id   # migrating: the source
    assert hosts["c1"].id == engine.inventory.host_by_name("h2").id
    summary = {h.name: h.summary for h in conn.system_service().hosts_service().list()}
    assert (summary["h1"].total, summary["h1"].migrating) == (2, 1)


# -- search ----------------------------------------------------------------------------------

def test_on_host_is_exact_but_host_is_free_text(conn):
    assert vm_search(conn, "on_host=h1") == ["a1", "a2"]
    assert vm_search(conn, "hosts.name=h1") == ["a1", "a2"]
    assert vm_search(conn, "on_host = H1") == ["a1", "a2"]
    assert vm_search(conn, "host=h1") == ["a1", "a2", "b1"]   # the trap: h1 also hits h10
    assert vm_search(conn, "on_host=h1*") == ["a1", "a2", "b1"]
    assert vm_search(conn, "on_host=h1 or on_host=h2") == ["a1", "a2", "c1"]
    assert vm_search(conn, "on_host=nosuchhost") == []


def test_status_uses_engine_enum_names(conn):
    assert vm_search(conn, "status=Up") == ["a1", "b1"]
    assert vm_search(conn, "status=up") == ["a1", "b1"]
    assert vm_search(conn, "status=MigratingFrom") == vm_search(conn, "status=MigratingTo") == ["a2"]
    assert vm_search(conn, "status=WaitForLaunch") == ["c1"]
    assert vm_search(conn, "status=migrating") == []          # REST names are invalid in search
    assert vm_search(conn, "status=wait_for_launch") == []
    assert vm_search(conn, "status!=Down") == ["a1", "a2", "b1", "c1", "d2", "d3"]


def test_invalid_search_is_an_empty_list_not_an_error(engine, conn):
    for bad in ("hosts.id=%s" % engine.inventory.host_by_name("h1").id, "nosuchfield=1", "name=a1 or",
                "or name=a1", "name"):
        assert vm_search(conn, bad) == [], bad
    token = conn.authenticate()
    r = raw_get(engine, "/vms?search=status%3Dmigrating", token)
    assert (r.status_code, r.text) == (200, "<vms/>")


def test_max_is_read_as_the_engine_reads_it(engine, conn):
    """The engine's ParametersHelper ignores a max that is no Java int (logged, no fault)."""
    token = conn.authenticate()

    def listed(query):
        response = raw_get(engine, "/vms" + query, token)
        assert response.status_code == 200, response.text
        return len(Reader.read(response.content))

    assert listed("?max=2") == listed("?max=%2B2") == 2 and listed("?max=0") == 0
    for ignored in ("?max=abc", "?max=", "?max=2.0", "?max=%202", "?max=99999999999"):
        assert listed(ignored) == 7, ignored
    assert len(conn.system_service().vms_service().list(max=3)) == 3


def test_query_parameters_matrix_parameters_and_trailing_slash_as_the_engine_reads_them(engine, conn):
    """By name only (unknown names, case included, are ignored), the first of a repeated name, the
    last segment's matrix parameters like query ones (a query one wins); `vms/` is `vms`."""
    token = conn.authenticate()

    def listed(path):
        response = raw_get(engine, path, token)
        assert response.status_code == 200, (path, response.text)
        return [vm.name for vm in Reader.read(response.content)]

    everything = listed("/vms")
    assert len(everything) == 7
    assert listed("/vms?no_such_parameter=1&Search=name%3Da1") == everything
    assert listed("/vms/") == everything
    assert listed("/vms?search=name%3Da1&search=name%3Db1") == ["a1"]
    assert listed("/vms;max=2") == everything[:2] and listed("/vms;max=2?max=3") == everything[:3]
    assert listed("/vms;search=name%3Db1") == ["b1"]
    assert engine.requests[-1].path == "/ovirt-engine/api/vms"
    a1 = "/vms/%s" % engine.inventory.vm_by_name("a1").id
    assert raw_get(engine, a1 + "/", token).content == raw_get(engine, a1, token).content


def test_and_binds_tighter_than_or(conn):
    assert vm_search(conn, "name=a1 or name=d* and status=Suspended") == ["a1", "d2"]
    assert vm_search(conn, "name=d* and status=Suspended or name=a1") == ["a1", "d2"]
    assert vm_search(conn, "name=d* status=Suspended") == ["d2"]            # adjacency is AND
    assert vm_search(conn, "on_host=h1 and status!=MigratingFrom or name=c1") == ["a1", "c1"]


def test_other_vm_and_host_search_fields(engine, conn):
    inv = engine.inventory
    assert vm_search(conn, "vnic.network_name=net100") == ["a2"]
    assert vm_search(conn, "vnic.network_name=vmfex") == ["a1", "b1", "d1"]
    assert vm_search(conn, "cluster=other") == ["c1"]
    assert vm_search(conn, "id=%s or name=A*" % inv.vm_by_name("d3").id) == ["a1", "a2", "d3"]
    assert vm_search(conn, "name=*", max=2) == ["a1", "a2"]
    hosts = conn.system_service().hosts_service()
    assert names(hosts.list(search="name=h1")) == ["h1"]
    assert names(hosts.list(search="id=%s or cluster=Other" % inv.host_by_name("h10").id)) == ["h10", "h2"]
    assert names(hosts.list(search="status=Maintenance")) == ["h2"]
    assert names(hosts.list(search="status=up and name=h1*")) == ["h1", "h10"]
    assert hosts.list(search="status=non_operational") == []


# -- faults ----------------------------------------------------------------------------------

def test_api_status_fault(engine, conn):
    engine.faults.api_status = 503
    with pytest.raises(ovirtsdk4.Error) as err:
        conn.system_service().vms_service().list()
    assert err.value.code == 503 and err.value.fault.detail.startswith("Injected")


def test_broken_bodies(engine, conn):
    vms = conn.system_service().vms_service()
    engine.faults.wrong_content_type = True
    with pytest.raises(ovirtsdk4.Error, match="isn't the expected XML"):
        vms.list()
    engine.faults.wrong_content_type = False
    for knob in ("malformed_xml", "truncated_xml"):
        setattr(engine.faults, knob, True)
        # the SDK's C reader raises a plain Exception, not ovirtsdk4.Error
        with pytest.raises(Exception) as err:
            vms.list(follow="nics")
        assert not isinstance(err.value, ovirtsdk4.Error), knob
        setattr(engine.faults, knob, False)
    assert len(vms.list()) == 7


def test_always_401_loops_after_relogin(engine, conn):
    engine.faults.always_401 = True
    with pytest.raises(ovirtsdk4.AuthError) as err:
        conn.system_service().vms_service().list()
    assert err.value.code == 401 and engine.logins == 2


def test_api_delay_hits_the_client_timeout(engine):
    engine.faults.api_delay = 1.6
    c = connect(engine, timeout=1)
    c.authenticate()
    start = time.monotonic()
    with pytest.raises(ovirtsdk4.Error, match="timed out"):
        c.system_service().vms_service().list()
    assert time.monotonic() - start < 1.5


def test_login_delay_hangs_the_sso_post(engine):
    engine.faults.login_delay = 0.6
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(engine.url.replace("/api", "/sso/oauth/token"), timeout=0.2, data={
            "grant_type": "password", "scope": "ovirt-app-api", "username": USER, "password": PASSWORD})
    assert engine.logins == 1


def test_stopped_engine_refuses_connections():
    engine = FakeEngine(make_inventory()).start()
    c = connect(engine)
    c.system_service().vms_service().list()
    engine.stop()
    with pytest.raises(ovirtsdk4.Error):                     # kept-alive connection is gone too
        c.system_service().vms_service().list()
    with pytest.raises(ovirtsdk4.ConnectionError):
        connect(engine).system_service().vms_service().list()
    with engine:                                             # back on the same url
        assert len(c.system_service().vms_service().list()) == 7


def test_place_vm_shows_up_after_the_lag(engine, conn):
    inv = engine.inventory
    engine.faults.lag_seconds = 0.3
    done = engine.place_vm(inv.vm_by_name("d1").id, inv.host_by_name("h2").id)
    assert vm_search(conn, "on_host=h2") == ["c1"]
    assert done.wait(3)
    assert vm_search(conn, "on_host=h2") == ["c1", "d1"]


# -- cache, concurrency, TLS -----------------------------------------------------------------

def test_cache_serves_what_the_writer_writes_and_follows_mutations():
    inv = make_inventory()
    queries = ["/vms?follow=nics", "/vms?follow=nics&all_content=true", "/vms",
               "/hosts?follow=nics,devices&all_content=true", "/hosts?follow=devices",
               "/hosts/%s/devices" % inv.host_by_name("h1").id, "/vms/%s?follow=nics" % inv.vm_by_name("a1").id]
    with FakeEngine(inv) as cached, FakeEngine(inv, cache=False) as reference:
        tokens = [connect(e).authenticate() for e in (cached, reference)]

        def bodies():
            return [[raw_get(e, q, t).content for q in queries] for e, t in zip((cached, reference), tokens)]

        first = bodies()
        assert first[0] == first[1]
        with cached.mutate():
            inv.vm_by_name("a1").nics[0].plugged = False
            inv.vm_by_name("b1").status = "down"
            inv.host_by_name("h1").vf_devices = 4
        second = bodies()
        assert second[0] == second[1]
        assert all(a != b for a, b in zip(first[0], second[0]))


def test_concurrent_parallel_requests(engine):
    errors = []

    def worker():
        try:
            c = connect(engine)
            vms, hosts = c.system_service().vms_service(), c.system_service().hosts_service()
            for _ in range(5):
                futures = [vms.list(follow="nics", wait=False), hosts.list(follow="devices", wait=False),
                           vms.list(search="on_host=h1", wait=False)]
                got = [f.wait() for f in futures]
                assert (len(got[0]), len(got[1]), names(got[2])) == (7, 3, ["a1", "a2"])
            c.close()
        except Exception as exc:   # noqa: BLE001  (reported below, from the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and engine.logins == engine.logouts == 6


def test_https_with_ca_file(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_pem, ca_pem = tmp_path / "server.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    with FakeEngine(make_inventory(), tls_cert=str(cert_pem)) as engine:
        assert engine.url.startswith("https://127.0.0.1:")
        c = ovirtsdk4.Connection(url=engine.url, username=USER, password=PASSWORD, ca_file=str(ca_pem))
        assert len(c.system_service().hosts_service().list()) == 3
        c.close()
        with pytest.raises(ovirtsdk4.Error, match=r"\(60, 'SSL certificate"):   # system store: CA unknown
            ovirtsdk4.Connection(url=engine.url, username=USER, password=PASSWORD).authenticate()
        assert engine.logins == 1
