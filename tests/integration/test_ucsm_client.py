"""The UCS-M client and read_domains against the fake UCS-M over real HTTP(S)."""
import gc
import logging
import re
import time
import warnings

import pytest
import trustme

from ovirt_scheduler_proxy_plugins.sim.ucsm import (INVENTED_SESSION_LIMIT_CODE, TEMPLATE_DN, FakeUcsm,
                                                    UcsmPortProfile, UcsmServer, sample_servers)
from ucsm_source import (HostIdentity, PortProfile, UcsmAuthError, UcsmError, UcsmProtocolError,
                         UcsmSessionError, UcsmSettings, UcsmUnavailable, read_domains)
from ucsm_source.client import UcsmClient, and_, eq, or_, wcard

PASSWORD = 'p"&<w0rd\'>'
USERS = {"ovirt-ro": PASSWORD}
COOKIE = re.compile(r"\d{9,}/[0-9a-f]{8}-")
SLACK = 0.3          # seconds a deadline may be overrun by scheduling noise


def hosts_for(servers):
    return [HostIdentity(host_id="id-%d" % index, name="host%d" % index, hw_uuid=server.uuid,
                         serial=server.serial) for index, server in enumerate(servers)]


def settings_for(*fakes, **overrides):
    values = dict(urls=tuple(fake.url for fake in fakes), username="ovirt-ro", password=PASSWORD,
                  timeout=2.0)
    values.update(overrides)
    return UcsmSettings(**values)


def soon(seconds=5.0):
    return time.monotonic() + seconds


@pytest.fixture
def fake():
    with FakeUcsm(sample_servers(8), users=USERS) as server:
        yield server


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A private CA and a server certificate for 127.0.0.1."""
    path = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(path / "ca.pem"))
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(path / "server.pem"))
    return {"ca": str(path / "ca.pem"), "server": str(path / "server.pem")}


@pytest.fixture
def tls_fake(tls_files):
    with FakeUcsm(sample_servers(4), users=USERS, tls_cert=tls_files["server"],
                  tls_key=tls_files["server"]) as server:
        yield server


FULL_READ = [("aaaLogin",), ("configResolveClasses", "lsServer", "vnicDynamicConPolicy", "vnicDynamicCon",
                             "computeBlade", "computeRackUnit"),
             ("configResolveClass", "vnicEther"), ("configResolveClass", "vnicProfile"), ("aaaLogout",)]


def read(fake_or_settings, servers=None, deadline=None, **kw):
    """Capacity per host; the first domain's failure is raised."""
    settings = (fake_or_settings if isinstance(fake_or_settings, UcsmSettings)
                else settings_for(fake_or_settings))
    hosts = hosts_for(servers or sample_servers(8))
    reading = read_domains(settings, hosts, deadline or soon(), **kw)
    if reading.failures:
        raise next(iter(reading.failures.values()))
    return reading.capacities


# --- read_domains happy paths ------------------------------------------------------------

def test_read_domains_answers_every_host_and_the_port_profiles_in_five_requests_and_logs_out(fake):
    servers = sample_servers(8)
    stranger = HostIdentity("id-x", "stranger", "11111111-2222-3333-4444-555555555555", "NOPE")
    reading = read_domains(settings_for(fake), hosts_for(servers) + [stranger], soon())
    result = reading.capacities
    expected = {0: (10, "uuid", 1), 1: (4, "uuid", 0), 2: (10, "uuid", 2), 3: (0, "uuid", 0)}
    for index, server in enumerate(servers):
        answer = result["id-%d" % index]
        assert (answer.dynamic_eth, answer.matched_by, answer.in_use) == expected[index % 4]
        assert answer.service_profile == server.sp_dn and answer.domain == fake.url
    assert result["id-1"].policy == "org-root/ls-kvm-host2/dynamic-con"
    assert result["id-x"].dynamic_eth is None
    assert result["id-x"].reason == "not found in any UCS domain"
    assert sorted(reading.port_profiles[fake.url]) == ["pp-db", "pp-vlan100", "pp-vmfex", "pp:legacy"]
    assert reading.failures == {}
    assert fake.requests == FULL_READ
    assert (fake.logins, fake.logouts, fake.active_sessions) == (1, 1, 0)


