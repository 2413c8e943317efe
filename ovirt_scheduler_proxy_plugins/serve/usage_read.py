"""The full read of usage, in a child process of `serve` (python -m ...serve.usage_read).

Why a child: at 1,000 hosts the VM list is tens of MB and its parse holds the interpreter for
seconds; in serve's own process every decision running meanwhile would wait for it in turns
(the p95 of decisions tripled). The child reads the config file serve reads (no secret crosses
the pipe), shares the units' token cache, and prints one JSON document on stdout:
  {"newest_event": N, "profiles": {id: [network, port profile]}, "known": [id, ...],
   "vms": [[id, name, status, host, [[plugged, profile], ...]], ...]}
or {"no_events": reason} when the account cannot read events (serve then reads as before),
or {"error": reason}. Exit status 0 in all three cases.
The newest event index is read BEFORE the VMs, so every change after the read is in an event
the view applies on top (usage_events).
"""
import dataclasses
import json
import sys
from typing import List

from .. import config
from ..accounting import VfProfile, VmRecord, VnicRecord, vf_networks
from ..engine import EngineError, EngineSession, EngineUnreachable
from ..store import TokenCache

# A full read is off the decision path, so it may take longer than one decision's request:
# at 1,000 hosts a real engine needs ~18,000 backend queries for it.
READ_TIMEOUT = 300.0


def read(settings: config.Settings) -> dict:
    engine = dataclasses.replace(settings.engine, timeout=max(settings.engine.timeout, READ_TIMEOUT))
    session = EngineSession(engine, TokenCache(settings.cache_dir, engine.url, engine.username, engine.password), None)
    try:
        try:
            newest = session.newest_event()
        except EngineUnreachable:
            raise
        except EngineError as err:
            return {"no_events": str(err)}
        profiles, known = session.vnic_profiles(settings.vf_property)
        vms = session.vms(None, vf_networks(profiles)) if profiles else []
        return {"newest_event": newest, "profiles": {pid: list(p) for pid, p in profiles.items()},
                "known": sorted(known), "vms": [_vm_json(vm) for vm in vms]}
    finally:
        session.close()


def _vm_json(vm: VmRecord) -> list:
    return [vm.vm_id, vm.name, vm.status, vm.host_id, [[nic.plugged, nic.profile_id] for nic in vm.nics]]


def vm_from_json(value: list) -> VmRecord:
    vm_id, name, status, host_id, nics = value
    return VmRecord(vm_id=vm_id, name=name, status=status, host_id=host_id,
                    nics=tuple(VnicRecord(plugged=plugged, profile_id=profile) for plugged, profile in nics))


def profiles_from_json(value: dict) -> dict:
    return {pid: VfProfile(*pair) for pid, pair in value.items()}


def main(argv: List[str]) -> int:
    try:
        result = read(config.load(argv[0]))
    except (config.ConfigError, EngineError) as err:
        result = {"error": " ".join(str(err).split())}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
