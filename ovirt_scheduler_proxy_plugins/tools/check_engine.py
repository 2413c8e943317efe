"""`check` items that talk to the engine and UCS-M: login and TLS, the account's rights (through
the units' own queries), the VF property, ExternalSchedulerEnabled and the discovered units, the
clusters' policies, and a capacity source for every host.

Two engine options are internal in a real engine (REST answers 404): CustomDeviceProperties and
ExternalSchedulerEnabled. Where they cannot be read, what the engine did with them is checked
instead: a vNIC profile can carry `vmfex` only if CustomDeviceProperties defines it, and the
units are discovered only if ExternalSchedulerEnabled was on at the last engine start.
"""
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from .. import config
from ..accounting import HostRecord, VfProfile, engine_capacity, vf_networks
from ..config import Settings
from ..engine import EngineError, error_line
from ..snapshot import open_session
from . import hints, lookup, output
from .check_local import PLAIN_HTTP, UNKNOWN_CA, WRONG_NAME, engine_ca_hint, tls_trouble
from .cluster_read import NO_VM
from .common import ToolError
from .findings import FAIL, OK, WARN, Finding

ENGINE_HINT = "is ovirt-engine running, and is [engine] url right (https://ENGINE_FQDN/ovirt-engine/api)?"
RIGHTS_HINT = ("give the account read access to VMs, hosts and vNIC profiles, e.g. the ReadOnlyAdmin role "
               "on the System (Administration > Users > Permissions)")
DISCOVERY_HINT = ("start %s, engine-config -s ExternalSchedulerEnabled=true, then restart ovirt-engine (after "
                  "the proxy: the engine discovers units only at its start)" % hints.PROXY_SERVICE)
DEVICE_PROPERTY = "engine-config -s CustomDeviceProperties='{type=interface;prop={%s=%s}}' --cver=%s"


