"""The fake UCS-M: faithful documents (checked with Cisco's own ucsmsdk decoder) and semantics."""
import time
import xml.etree.ElementTree as ET

import defusedxml
import defusedxml.ElementTree as DET
import pytest
import requests

from ovirt_scheduler_proxy_plugins.sim.ucsm import (INVENTED_SESSION_LIMIT_CODE, TEMPLATE_DN, FakeUcsm, UcsmPortProfile,
                                                    UcsmServer, sample_servers)

from tests.integration.helpers import assert_valid_mo


CLASSES = ("lsServer", "computeBlade", "computeRackUnit", "vnicDynamicConPolicy",
           "vnicDynamicCon", "vnicEther", "vnicProfile", "fabricVlan", "fabricReservedVlan", "epqosDefinition",
           "epqosEgress")
FAILED = UcsmServer("sys/chassis-2/blade-1", "4b279c8a-5f19-11e2-0000-0000000000ff", "FCHFAILED",
                    "kvm-failed", policy_name="kvm-off", dynamic_eth="off", associated=False)
SERVERS = sample_servers(4) + [FAILED]


@pytest.fixture
def fake():
    with FakeUcsm(SERVERS) as server:
        yield server


def post(fake, body):
    """Raw POST of one method; returns the answer text."""
    response = requests.post(fake.url + "/nuova", data=body.encode(), timeout=5)
    response.raise_for_status()
    return response.text


def call(fake, body):
    return ET.fromstring(post(fake, body))


def login(fake, user="ovirt-ro", password="secret"):
    element = ET.Element("aaaLogin", inName=user, inPassword=password)
    return call(fake, ET.tostring(element).decode()).get("outCookie")


def query(fake, cookie, class_id, in_filter=""):
    return call(fake, '<configResolveClass cookie="%s" classId="%s" inHierarchical="false">'
                      '<inFilter>%s</inFilter></configResolveClass>'
                % (cookie, class_id, in_filter))


def names(answer):
    return sorted(obj.get("name") for obj in answer.find("outConfigs"))


# --- fidelity: Cisco's decoder as the oracle -----------------------------------------------

@pytest.mark.parametrize("class_id", CLASSES)
def test_class_documents_decode_with_ucsmsdk(ucsmsdk, fake, class_id):
    codec, _ = ucsmsdk
    cookie = login(fake)
    text = post(fake, '<configResolveClass cookie="%s" classId="%s" inHierarchical="false"/>'
                % (cookie, class_id))
    decoded = codec.from_xml_str(text)
    elements = list(ET.fromstring(text).find("outConfigs"))
    assert decoded.error_code == 0 and elements
    assert len(decoded.out_configs.child) == len(elements)
    for mo, element in zip(decoded.out_configs.child, elements):
        assert_valid_mo(mo, element)


def test_key_values_survive_the_decoder(ucsmsdk, fake):
    codec, _ = ucsmsdk
    cookie = login(fake)
    text = post(fake, '<configResolveClasses cookie="%s" inHierarchical="false"><inIds>'
                      '<classId value="lsServer"/><classId value="computeBlade"/></inIds>'
                      '</configResolveClasses>' % cookie)
    by_dn = {mo.dn: mo for mo in codec.from_xml_str(text).out_configs.child}
    first, third = SERVERS[0], SERVERS[2]
    profile = by_dn[first.sp_dn]
    assert (profile.type, profile.assoc_state, profile.pn_dn, profile.uuid) == (
        "instance", "associated", first.dn, first.uuid)
    assert profile.oper_dynamic_con_policy_name == "org-root/org-ovirt/dynamic-con-kvm10"
    assert by_dn[third.sp_dn].uuid == "derived"
    assert (by_dn[third.dn].uuid, by_dn[third.dn].original_uuid) == (third.uuid, third.uuid)
    assert by_dn[first.dn].assigned_to_dn == first.sp_dn and by_dn[first.dn].serial == first.serial
    assert by_dn[TEMPLATE_DN].type == "updating-template"
    assert (by_dn[FAILED.sp_dn].assoc_state, by_dn[FAILED.dn].association) == ("failed", "failed")


def test_hierarchical_children_decode_with_rn_only(ucsmsdk, fake):
    codec, _ = ucsmsdk
    sp = SERVERS[1].sp_dn
    text = post(fake, '<configResolveDn cookie="%s" dn="%s" inHierarchical="true"/>'
                % (login(fake), sp))
    (profile,) = codec.from_xml_str(text).out_config.child
    children = {child.rn: child for child in profile.child}
    assert type(children["dynamic-con"]).__name__ == "VnicDynamicCon"
    assert children["dynamic-con"].dynamic_eth == "4"
    assert children["ether-eth0"].dn == sp + "/ether-eth0"
    assert all("dn" not in element.attrib for element in ET.fromstring(text).iter("vnicEther"))


