"""ovirt-scheduler-proxy weight unit VfWeight (ovirt-vf-scheduler plugin module).

Installed into the proxy's plugin directory by `ovirt-vf-scheduler install-plugins`.
The proxy registers every class here that has do_filter/do_score/do_balance, so this module
defines exactly one, and imports only modules (never a class) from the library.
"""
from ovirt_scheduler_proxy_plugins import config, proxy_io


class VfWeight:
    properties_validation = config.PROPERTIES_VALIDATION

    def do_score(self, hosts, vm, args):
        """Prefer hosts by free VM-FEX VFs (spread, pack or reserve; lower score is better)"""
        proxy_io.run_plugin("VfWeight", hosts, vm, args)
