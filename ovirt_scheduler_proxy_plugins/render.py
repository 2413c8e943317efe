"""Reasons and decisions in words, for the log an operator reads at 3 a.m. (and for `explain`)."""
from collections import Counter
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import urlsplit

from .model import HELD_BACK, HostVfs, Reason, Score, Snapshot, Verdict

_SUMMARY_WORDS = {
    Reason.INSUFFICIENT: "too few free VFs",
    Reason.NO_VFS: "no VFs",
    Reason.UNKNOWN: "capacity unknown",
    Reason.NOT_FOUND: "unknown to the engine",
    Reason.PORT_PROFILE_MISSING: "lacking a port profile",
    Reason.PORT_PROFILES_UNKNOWN: "port profiles unknown",
    Reason.HELD_BACK_SCARCE: "held back while VFs are scarce",
    Reason.HELD_BACK_CAP: "held back: one claim spans so many hosts at most",
}
_CLAIM_NAMES = 4       # hosts named in a claim's words; the rest are counted


def domain_label(url: Optional[str]) -> str:
    """A UCS domain by its UCS Manager's host name (and port): 'ucsm-b.example.com'."""
    return (urlsplit(url).netloc or url) if url else "?"


def names(items: Iterable[str]) -> str:
    """'pp-db' / 'pp-db, pp-web': sorted, for stable log lines."""
    return ", ".join(sorted(items))


def vms(count: int) -> str:
    return "1 VM" if count == 1 else "%d VMs" % count


def free_shown(host: Optional[HostVfs]) -> Optional[int]:
    """Free VFs as people see them: never below 0 (shortfall() says how far below the sum went)."""
    if host is None or host.free is None:
        return None
    return max(host.free, 0)


def shortfall(host: HostVfs) -> str:
    """'' when capacity - used - pending - reserve >= 0; else what is missing, in words:
    '1 short of the reserve', or '2 over capacity' when the VMs alone hold more than the host has."""
    if host.free is None or host.free >= 0:
        return ""
    over = host.used + host.pending - host.capacity.vfs
    if over > 0:
        return "%d over capacity" % over + (", none of the reserve of %d left" % host.reserve if host.reserve else "")
    return "%d short of the reserve" % -host.free


def arithmetic(host: HostVfs) -> str:
    """'8 cap - 6 used (3 VMs) - 1 pending - 0 reserve = 1 free [engine: 8 enic VF devices]'."""
    if host.capacity.vfs is None:
        return "capacity unknown [%s: %s]" % (host.capacity.source, host.capacity.detail)
    short = shortfall(host)
    return "%d cap - %d used (%s) - %d pending - %d reserve = %d free%s [%s: %s]" % (
        host.capacity.vfs, host.used, vms(host.users), host.pending, host.reserve, free_shown(host),
        " (%s)" % short if short else "", host.capacity.source, host.capacity.detail)


def reason_words(verdict: Verdict, host: Optional[HostVfs]) -> str:
    """One short sentence: 'needs 2, 1 free: 7 of 8 used by 5 VMs'."""
    reason = verdict.reason
    if reason is Reason.NO_DEMAND:
        return "needs no VF"
    if reason is Reason.NOT_FOUND or host is None:
        return "host unknown to the engine"
    if reason is Reason.CURRENT_HOST:
        return "runs here now and holds its %d VFs" % verdict.demand
    if reason in (Reason.PORT_PROFILE_MISSING, Reason.PORT_PROFILES_UNKNOWN):
        return port_profile_words(verdict, host)
    if reason is Reason.UNKNOWN:
        return "needs %d, capacity unknown (%s)" % (verdict.demand, host.capacity.detail)
    if reason is Reason.NO_VFS:
        return "needs %d, host has no VFs (%s)" % (verdict.demand, host.capacity.detail)
    if reason is Reason.HELD_BACK_SCARCE:
        return ("fits (%d free), held back: VFs are scarce, so one host is kept and its claim is certain "
                "whatever the engine picks" % verdict.free)
    if reason is Reason.HELD_BACK_CAP:
        return "fits (%d free), held back: a claim spans the best hosts by weight mode only" % verdict.free
    short = shortfall(host)
    if short:          # never "-1 free: 9 of 8 used": what the VMs hold, then what is missing
        taken = host.used + host.pending
        pending = " (incl. %d pending)" % host.pending if host.pending else ""
        if taken > host.capacity.vfs:
            return "needs %d, 0 free: %s hold %d VFs%s of %d: %s" % (
                verdict.demand, vms(host.users), taken, pending, host.capacity.vfs, short)
        return "needs %d, 0 free: %d of %d used by %s%s, %s" % (
            verdict.demand, taken, host.capacity.vfs, vms(host.users), pending, short)
    held = host.used + host.pending + host.reserve
    extra = []
    if host.pending:
        extra.append("%d pending%s" % (host.pending, " (%d may go elsewhere)" % host.uncertain
                                        if host.uncertain else ""))
    if host.reserve:
        extra.append("%d reserved" % host.reserve)
    return "needs %d, %d free: %d of %d used by %s%s" % (
        verdict.demand, verdict.free, held, host.capacity.vfs, vms(host.users),
        " (incl. %s)" % ", ".join(extra) if extra else "")