def test_port_profiles_carry_vlans_qos_ports_and_clients_from_rn_only_children():
    profiles = [UcsmPortProfile("pp-db", vlans=(("db-vlan200", 200), ("backup-vlan210", 210)), max_ports=32,
                                qos_policy="gold", descr="databases"),
                UcsmPortProfile("a:b", vlans=(), high_perf=False, clients=())]
    with FakeUcsm([], users=USERS, port_profiles=profiles) as server:
        reading = read_domains(settings_for(server), [], soon())
    assert reading.port_profiles[server.url] == {
        "pp-db": PortProfile("pp-db", "databases", ("db-vlan200", "backup-vlan210"), "db-vlan200", "gold", "",
                             32, True, ("kvm",)),
        "a:b": PortProfile("a:b", "", (), None, "", "", 64, False, ())}


def test_count_in_use_false_skips_the_vnic_query(fake):
    result = read(fake, count_in_use=False)
    assert all(answer.in_use is None for answer in result.values())
    assert fake.requests == FULL_READ[:2] + FULL_READ[3:]


def test_request_count_does_not_grow_with_the_host_count():
    seen = []
    for count in (10, 200):
        servers = sample_servers(count)
        with FakeUcsm(servers, users=USERS) as server:
            result = read(server, servers)
            seen.append(server.requests)
        assert sum(answer.dynamic_eth is not None for answer in result.values()) == count
    assert seen[0] == seen[1] == FULL_READ


def test_no_hosts_means_port_profiles_only(fake):
    reading = read_domains(settings_for(fake), [], soon())
    assert reading.capacities == {} and len(reading.port_profiles[fake.url]) == 4
    assert fake.requests == [FULL_READ[0], FULL_READ[3], FULL_READ[4]] and fake.active_sessions == 0


def test_host_map_and_serial_over_the_wire(fake):
    servers = sample_servers(8)
    hosts = [HostIdentity("a", "mapped", None, None),
             HostIdentity("b", "by-serial", None, servers[5].serial.lower()),
             HostIdentity("c", "template", None, None)]
    settings = settings_for(fake, host_map={"mapped": servers[4].sp_dn, "c": TEMPLATE_DN})
    result = read_domains(settings, hosts, soon()).capacities
    assert (result["a"].matched_by, result["a"].dynamic_eth) == ("host_map", 10)
    assert (result["b"].matched_by, result["b"].dynamic_eth) == ("serial", 4)
    assert result["c"].dynamic_eth is None and "host_map entry" in result["c"].reason


def test_two_domains_first_wins_and_both_are_logged_out(caplog):
    servers = sample_servers(8)
    twin = UcsmServer("sys/chassis-7/blade-1", servers[0].uuid, "FCHTWIN", "twin",
                      policy_name="big", dynamic_eth="54")
    with FakeUcsm(servers[:4], users=USERS) as first, \
            FakeUcsm(servers[4:] + [twin], users=USERS) as second:
        with caplog.at_level(logging.WARNING, logger="ovirt_vf_scheduler.ucsm"):
            result = read(settings_for(first, second), servers)
        assert result["id-0"].domain == first.url and result["id-0"].dynamic_eth == 10
        assert result["id-5"].domain == second.url and result["id-5"].dynamic_eth == 4
        assert "2 UCS domains" in caplog.text
        for server in (first, second):
            assert server.requests == FULL_READ and server.active_sessions == 0


