"""Cisco UCS Manager as a data source: dynamic vNICs (VM-FEX VFs) per oVirt host, port profiles per domain."""
from .client import (UcsmAuthError, UcsmError, UcsmProtocolError, UcsmSessionError,
                     UcsmUnavailable)
from .model import HostIdentity, PortProfile, UcsmCapacity, UcsmReading, UcsmSettings
from .source import read_domains

__all__ = ["HostIdentity", "PortProfile", "UcsmAuthError", "UcsmCapacity", "UcsmError", "UcsmProtocolError",
           "UcsmReading", "UcsmSessionError", "UcsmSettings", "UcsmUnavailable", "read_domains"]