def test_port_profiles_decode_with_their_vlans_and_clients_as_rn_only_children(ucsmsdk, fake):
    codec, _ = ucsmsdk
    text = post(fake, '<configResolveClass cookie="%s" classId="vnicProfile" inHierarchical="true"/>'
                % login(fake))
    elements = {el.get("name"): el for el in ET.fromstring(text).find("outConfigs")}
    decoded = {mo.name: mo for mo in codec.from_xml_str(text).out_configs.child}
    assert sorted(decoded) == ["pp-db", "pp-vlan100", "pp-vmfex", "pp:legacy"]
    for name, mo in decoded.items():
        assert_valid_mo(mo, elements[name])
        assert mo.dn == "fabric/lan/profiles/vnic-" + name
        for child, element in zip(mo.child, elements[name]):
            assert_valid_mo(child, element)
            assert "dn" not in element.attrib and child.dn == mo.dn + "/" + child.rn
    db = decoded["pp-db"]
    assert (db.max_ports, db.qos_policy_name, db.host_nw_io_perf) == ("32", "gold", "high-perf-reqd")
    vlans = [(c.name, c.default_net, c.vnet) for c in db.child if type(c).__name__ == "VnicEtherIf"]
    assert vlans == [("db-vlan200", "yes", "200"), ("backup-vlan210", "no", "210")]
    (client,) = [c for c in db.child if type(c).__name__ == "VmVnicProfCl"]
    assert (client.rn, client.dc_name, client.org_path, client.sw_name) == ("cl-kvm", ".*", ".*", ".*")
    assert decoded["pp:legacy"].host_nw_io_perf == "none" and len(decoded["pp:legacy"].child) == 1


def test_port_profiles_are_configurable_per_domain():
    with FakeUcsm([], port_profiles=[UcsmPortProfile("only-here", vlans=())]) as fake:
        answer = call(fake, '<configResolveClass cookie="%s" classId="vnicProfile" inHierarchical="true"/>'
                      % login(fake))
        (profile,) = answer.find("outConfigs")
        assert profile.get("name") == "only-here" and len(profile) == 1      # just the client


def test_session_and_error_documents_decode_with_ucsmsdk(ucsmsdk, fake):
    codec, exceptions = ucsmsdk
    answer = codec.from_xml_str(post(fake, '<aaaLogin inName="ovirt-ro" inPassword="secret"/>'))
    assert answer.out_cookie and answer.out_refresh_period == "600"
    assert answer.out_priv == "read-only"
    refused = codec.from_xml_str(post(fake, '<aaaLogin inName="ovirt-ro" inPassword="bad"/>'))
    assert (refused.error_code, refused.error_descr) == ("551", "Authentication failed")
    stale = codec.from_xml_str(post(fake, '<configResolveClass cookie="x" classId="lsServer"/>'))
    assert (stale.error_code, stale.error_descr) == ("552", "Authorization required")
    with pytest.raises(exceptions.UcsException) as caught:
        codec.from_xml_str(post(fake, '<configResolveClass cookie="%s" classId="vnicDynConPolicy"/>'
                                % answer.out_cookie))
    assert caught.value.error_code == "ERR-xml-parse-error"


# --- realism ---------------------------------------------------------------------------

def test_objects_are_as_large_as_real_ones(fake):
    profile = query(fake, login(fake), "lsServer").find("outConfigs")[0]
    blade = query(fake, login(fake), "computeBlade").find("outConfigs")[0]
    assert len(profile.attrib) >= 70 and len(blade.attrib) >= 70


@pytest.mark.parametrize("in_filter, expected", [
    ('<eq class="lsServer" property="type" value="instance"/>',
     ["kvm-failed", "kvm-host1", "kvm-host2", "kvm-host3", "kvm-host4", "spare"]),
    ('<ne class="lsServer" property="type" value="instance"/>', ["tmpl-kvm"]),
    ('<wcard class="lsServer" property="name" value="^kvm-host[13]"/>', ["kvm-host1", "kvm-host3"]),
    ('<and><eq class="lsServer" property="type" value="instance"/>'
     '<not><eq class="lsServer" property="assocState" value="associated"/></not></and>',
     ["kvm-failed", "spare"]),
    ('<or><eq class="lsServer" property="name" value="spare"/>'
     '<eq class="lsServer" property="name" value="tmpl-kvm"/></or>', ["spare", "tmpl-kvm"]),
    ('<eq class="lsServer" property="name" value="nobody"/>', []),
])
def test_filters_are_evaluated_on_attributes(fake, in_filter, expected):
    assert names(query(fake, login(fake), "lsServer", in_filter)) == expected