def bounded(call: Callable, seconds: float):
    """call() in a daemon thread, given up after `seconds` (the SDK's SSO login has no timeout)."""
    box: Dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as err:   # noqa: BLE001 - handed to the caller
            box["error"] = err
    worker = threading.Thread(target=target, name="bounded-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError("no answer within %g s" % seconds)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _login_failure(err: BaseException, settings: Settings, sdk) -> Finding:
    url, user, text = settings.engine.url, settings.engine.username, error_line(err)
    if isinstance(err, TimeoutError):
        return Finding("engine login", FAIL, "the engine's login at %s gave %s" % (url, text), ENGINE_HINT)
    if isinstance(err, sdk.AuthError):
        return Finding("engine login", FAIL, "the engine refused the credentials of %s: %s" % (user, text),
                       "check [engine] username (user@profile, e.g. admin@internal) and the password "
                       "(password or password_file)")
    trouble = tls_trouble(text)
    if trouble == PLAIN_HTTP:
        return Finding("engine login", FAIL, "%s: that port speaks plain HTTP, not TLS: %s" % (url, text),
                       "the engine serves TLS on port 443: [engine] url = https://ENGINE_FQDN/ovirt-engine/api "
                       "without the port (or with the engine's https port)")
    if trouble == WRONG_NAME:
        return Finding("engine login", FAIL, "the engine's certificate does not name the host in %s: %s" % (url, text),
                       "use the engine's FQDN in [engine] url, as its certificate names it (on the engine host: "
                       "openssl x509 -noout -subject -ext subjectAltName -in /etc/pki/ovirt-engine/certs/apache.cer)")
    if trouble is not None:
        what = "the engine's certificate is signed by a CA that [engine] ca_file does not hold" \
            if trouble == UNKNOWN_CA else "the TLS handshake failed"
        return Finding("engine login", FAIL, "TLS verification of %s failed: %s: %s" % (url, what, text),
                       engine_ca_hint(url))
    if re.search(r"\((6|7),|curl error (6|7)\)|[Cc]onnection refused|resolve", text):
        return Finding("engine login", FAIL, "cannot reach the engine at %s: %s" % (url, text), ENGINE_HINT)
    return Finding("engine login", FAIL, "login to %s failed: %s" % (url, text), ENGINE_HINT)


def login(settings: Settings, timeout: float) -> Tuple[Optional[lookup.Engine], Finding]:
    """A fresh SSO login (a cached token must not hide a wrong password), then the product version."""
    try:
        engine = lookup.Engine(settings, fresh_login=True)
    except ToolError as err:
        return None, Finding("engine login", FAIL, str(err),
                             "fix [engine] ca_file: " + engine_ca_hint(settings.engine.url))
    try:
        bounded(engine.conn.authenticate, timeout)
        api = bounded(engine.system.get, timeout)
    except Exception as err:   # noqa: BLE001 - every failure is one FAIL line with a hint
        engine.close(save_token=False)
        return None, _login_failure(err, settings, engine.sdk)
    engine.save_token()
    version = api.product_info.version.full_version if api.product_info and api.product_info.version else "?"
    return engine, Finding("engine login", OK, "logged in to %s as %s (%s %s)" % (
        settings.engine.url, settings.engine.username, api.product_info.name if api.product_info else "engine",
        version))


@dataclass
class Reads:
    """What the units read, read the way they read it."""
    profiles: Dict[str, VfProfile]    # vf profile id -> network, port profile
    hosts: List[HostRecord]


def rights(engine: lookup.Engine, settings: Settings, timeout: float) -> Tuple[Optional[Reads], Finding]:
    """The units' three queries, through EngineSession itself."""
    user = settings.engine.username
    session = open_session(settings, time.monotonic() + timeout)
    step = "vNIC profiles"
    try:
        profiles = session.vf_profiles(settings.vf_property)
        step = "VMs"
        if profiles:
            vm_count = len(session.vms(NO_VM, vf_networks(profiles)))
        else:
            vm_count = 0
            engine.call("listing VMs", lambda: engine.system.vms_service().list(max=1))
        step = "hosts"
        hosts = session.hosts()
    except (EngineError, ToolError) as err:
        return None, Finding("rights", FAIL, "%s cannot read %s: %s" % (user, step, err), RIGHTS_HINT)
    finally:
        session.close()
    reads = Reads(profiles, hosts)
    if not hosts:
        return reads, Finding("rights", WARN, "%s sees no hosts at all" % user, RIGHTS_HINT)
    return reads, Finding("rights", OK, "%s can read vNIC profiles, VMs (%d running on VF networks) and %d hosts "
                          "with their devices and NIC VF data" % (user, vm_count, len(hosts)))


EVENTS_HINT = ("give the account the right to read events (an admin role such as ReadOnlyAdmin on the System), "
               "or set [scheduler] usage_events = no to read usage whole as before")


def usage_events(settings: Settings, timeout: float) -> Finding:
    """Whether serve can keep usage from the engine's events (live_usage), read as serve reads them."""
    if not settings.usage_events:
        return Finding("usage events", OK, "off ([scheduler] usage_events = no): serve reads the running VMs whole "
                       "every usage_max_age (%g s)" % settings.usage_max_age)
    session = open_session(settings, time.monotonic() + timeout)
    try:
        newest = session.newest_event()
        session.events_after(max(0, newest - 1))
    except EngineError as err:
        return Finding("usage events", WARN, "%s cannot read events, so serve reads the running VMs whole every "
                       "usage_max_age (~3 engine queries per VM): %s" % (settings.engine.username, err), EVENTS_HINT)
    finally:
        session.close()
    return Finding("usage events", OK, "%s can read events (newest %d): serve follows them and reads usage whole "
                   "every usage_resync (%g s)" % (settings.engine.username, newest, settings.usage_resync))


def vf_property(settings: Settings, reads: Reads) -> Finding:
    prop = settings.vf_property
    if not reads.profiles:
        return Finding("vf property", WARN, "no vNIC profile carries the custom property %r: every VM needs 0 VFs "
                       "and VfFilter keeps every host" % prop,
                       "set %s=<UCS port profile> on the VM-FEX vNIC profiles (Network > vNIC Profiles > Edit), "
                       "or fix [scheduler] vf_property" % prop)
    networks = sorted(vf_networks(reads.profiles))
    count = len(reads.profiles)
    return Finding("vf property", OK, "%d vNIC profile%s %s (networks: %s)" % (
        count, " carries" if count == 1 else "s carry", prop, output.listed(networks)))


def option(engine: lookup.Engine, name: str) -> Optional[Dict[str, str]]:
    """{version: value} of an engine option, or None where the REST API does not expose it."""
    try:
        found = engine.system.options_service().option_service(name).get()
    except engine.sdk.Error:
        return None
    return {value.version or "general": value.value or "" for value in found.values or ()}


def _defines(value: str, prop: str) -> bool:
    return "type=interface" in value and re.search(r"[{;]\s*%s\s*=" % re.escape(prop), value) is not None


def define_property(settings: Settings, versions: List[str]) -> str:
    """One engine-config command per cluster version (each version has its own value)."""
    prop, regex = settings.vf_property, settings.vf_property_regex
    commands = "; ".join(DEVICE_PROPERTY % (prop, regex, version) for version in versions or ["VERSION"])
    return "on the engine: %s; then restart ovirt-engine" % commands


def device_properties(engine: lookup.Engine, settings: Settings, reads: Reads, versions: List[str]) -> Finding:
    prop, name = settings.vf_property, "CustomDeviceProperties"
    values = option(engine, name)
    if values is None:
        if reads.profiles:
            return Finding(name, OK, "not readable through the REST API; defined, since vNIC profiles carry %s "
                           "(the engine accepts only defined properties)" % prop)
        return Finding(name, WARN, "not readable through the REST API, and no vNIC profile carries %s" % prop,
                       "check on the engine: engine-config -g %s; to define it %s" % (name, define_property(settings, versions)))
    missing = [v for v in versions if not _defines(values.get(v, ""), prop)]
    if missing:
        return Finding(name, FAIL, "does not define %s for interfaces in cluster version %s"
                       % (prop, ", ".join(missing)),
                       define_property(settings, missing) + " (repeat SecurityGroups inside prop={...} if used)")
    return Finding(name, OK, "defines %s for interfaces in cluster version %s" % (prop, ", ".join(versions)))


def _external_units(engine: lookup.Engine) -> Dict[str, object]:
    units = engine.call("listing scheduling policy units",
                        lambda: engine.system.scheduling_policy_units_service().list())
    kinds = {"VfFilter": "filter", "VfWeight": "weight"}
    return {u.name: u for u in units
            if not u.internal and kinds.get(u.name) == str(getattr(u.type, "value", u.type))}


def scheduler(engine: lookup.Engine, clusters: list) -> Iterator[Finding]:
    """ExternalSchedulerEnabled, the discovered units, and the clusters whose policy uses them."""
    try:
        units = _external_units(engine)
    except ToolError as err:
        yield Finding("external units", WARN, "cannot list scheduling policy units: %s" % err,
                      "run check with an administrator account to verify the units")
        return
    discovered = len(units) == 2 and all(u.enabled for u in units.values())
    values = option(engine, "ExternalSchedulerEnabled")
    if values is not None:
        on = any(v.strip().lower() == "true" for v in values.values())
        yield Finding("ExternalSchedulerEnabled", OK if on else FAIL, "is %s" % ("true" if on else "false"),
                      "" if on else "engine-config -s ExternalSchedulerEnabled=true, then restart ovirt-engine")
    elif discovered:
        yield Finding("ExternalSchedulerEnabled", OK, "not readable through the REST API; it was true at the "
                      "engine's last start, since the engine discovered the units")
    else:
        yield Finding("ExternalSchedulerEnabled", WARN, "not readable through the REST API",
                      "check on the engine: engine-config -g ExternalSchedulerEnabled (must be true)")
    yield _units_finding(units)
    if units:
        yield _policy_use(engine, clusters, units)


def _units_finding(units: Dict[str, object]) -> Finding:
    missing = [name for name in ("VfFilter", "VfWeight") if name not in units]
    if missing:
        return Finding("external units", FAIL, "the engine has not discovered %s" % " and ".join(missing),
                       DISCOVERY_HINT)
    disabled = [name for name, unit in sorted(units.items()) if not unit.enabled]
    if disabled:
        return Finding("external units", FAIL, "%s disabled: the engine could not reach the proxy at its last "
                       "start, and skips disabled units silently" % " and ".join(disabled),
                       "start %s, then restart ovirt-engine" % hints.PROXY_SERVICE)
    wanted = set(config.CLUSTER_PROPERTIES)
    stale = [name for name, unit in sorted(units.items())
             if {p.name for p in unit.properties or ()} != wanted]
    if stale:
        return Finding("external units", WARN, "the engine registered %s with other properties than this "
                       "version's (%s)" % (" and ".join(stale), ", ".join(sorted(wanted))),
                       hints.RESTART + ", so the engine rediscovers the units")
    return Finding("external units", OK, "the engine discovered VfFilter and VfWeight; both enabled")


def _policy_use(engine: lookup.Engine, clusters: list, units: Dict[str, object]) -> Finding:
    policies = engine.system.scheduling_policies_service()
    vf_filter = units.get("VfFilter")
    using, cache = [], {}
    for cluster in clusters:
        policy_id = cluster.scheduling_policy.id if cluster.scheduling_policy else None
        if policy_id and policy_id not in cache:
            cache[policy_id] = {f.scheduling_policy_unit.id for f in engine.call(
                "reading policy filters", lambda: policies.policy_service(policy_id).filters_service().list())}
        if vf_filter is not None and vf_filter.id in cache.get(policy_id, ()):
            using.append(cluster.name)
    if not using:
        return Finding("cluster policies", WARN, "no cluster's scheduling policy uses VfFilter yet",
                       "ovirt-vf-scheduler policy --cluster NAME (or copy a policy in the admin portal)")
    return Finding("cluster policies", OK, "VfFilter is in the scheduling policy of %d of %d clusters: %s"
                   % (len(using), len(clusters), output.listed(sorted(using))))


def engine_capacity_finding(settings: Settings, hosts: List[HostRecord]) -> Finding:
    counts = {h.name: engine_capacity(h, settings.vf_driver)[0] for h in hosts}
    with_vfs = sorted(name for name, vfs in counts.items() if vfs)
    without = sorted(name for name, vfs in counts.items() if not vfs)
    relevant = settings.capacity_source in ("engine", "min")
    if not with_vfs:
        return Finding("capacity: engine", WARN if relevant else OK,
                       "the engine shows no %s VF on any of %d hosts" % (settings.vf_driver, len(hosts)),
                       "check [scheduler] vf_driver (the VFs' kernel driver) and that the hosts have VFs; "
                       "or use capacity_source = ucsm" if relevant else "")
    vfs = sorted(v for v in counts.values() if v)
    return Finding("capacity: engine", OK, "%d of %d hosts offer %s VFs (%d-%d)%s" % (
        len(with_vfs), len(hosts), settings.vf_driver, vfs[0], vfs[-1],
        "; none on %s" % output.listed(without) if without else ""))
