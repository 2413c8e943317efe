"""What every part of the fake engine shares: the paths, content types, the fault it answers
with, the fixed clock and the id, link and MAC helpers (so documents agree with each other)."""
import datetime

from ..inventory import SimHost, sim_id

API = "/ovirt-engine/api"
SSO_TOKEN_PATH = "/ovirt-engine/sso/oauth/token"
SSO_LOGOUT_PATH = "/ovirt-engine/services/sso-logout"
XML = "application/xml"
JSON = "application/json"

# A fixed clock for document timestamps, so bodies are byte-identical between runs.
_EPOCH = datetime.datetime(2024, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
_DATA_CENTER_ID = sim_id("datacenter", "Default")

class _Fault(Exception):
    """An HTTP error the engine answers with an XML <fault>."""

    def __init__(self, status: int, reason: str, detail: str):
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def _link(cls, href: str, oid: str):
    """A reference as the engine writes it: only id and href."""
    obj = cls(id=oid)
    obj.href = href
    return obj


def _ref(cls, collection: str, oid: str):
    """A link to a top-level collection's member, e.g. _ref(types.Icon, "icons", id)."""
    return _link(cls, "%s/%s/%s" % (API, collection, oid), oid)


def _hex(name: str) -> str:
    """HostDevice ids are the hex of the device name (engine HexUtils.string2hex)."""
    return name.encode("utf-8").hex()


def _mac(oui: str, oid: str) -> str:
    """A MAC in vendor prefix `oui` ('aa:bb:cc'), unique per id."""
    tail = bytes.fromhex(oid.replace("-", ""))[-3:]
    return oui + ":" + ":".join("%02x" % b for b in tail)


def _host_nic_id(host: SimHost, ifname: str) -> str:
    return sim_id("hostnic", "%s:%s" % (host.id, ifname))


def _host_mac(host: SimHost, ifname: str) -> str:
    """UCS pool MACs (00:25:b5); the net_* device names and the HostNics must agree."""
    return _mac("00:25:b5", _host_nic_id(host, ifname))


def _get(items: dict, oid: str, what: str):
    if oid not in items:
        raise _Fault(404, "Operation Failed", "Entity not found: %s %s" % (what, oid))
    return items[oid]
