"""configConfMo / configConfMos for the classes in metadata.CLASSES, checked as UCS-M checks them.

A request is applied whole or not at all (the fake's choice: whether UCS-M applies a multi-pair
configConfMos atomically is unverified). Each object is checked in the request's order, parents
before children: known class, known attributes (an unknown one is the root <error> form, as in
the public capture "unknown attribute 'dn' in element 'pair'"), status, every value against the
metadata, dn against the naming property, the parent exists (102) and may hold the class (105),
the account's privileges, then the status rules: "created" on an existing dn is 103, "modified"
or "deleted" on a missing one 102, "created,modified" either way. Children omitted from a write
are kept; a child with status "deleted" is removed with its subtree. After a write the resolved
read-only values are recomputed: a port profile's operQosPolicyName (org-root/ep-qos-NAME when
that policy exists, else ""), each VLAN membership's vnet / operVnetName / operVnetDn (when the
named fabricVlan exists; else configQualifier "unresolved-vlan-name": the fake's answer to open
question 1 of docs/ucsm-export-notes.md), a QoS egress's operPrio.
"""
import re
import xml.etree.ElementTree as ET
from typing import Dict, FrozenSet, List, Tuple

from .filters import BadRequest
from .metadata import CLASSES, CONTAINERS, STATUS_REGEX, value_ok
from .objects import TEMPLATES, Mo, make_mo

NOT_FOUND = "102"              # "configured object (DN) not found" (public capture)
EXISTS = "103"                 # "Cannot create; object already exists." (public capture)
NOT_CREATABLE = "105"          # "Cannot create non-creatable object of class:X under Y" (public capture)
# No public capture gives the numbers UCS-M answers a bad value or a missing privilege with: these two
# are the fake's own (150 is what a captured range refusal, "block definition is too large", carried).
VALUE_CODE = "150"
INVENTED_ACCESS_CODE = "574"


class ConfigRefused(Exception):
    """Answered as the method element with errorCode / errorDescr, nothing applied."""

    def __init__(self, code: str, descr: str):
        super().__init__(descr)
        self.code, self.descr = code, descr


def _status_words(status: str) -> FrozenSet[str]:
    return frozenset(word for word in status.split(",") if word)