def port_profile_words(verdict: Verdict, host: HostVfs) -> str:
    """'port profile pp-db is not defined in UCS domain ucsm-b.example.com'."""
    plural = len(verdict.port_profiles) > 1
    what = "port profile%s %s" % ("s" if plural else "", names(verdict.port_profiles))
    domain = host.port_profiles
    if verdict.reason is Reason.PORT_PROFILE_MISSING:
        return "%s %s not defined in UCS domain %s" % (what, "are" if plural else "is",
                                                      domain_label(domain.domain if domain else None))
    return "needs %s, unknown here (%s)" % (what, domain.detail if domain else "")


def summary(verdicts: List[Verdict], vm_name: str) -> str:
    """'3 of 12 hosts can run vm1 (7 too few free VFs, 2 capacity unknown)'."""
    kept = sum(1 for v in verdicts if v.keep)
    dropped = Counter(v.reason for v in verdicts if not v.keep)
    why = ", ".join("%d %s" % (n, _SUMMARY_WORDS.get(r, r.value)) for r, n in dropped.most_common())
    return "%d of %d hosts can run %s%s" % (kept, len(verdicts), vm_name, " (%s)" % why if why else "")


def ranking(scored: List[Tuple[str, int]], one_best: str) -> str:
    """What VfWeight's scores (name, score) say: `one_best` % (name, score) for a single lowest
    (best) host, else 'VfWeight scores a, b and c equally (weight 0, a 3-way tie): ...' -- never
    'the lowest' of a tie."""
    low = min(score for _, score in scored)
    best = sorted(name for name, score in scored if score == low)
    if len(best) == 1:
        return one_best % (best[0], low)
    return ("VfWeight scores %s and %s equally (weight %d, a %d-way tie): the engine's other weights decide "
            "among them" % (", ".join(best[:-1]), best[-1], low, len(best)))


def claim_targets(host_ids: Iterable[str], hosts: Dict[str, HostVfs]) -> str:
    """'blade3 (certain)' / 'any of blade1, blade3' / 'any of a, b, c, d and 28 more hosts'."""
    labels = [host_label(h, hosts) for h in host_ids]
    if len(labels) == 1:
        return "%s (certain)" % labels[0]
    more = len(labels) - _CLAIM_NAMES
    return "any of %s%s" % (", ".join(labels[:_CLAIM_NAMES]), " and %d more hosts" % more if more > 0 else "")


def waited(seconds: float, demand: int, verdicts: List[Verdict]) -> str:
    """' | waited 1.2 s for pending placements to show: ...' (nothing when the filter did not wait)."""
    if seconds <= 0:
        return ""
    if any(v.keep for v in verdicts):
        return " | waited %.1f s for pending placements to show, then a host fit" % seconds
    return (" | waited %.1f s for pending placements to show: still no host with %d free VFs counting every "
            "claim that may land there" % (seconds, demand))


def host_label(host_id: str, hosts: Dict[str, HostVfs]) -> str:
    host = hosts.get(host_id)
    return host.name if host else host_id


def verdict_word(verdict: Verdict) -> str:
    """keep / hold (fits, but held back while claims are pending) / DROP."""
    return "keep" if verdict.keep else "hold" if verdict.reason in HELD_BACK else "DROP"


LINE_HOSTS = 24      # hosts detailed in one decision line; the summary counts them all


def _more(shown: int, total: int) -> str:
    return "; ... %d more hosts (ovirt-vf-scheduler explain shows every one)" % (total - shown) \
        if total > shown else ""


def filter_line(snap: Snapshot, verdicts: List[Verdict]) -> str:
    """The summary, then each host's verdict and reason: kept hosts first, at most LINE_HOSTS
    of them in all (a 1,000-host cluster would write 100 KB per decision otherwise)."""
    demand = snap.vm.demand
    if demand.vfs <= 0:
        return "needs no VF: all %d hosts pass" % len(verdicts)
    ordered = sorted(verdicts, key=lambda v: not v.keep)[:LINE_HOSTS]
    parts = ["%s %s: %s" % (host_label(v.host_id, snap.hosts), verdict_word(v),
                            reason_words(v, snap.hosts.get(v.host_id))) for v in ordered]
    wanted = " (port profiles: %s)" % names(demand.port_profiles) if demand.port_profiles else ""
    return "%s%s | %s%s" % (summary(verdicts, snap.vm.name), wanted, "; ".join(parts) if parts else "no hosts",
                            _more(len(parts), len(verdicts)))


def weight_line(snap: Snapshot, scores: List[Score]) -> str:
    """Each host's score and arithmetic, best first, at most LINE_HOSTS of them."""
    if snap.vm.demand.vfs <= 0 and not snap.hosts:
        return "needs no VF: all %d hosts score %s" % (len(scores), sorted({s.value for s in scores}))
    parts = []
    for score in sorted(scores, key=lambda s: s.value)[:LINE_HOSTS]:
        host = snap.hosts.get(score.host_id)
        state = arithmetic(host) if host else "no data"
        parts.append("%s=%d (%s)" % (host_label(score.host_id, snap.hosts), score.value, state))
    return ("; ".join(parts) if parts else "no hosts") + _more(len(parts), len(scores))
