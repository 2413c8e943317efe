"""The INI file and the cluster's policy properties, validated once into one immutable Settings.

Every error names the file, section and key, because the operator reading it is looking at
a scheduling failure, not at this code.
"""
import configparser
import ipaddress
import os
import re
import stat
from urllib.parse import urlsplit
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from .decide import WEIGHT_MODES

DEFAULT_CONF = "/etc/ovirt-scheduler-proxy/ovirt-vf-scheduler.conf"
CONF_ENV = "OVIRT_VF_SCHEDULER_CONF"

CAPACITY_SOURCES = ("engine", "ucsm", "min")
ON_ERROR = ("open", "closed")
NARROWING_MODES = ("auto", "off")
PORT_PROFILE_RULES = ("check", "ignore")
# UCS-M QoS system classes a VM network may use (epqosEgress.prio without fc, the FCoE class).
EXPORT_QOS_PRIORITIES = ("best-effort", "bronze", "silver", "gold", "platinum")
# The vmfex regex the oVirt feature page documents for CustomDeviceProperties (docs/port-profiles.md §3).
DOCUMENTED_VF_REGEX = "^[a-zA-Z0-9_.-]{2,32}$"
PROXY_BUDGET = 30.0   # the proxy kills every unit of a call after 30 s
SERVICE_USER = "ovirt"   # the units run as the proxy's user (ovirt-vf-scheduler.service, ovirt-scheduler-proxy)


class ConfigError(Exception):
    """One line for the operator: where the bad input is and what was expected."""


@dataclass(frozen=True)
class EngineSettings:
    url: str
    username: str
    password: str = field(repr=False)
    ca_file: Optional[str] = None
    insecure: bool = False
    timeout: float = 5.0
    password_file: Optional[str] = None     # where the password came from (check reads it as the units' user)


@dataclass(frozen=True)
class UcsmSection:
    """[ucsm]: the UCS domains, how to log in, the cache and the rules that use UCS-M (port profiles,
    export); ucsm_facts.ucsm_settings() derives the client's ucsm_source.UcsmSettings from it."""
    urls: Tuple[str, ...]
    username: str
    password: str = field(repr=False)
    ca_file: Optional[str] = None
    insecure: bool = False
    timeout: float = 5.0
    cache_ttl: float = 300.0
    host_map: Tuple[Tuple[str, str], ...] = ()
    port_profiles: str = "check"        # check: drop hosts whose UCS domain lacks the VM's port profiles
    password_file: Optional[str] = None
    export_max_ports: int = 64          # port-profiles export: vnicProfile.maxPorts
    export_qos_priority: str = "best-effort"   # port-profiles export: epqosEgress.prio (never fc, FCoE's class)


DEFAULT_LISTEN = ("127.0.0.1", 18781)     # the engine's default ExternalSchedulerServiceURL
DEFAULT_PLUGINS_DIR = "/usr/share/ovirt-scheduler-proxy/plugins"


@dataclass(frozen=True)
class ServeSettings:
    """[serve]: where `ovirt-vf-scheduler serve` listens, who may call it, and other plugins."""
    listen: Tuple[str, int] = DEFAULT_LISTEN
    plugins_dir: str = DEFAULT_PLUGINS_DIR
    allow_remote: bool = False          # the protocol has no authentication
    allowed_users: Optional[Tuple[str, ...]] = None     # names or uids; None: ovirt, root and serve's own user
    allowed_hosts: Tuple[str, ...] = ()                 # remote callers (addresses or networks)
    read_deadline: float = 10.0         # seconds to receive a whole request, from its first byte


