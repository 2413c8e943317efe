"""The fake UCS-M learns to be written: configConfMo(s) checked against the metadata, whole or not at
all, answered with outConfig(s) that ucsmsdk decodes, and seen by later reads."""
import xml.etree.ElementTree as ET

import pytest
import requests

from ovirt_scheduler_proxy_plugins.sim.ucsm import FakeUcsm, UcsmPortProfile

from tests.integration.helpers import assert_valid_mo

PP = "fabric/lan/profiles/vnic-web"


@pytest.fixture
def fake():
    with FakeUcsm([], privileges={"ovirt-ro": "admin"}) as server:
        yield server


def post(fake, body):
    response = requests.post(fake.url + "/nuova", data=body.encode(), timeout=5)
    response.raise_for_status()
    return response.text


def login(fake):
    return ET.fromstring(post(fake, '<aaaLogin inName="ovirt-ro" inPassword="secret"/>')).get("outCookie")


def profile(status="created,modified", extra="", children=None):
    kids = children if children is not None else (
        '<vnicEtherIf name="vlan100" defaultNet="yes" dn="%s/if-vlan100"/>'
        '<vmVnicProfCl name="ovirt" dcName=".*" orgPath=".*" swName=".*" dn="%s/cl-ovirt"/>' % (PP, PP))
    return ('<vnicProfile name="web" descr="ovirt-vf-scheduler: test" maxPorts="64" hostNwIOPerf="none" '
            'qosPolicyName="gold" status="%s" dn="%s"%s>%s</vnicProfile>' % (status, PP, extra, kids))


def conf_mo(fake, cookie, element, dn=PP):
    return ET.fromstring(post(fake, '<configConfMo cookie="%s" dn="%s" inHierarchical="false"><inConfig>%s'
                                    '</inConfig></configConfMo>' % (cookie, dn, element)))


def conf_mos(fake, cookie, *pairs):
    body = "".join('<pair key="%s">%s</pair>' % pair for pair in pairs)
    return ET.fromstring(post(fake, '<configConfMos cookie="%s" inHierarchical="false"><inConfigs>%s</inConfigs>'
                                    '</configConfMos>' % (cookie, body)))


def read(fake, cookie, dn):
    answer = ET.fromstring(post(fake, '<configResolveDn cookie="%s" dn="%s" inHierarchical="true"/>' % (cookie, dn)))
    return list(answer.find("outConfig"))


def test_a_port_profile_is_created_then_modified_and_reads_see_it(ucsmsdk, fake):
    codec, _ = ucsmsdk
    cookie = login(fake)
    text = post(fake, '<configConfMo cookie="%s" dn="%s" inHierarchical="false"><inConfig>%s</inConfig>'
                      '</configConfMo>' % (cookie, PP, profile()))
    decoded = codec.from_xml_str(text)
    (element,) = ET.fromstring(text).find("outConfig")
    (mo,) = decoded.out_config.child
    assert decoded.error_code == 0 and element.get("status") == "created"
    assert_valid_mo(mo, element)
    # resolved from names: the gold policy and VLAN vlan100 (id 100) exist in the sample domain
    assert (mo.oper_qos_policy_name, mo.primary_vlan_id) == ("org-root/ep-qos-gold", "100")
    (stored,) = read(fake, cookie, PP)
    children = {child.get("rn"): child for child in stored}
    assert set(children) == {"if-vlan100", "cl-ovirt"}
    assert (children["if-vlan100"].get("vnet"), children["if-vlan100"].get("operVnetDn")) == (
        "100", "fabric/lan/net-vlan100")
    answer = conf_mo(fake, cookie, profile(extra=' pinToGroupName="pins"', children=""))
    assert answer.get("errorCode") is None and answer.find("outConfig")[0].get("status") == "modified"
    (stored,) = read(fake, cookie, PP)
    assert len(stored) == 2 and stored.get("pinToGroupName") == "pins"        # omitted children are kept


def test_a_child_with_status_deleted_is_removed_and_an_unknown_vlan_stays_unresolved(fake):
    cookie = login(fake)
    conf_mo(fake, cookie, profile())
    conf_mo(fake, cookie, profile(children='<vnicEtherIf name="nowhere" defaultNet="yes" dn="%s/if-nowhere"/>'
                                           '<vnicEtherIf name="vlan100" status="deleted" dn="%s/if-vlan100"/>'
                                           % (PP, PP)))
    (stored,) = read(fake, cookie, PP)
    vlans = {child.get("name"): child for child in stored if child.tag == "vnicEtherIf"}
    assert list(vlans) == ["nowhere"]
    assert (vlans["nowhere"].get("configQualifier"), vlans["nowhere"].get("operVnetName")) == (
        "unresolved-vlan-name", "")