class _Transaction:
    """The objects as the request would leave them; `store` is only replaced when all of it passed."""

    def __init__(self, store: Dict[str, Mo], privileges: FrozenSet[str]):
        self.staged = dict(store)
        self.privileges = privileges
        self.written: List[Tuple[str, str, Dict[str, str]]] = []    # top-level (dn, class, attrs if deleted, state)

    def apply(self, element: ET.Element, parent_dn: str, top: bool, dn_given: str = "") -> None:
        meta = CLASSES.get(element.tag)
        if meta is None:
            if element.tag in TEMPLATES:
                raise ConfigRefused(NOT_CREATABLE, "Cannot create non-creatable object of class:%s" % element.tag)
            raise BadRequest("XML PARSING ERROR: no class named %s" % element.tag)
        attrs = dict(element.attrib)
        for name in attrs:
            if name not in meta.props and name not in ("dn", "rn", "status"):
                if name in TEMPLATES.get(element.tag, ()):
                    raise ConfigRefused(VALUE_CODE, "property %s of class %s is read-only" % (name, element.tag))
                raise BadRequest("XML PARSING ERROR: unknown attribute '%s' in element '%s'" % (name, element.tag))
        status = attrs.pop("status", "")
        if not re.fullmatch(STATUS_REGEX, status):
            raise ConfigRefused(VALUE_CODE, "status %r of %s is not a valid status" % (status, element.tag))
        dn = self._dn(element.tag, meta, attrs, parent_dn, dn_given)
        for name, value in attrs.items():
            if name in meta.props and not value_ok(meta.props[name], value):
                raise ConfigRefused(VALUE_CODE, "ERR-MO-PROPERTY-value-out-of-range: %s.%s = %r is not allowed "
                                    "(dn %s)" % (element.tag, name, value, dn))
        self._check_parent(element.tag, meta, dn)
        words = _status_words(status)
        exists = dn in self.staged
        if words & {"deleted", "removed"}:
            if not exists:
                raise ConfigRefused(NOT_FOUND, "configured object (%s) not found" % dn)
            self._delete(dn)
            state = "deleted"
        elif words == {"created"} and exists:
            raise ConfigRefused(EXISTS, "Cannot create; object already exists. (%s)" % dn)
        elif words == {"modified"} and not exists:
            raise ConfigRefused(NOT_FOUND, "configured object (%s) not found" % dn)
        else:
            state = "modified" if exists else "created"
            merged = dict(self.staged[dn][1]) if exists else dict(make_mo(element.tag, dn)[1])
            merged.update(attrs)
            self.staged[dn] = (element.tag, merged)
            for child in element:
                self.apply(child, dn, top=False)
        if top:
            self.written.append((dn, element.tag, dict(attrs, dn=dn, status=state)))

    def _dn(self, class_id: str, meta, attrs: Dict[str, str], parent_dn: str, dn_given: str) -> str:
        """The object's dn from its own dn, its naming property and its parent; they must agree."""
        dn = attrs.pop("dn", "") or dn_given
        attrs.pop("rn", None)
        naming = meta.naming()
        if dn and naming and naming not in attrs:
            prefix = meta.rn.split("[")[0]
            last = dn.rpartition("/")[2]
            if last.startswith(prefix):
                attrs[naming] = last[len(prefix):]
        if not dn:
            if not parent_dn:
                raise ConfigRefused(VALUE_CODE, "ERR-MO-naming-rule-violation: %s without a dn" % class_id)
            dn = "%s/%s" % (parent_dn, meta.rn_of(attrs))
        expected_parent = dn.rpartition("/")[0]
        if (parent_dn and expected_parent != parent_dn) or dn.rpartition("/")[2] != meta.rn_of(attrs) \
                or (dn_given and dn != dn_given):
            raise ConfigRefused(VALUE_CODE, "ERR-MO-naming-rule-violation: dn %s does not name a %s %s" % (
                dn, class_id, meta.rn_of(attrs)))
        return dn

    def _check_parent(self, class_id: str, meta, dn: str) -> None:
        parent_dn = dn.rpartition("/")[0]
        parent_class = CONTAINERS.get(parent_dn) or (self.staged[parent_dn][0] if parent_dn in self.staged else None)
        if parent_class is None:
            raise ConfigRefused(NOT_FOUND, "configured object (%s) not found" % parent_dn)
        if parent_class not in meta.parents:
            raise ConfigRefused(NOT_CREATABLE, "Cannot create non-creatable object of class:%s under %s"
                                % (class_id, parent_class))
        if not meta.privileges & self.privileges:
            raise ConfigRefused(INVENTED_ACCESS_CODE, "ERR-MO-access-denied: writing %s needs one of the "
                                "privileges %s" % (class_id, ", ".join(sorted(meta.privileges))))

    def _delete(self, dn: str) -> None:
        for other in [d for d in self.staged if d == dn or d.startswith(dn + "/")]:
            del self.staged[other]

    def answers(self) -> List[Tuple[str, str, Dict[str, str]]]:
        """(dn, class, attributes with status) of each top-level object, as the request left it."""
        return [(dn, class_id, dict(self.staged[dn][1], status=gone["status"]) if dn in self.staged else gone)
                for dn, class_id, gone in self.written]

    def resolve(self) -> None:
        """Recompute what UCS-M resolves from names (see the module docstring)."""
        for dn, (class_id, attrs) in list(self.staged.items()):
            if class_id == "vnicEtherIf":
                vlan = self.staged.get("fabric/lan/net-" + attrs.get("name", ""))
                resolved = dict(attrs, vnet=vlan[1]["id"], operVnetName=vlan[1]["name"], configQualifier="",
                                operVnetDn=vlan[1]["dn"]) if vlan else \
                    dict(attrs, vnet="1", operVnetName="", operVnetDn="", configQualifier="unresolved-vlan-name")
                self.staged[dn] = (class_id, resolved)
            elif class_id == "epqosEgress":
                self.staged[dn] = (class_id, dict(attrs, operPrio=attrs.get("prio", "")))
        for dn, (class_id, attrs) in list(self.staged.items()):
            if class_id == "vnicProfile":
                policy = "org-root/ep-qos-" + attrs.get("qosPolicyName", "")
                found = attrs.get("qosPolicyName") and policy in self.staged
                native = [a for c, a in self.staged.values() if c == "vnicEtherIf" and a["dn"].startswith(dn + "/")
                          and a.get("defaultNet") in ("yes", "true")]
                self.staged[dn] = (class_id, dict(attrs, operQosPolicyName=policy if found else "",
                                                  qosPolicyDn=policy if found else "",
                                                  primaryVlanId=native[0]["vnet"] if native else "1"))


def configure(store: Dict[str, Mo], request: ET.Element, privileges: FrozenSet[str]) -> ET.Element:
    """Apply a configConfMo(s) to `store` (dn -> object) and return the out element to answer with."""
    transaction = _Transaction(store, privileges)
    if request.tag == "configConfMo":
        container = request.find("inConfig")
        if container is None or len(container) != 1:
            raise BadRequest("XML PARSING ERROR: configConfMo needs one object in inConfig")
        transaction.apply(container[0], "", top=True, dn_given=request.get("dn", ""))
    else:
        container = request.find("inConfigs")
        pairs = list(container) if container is not None else []
        if not pairs or any(pair.tag != "pair" or len(pair) != 1 for pair in pairs):
            raise BadRequest("XML PARSING ERROR: configConfMos needs inConfigs of pairs holding one object each")
        for pair in pairs:
            transaction.apply(pair[0], "", top=True, dn_given=pair.get("key", ""))
    transaction.resolve()
    store.clear()
    store.update(transaction.staged)
    if request.tag == "configConfMo":
        out = ET.Element("outConfig")
        out.extend(ET.Element(class_id, attrs) for _, class_id, attrs in transaction.answers())
        return out
    out = ET.Element("outConfigs")
    for dn, class_id, attrs in transaction.answers():
        ET.SubElement(out, "pair", key=dn).append(ET.Element(class_id, attrs))
    return out
