"""A fake oVirt engine (SSO + the REST subset the VF plugins read), for tests, the demo and benchmarks.

Why a fake at all: the plugins talk to the engine only through the real `ovirtsdk4.Connection`, so a
fake that the real client can read back (documents written by the SDK's own writer) exercises the
plugin's real code path, its error handling included. See docs/engine-rest.md §7 for what it
reproduces and what it cannot (no `<link rel=...>` elements, alphabetical element order, no
permissions, no `case_sensitive`).

    with FakeEngine(inventory) as engine:
        conn = ovirtsdk4.Connection(url=engine.url, username="admin@internal", password="secret",
                                    insecure=True)

Behaviour worth knowing (all as the real engine, unless marked "fake choice"):
- SSO: POST /ovirt-engine/sso/oauth/token -> JSON token, 400 JSON access_denied on a bad password;
  POST /ovirt-engine/services/sso-logout revokes the token. API calls without a live bearer token
  get 401 with an empty body (the SDK then logs in once more and retries).
- `follow` inlines linked collections (vms: nics, nics.vnic_profile(.network), cluster, host(.nics,
  .devices, .cluster); hosts: nics, devices, cluster; vnicprofiles: network). A null vnic_profile
  under follow=nics.vnic_profile is an HTTP 500 fault for the whole request. An unknown follow path
  is a 400 fault (fake choice: the real engine's answer is unverified).
- `all_content` (query parameter or All-Content header, inherited through follow) gates
  HostNic.virtual_functions_configuration, HostNic.physical_function and Host.hosted_engine.
- Vm.host only when the status is not down/suspended/image_locked; search (`on_host=`...) agrees.
- Search subset of docs/engine-rest.md §3 with engine enum names for status; an invalid search is
  HTTP 200 with an empty list.
- Query parameters as the engine reads them: by name only (an unknown one is ignored), the first
  of a repeated name, and the last path segment's matrix parameters (`vms;max=2`) like query
  parameters; a trailing slash names the same resource (JAX-RS path matching).
- A `Version` header other than 4 is HTTP 400 with the servlet container's HTML page, no XML fault
  (the engine's VersionFilter calls sendError(400)); without the header the engine serves 4.
- `max` limits vms and hosts; absent, empty or not an integer means no limit: the engine logs a
  bad value and ignores it (ParametersHelper.getIntegerParameter), it answers no fault.
- Scheduling (for `ovirt-vf-scheduler policy`/`check`, empty unless the inventory adds them):
  GET schedulingpolicyunits, schedulingpolicies with their filters/weights/balances (POST adds a
  unit, DELETE removes one, id = the unit's id), POST/PUT schedulingpolicies, PUT clusters/{id}
  (scheduling_policy, custom_scheduling_policy_properties), validated as the engine does (locked
  policies, unit types, duplicates, property keys and regexes) with 409 faults. GET options/{name}
  answers 404 unless Inventory.options makes the option readable (a real engine keeps
  CustomDeviceProperties and ExternalSchedulerEnabled internal). Inventory.forbidden makes
  collections answer 403 to a user (fake choice, for reads and writes).
- vNIC profiles (for `ovirt-vf-scheduler port-profiles sync`): GET networks[/id]; POST vnicprofiles
  (with network.id) and POST networks/{id}/vnicprofiles, validated in AddVnicProfileCommand's order:
  name and network given (400), network exists (409; 404 under networks/{id}), name free on the
  network, custom properties defined in Inventory.device_properties (CustomDeviceProperties,
  interface type) with values matching their regex whole, each refusal a 409 with the engine's
  AppErrors wording. Any other write is 405.
- Documents are sized like real ones: a running VM with 3 nics (follow=nics) is 6.0 KB; a host with
  follow=nics,devices&all_content=true and 16 VFs is 115 KB (159 devices: 123 of a UCS B200 M5's
  chipset/uncore/VIC/RAID/SCSI/USB, the enic PF, 16 VFs and their net_* children).

Performance: serialized per-object fragments are cached, keyed by (id, follow, all_content) and
validated against a snapshot of the object's state, so a mutated inventory is never served stale,
and the bytes equal what one Writer.write() of the whole list gives (`cache=False` is that
reference path, compared in the tests). Measured on loopback, Python 3.11, build_scale_inventory(1000, 20):
  GET hosts?all_content=true&follow=nics,devices (1000 hosts, 113 MB):
      render 5.1 s cold, 0.06 s warm; over HTTP (requests) 5.8 s cold, 0.5 s warm;
      the SDK then needs ~7 s to fetch and parse it (~7 ms per host).
  GET vms?search=on_host=host1 or ... or on_host=host200&follow=nics (4000 VMs, 21 MB):
      render 1.2 s cold, 0.05 s warm; over HTTP 1.4 s cold, 0.1 s warm; SDK fetch+parse 1.5 s.
Cold = first request for those objects: let a benchmark make one warm-up request.

Modules: common (paths, fault, ids and links), query (follow= and search=), devices (a UCS
blade's host devices), documents (the SDK objects for each document), writes (the validated
writes) and server (SSO, dispatch, render cache, HTTP: FakeEngine).
"""
from .common import API, JSON, SSO_LOGOUT_PATH, SSO_TOKEN_PATH, XML
from .server import FakeEngine, Faults, RecordedRequest

__all__ = ["API", "JSON", "SSO_LOGOUT_PATH", "SSO_TOKEN_PATH", "XML", "FakeEngine", "Faults", "RecordedRequest"]