def test_a_failing_domain_is_reported_and_the_others_are_still_read():
    with FakeUcsm(sample_servers(2), users=USERS) as first, \
            FakeUcsm(sample_servers(4)[2:], users=USERS) as second:
        first.faults.http_status = 503
        reading = read_domains(settings_for(first, second), hosts_for(sample_servers(4)), soon())
        assert list(reading.failures) == [first.url]
        assert isinstance(reading.failures[first.url], UcsmUnavailable)
        assert "HTTP 503" in str(reading.failures[first.url])
        assert list(reading.port_profiles) == [second.url]
        assert reading.capacities["id-2"].domain == second.url and reading.capacities["id-2"].dynamic_eth == 10
        assert reading.capacities["id-0"].domain is None
        assert (second.logouts, first.active_sessions, second.active_sessions) == (1, 0, 0)


# --- sessions and UCS-M errors -----------------------------------------------------------

def test_bad_password_is_an_auth_error(fake):
    with pytest.raises(UcsmAuthError) as caught:
        read(settings_for(fake, password="wrong"))
    assert caught.value.code == "551" and "Authentication failed" in str(caught.value)
    assert fake.url in str(caught.value)
    assert fake.requests == [("aaaLogin",)] and fake.active_sessions == 0


def test_expired_cookie_means_one_relogin_then_success(fake):
    fake.faults.expire_cookies()
    result = read(fake)
    assert result["id-0"].dynamic_eth == 10
    assert fake.requests == FULL_READ[:2] + FULL_READ[:2] + FULL_READ[2:]
    assert (fake.logins, fake.active_sessions) == (2, 0)


def test_cookie_rejected_again_after_relogin_is_a_session_error(fake):
    fake.faults.reject_cookies = True
    with pytest.raises(UcsmSessionError) as caught:
        read(fake)
    assert caught.value.code == "552"
    assert (fake.logins, fake.active_sessions) == (2, 0)


def test_session_limit_is_a_plain_ucsm_error(fake):
    """The fake's session-limit code (572) is invented, so the client must not depend on any
    number for it: whatever the code, the failure is a plain UcsmError naming UCS-M's words."""
    fake.faults.max_sessions = 1
    with UcsmClient(fake.url, settings_for(fake), soon()):
        with pytest.raises(UcsmError, match="ERR-max-userid-sessions-reached") as caught:
            read(fake)
        assert type(caught.value) is UcsmError
        assert caught.value.code == INVENTED_SESSION_LIMIT_CODE
    assert fake.active_sessions == 0


def test_unknown_class_is_a_protocol_error_and_still_logs_out(fake):
    with pytest.raises(UcsmProtocolError, match="594") as caught:
        with UcsmClient(fake.url, settings_for(fake), soon()) as client:
            client.resolve_class("vnicDynConPolicy")
    assert caught.value.code == "ERR-xml-parse-error"
    assert "no class named vnicDynConPolicy" in caught.value.descr
    assert fake.active_sessions == 0


def test_logout_of_a_dead_session_is_fine(fake):
    with UcsmClient(fake.url, settings_for(fake), soon()) as client:
        fake.faults.expire_cookies()
        client.logout()            # 555 from the fake: no exception
    assert fake.requests[-1] == ("aaaLogout",) and fake.logouts == 0


def test_refresh_swaps_the_cookie(fake):
    with UcsmClient(fake.url, settings_for(fake), soon()) as client:
        client.refresh()
        assert fake.active_sessions == 1
        assert client.resolve_dn("org-root/org-ovirt/ls-kvm-host1")[0].get("type") == "instance"
    assert fake.logins == 1 and fake.active_sessions == 0
    assert [request[0] for request in fake.requests].count("aaaLogin") == 1


# --- queries and filters -----------------------------------------------------------------