@pytest.mark.parametrize("element, dn, code, words", [
    (profile(status="created"), PP, "103", "Cannot create; object already exists."),
    (profile(status="modified").replace("vnic-web", "vnic-nope").replace('name="web"', 'name="nope"'),
     "fabric/lan/profiles/vnic-nope", "102", "configured object (fabric/lan/profiles/vnic-nope) not found"),
    ('<fabricVlan name="v5" id="5" dn="fabric/lan/x/net-v5"/>', "fabric/lan/x/net-v5", "102",
     "configured object (fabric/lan/x) not found"),
    ('<fabricVlan name="v5" id="5" dn="org-root/net-v5"/>', "org-root/net-v5", "105",
     "Cannot create non-creatable object of class:fabricVlan under orgOrg"),
    (profile(extra=' operQosPolicyName="x"'), PP, "150", "operQosPolicyName of class vnicProfile is read-only"),
    ('<fabricVlan name="v" id="4094" dn="fabric/lan/net-v"/>', "fabric/lan/net-v", "150", "fabricVlan.id = '4094'"),
    ('<fabricVlan name="v" id="0" dn="fabric/lan/net-v"/>', "fabric/lan/net-v", "150", "fabricVlan.id = '0'"),
    (profile().replace('maxPorts="64"', 'maxPorts="4097"'), PP, "150", "vnicProfile.maxPorts = '4097'"),
    (profile().replace('qosPolicyName="gold"', 'qosPolicyName="seventeen-chars-x"'), PP, "150", "qosPolicyName"),
    (profile().replace('descr="ovirt-vf-scheduler: test"', 'descr="a&lt;b"'), PP, "150", "vnicProfile.descr"),
    (profile().replace('name="web"', 'name="other"', 1), PP, "150", "naming-rule-violation"),
    ('<epqosDefinition name="q" dn="org-root/ep-qos-q"><epqosEgress rate="7"/></epqosDefinition>',
     "org-root/ep-qos-q", "150", "epqosEgress.rate = '7'"),
    ('<epqosDefinition name="q" dn="org-root/ep-qos-q"><epqosEgress burst="65536"/></epqosDefinition>',
     "org-root/ep-qos-q", "150", "epqosEgress.burst = '65536'"),
    ('<epqosDefinition name="q" dn="org-root/ep-qos-q"><epqosEgress prio="diamond"/></epqosDefinition>',
     "org-root/ep-qos-q", "150", "epqosEgress.prio = 'diamond'"),
])
def test_refusals_name_the_code_and_apply_nothing(fake, element, dn, code, words):
    cookie = login(fake)
    conf_mo(fake, cookie, profile())
    before = sorted(map(repr, fake.objects))
    answer = conf_mo(fake, cookie, element, dn)
    assert answer.tag in ("configConfMo",) and answer.get("errorCode") == code, ET.tostring(answer)
    assert words in answer.get("errorDescr") and answer.find("outConfig") is None
    assert sorted(map(repr, fake.objects)) == before


def test_unknown_attributes_and_classes_are_the_parse_error_form(fake):
    cookie = login(fake)
    for element in (profile(extra=' maxPort="5"'), '<vnicProfil name="web" dn="%s"/>' % PP):
        answer = conf_mo(fake, cookie, element)
        assert (answer.tag, answer.get("errorCode"), answer.get("invocationResult")) == (
            "error", "ERR-xml-parse-error", "594")
    assert "unknown attribute 'maxPort' in element 'vnicProfile'" in ET.tostring(
        conf_mo(fake, cookie, profile(extra=' maxPort="5"'))).decode()


def test_conf_mos_is_whole_or_nothing_and_answers_pairs(ucsmsdk, fake):
    codec, _ = ucsmsdk
    cookie = login(fake)
    good = ("fabric/lan/net-ovirt-7", '<fabricVlan name="ovirt-7" id="7" sharing="none" status="created,modified" '
                                      'dn="fabric/lan/net-ovirt-7"/>')
    bad = ("fabric/lan/net-bad", '<fabricVlan name="bad" id="4044" dn="fabric/lan/net-bad"/>')
    assert conf_mos(fake, cookie, good, bad).get("errorCode") == "150"
    assert read(fake, cookie, good[0]) == []
    text = ET.tostring(conf_mos(fake, cookie, good)).decode()
    (pair,) = codec.from_xml_str(text).out_configs.child
    assert (pair.key, pair.child[0].id, pair.child[0].status) == (good[0], "7", "created")
    assert [r for r in fake.requests if r[0] == "configConfMos"][-1] == ("configConfMos", good[0])
    assert fake.writes() == 2


def test_a_read_only_account_may_not_write(fake):
    with FakeUcsm([], port_profiles=[UcsmPortProfile("pp")]) as read_only:
        cookie = login(read_only)
        answer = conf_mo(read_only, cookie, profile())
        assert answer.get("errorCode") == "574" and "ERR-MO-access-denied" in answer.get("errorDescr")
        assert read(read_only, cookie, PP) == []
        login_answer = ET.fromstring(post(read_only, '<aaaLogin inName="ovirt-ro" inPassword="secret"/>'))
        assert login_answer.get("outPriv") == "read-only"
