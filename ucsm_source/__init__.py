"""Cisco UCS Manager as a capacity source: dynamic vNICs (VM-FEX VFs) per oVirt host."""
from .client import (UcsmAuthError, UcsmError, UcsmProtocolError, UcsmSessionError,
                     UcsmUnavailable)
from .model import HostIdentity, UcsmCapacity, UcsmSettings
from .source import read_capacity

__all__ = ["HostIdentity", "UcsmAuthError", "UcsmCapacity", "UcsmError", "UcsmProtocolError",
           "UcsmSessionError", "UcsmSettings", "UcsmUnavailable", "read_capacity"]
