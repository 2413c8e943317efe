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
EPOCH = datetime.datetime(2024, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
DATA_CENTER_ID = sim_id("datacenter", "Default")

class EngineFault(Exception):
    """An HTTP error the engine answers with an XML <fault>."""

    def __init__(self, status: int, reason: str, detail: str):
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def make_link(cls, href: str, oid: str):
    """A reference as the engine writes it: only id and href."""
    obj = cls(id=oid)
    obj.href = href
    return obj


def make_ref(cls, collection: str, oid: str):
    """A link to a top-level collection's member, e.g. make_ref(types.Icon, "icons", id)."""
    return make_link(cls, "%s/%s/%s" % (API, collection, oid), oid)


def device_hex(name: str) -> str:
    """HostDevice ids are the hex of the device name (engine HexUtils.string2hex)."""
    return name.encode("utf-8").hex()


def make_mac(oui: str, oid: str) -> str:
    """A MAC in vendor prefix `oui` ('aa:bb:cc'), unique per id."""
    tail = bytes.fromhex(oid.replace("-", ""))[-3:]
    return oui + ":" + ":".join("%02x" % b for b in tail)


def host_nic_id(host: SimHost, ifname: str) -> str:
    return sim_id("hostnic", "%s:%s" % (host.id, ifname))


def host_mac(host: SimHost, ifname: str) -> str:
    """UCS pool MACs (00:25:b5); the net_* device names and the HostNics must agree."""
    return make_mac("00:25:b5", host_nic_id(host, ifname))


def member_or_404(items: dict, oid: str, what: str):
    if oid not in items:
        raise EngineFault(404, "Operation Failed", "Entity not found: %s %s" % (what, oid))
    return items[oid]