def _names_filter(count, composite="or"):
    return "<%s>%s</%s>" % (composite, "".join('<eq class="lsServer" property="name" value="n%d"/>' % index
                                              for index in range(count)), composite)


@pytest.mark.parametrize("in_filter, descr", [
    ('<eq class="lsServer" property="nmae" value="x"/>', "no property nmae"),
    ('<gt class="lsServer" property="name" value="x"/>', "unsupported filter gt"),
    ('<wcard class="lsServer" property="name" value="(["/>', "bad wcard"),
    # What ucsmsdk never sends, so what UCS-M is not known to accept (docs/ucsm-xml-api.md section 5):
    # sibling filters without <and> (the old fake applied the first one only) ...
    ('<eq class="lsServer" property="type" value="instance"/><eq class="lsServer" property="name" value="spare"/>',
     "inFilter holds 2 filters, expected one"),
    # ... a filter on another class than the one queried ...
    ('<eq class="computeBlade" property="serial" value="FCH00000001"/>',
     "filter on class computeBlade in a query of class lsServer"),
    ('<and><eq class="lsServer" property="type" value="instance"/><not><eq class="vnicEther" property="name" '
     'value="x"/></not></and>', "filter on class vnicEther in a query of class lsServer"),
    # ... and an and/or of more than 10 filters (ucsmsdk nests bigger ones in groups of 10)
    (_names_filter(11), "or has 11 filters, at most 10 allowed"),
    (_names_filter(11, "and"), "and has 11 filters, at most 10 allowed"),
])
def test_bad_filters_are_parse_errors(fake, in_filter, descr):
    answer = query(fake, login(fake), "lsServer", in_filter)
    assert (answer.tag, answer.get("errorCode"), answer.get("invocationResult")) == (
        "error", "ERR-xml-parse-error", "594")
    assert descr in answer.get("errorDescr")


def test_composites_as_ucsmsdk_builds_them_are_accepted(fake):
    """Ten filters in one or, and eleven regrouped as ucsmsdk does (nested groups of at most 10)."""
    cookie = login(fake)
    ten = _names_filter(9)[:-len("</or>")] + '<eq class="lsServer" property="name" value="spare"/></or>'
    assert names(query(fake, cookie, "lsServer", ten)) == ["spare"]
    nested = "<or>%s%s</or>" % (_names_filter(10), '<or><eq class="lsServer" property="name" value="tmpl-kvm"/></or>')
    assert names(query(fake, cookie, "lsServer", nested)) == ["tmpl-kvm"]


def test_empty_and_unknown_answers(fake):
    cookie = login(fake)
    empty = query(fake, cookie, "lsServer", '<eq class="lsServer" property="name" value="zz"/>')
    assert len(empty.find("outConfigs")) == 0
    unknown = call(fake, '<configResolveClass cookie="%s" classId="vnicDynConPolicy"/>' % cookie)
    assert unknown.tag == "error" and "no class named vnicDynConPolicy" in unknown.get("errorDescr")
    assert call(fake, '<configWhatever cookie="%s"/>' % cookie).tag == "error"


def test_dns_children_and_scope(fake):
    cookie = login(fake)
    sp = SERVERS[0].sp_dn
    dns = call(fake, '<configResolveDns cookie="%s"><inDns><dn value="%s"/><dn value="nope"/>'
                     '</inDns></configResolveDns>' % (cookie, sp))
    assert [obj.get("dn") for obj in dns.find("outConfigs")] == [sp]
    assert [dn.get("value") for dn in dns.find("outUnresolved")] == ["nope"]
    children = call(fake, '<configResolveChildren cookie="%s" inDn="%s" classId="vnicEther"/>'
                    % (cookie, sp))
    assert names(children) == ["dynamic-prot-001", "eth0", "eth1"]
    other_class = call(fake, '<configResolveChildren cookie="%s" inDn="%s" classId="vnicEther"><inFilter>'
                             '<eq class="lsServer" property="name" value="x"/></inFilter></configResolveChildren>'
                       % (cookie, sp))
    assert other_class.tag == "error" and "in a query of class vnicEther" in other_class.get("errorDescr")
    direct = call(fake, '<configScope cookie="%s" dn="org-root" inClass="lsServer" '
                        'inRecursive="false"/>' % cookie)
    deep = call(fake, '<configScope cookie="%s" dn="org-root" inClass="lsServer" '
                      'inRecursive="true"/>' % cookie)
    assert "kvm-host1" not in names(direct) and "kvm-host2" in names(direct)
    assert {"kvm-host1", "kvm-host2"} <= set(names(deep))
    assert ("configScope", "lsServer") in fake.requests


