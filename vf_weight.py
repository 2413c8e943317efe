"""ovirt-scheduler-proxy weight unit VfWeight (ovirt-vf-scheduler plugin module).

Installed into the proxy's plugin directory by `ovirt-vf-scheduler install-plugins`.
The proxy registers every class here that has do_filter/do_score/do_balance, so this module
defines exactly one, and imports only a module (never a class) from the library.
"""
from ovirt_scheduler_proxy_plugins import units


class VfWeight:
    properties_validation = units.PROPERTIES_VALIDATION

    def do_score(self, hosts, vm, args):
        """Prefer hosts by free VM-FEX VFs (spread, pack or reserve; lower score is better)"""
        units.run_weight(hosts, vm, args)
