"""What `port-profiles` reports and what `port-profiles sync` must create, from plain values
(no engine, no UCS-M), shared with `check`.

A vNIC profile's VF property value names a UCS port profile; each UCS domain defines its own
set, so a value resolves in every domain, in some ("missing in X") or nowhere. `sync` offers
every port profile no vNIC profile uses yet as a new vNIC profile on one network: only what
is missing is planned (so a second run plans nothing), names the engine's regex would refuse
are skipped with the reason, and nothing that exists is ever changed.
"""
import re
from dataclasses import dataclass
from typing import Collection, Dict, List, Mapping, Optional, Sequence, Tuple

MARK = "created by ovirt-vf-scheduler port-profiles sync"


@dataclass(frozen=True)
class VnicProfileInfo:
    """An oVirt vNIC profile as `port-profiles` needs it; `value` None = no VF property."""
    id: str
    name: str
    network: str
    network_id: str
    value: Optional[str]
    description: str = ""

    @property
    def ours(self) -> bool:
        return MARK in self.description


@dataclass(frozen=True)
class Resolution:
    """Where a VF property value names a port profile: every read domain lacking it."""
    value: str
    missing_in: Tuple[str, ...]          # domain URLs, in configured order
    domains: int                         # how many domains were read

    @property
    def everywhere(self) -> bool:
        return not self.missing_in

    @property
    def nowhere(self) -> bool:
        return len(self.missing_in) == self.domains


def resolve(value: str, domains: Mapping[str, Collection[str]]) -> Resolution:
    """`domains`: domain URL -> the port profile names it defines (only the domains read)."""
    return Resolution(value, tuple(url for url, names in domains.items() if value not in names), len(domains))


def unresolved(values: Collection[str], domains: Mapping[str, Collection[str]]) -> List[Resolution]:
    """The values some read domain does not define, sorted by value."""
    found = [resolve(value, domains) for value in sorted(set(values))]
    return [item for item in found if not item.everywhere]


def unused(domains: Mapping[str, Collection[str]], values: Collection[str]) -> Dict[str, List[str]]:
    """Per domain, its port profiles that no vNIC profile names."""
    return {url: sorted(set(names) - set(values)) for url, names in domains.items()}


def rejected(domains: Mapping[str, Collection[str]], regex: str) -> List[str]:
    """Port profile names (of any domain) the engine's regex for the VF property would refuse."""
    return sorted({name for names in domains.values() for name in names if not accepted(name, regex)})


def accepted(name: str, regex: str) -> bool:
    """As the engine checks a custom property value: the whole value matches (Java matches())."""
    return re.fullmatch(regex, name) is not None


@dataclass(frozen=True)
class Creation:
    port_profile: str                    # also the new vNIC profile's name
    domains: Tuple[str, ...]             # the domain URLs that define it


@dataclass(frozen=True)
class Skip:
    port_profile: str
    reason: str


def sync_plan(network_id: str, network: str, domains: Mapping[str, Collection[str]],
              profiles: Sequence[VnicProfileInfo], regex: str, prop: str) -> Tuple[List[Creation], List[Skip]]:
    """A vNIC profile `prop`=NAME on the network for each port profile NAME of `domains` that no
    vNIC profile names yet; names the regex refuses, or taken on that network, are skipped."""
    used = {p.value for p in profiles if p.value}
    taken = {p.name for p in profiles if p.network_id == network_id}
    where: Dict[str, List[str]] = {}
    for url, names in domains.items():
        for name in names:
            where.setdefault(name, []).append(url)
    creations, skips = [], []
    for name in sorted(where):
        if name in used:
            continue
        if not accepted(name, regex):
            skips.append(Skip(name, "the engine's %s regex %s refuses this name (UCS-M also allows ':' and "
                                    "1-character names): rename the port profile in UCS Manager, or widen the "
                                    "regex in CustomDeviceProperties and [scheduler] vf_property_regex"
                              % (prop, regex)))
        elif name in taken:
            skips.append(Skip(name, "network %s already has a vNIC profile named %s without %s=%s: set the "
                                    "property on it, or rename it" % (network, name, prop, name)))
        else:
            creations.append(Creation(name, tuple(where[name])))
    return creations, skips


def description(creation: Creation, labels: Sequence[str]) -> str:
    """The new vNIC profile's description: the mark `sync` recognises its own by, and where from."""
    return "UCS port profile %s (%s); %s" % (creation.port_profile, ", ".join(labels), MARK)
