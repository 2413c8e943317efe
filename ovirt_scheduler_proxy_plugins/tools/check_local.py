"""`check` items that need no engine: the config file, TLS settings, the state directories, the
plugin files in the proxy's directory and the interpreter the proxy runs them with."""
import filecmp
import os
import pwd
import re
import subprocess
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from .. import __version__, config
from ..plugin_files import shipped_files
from . import hints
from .findings import FAIL, OK, WARN, Finding

# On the engine host, apache-ca.pem is the CA of the web server's certificate: a link to the engine CA
# (ca.pem), or the third party's CA once a custom certificate is installed (docs/engine-notes.md).
ENGINE_HOST_CA = "/etc/pki/ovirt-engine/apache-ca.pem"
UCSM_CA_HINT = "set [ucsm] ca_file to the CA that signed the UCS Manager certificate"
PLAIN_HTTP, WRONG_NAME, UNKNOWN_CA, TLS_OTHER = "plain http", "wrong name", "unknown ca", "tls"


def engine_ca_hint(url: str) -> str:
    """Right on the engine host (use its file, never write into /etc/pki/ovirt-engine) and elsewhere."""
    host = urlsplit(url).hostname or "ENGINE_FQDN"
    return ("on the engine host set [engine] ca_file = %s (never replace files in /etc/pki/ovirt-engine); "
            "on another machine fetch the engine CA into a file of its own: curl -o "
            "/etc/ovirt-scheduler-proxy/engine-ca.pem 'http://%s/ovirt-engine/services/pki-resource?"
            "resource=ca-certificate&format=X509-PEM-CA' and set ca_file to it" % (ENGINE_HOST_CA, host))


def tls_trouble(text: str) -> Optional[str]:
    """What a client's TLS error means: the port speaks plain HTTP, the certificate names another host,
    its CA is unknown (or the CA file unusable), another TLS failure, or None (not TLS at all)."""
    if re.search(r"wrong version number|packet length too long|unexpected (TLS|SSL) packet|unknown protocol",
                 text, re.I):
        return PLAIN_HTTP
    if re.search(r"subject name|does not match target host|hostname mismatch|doesn't match", text, re.I):
        return WRONG_NAME
    if re.search(r"\((60|77),|curl error (60|77)\)|verify|unable to get local issuer|self[- ]signed|CA file|"
                 r"certificate", text, re.I):
        return UNKNOWN_CA
    if re.search(r"SSL|TLS|\((35|58),|curl error (35|58)\)", text):
        return TLS_OTHER
    return None
REINSTALL_HINT = "ovirt-vf-scheduler install-plugins --plugins-dir %s, then " + hints.RESTART
_UNIT_CLASS = re.compile(r"^class\s+(VfFilter|VfWeight)\b", re.M)
_IMPORT_PROBE = ("import vf_filter, vf_weight, ovirtsdk4, ovirt_scheduler_proxy_plugins as p; "
                 "print(p.__version__)")


def installed_version() -> str:
    """The version of the code running this check."""
    return __version__


def config_file(path: Optional[str]) -> Tuple[Optional[config.Settings], List[Finding]]:
    """The units' own loader; its warnings (a readable password) become WARN lines."""
    try:
        settings = config.load(path)
    except config.ConfigError as err:
        return None, [Finding("config", FAIL, str(err),
                              "fix the named key; every option is documented in the sample config "
                              "(ovirt-vf-scheduler config --sample); %s selects another file" % config.CONF_ENV)]
    found = [Finding("config", OK, "%s: engine %s as %s; capacity_source=%s, on_error=%s, weight_mode=%s" % (
        settings.path, settings.engine.url, settings.engine.username, settings.capacity_source,
        settings.on_error, settings.weight_mode))]
    plain_http = config.plain_http_warnings(settings)          # the tls lines say it, with their fix
    found += [Finding("config", WARN, warning, "chmod 600 the file (owner: the proxy's user, ovirt)")
              for warning in settings.warnings if warning not in plain_http]
    return settings, found


def tls(section: str, urls: Sequence[str], ca_file: Optional[str], insecure: bool, ca_hint: str) -> Finding:
    """Verification must be on: the units send a password and hold a session token."""
    name = "tls [%s]" % section
    plain = [url for url in urls if config.is_plain_http(url)]
    if plain:
        return Finding(name, WARN, "plain http (%s): the password and session cross the network unencrypted"
                       % ", ".join(plain), "use the https:// URL and " + ca_hint)
    if insecure:
        return Finding(name, WARN, "insecure = true: the server certificate is not verified",
                       ca_hint + ", then remove insecure")
    if ca_file and not os.access(ca_file, os.R_OK):
        return Finding(name, FAIL, "ca_file %s cannot be read" % ca_file, ca_hint)
    return Finding(name, OK, "certificates verified against %s" % (ca_file or "the system trust store"))


