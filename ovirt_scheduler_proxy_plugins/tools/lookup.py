"""Names to ids and "the Up hosts of a cluster", through ovirtsdk4 with the units' own account.

The connection is made as engine.EngineSession makes it (the shared token cache, the same
TLS settings and request timeout, closed without logout so the cached token stays valid),
so an operator command sees the engine exactly as the units do.
"""
from typing import Callable, Dict, List, Optional, Sequence, TypeVar

from ..config import Settings
from ..engine import error_line, sdk_connection
from ..store import TokenCache
from ..text import is_uuid
from . import output
from .common import ToolError

T = TypeVar("T")


class Engine:
    """One SDK connection for one command; `fresh_login` ignores the cached token (so a wrong
    password cannot hide behind a still-valid token)."""

    def __init__(self, settings: Settings, fresh_login: bool = False):
        import ovirtsdk4   # heavy: only commands that talk to the engine pay for it
        self.sdk = ovirtsdk4
        self.settings = settings
        engine = settings.engine
        self._tokens = TokenCache(settings.cache_dir, engine.url, engine.username, engine.password)
        try:
            self.conn = sdk_connection(engine, None if fresh_login else self._tokens.load())
        except ovirtsdk4.Error as err:
            raise ToolError("cannot set up the connection to the engine at %s: %s"
                            % (engine.url, error_line(err))) from None
        self.system = self.conn.system_service()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(save_token=exc_type is None)

    def save_token(self) -> None:
        """Share the session with the units: they reuse the cached token instead of logging in."""
        try:
            token = self.conn.authenticate()
            if token:
                self._tokens.save(token)
        except Exception:   # noqa: BLE001 - best effort, the command's answer is already made
            pass

    def close(self, save_token: bool = True) -> None:
        """Never log out (that revokes the token the units share); after a failure, do not even
        ask for a token (a hung SSO would hang the exit too)."""
        if save_token:
            self.save_token()
        self.conn.close(logout=False)

    def call(self, what: str, request: Callable[[], T]) -> T:
        """Run one SDK request; any SDK failure becomes one line naming the engine and `what`."""
        try:
            return request()
        except self.sdk.Error as err:
            raise ToolError("engine %s: %s failed: %s" % (self.settings.engine.url, what, error_line(err))) from None


def pick(kind: str, wanted: str, items: list, url: str):
    """The item whose id or exact name is `wanted`; else a case-insensitive unique match."""
    exact = [item for item in items if wanted in (item.id, item.name)]
    if not exact:
        exact = [item for item in items if (item.name or "").lower() == wanted.lower()]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise ToolError("%s %r is ambiguous in the engine at %s: use its id" % (kind, wanted, url))
    known = " (known: %s)" % output.listed(sorted(item.name or item.id for item in items)) if items else ""
    raise ToolError("no %s %r in the engine at %s%s" % (kind, wanted, url, known))


def _quoted(value: str) -> str:
    return '"%s"' % value.replace('"', "")


def vm(engine: Engine, name_or_id: str):
    """The VM called `name_or_id` (or with that id)."""
    service = engine.system.vms_service()
    if is_uuid(name_or_id):
        try:
            return service.vm_service(name_or_id).get()
        except engine.sdk.NotFoundError:
            raise ToolError("no VM with id %s in the engine at %s"
                            % (name_or_id, engine.settings.engine.url)) from None
        except engine.sdk.Error as err:
            raise ToolError("engine %s: reading VM %s failed: %s"
                            % (engine.settings.engine.url, name_or_id, error_line(err))) from None
    found = engine.call("searching VM %s" % name_or_id,
                        lambda: service.list(search="name=%s" % _quoted(name_or_id)))
    return pick("VM", name_or_id, found, engine.settings.engine.url)


def clusters(engine: Engine) -> list:
    return engine.call("listing clusters", lambda: engine.system.clusters_service().list())


def cluster(engine: Engine, name_or_id: str):
    return pick("cluster", name_or_id, clusters(engine), engine.settings.engine.url)


def cluster_versions(the_clusters: list) -> List[str]:
    """'4.7' style compatibility versions of the clusters (engine options are kept per version)."""
    return sorted({"%d.%d" % (c.version.major, c.version.minor) for c in the_clusters if c.version})


def cluster_by_id(engine: Engine, cluster_id: str):
    return engine.call("reading cluster %s" % cluster_id,
                       lambda: engine.system.clusters_service().cluster_service(cluster_id).get())


def all_hosts(engine: Engine) -> list:
    return engine.call("listing hosts", lambda: engine.system.hosts_service().list())


def host(engine: Engine, name_or_id: str):
    return pick("host", name_or_id, all_hosts(engine), engine.settings.engine.url)


def hosts(engine: Engine, names_or_ids: Sequence[str]) -> list:
    """Hosts by name or id, in the order given (duplicates dropped); one listing for all."""
    known = all_hosts(engine)
    picked = [pick("host", wanted, known, engine.settings.engine.url) for wanted in names_or_ids]
    return list({h.id: h for h in picked}.values())


def up_hosts(engine: Engine, the_cluster) -> list:
    """The Up hosts of the cluster: the engine's candidates for a start or a migration."""
    search = "cluster=%s" % _quoted(the_cluster.name)
    found = engine.call("listing the hosts of cluster %s" % the_cluster.name,
                        lambda: engine.system.hosts_service().list(search=search))
    return [h for h in found
            if h.cluster is not None and h.cluster.id == the_cluster.id and str(_value(h.status)) == "up"]


def _value(enum_or_none) -> Optional[str]:
    return getattr(enum_or_none, "value", enum_or_none)


def status(obj) -> str:
    return str(_value(obj.status) or "?")


def properties(the_cluster) -> Dict[str, str]:
    """The cluster's scheduling-policy properties: what the proxy passes to the units as args."""
    return {p.name: p.value or "" for p in the_cluster.custom_scheduling_policy_properties or ()}
