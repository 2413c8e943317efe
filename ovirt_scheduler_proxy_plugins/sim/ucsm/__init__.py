"""A fake Cisco UCS Manager XML API server (POST /nuova) for tests and demos.

It speaks the subset in docs/ucsm-xml-api.md: session methods with cookies and a per-user
session limit, the configResolve* queries and configScope with inFilter (eq, ne, wcard, and,
or, not; checked as UCS-M takes filters, see filters._in_filter), both error forms, and faults
(hang, HTTP errors, broken XML, entity bombs, expired cookies). Besides servers and their
service profiles it serves VM-FEX port profiles (fabric/lan/profiles/vnic-NAME) with their VLANs
and profile clients (docs/port-profiles.md §1). Objects carry every attribute ucsmsdk 0.9.27 knows
for their class, so documents are as large as real ones. Sample values are invented; only the
names are real.

It also learns to be written: configConfMo / configConfMos for the classes `port-profiles export`
writes (VLANs, QoS policies, port profiles with their VLAN memberships and clients), every value
checked against ucsmsdk's metadata, and later reads see the writes.

Modules: samples (the domain as plain values), objects (class templates and the objects built
from the samples), filters (the inFilter language), metadata and writes (what configConfMo(s)
accepts and does), server (sessions, queries, faults, HTTP).
"""
from .objects import RESERVED_VLANS_DN, build_objects
from .samples import (EXTRA_POLICY_DNS, SPARE_PROFILE_DN, SPARE_PROFILE_UUID, SPARE_SERVER_DN,
                      SPARE_SERVER_SERIAL, SPARE_SERVER_UUID, TEMPLATE_DN, UcsmPortProfile, UcsmQosPolicy,
                      UcsmServer, UcsmVlan, sample_port_profiles, sample_servers)
from .server import INVENTED_SESSION_LIMIT_CODE, WRITE_METHODS, Faults, FakeUcsm

__all__ = ["EXTRA_POLICY_DNS", "INVENTED_SESSION_LIMIT_CODE", "RESERVED_VLANS_DN", "SPARE_PROFILE_DN", "SPARE_PROFILE_UUID",
           "SPARE_SERVER_DN", "SPARE_SERVER_SERIAL", "SPARE_SERVER_UUID", "TEMPLATE_DN", "Faults", "FakeUcsm",
           "UcsmPortProfile", "UcsmQosPolicy", "UcsmServer", "UcsmVlan", "WRITE_METHODS", "build_objects",
           "sample_port_profiles", "sample_servers"]
