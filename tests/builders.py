"""Small strict builders for hand-made decision inputs."""
from ovirt_scheduler_proxy_plugins.model import Capacity, HostVfs


def host(host_id="h1", vfs=8, used=0, pending=0, reserve=0, current=False, users=None):
    """A host with `vfs` VFs (None = capacity unknown) and `used` of them held by other VMs."""
    return HostVfs(host_id=host_id, name=host_id, capacity=Capacity(vfs, "engine", 0.0, "test"),
                   used=used, users=used if users is None else users, pending=pending,
                   reserve=reserve, is_current=current)