@dataclass(frozen=True)
class Settings:
    path: str
    engine: EngineSettings
    vf_property: str = "vmfex"
    vf_property_regex: str = DOCUMENTED_VF_REGEX   # what the engine's CustomDeviceProperties accepts
    capacity_source: str = "engine"
    vf_driver: str = "enic"
    reserve: int = 0
    on_error: str = "open"
    deadline: float = 10.0
    weight_mode: str = "spread"
    capacity_ttl: float = 300.0
    claims: bool = True                 # pending claims (claims.py); off only to measure without them
    claim_ttl: float = 120.0
    claim_hosts: int = 32               # the most hosts one pending claim may go to (narrowing.py)
    narrowing: str = "auto"             # auto: hold back hosts so claims stay exact; off: keep every host that fits
    claim_wait: float = 8.0             # seconds the filter may wait for pending placements to show
    usage_max_age: float = 2.0          # serve: seconds a usage view may serve later decisions unasked
    usage_events: bool = True           # serve: keep usage from the engine's events (docs/engine-events.md)
    usage_resync: float = 300.0         # serve with events: seconds between two full reads of usage
    cache_dir: str = "/var/cache/ovirt-vf-scheduler"
    log_file: str = "/var/log/ovirt-scheduler-proxy/ovirt-vf-scheduler.log"
    ucsm: Optional[UcsmSection] = None
    serve: ServeSettings = ServeSettings()
    warnings: Tuple[str, ...] = ()      # logged once the log is open (config loads before it)
    files: Tuple[str, ...] = ()         # every file read (config, password files): serve reloads on change

    @property
    def keep_unknown(self) -> bool:
        """Fail-open keeps hosts whose capacity could not be determined."""
        return self.on_error == "open"

    @property
    def checks_port_profiles(self) -> bool:
        """The port-profile rule applies: UCS-M is configured and the rule is not switched off."""
        return self.ucsm is not None and self.ucsm.port_profiles == "check"


# --- value parsers: each returns the value or raises ValueError("expected ...") ---

def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("expected a non-empty value")
    return raw.strip()


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise ValueError("expected true or false")


