"""ovirt-scheduler-proxy filter unit VfFilter (ovirt-vf-scheduler plugin module).

Installed into the proxy's plugin directory by `ovirt-vf-scheduler install-plugins`.
The proxy registers every class here that has do_filter/do_score/do_balance, so this module
defines exactly one, and imports only modules (never a class) from the library.
"""
from ovirt_scheduler_proxy_plugins import config, proxy_io


class VfFilter:
    properties_validation = config.PROPERTIES_VALIDATION

    def do_filter(self, hosts, vm, args):
        """Drop hosts without enough free VM-FEX VFs for the VM's vmfex vNICs"""
        proxy_io.run_plugin("VfFilter", hosts, vm, args)