# --- sessions -------------------------------------------------------------------------

def test_session_lifecycle(fake):
    cookie = login(fake)
    assert cookie and fake.active_sessions == 1 and fake.logins == 1
    assert call(fake, '<aaaKeepAlive cookie="%s"/>' % cookie).get("errorCode") is None
    refreshed = call(fake, '<aaaRefresh inName="ovirt-ro" inPassword="secret" inCookie="%s"/>'
                     % cookie).get("outCookie")
    assert refreshed != cookie and fake.active_sessions == 1
    assert query(fake, cookie, "lsServer").get("errorCode") == "552"
    assert query(fake, refreshed, "lsServer").get("errorCode") is None
    assert call(fake, '<aaaLogout inCookie="%s"/>' % refreshed).get("outStatus") == "success"
    assert call(fake, '<aaaLogout inCookie="%s"/>' % refreshed).get("errorCode") == "555"
    assert (fake.active_sessions, fake.logouts) == (0, 1)


def test_login_refusals(fake):
    assert call(fake, '<aaaLogin inName="ovirt-ro" inPassword="wrong"/>').get("errorCode") == "551"
    assert call(fake, '<aaaLogin inName="nobody" inPassword="secret"/>').get("errorCode") == "551"
    fake.faults.max_sessions = 2
    login(fake), login(fake)
    third = call(fake, '<aaaLogin inName="ovirt-ro" inPassword="secret"/>')
    assert "ERR-max-userid-sessions-reached" in third.get("errorDescr")    # the real name
    assert third.get("errorCode") == INVENTED_SESSION_LIMIT_CODE             # an invented number
    assert fake.active_sessions == 2


def test_expire_cookies_hits_the_next_request(fake):
    cookie = login(fake)
    fake.faults.expire_cookies()
    assert query(fake, cookie, "lsServer").get("errorCode") == "552"
    fresh = login(fake)
    assert query(fake, fresh, "lsServer").get("errorCode") is None


def test_reject_cookies_drops_the_session(fake):
    cookie = login(fake)
    fake.faults.reject_cookies = True
    assert query(fake, cookie, "lsServer").get("errorCode") == "552"
    assert fake.active_sessions == 0


# --- faults ---------------------------------------------------------------------------

def test_http_status_fault_serves_an_html_page(fake):
    fake.faults.http_status = 503
    response = requests.post(fake.url + "/nuova", data=b'<aaaLogin inName="a" inPassword="b"/>')
    assert response.status_code == 503 and response.text.startswith("<html>")
    assert fake.active_sessions == 0


def test_faults_hit_only_the_selected_methods(fake):
    fake.faults.malformed_xml = True
    fake.faults.methods = frozenset({"configResolveClass"})
    cookie = login(fake)
    with pytest.raises(ET.ParseError):
        ET.fromstring(post(fake, '<configResolveClass cookie="%s" classId="lsServer"/>' % cookie))


def test_entity_bomb_fault_is_a_real_bomb(fake):
    fake.faults.entity_bomb = True
    text = post(fake, '<aaaLogin inName="ovirt-ro" inPassword="secret"/>')
    assert "<!DOCTYPE aaaLogin" in text and text.count("<!ENTITY") == 10
    with pytest.raises(defusedxml.EntitiesForbidden):
        DET.fromstring(text)


def test_delay_fault_hangs_then_answers(fake):
    fake.faults.delay = 0.3
    started = time.monotonic()
    assert login(fake)
    assert time.monotonic() - started >= 0.3


def test_requests_are_recorded_with_their_classes(fake):
    cookie = login(fake)
    call(fake, '<configResolveClasses cookie="%s"><inIds><classId value="lsServer"/>'
               '<classId value="vnicEther"/></inIds></configResolveClasses>' % cookie)
    assert fake.requests == [("aaaLogin",), ("configResolveClasses", "lsServer", "vnicEther")]


def test_wrong_path_is_404(fake):
    assert requests.post(fake.url + "/other", data=b"<x/>").status_code == 404