def plugin_files(plugins_dir: str) -> List[Finding]:
    """The proxy runs what is in its directory, not what pip installed: they must be the same files,
    and no other module there may define a class of the same name (the last one loaded wins)."""
    if not os.path.isdir(plugins_dir):
        return [Finding("plugin files", FAIL, "%s does not exist" % plugins_dir,
                        "the RPM creates it (ovirt-scheduler-proxy before oVirt 4.5); or pass --plugins-dir, then "
                        + REINSTALL_HINT % plugins_dir)]
    version = installed_version()
    problems, ours = [], set()
    for source in shipped_files():
        name = os.path.basename(source)
        ours.add(name)
        target = os.path.join(plugins_dir, name)
        if not os.path.exists(target):
            problems.append("%s is missing" % name)
        elif not filecmp.cmp(source, target, shallow=False):
            problems.append("%s differs from the installed version %s" % (name, version))
    found = [Finding("plugin files", FAIL, "in %s: %s" % (plugins_dir, "; ".join(problems)),
                     REINSTALL_HINT % plugins_dir)] if problems else [
        Finding("plugin files", OK, "%s in %s match the installed version %s"
                % (", ".join(sorted(ours)), plugins_dir, version))]
    for other in sorted(os.listdir(plugins_dir)):
        if other.endswith(".py") and other not in ours:
            clash = _clashing_classes(os.path.join(plugins_dir, other))
            if clash:
                found.append(Finding("plugin files", FAIL, "%s also defines class %s: the proxy registers only "
                                     "one of them, whichever it loads last" % (other, " and ".join(clash)),
                                     "remove or rename %s in %s, then restart the proxy and the engine"
                                     % (other, plugins_dir)))
    return found


def _clashing_classes(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return sorted(set(_UNIT_CLASS.findall(handle.read())))
    except OSError:
        return []


def _as_user(user: str) -> Tuple[Dict[str, object], str]:
    """subprocess arguments that run a command as `user` when root (else as oneself), and words for it."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return {}, ""
    if os.geteuid() != 0 or entry.pw_uid == 0:
        return {}, ""
    return ({"user": entry.pw_uid, "group": entry.pw_gid,
             "extra_groups": os.getgrouplist(entry.pw_name, entry.pw_gid)}, " as user %s" % user)


def proxy_python(python: str, plugins_dir: str, timeout: float, user: str = config.SERVICE_USER) -> Optional[Finding]:
    """Import the units as the proxy does (its python3 as its user, cwd = the plugin dir): any error
    or any byte on stderr there means the proxy drops every answer of the units."""
    if not os.path.isdir(plugins_dir):
        return None
    python = os.path.abspath(python) if os.sep in python else python    # the probe runs in plugins_dir
    switch, who = _as_user(user)
    hint = ("install ovirt-vf-scheduler %s for the interpreter the units run with, as the README's Install "
            "section says: dnf install ./ovirt-vf-scheduler-%s-*.noarch.rpm (./dev rpm builds it), or in its source tree "
            "%s -m pip install --no-deps --no-build-isolation ." % (installed_version(), installed_version(), python))
    try:
        run = subprocess.run([python, "-c", _IMPORT_PROBE], cwd=plugins_dir, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL, **switch)
    except PermissionError as err:
        return Finding("proxy python", FAIL, "cannot run %s%s: %s" % (python, who, err.strerror),
                       "the units need an interpreter that user %s may execute, e.g. the system python3 the "
                       "RPM uses (a virtualenv or pyenv under /root is not)" % user)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Finding("proxy python", FAIL, "cannot run %s%s: %s" % (python, who, err), hint)
    last = (run.stderr.strip().splitlines() or [""])[-1]
    if run.returncode != 0:
        return Finding("proxy python", FAIL, "%s cannot import the units%s: %s" % (python, who, last), hint)
    if run.stderr.strip():
        return Finding("proxy python", FAIL, "importing the units with %s writes to stderr, so the proxy would "
                       "discard every answer: %s" % (python, last), "fix or silence the warning's source")
    version = run.stdout.strip()
    if version != installed_version():
        return Finding("proxy python", WARN, "%s imports ovirt-vf-scheduler %s, this is %s"
                       % (python, version, installed_version()), hint)
    return Finding("proxy python", OK, "%s imports the units and ovirt-vf-scheduler %s%s" % (python, version, who))