def test_filters_reach_the_server_and_select(fake):
    with UcsmClient(fake.url, settings_for(fake), soon()) as client:
        instances = client.resolve_class("lsServer", eq("lsServer", "type", "instance"))
        assert TEMPLATE_DN not in {obj.dn for obj in instances} and len(instances) == 9
        picked = client.resolve_class("lsServer", and_(wcard("lsServer", "name", "^kvm-host[12]$"),
                                                       eq("lsServer", "assocState", "associated")))
        assert sorted(obj.get("name") for obj in picked) == ["kvm-host1", "kvm-host2"]
        dynamic = client.resolve_class("vnicEther", or_(eq("vnicEther", "instType", "dynamic"),
                                                        eq("vnicEther", "instType", "dynamic-vf")))
        assert len(dynamic) == 6
        assert {obj.get("instType") for obj in dynamic} == {"dynamic", "dynamic-vf"}
        assert client.resolve_class("lsServer", eq("lsServer", "name", "nope")) == []


def test_dn_and_children_queries(fake):
    sp = "org-root/org-ovirt/ls-kvm-host3"
    with UcsmClient(fake.url, settings_for(fake), soon()) as client:
        tree = client.resolve_dn(sp, hierarchical=True)
        # nested children come with rn only: the client rebuilds their dn
        assert tree[0].dn == sp and sp + "/ether-eth0" in {obj.dn for obj in tree[1:]}
        assert client.resolve_dn("org-root/ls-missing") == []
        found = client.resolve_dns([sp, "org-root/ls-missing", "sys/rack-unit-2"])
        assert [obj.class_id for obj in found] == ["lsServer", "computeRackUnit"]
        children = client.resolve_children(sp, "vnicEther",
                                           eq("vnicEther", "instType", "dynamic-vf"))
        assert [obj.get("name") for obj in children] == ["dynamic-prot-001", "dynamic-prot-002"]


# --- transport faults, deadlines and size ------------------------------------------------

@pytest.mark.parametrize("status, message", [(503, "HTTP 503"), (200, "not XML")])
def test_http_errors_and_html_pages_are_unavailable(fake, status, message):
    fake.faults.http_status = status
    with pytest.raises(UcsmUnavailable, match=message):
        read(fake)
    assert fake.active_sessions == 0


def test_a_hanging_query_is_cut_at_the_deadline_and_the_session_is_returned(fake):
    fake.faults.delay = 10
    fake.faults.methods = frozenset({"configResolveClasses"})
    deadline = soon(1.0)
    with pytest.raises(UcsmUnavailable, match="deadline"):
        read(settings_for(fake, timeout=30), deadline=deadline)
    assert time.monotonic() < deadline + SLACK
    assert fake.active_sessions == 0 and fake.logouts == 1


def test_a_hanging_login_is_cut_at_the_deadline(fake):
    fake.faults.delay = 10
    deadline = soon(0.8)
    with pytest.raises(UcsmUnavailable):
        read(settings_for(fake, timeout=30), deadline=deadline)
    assert time.monotonic() < deadline + SLACK


def test_a_trickling_answer_is_cut_at_the_deadline():
    servers = sample_servers(200)
    with FakeUcsm(servers, users=USERS) as slow:
        slow.faults.drip = 0.1              # every 64 KiB piece arrives well within the timeout
        slow.faults.methods = frozenset({"configResolveClasses"})
        deadline = soon(1.0)
        with pytest.raises(UcsmUnavailable, match="deadline"):
            read(settings_for(slow, timeout=30), servers, deadline=deadline)
        assert time.monotonic() < deadline + SLACK
        assert slow.active_sessions == 0


def test_a_past_deadline_sends_nothing(fake):
    with pytest.raises(UcsmUnavailable, match="deadline exceeded"):
        read(fake, deadline=time.monotonic() - 1)
    assert fake.requests == []


def test_connection_refused_is_unavailable():
    with FakeUcsm([]) as gone:
        url = gone.url
    started = time.monotonic()
    with pytest.raises(UcsmUnavailable, match="refused"):
        read(UcsmSettings((url,), "u", "p"), sample_servers(1))
    assert time.monotonic() - started < 1