def _count(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number >= 0") from None
    if value < 0:
        raise ValueError("expected a whole number >= 0")
    return value


_count.engine_regex = "^[0-9]+$"      # type: ignore[attr-defined]


def _positive(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError("expected a whole number >= 1")
    return value


def _seconds(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number of seconds > 0") from None
    if not value > 0:
        raise ValueError("expected a number of seconds > 0")
    return value


def _age(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number of seconds >= 0") from None
    if not value >= 0:
        raise ValueError("expected a number of seconds >= 0")
    return value


def parse_listen(raw: str) -> Tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT or :PORT (loopback); port 0 = any free port (tests)."""
    host, sep, port = raw.strip().rpartition(":")
    host = host.strip("[]") or DEFAULT_LISTEN[0]
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:18781")
    return host, int(port)


def _deadline(raw: str) -> float:
    value = _seconds(raw)
    if value > PROXY_BUDGET - 2:
        raise ValueError("expected at most %d seconds (the proxy kills units after %d s)"
                         % (PROXY_BUDGET - 2, PROXY_BUDGET))
    return value


def _max_ports(raw: str) -> int:
    value = _positive(raw)
    if value > 4096:
        raise ValueError("expected a whole number 1..4096 (vnicProfile maxPorts)")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError("expected one of %s" % ", ".join(choices))
        return value
    parse.engine_regex = "^(%s)$" % "|".join(choices)      # type: ignore[attr-defined]
    return parse


def _regex(raw: str) -> str:
    value = _text(raw)
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError("expected a regular expression (%s)" % err) from None
    return value


def _is_url(text: str) -> bool:
    """https:// or http:// with a host (and a valid port, if any): what the clients can connect to."""
    try:
        parts = urlsplit(text)
        parts.port                      # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in text)


class _Secret(ValueError):
    """A bad value that must not be echoed: it holds a secret."""


def _without_user_info(urls: Tuple[str, ...]) -> Tuple[str, ...]:
    """A user name or password in a URL would reach answers and logs with every error naming the URL."""
    if any("@" in urlsplit(url).netloc for url in urls):
        raise _Secret("expected a URL without a user name or password (value not shown): put them in "
                      "username and password_file")
    return urls


def _url(raw: str) -> str:
    url = _without_user_info((raw.strip(),))[0]
    if not _is_url(url):
        raise ValueError("expected an https:// (or http://) URL with a host, "
                         "e.g. https://engine.example.com/ovirt-engine/api")
    return url


def _url_list(raw: str) -> Tuple[str, ...]:
    urls = _without_user_info(tuple(u for u in raw.replace(",", " ").split() if u))
    if not urls or not all(_is_url(u) for u in urls):
        raise ValueError("expected one or more https:// (or http://) URLs with a host, "
                         "separated by spaces or commas")
    return urls


def _words(raw: str) -> List[str]:
    return [word for word in raw.replace(",", " ").split() if word]


def _users(raw: str) -> Tuple[str, ...]:
    users = _words(raw)
    if not users or not all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?", user) for user in users):
        raise ValueError("expected user names or uids, separated by spaces or commas")
    return tuple(users)


def _hosts(raw: str) -> Tuple[str, ...]:
    hosts = _words(raw)
    try:
        for host in hosts:
            ipaddress.ip_network(host, strict=False)
    except ValueError:
        hosts = []
    if not hosts:
        raise ValueError("expected IP addresses or networks (e.g. 192.0.2.10 2001:db8::/64), separated by "
                         "spaces or commas")
    return tuple(hosts)


def _host_map(raw: str) -> Tuple[Tuple[str, str], ...]:
    pairs = []
    for item in raw.replace(",", "\n").splitlines():
        item = item.strip()
        if not item:
            continue
        host, sep, dn = item.partition("=")
        if not sep or not host.strip() or not dn.strip():
            raise ValueError("expected lines 'host name or id = service profile dn', got %r" % item)
        pairs.append((host.strip(), dn.strip()))
    return tuple(pairs)


_ENGINE_KEYS = {"url": _url, "username": _text, "password": str, "password_file": _text,
                "ca_file": _text, "insecure": _bool, "timeout": _seconds}
_SCHEDULER_KEYS = {"vf_property": _text, "vf_property_regex": _regex, "capacity_source": _choice(*CAPACITY_SOURCES),
                   "vf_driver": _text, "reserve": _count, "on_error": _choice(*ON_ERROR),
                   "deadline": _deadline, "weight_mode": _choice(*WEIGHT_MODES),
                   "capacity_ttl": _seconds, "claims": _bool, "claim_ttl": _seconds, "cache_dir": _text,
                   "log_file": _text, "usage_max_age": _age, "claim_hosts": _positive, "claim_wait": _age,
                   "usage_events": _bool, "usage_resync": _seconds, "narrowing": _choice(*NARROWING_MODES)}
_UCSM_KEYS = {"url": _url_list, "username": _text, "password": str, "password_file": _text,
              "ca_file": _text, "insecure": _bool, "timeout": _seconds, "cache_ttl": _seconds,
              "host_map": _host_map, "port_profiles": _choice(*PORT_PROFILE_RULES),
              "export_max_ports": _max_ports, "export_qos_priority": _choice(*EXPORT_QOS_PRIORITIES)}
_SERVE_KEYS = {"listen": parse_listen, "plugins_dir": _text, "allow_remote": _bool, "allowed_users": _users,
               "allowed_hosts": _hosts, "read_deadline": _seconds}
_SECTIONS = {"engine": _ENGINE_KEYS, "scheduler": _SCHEDULER_KEYS, "ucsm": _UCSM_KEYS, "serve": _SERVE_KEYS}

# Per-cluster overrides: scheduling-policy property -> (Settings field, parser).
CLUSTER_PROPERTIES = {
    "vf_reserve": ("reserve", _count),
    "vf_on_error": ("on_error", _choice(*ON_ERROR)),
    "vf_weight_mode": ("weight_mode", _choice(*WEIGHT_MODES)),
    "vf_source": ("capacity_source", _choice(*CAPACITY_SOURCES)),
}
# The engine's custom-properties format: key=regex;key=regex (no ';' inside a regex); each regex is
# the strict spelling of what the property's parser accepts (its engine_regex).
PROPERTIES_VALIDATION = ";".join("%s=%s" % (prop, parse.engine_regex)   # type: ignore[attr-defined]
                                 for prop, (_, parse) in CLUSTER_PROPERTIES.items())


def conf_path() -> str:
    return os.environ.get(CONF_ENV) or DEFAULT_CONF


def state_dir(path: Optional[str] = None) -> Optional[str]:
    """[scheduler] cache_dir of the config file, read leniently, so that a unit failing on a bad config
    still counts the failure where `status` looks; else the default cache_dir if it exists (never
    created on a guess), else None."""
    named = (_lenient_section(path, "scheduler").get("cache_dir") or "").strip()
    return named or (Settings.cache_dir if os.path.isdir(Settings.cache_dir) else None)


def serve_settings(path: Optional[str] = None) -> ServeSettings:
    """[serve] of the config file, read leniently (the default for each unreadable or invalid key), so
    that `check` calls discover where serve listens, and finds its plugins dir, even when another
    section is wrong."""
    values: Dict[str, object] = {}
    for key, raw in _lenient_section(path, "serve").items():
        try:
            values[key] = _SERVE_KEYS[key](raw)
        except (KeyError, ValueError):
            continue
    return ServeSettings(**values)


def named_files(path: str) -> Tuple[str, ...]:
    """The config file and the password files it names, read leniently: what a broken config's fix
    may change (serve watches them to pick the fix up; a loaded Settings has them in `files`)."""
    named = (_lenient_section(path, section).get("password_file", "").strip() for section in ("engine", "ucsm"))
    return (path,) + tuple(name for name in named if name)


def _lenient_section(path: Optional[str], section: str) -> Dict[str, str]:
    """The file's `section` as raw text (empty when the file is unreadable or not INI)."""
    parser = configparser.ConfigParser(interpolation=None, default_section="__no_defaults__", strict=False)
    try:
        parser.read(path or conf_path(), encoding="utf-8")
        return dict(parser.items(section, raw=True)) if parser.has_section(section) else {}
    except (configparser.Error, UnicodeDecodeError):
        return {}


def _read_section(path: str, parser: configparser.ConfigParser, name: str) -> Dict[str, object]:
    known = _SECTIONS[name]
    values: Dict[str, object] = {}
    for key, raw in parser.items(name, raw=True):
        if key not in known:
            raise ConfigError("%s: [%s] %s: unknown key (known: %s)"
                              % (path, name, key, ", ".join(sorted(known))))
        try:
            values[key] = known[key](raw)
        except _Secret as err:
            raise ConfigError("%s: [%s] %s: %s" % (path, name, key, err)) from None
        except ValueError as err:
            raise ConfigError("%s: [%s] %s: %s, got %r" % (path, name, key, err, raw)) from None
    return values


def _require(path: str, section: str, values: Mapping[str, object], key: str) -> object:
    if key not in values:
        raise ConfigError("%s: [%s] %s: missing (required)" % (path, section, key))
    return values[key]


def _exposure_warning(holder: str, what: str) -> Optional[str]:
    """A secret readable by group or others deserves a line in the log (never the secret)."""
    try:
        mode = os.stat(holder).st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return "%s holding the %s is readable by group/others (mode %o): chmod 600 it" % (
            holder, what, stat.S_IMODE(mode))
    return None


def _password(path: str, section: str, values: Mapping[str, object],
              warnings: list, files: list) -> str:
    """The password comes from the file itself or from password_file, never both."""
    if "password" in values and "password_file" in values:
        raise ConfigError("%s: [%s] password, password_file: set only one of them" % (path, section))
    if "password_file" in values:
        secret_path = str(values["password_file"])
        try:
            with open(secret_path, encoding="utf-8") as secret:
                password = secret.readline().rstrip("\r\n")
        except OSError as err:
            raise ConfigError("%s: [%s] password_file: cannot read %s: %s"
                              % (path, section, secret_path, err.strerror or err)) from None
        except UnicodeDecodeError:        # the error would show bytes of the secret: never
            raise ConfigError("%s: [%s] password_file: %s is not UTF-8 text" % (path, section, secret_path)) from None
        if not password:
            raise ConfigError("%s: [%s] password_file: %s is empty" % (path, section, secret_path))
        holder = secret_path
        files.append(secret_path)
    else:
        password = str(_require(path, section, values, "password"))
        holder = path
    warning = _exposure_warning(holder, "[%s] password" % section)
    if warning:
        warnings.append(warning)
    return password


def is_plain_http(url: str) -> bool:
    return urlsplit(url).scheme == "http"


def plain_http_warnings(settings: Settings) -> List[str]:
    """One line per http:// URL: logged on every run and printed by the operator commands."""
    urls = [("engine", settings.engine.url)] + [("ucsm", url) for url in (settings.ucsm.urls if settings.ucsm else ())]
    return ["[%s] url %s is plain http: the password and the session cross the network unencrypted; "
            "use https://" % (section, url) for section, url in urls if is_plain_http(url)]


def _server_section(path: str, parser: configparser.ConfigParser, name: str, cls, warnings: list,
                    files: list):
    """[engine] and [ucsm]: url, username and a password are required, the rest has defaults."""
    values = _read_section(path, parser, name)
    for key in ("url", "username"):
        _require(path, name, values, key)
    fields = {key: value for key, value in values.items() if key not in ("password", "password_file")}
    fields["password"] = _password(path, name, values, warnings, files)
    fields["password_file"] = values.get("password_file")
    if cls is UcsmSection:
        fields["urls"] = fields.pop("url")
    return cls(**fields)


def load(path: Optional[str] = None) -> Settings:
    """Read and validate the config file; raise ConfigError with one clear line."""
    path = path or conf_path()
    parser = configparser.ConfigParser(interpolation=None, default_section="__no_defaults__")
    try:
        with open(path, "rb") as conf:
            raw = conf.read()
        parser.read_string(raw.decode("utf-8"), source=path)
    except UnicodeDecodeError as err:    # where, not what: the line may hold a password
        raise ConfigError("%s: not UTF-8 text (line %d)" % (path, raw[:err.start].count(b"\n") + 1)) from None
    except OSError as err:
        raise ConfigError("%s: cannot read the config file: %s (set %s to use another file)"
                          % (path, err.strerror or err, CONF_ENV)) from None
    except configparser.Error as err:
        raise ConfigError("%s: not a valid INI file: %s" % (path, str(err).splitlines()[0])) from None
    for section in parser.sections():
        if section not in _SECTIONS:
            raise ConfigError("%s: [%s]: unknown section (known: %s)"
                              % (path, section, ", ".join(sorted(_SECTIONS))))
    if not parser.has_section("engine"):
        raise ConfigError("%s: [engine]: missing section (url, username, password)" % path)
    warnings: list = []
    files = [path]
    engine = _server_section(path, parser, "engine", EngineSettings, warnings, files)
    scheduler = _read_section(path, parser, "scheduler") if parser.has_section("scheduler") else {}
    ucsm = _server_section(path, parser, "ucsm", UcsmSection, warnings, files) \
        if parser.has_section("ucsm") else None
    serve = ServeSettings(**_read_section(path, parser, "serve")) if parser.has_section("serve") else ServeSettings()
    settings = Settings(path=path, engine=engine, ucsm=ucsm, serve=serve, files=tuple(files), **scheduler)
    _check_source(settings, "%s: [scheduler] capacity_source" % path)
    return replace(settings, warnings=tuple(warnings + plain_http_warnings(settings)))


def _check_source(settings: Settings, where: str) -> None:
    if settings.capacity_source in ("ucsm", "min") and settings.ucsm is None:
        raise ConfigError("%s: %r needs a [ucsm] section (url, username, password)"
                          % (where, settings.capacity_source))


def with_cluster_properties(settings: Settings, props: Mapping[str, str]) -> Settings:
    """Apply the cluster's scheduling-policy properties (what the proxy passes as args).

    Properties of other units are ignored: the engine sends the union of all units' keys.
    """
    changes = {}
    for prop, (attr, parse) in CLUSTER_PROPERTIES.items():
        if prop not in props:
            continue
        raw = props[prop]
        try:
            changes[attr] = parse(str(raw))
        except ValueError as err:
            raise ConfigError("cluster scheduling policy property %s: %s, got %r"
                              % (prop, err, raw)) from None
    if not changes:
        return settings
    updated = replace(settings, **changes)
    _check_source(updated, "cluster scheduling policy property vf_source")
    return updated
