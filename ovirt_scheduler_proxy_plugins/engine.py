"""Reads what a decision needs from the engine, through ovirtsdk4 only.

Query plan (engine-rest.md section 2, narrowed so documents stay small on big engines):
  1. GET /vnicprofiles?follow=network        -> which profiles carry the VF property, and their networks
  2. GET /vms?search=id=<vm> or vnic.network_name=<net> and status!=Down ...&follow=nics
                                              -> the scheduled VM (demand) + every running VM on those
                                                 networks (usage), whatever host it runs on
  3. GET /hosts?follow=nics,devices&all_content=true
                                              -> capacity of every host; only when the cache is cold
No request at all depends on the number of candidate hosts, and a VM without VF vNICs stops
after step 2. The SDK client is used as is; its SSO login has no timeout, so the caller's
deadline watchdog bounds the whole run.
"""
import logging
import re
import time
from typing import Dict, FrozenSet, List, Optional

from .accounting import HostRecord, VmRecord, VnicRecord
from .config import EngineSettings
from .model import DataSourceError
from .store import TokenCache

LOG = logging.getLogger("ovirt_vf_scheduler.engine")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Network names that can go into a search term as they are; anything else (spaces, quotes,
# wildcards) falls back to the broader "every running VM" query, which is still correct.
_SEARCHABLE = re.compile(r"^[A-Za-z0-9_.-]+$")


class EngineError(DataSourceError):
    """The engine could not give a usable answer."""


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value or ""))


def _status(vm) -> str:
    return vm.status.value if vm.status is not None else "unknown"


def _vm_record(vm) -> VmRecord:
    nics = tuple(VnicRecord(plugged=bool(nic.plugged),
                            profile_id=nic.vnic_profile.id if nic.vnic_profile is not None else None)
                 for nic in (vm.nics or ()))
    return VmRecord(vm_id=vm.id, name=vm.name or vm.id, status=_status(vm),
                    host_id=vm.host.id if vm.host is not None else None, nics=nics)


def _host_record(host) -> HostRecord:
    drivers = tuple(dev.driver or "" for dev in (host.devices or ()) if dev.physical_function is not None)
    configured = tuple(nic.virtual_functions_configuration.number_of_virtual_functions or 0
                       for nic in (host.nics or ())
                       if nic.virtual_functions_configuration is not None)
    hardware = host.hardware_information
    return HostRecord(host_id=host.id, name=host.name or host.id, vf_device_drivers=drivers,
                      nic_vfs_configured=configured,
                      hw_uuid=hardware.uuid if hardware is not None else None,
                      serial=hardware.serial_number if hardware is not None else None)


def vm_search(vm_id: str, networks: FrozenSet[str]) -> str:
    """Search for the scheduled VM plus every non-Down VM attached to one of `networks`.

    AND binds tighter than OR in the engine's grammar, so each term needs its own status.
    """
    if networks and all(_SEARCHABLE.match(net) for net in networks):
        terms = ["vnic.network_name=%s and status!=Down" % net for net in sorted(networks)]
    else:
        terms = ["status!=Down"]
    return " or ".join(["id=%s" % vm_id] + terms)


class EngineSession:
    """One SDK connection for one decision, reusing the SSO token other processes cached."""

    def __init__(self, settings: EngineSettings, tokens: TokenCache, deadline: float):
        import ovirtsdk4   # heavy (0.15 s): only on paths that talk to the engine
        self._sdk = ovirtsdk4
        self._tokens = tokens
        self._deadline = deadline
        self.requests: List[str] = []
        remaining = max(1, int(deadline - time.monotonic() + 0.999))
        try:
            self._conn = ovirtsdk4.Connection(
                url=settings.url, username=settings.username, password=settings.password,
                token=tokens.load(), insecure=settings.insecure, ca_file=settings.ca_file,
                timeout=max(1, min(int(settings.timeout + 0.999), remaining)))
        except ovirtsdk4.Error as err:
            raise EngineError("cannot set up the engine connection to %s: %s" % (settings.url, err)) from None
        self._url = settings.url

    def close(self) -> None:
        """Keep the token for the next process: never log out (that would revoke it)."""
        try:
            token = self._conn.authenticate() if self.requests else None
            if token:
                self._tokens.save(token)
        except Exception:   # noqa: BLE001 - saving the token is best effort
            LOG.debug("token not saved", exc_info=True)
        self._conn.close(logout=False)

    def _call(self, what: str, fn):
        self.requests.append(what)
        try:
            return fn()
        except self._sdk.AuthError as err:
            raise EngineError("engine %s refused the credentials (%s): %s"
                              % (self._url, what, _one_line(err))) from None
        except self._sdk.Error as err:
            raise EngineError("engine %s failed on %s: %s" % (self._url, what, _one_line(err))) from None
        except Exception as err:   # noqa: BLE001 - the SDK's XML reader raises plain Exception
            raise EngineError("engine %s sent an unreadable answer to %s: %s"
                              % (self._url, what, _one_line(err))) from None

    def vf_profiles(self, vf_property: str) -> Dict[str, str]:
        """Profile id -> network name, for the vNIC profiles carrying `vf_property`."""
        service = self._conn.system_service().vnic_profiles_service()
        profiles = self._call("GET vnicprofiles", lambda: service.list(follow="network"))
        found = {}
        for profile in profiles:
            names = {prop.name for prop in (profile.custom_properties or ())}
            if vf_property in names:
                network = profile.network
                found[profile.id] = (network.name or "") if network is not None else ""
        return found

    def vms(self, vm_id: str, networks: FrozenSet[str]) -> List[VmRecord]:
        search = vm_search(vm_id, networks)
        service = self._conn.system_service().vms_service()
        vms = self._call("GET vms?search=%s" % search, lambda: service.list(search=search, follow="nics"))
        return [_vm_record(vm) for vm in vms]

    def hosts(self) -> List[HostRecord]:
        service = self._conn.system_service().hosts_service()
        hosts = self._call("GET hosts", lambda: service.list(follow="nics,devices", all_content=True))
        return [_host_record(host) for host in hosts]


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300] if text else type(err).__name__


def find_vm(vms: List[VmRecord], vm_id: str) -> Optional[VmRecord]:
    return next((vm for vm in vms if vm.vm_id == vm_id), None)
