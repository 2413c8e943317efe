"""VfFilter and VfWeight, the VM-FEX / SR-IOV VF scheduling units for oVirt, and their operator tools."""
__version__ = "0.1.0"   # the one place the version is written (setup.cfg and the spec read or check it)