def test_malformed_xml_is_a_protocol_error(fake):
    fake.faults.malformed_xml = True
    fake.faults.methods = frozenset({"configResolveClasses"})
    with pytest.raises(UcsmProtocolError, match="malformed XML"):
        read(fake)
    assert fake.active_sessions == 0


def test_entity_bomb_is_refused_quickly(fake):
    fake.faults.entity_bomb = True
    started = time.monotonic()
    with pytest.raises(UcsmProtocolError, match="DTD or entities"):
        read(fake)
    assert time.monotonic() - started < 1 and fake.active_sessions == 0


def test_oversized_answer_is_refused(fake):
    servers = sample_servers(200)
    with FakeUcsm(servers, users=USERS) as big:
        with pytest.raises(UcsmUnavailable, match="larger than 100000 bytes"):
            read(settings_for(big, max_response_bytes=100000), servers)
        assert big.active_sessions == 0


# --- TLS and redirects -------------------------------------------------------------------

def test_tls_verified_against_the_configured_ca(tls_fake, tls_files):
    result = read(settings_for(tls_fake, ca_file=tls_files["ca"]), sample_servers(4))
    assert tls_fake.url.startswith("https://") and result["id-0"].dynamic_eth == 10


def test_tls_with_an_unknown_ca_fails(tls_fake):
    with pytest.raises(UcsmUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        read(settings_for(tls_fake), sample_servers(4))
    assert tls_fake.requests == []


def test_insecure_tls_works_without_any_warning(tls_fake):
    filters_before = list(warnings.filters)
    gc.collect()        # files other tests left to the garbage collector warn when collected
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read(settings_for(tls_fake, insecure=True), sample_servers(4))
    assert result["id-0"].dynamic_eth == 10
    # Only a file another test left unclosed may show (the read opens no file); an unclosed
    # socket, and above all InsecureRequestWarning, must not.
    assert [str(warning.message) for warning in caught
            if not str(warning.message).startswith("unclosed file")] == []
    assert warnings.filters == filters_before      # the suppression stayed local


def test_one_http_to_https_redirect_is_followed(tls_fake, tls_files):
    with FakeUcsm([], redirect_to=tls_fake.url) as plain:
        result = read(settings_for(plain, ca_file=tls_files["ca"]), sample_servers(4))
        # only the first request took the detour: the cookie never travels over http
        assert plain.requests == [("aaaLogin",)]
    assert result["id-0"].domain == plain.url and result["id-0"].dynamic_eth == 10
    assert tls_fake.requests == FULL_READ and tls_fake.active_sessions == 0


def test_redirect_to_plain_http_is_refused(fake):
    with FakeUcsm([], redirect_to=fake.url) as plain:
        with pytest.raises(UcsmUnavailable, match="refusing redirect"):
            read(plain)
    assert fake.requests == []


# --- secrets -----------------------------------------------------------------------------

def _fault_bad_password(fake):
    return settings_for(fake, password=PASSWORD + "x")


def _fault_reject(fake):
    fake.faults.reject_cookies = True


def _fault_malformed(fake):
    fake.faults.malformed_xml = True
    fake.faults.methods = frozenset({"configResolveClass"})


def _fault_503(fake):
    fake.faults.http_status = 503


def _fault_none(fake):
    return None


@pytest.mark.parametrize("fault", [_fault_bad_password, _fault_reject, _fault_malformed, _fault_503,
                                   _fault_none])
def test_credentials_and_cookies_never_leak(fake, caplog, fault):
    caplog.set_level(logging.DEBUG)          # every logger, urllib3 included
    settings = fault(fake) or settings_for(fake)
    texts = [repr(settings)]
    try:
        read(settings)
    except UcsmError as err:
        texts += [str(err), repr(err), str(err.descr)]
    texts.append(caplog.text)
    for text in texts:
        assert PASSWORD not in text and "w0rd" not in text
        assert not COOKIE.search(text), text
    assert fake.active_sessions == 0
