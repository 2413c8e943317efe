"""Small strict builders for hand-made decision inputs."""
from typing import Optional

from ovirt_scheduler_proxy_plugins.model import Capacity, Demand, DomainPortProfiles, HostVfs

# Host and VM ids in the engine's form, for calls that need no world behind them.
H1, H2, VM = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
              "33333333-3333-3333-3333-333333333333")


def host(host_id="h1", vfs=8, used=0, pending=0, reserve=0, current=False, users=None,
         port_profiles: Optional[DomainPortProfiles] = None, uncertain=0):
    """A host with `vfs` VFs (None = capacity unknown) and `used` of them held by other VMs;
    `pending` VFs claimed, `uncertain` of them by claims that may go to another host."""
    assert 0 <= uncertain <= pending, "uncertain claims are part of pending ones"
    return HostVfs(host_id=host_id, name=host_id, capacity=Capacity(vfs, "engine", 0.0, "test"),
                   used=used, users=used if users is None else users, pending=pending, uncertain=uncertain,
                   reserve=reserve, is_current=current, port_profiles=port_profiles)


def need(vfs: int, *port_profiles: str) -> Demand:
    return Demand(vfs, frozenset(port_profiles))


def domain(*names: str, url="https://ucsm-a", unknown: Optional[str] = None) -> DomainPortProfiles:
    """The port profiles of a host's UCS domain; `unknown` = why they could not be told."""
    if unknown is not None:
        return DomainPortProfiles(None, None, unknown)
    return DomainPortProfiles(url, frozenset(names))
