"""Host devices: what vdsm reports for a Cisco UCS B200 M5 with a VIC (docs/vmfex-hosts.md §4-§5)."""
from typing import List, NamedTuple, Optional, Tuple

from ..inventory import SimHost
from .common import host_mac

class _Dev(NamedTuple):
    name: str
    capability: str
    parent: Optional[str]
    driver: Optional[str] = None
    product: Optional[Tuple[str, str]] = None      # (id, name)
    vendor: Optional[Tuple[str, str]] = None
    physfn: Optional[str] = None                   # VFs: the PF device name
    totalvfs: Optional[int] = None                 # PFs with VFs


_INTEL = ("0x8086", "Intel Corporation")
_CISCO = ("0x1137", "Cisco Systems Inc")
_VIC_PF = ("0x0043", "VIC Ethernet NIC")
_VIC_VF = ("0x0071", "VIC SR-IOV VF")
_VIC_BUS = 0x1c                                    # the PF that carries the VFs: pci_0000_1c_00_0


def _pci(bus: int, slot: int, func: int) -> str:
    return "pci_0000_%02x_%02x_%d" % (bus, slot, func)


def _padding_devices() -> List[_Dev]:
    """The host-independent part: chipset, uncore, VIC bridges, RAID, SCSI hosts and USB."""
    devs = [_Dev("computer", "system", None)]
    chipset = [((0, 0), "2020", "Sky Lake-E DMI3 Registers", None)]
    chipset += [((4, f), "2021", "Sky Lake-E CBDMA Registers", "ioatdma") for f in range(8)]
    chipset += [((5, 0), "2024", "Sky Lake-E MM/Vt-d Configuration Registers", None),
                ((5, 2), "2025", "Sky Lake-E RAS", None), ((5, 4), "2026", "Sky Lake-E IOAPIC", None),
                ((8, 0), "2014", "Sky Lake-E Ubox Registers", None),
                ((8, 1), "2015", "Sky Lake-E Ubox Registers", None),
                ((8, 2), "2016", "Sky Lake-E Ubox Registers", None),
                ((0x11, 0), "a1ec", "C620 Series Chipset Family MROM 0", None),
                ((0x11, 5), "a1d2", "C620 Series Chipset Family SSATA Controller [AHCI mode]", "ahci"),
                ((0x14, 0), "a1af", "C620 Series Chipset Family USB 3.0 xHCI Controller", "xhci_hcd"),
                ((0x14, 2), "a1b1", "C620 Series Chipset Family Thermal Subsystem", "intel_pch_thermal"),
                ((0x16, 0), "a1ba", "C620 Series Chipset Family MEI Controller #1", "mei_me"),
                ((0x16, 1), "a1bb", "C620 Series Chipset Family MEI Controller #2", None),
                ((0x16, 4), "a1be", "C620 Series Chipset Family MEI Controller #3", None),
                ((0x17, 0), "a182", "C620 Series Chipset Family SATA Controller [AHCI mode]", "ahci"),
                ((0x1c, 0), "a190", "C620 Series Chipset Family PCI Express Root Port #1", "pcieport"),
                ((0x1c, 5), "a195", "C620 Series Chipset Family PCI Express Root Port #6", "pcieport"),
                ((0x1f, 0), "a1c3", "C620 Series Chipset Family LPC/eSPI Controller", None),
                ((0x1f, 2), "a1a1", "C620 Series Chipset Family Power Management Controller", None),
                ((0x1f, 4), "a1a3", "C620 Series Chipset Family SMBus", "i801_smbus"),
                ((0x1f, 5), "a1a4", "C620 Series Chipset Family SPI Controller", None)]
    for (slot, func), pid, pname, driver in chipset:
        devs.append(_Dev(_pci(0, slot, func), "pci", "computer", driver, ("0x" + pid, pname), _INTEL))
    devs.append(_Dev(_pci(3, 0, 0), "pci", _pci(0, 0x1c, 5), "mgag200",
                     ("0x0522", "MGA G200e [Pilot] ServerEngines (SEP1)"),
                     ("0x102b", "Matrox Electronics Systems Ltd.")))
    for bus in (0x17, 0x3a, 0x5d, 0x85, 0xae, 0xd7):          # one IIO stack per PCIe root
        devs += [_Dev(_pci(bus, 0, 0), "pci", "computer", "pcieport",
                      ("0x2030", "Sky Lake-E PCI Express Root Port A"), _INTEL),
                 _Dev(_pci(bus, 5, 0), "pci", "computer", None,
                      ("0x2034", "Sky Lake-E VT-d"), _INTEL),
                 _Dev(_pci(bus, 5, 2), "pci", "computer", None,
                      ("0x2035", "Sky Lake-E RAS Configuration Registers"), _INTEL),
                 _Dev(_pci(bus, 5, 4), "pci", "computer", None,
                      ("0x2036", "Sky Lake-E IOxAPIC Configuration Registers"), _INTEL)]
    for bus in (0x16, 0x64):                                  # uncore, one bus per socket
        devs += [_Dev(_pci(bus, 8 + f // 8, f % 8), "pci", "computer", None,
                      ("0x208d", "Sky Lake-E CHA Registers"), _INTEL) for f in range(10)]
        devs += [_Dev(_pci(bus, 0x1e, f), "pci", "computer", None,
                      ("0x%x" % (0x2080 + f), "Sky Lake-E PCU Registers"), _INTEL) for f in range(5)]
    # Cisco VIC: upstream switch port, five downstream ports, management, eth0, eth1, two FCoE HBAs.
    devs.append(_Dev(_pci(0x18, 0, 0), "pci", _pci(0x17, 0, 0), "pcieport",
                     ("0x0040", "VIC PCIe Upstream Port"), _CISCO))
    endpoints = [(0x1a, None, ("0x0042", "VIC Management Controller")),
                 (0x1b, "enic", _VIC_PF), (_VIC_BUS, "enic", _VIC_PF),
                 (0x1d, "fnic", ("0x0045", "VIC FCoE HBA")), (0x1e, "fnic", ("0x0045", "VIC FCoE HBA"))]
    for port, (bus, driver, product) in enumerate(endpoints):
        devs.append(_Dev(_pci(0x19, port, 0), "pci", _pci(0x18, 0, 0), "pcieport",
                         ("0x0041", "VIC PCIe Downstream Port"), _CISCO))
        if bus != _VIC_BUS:                                    # the VF-carrying PF is per host
            devs.append(_Dev(_pci(bus, 0, 0), "pci", _pci(0x19, port, 0), driver, product, _CISCO))
    devs.append(_Dev(_pci(0x3b, 0, 0), "pci", _pci(0x3a, 0, 0), "megaraid_sas",
                     ("0x005d", "MegaRAID SAS-3 3108 [Invader]"), ("0x1000", "Broadcom / LSI")))
    devs += [_Dev("scsi_host0", "scsi_host", _pci(0x3b, 0, 0)),
             _Dev("scsi_target0_2_0", "scsi_target", "scsi_host0"),
             _Dev("scsi_0_2_0_0", "scsi", "scsi_target0_2_0"),
             _Dev("block_sda_3600605b00d9a7d502a1b3c4d5e6f7a8b", "storage", "scsi_0_2_0_0"),
             _Dev("scsi_generic_sg0", "scsi_generic", "scsi_0_2_0_0")]
    devs += [_Dev("scsi_host%d" % n, "scsi_host", _pci(0, 0x11 if n <= 6 else 0x17, 5 if n <= 6 else 0))
             for n in range(1, 13)]
    devs += [_Dev("scsi_host13", "scsi_host", _pci(0x1d, 0, 0)),
             _Dev("scsi_host14", "scsi_host", _pci(0x1e, 0, 0))]
    linux = ("0x1d6b", "Linux Foundation")
    devs += [_Dev("usb_usb1", "usb_device", _pci(0, 0x14, 0), "usb", ("0x0002", "2.0 root hub"), linux),
             _Dev("usb_usb2", "usb_device", _pci(0, 0x14, 0), "usb", ("0x0003", "3.0 root hub"), linux),
             _Dev("usb_1_0_1_0", "usb", "usb_usb1", "hub"),
             _Dev("usb_2_0_1_0", "usb", "usb_usb2", "hub"),
             _Dev("usb_1_1", "usb_device", "usb_usb1", "usb", ("0x0249", "Virtual Keyboard and Mouse"),
                  ("0x0624", "Avocent Corp.")),
             _Dev("usb_1_1_1_0", "usb", "usb_1_1", "usbhid"),
             _Dev("usb_1_1_1_1", "usb", "usb_1_1", "usbhid"),
             _Dev("net_lo_00_00_00_00_00_00", "net", "computer")]
    return devs


_PADDING = _padding_devices()


def vf_name(i: int) -> Tuple[int, int, int]:
    """(bus, slot, func) of VF i of the PF at _VIC_BUS:00.0 (VF routing ids follow the PF)."""
    devfn = i + 1
    return _VIC_BUS, devfn // 8, devfn % 8


def devices_of_host(host: SimHost) -> List[_Dev]:
    eth0, eth1 = host_mac(host, "eth0"), host_mac(host, "eth1")
    pf = _pci(_VIC_BUS, 0, 0)
    devs = list(_PADDING)
    devs += [_Dev(pf, "pci", _pci(0x19, 2, 0), "enic", _VIC_PF, _CISCO,
                  totalvfs=host.vf_devices or None),
             _Dev("net_eth0_" + eth0.replace(":", "_"), "net", _pci(0x1b, 0, 0)),
             _Dev("net_eth1_" + eth1.replace(":", "_"), "net", pf),
             _Dev("net_ovirtmgmt_" + eth0.replace(":", "_"), "net", "computer")]
    for i in range(host.vf_devices):
        bus, slot, func = vf_name(i)
        vf = _pci(bus, slot, func)
        devs.append(_Dev(vf, "pci", pf, host.vf_driver, _VIC_VF, _CISCO, physfn=pf))
        if host.vf_driver == "enic":          # a VF bound to vfio-pci has no netdev
            devs.append(_Dev("net_enp%ds%df%d_00_00_00_00_00_00" % (bus, slot, func), "net", vf))
    return devs
