"""Packaging: the version, the shipped sample config, the license, and the RPM built by `./dev rpm`
(its file list, owners, modes and Requires against what the package really installs and imports)."""
import ast
import configparser
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sysconfig
import tarfile

import pytest

from ovirt_scheduler_proxy_plugins import __version__, config, install
from ovirt_scheduler_proxy_plugins.config import Settings

from tests.integration.helpers import CLI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("ovirt_scheduler_proxy_plugins", "ucsm_source")
SAMPLE = os.path.join(ROOT, "ovirt_scheduler_proxy_plugins", "data", "ovirt-vf-scheduler.conf")
# Third-party import name -> (PyPI name in setup.cfg, EL package in the spec's Requires).
DISTRIBUTIONS = {
    "ovirtsdk4": ("ovirt-engine-sdk-python", "python3-ovirt-engine-sdk4"),
    "lxml": ("lxml", "python3-lxml"),
    "requests": ("requests", "python3-requests"),
    "urllib3": ("urllib3", "python3-urllib3"),
    "defusedxml": ("defusedxml", "python3-defusedxml"),
    "prometheus_client": ("prometheus-client", "python3-prometheus_client"),
    "pycurl": ("pycurl", "python3-pycurl"),
}


# Where an EL9 engine host gets each: BaseOS/AppStream and the oVirt 4.5 repositories, except these two,
# which only EPEL 9 ships (oVirt's release package does not enable it).
EPEL_ONLY = ("python3-defusedxml", "python3-prometheus_client")


def spec_field(name):
    with open(os.path.join(ROOT, "ovirt-vf-scheduler.spec"), encoding="utf-8") as handle:
        return re.findall(r"^%s:\s*(.+?)\s*$" % name, handle.read(), re.M)


def setup_cfg():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(ROOT, "setup.cfg"))
    return parser


def test_version_is_one_number_in_code_cli_and_spec():
    run = subprocess.run([CLI, "--version"], capture_output=True, text=True, timeout=30)
    assert (run.returncode, run.stdout, run.stderr) == (0, "ovirt-vf-scheduler %s\n" % __version__, "")
    assert spec_field("Version") == [__version__]
    assert setup_cfg()["metadata"]["version"] == "attr: ovirt_scheduler_proxy_plugins.__version__"


def test_license_file_is_the_declared_apache_2():
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as handle:
        text = handle.read()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert setup_cfg()["metadata"]["license"] == "Apache-2.0" and spec_field("License") == ["Apache-2.0"]


def _uncommented(sample, tmp_path):
    """The sample with every commented-out option switched on and real secret files."""
    secret = tmp_path / "pw"
    secret.write_text("secret\n")
    secret.chmod(0o600)
    # '#key = v', '#[ucsm]' and '#    continuation' lines, not '# prose'
    text = re.sub(r"^#(?=[\[\w]| {4})", "", sample, flags=re.M)
    text = re.sub(r"^password_file = .*$", "password_file = %s" % secret, text, flags=re.M)
    path = tmp_path / "all.conf"
    path.write_text(text)
    return str(path)


def test_config_sample_prints_the_shipped_file_and_every_documented_option_is_valid(tmp_path):
    run = subprocess.run([CLI, "config", "--sample"], capture_output=True, text=True, timeout=30)
    with open(SAMPLE, encoding="utf-8") as handle:
        sample = handle.read()
    assert (run.returncode, run.stdout, run.stderr) == (0, sample, "")
    settings = config.load(_uncommented(sample, tmp_path))        # an unknown or bad key would raise
    assert settings.ucsm is not None and settings.ucsm.host_map == (("kvm-host7",
                                                                     "org-root/org-ovirt/ls-kvm-host7"),)
    assert (settings.cache_dir, settings.log_file) == (Settings.cache_dir, Settings.log_file)


def shipped_sources():
    """Every module and data file the source tree holds for the installed packages."""
    found = []
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            if "__pycache__" in folder:
                continue
            found += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files
                      if f.endswith(".py") or f.endswith(".conf")]
    return sorted(found) + ["vf_filter.py", "vf_weight.py"]


def third_party_imports():
    """Top-level names imported by the shipped code that are neither stdlib nor ours."""
    ours = set(PACKAGES) | {"vf_filter", "vf_weight"}
    names = set()
    for path in shipped_sources():
        if not path.endswith(".py"):
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {name for name in names - ours if not _is_stdlib(name)}


def _is_stdlib(name):
    """Built in, or found in this interpreter's standard library directory (sys.stdlib_module_names is
    3.10+; EL9 runs 3.9)."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return False
    if spec.origin in ("built-in", "frozen"):
        return True
    path = os.path.realpath(spec.origin or "")
    stdlib = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    return any(path.startswith(top + os.sep) for top in stdlib) and not {"site-packages", "dist-packages"} & set(
        path.split(os.sep))


@pytest.fixture(scope="module")
def rpm(tmp_path_factory):
    """`./dev rpm` into a private topdir; its files as {path: (perms, user, group)}, its Requires and payload."""
    if shutil.which("rpmbuild") is None:
        pytest.skip("rpmbuild is not installed (./dev rpm installs it)")
    topdir = tmp_path_factory.mktemp("rpm")
    build = subprocess.run([os.path.join(ROOT, "dev"), "rpm", "--topdir", str(topdir)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    package = build.stdout.strip().splitlines()[-1]
    query = subprocess.run(["rpm", "-qp", "--queryformat", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} "
                            "%{FILENAMES}\n]", package], capture_output=True, text=True, check=True)
    files = {}
    for line in query.stdout.splitlines():
        perms, user, group, path = line.split(" ", 3)
        files[path] = (perms, user, group)
    requires = subprocess.run(["rpm", "-qp", "--requires", package], capture_output=True, text=True,
                              check=True).stdout.split("\n")
    payload = subprocess.run(["rpm2archive", "-"], stdin=open(package, "rb"), capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
        contents = {"/" + m.name.lstrip("./"): archive.extractfile(m).read() for m in archive.getmembers()
                    if m.isfile()}
    return {"files": files, "requires": [r.strip() for r in requires if r.strip()], "contents": contents}


def sitelib(files):
    return next(os.path.dirname(p) for p in files if p.endswith("/site-packages/vf_filter.py"))


def test_rpm_installs_every_module_the_plugins_and_nothing_else(rpm):
    files = rpm["files"]
    lib = sitelib(files)
    for source in shipped_sources():
        assert os.path.join(lib, source) in files, source
    installed = {os.path.relpath(p, lib) for p in files if p.startswith(lib + "/") and p.endswith(".py")}
    assert installed == {s for s in shipped_sources() if s.endswith(".py")}     # no tests/, bench/
    for name in ("vf_filter.py", "vf_weight.py"):
        target = os.path.join(install.DEFAULT_PLUGINS_DIR, name)
        assert files[target] == ("-rw-r--r--", "root", "root")
        with open(os.path.join(ROOT, name), "rb") as handle:
            assert rpm["contents"][target] == handle.read()
    script = rpm["contents"]["/usr/bin/ovirt-vf-scheduler"].decode()
    assert script.startswith("#!/usr/bin/python3 -s\n") and "ovirt_scheduler_proxy_plugins.cli" in script
    assert not [p for p in files if "direct_url.json" in p or "/tests/" in p or "/bench/" in p]


def test_rpm_config_state_dirs_service_tmpfiles_and_logrotate_agree_with_the_code(rpm):
    files, contents = rpm["files"], rpm["contents"]
    assert files[config.DEFAULT_CONF] == ("-rw-r-----", "root", "ovirt")
    assert files[os.path.dirname(config.DEFAULT_CONF)] == ("drwxr-x---", "root", "ovirt")
    with open(SAMPLE, "rb") as handle:
        assert contents[config.DEFAULT_CONF] == handle.read()
    log_dir = os.path.dirname(Settings.log_file)
    assert files[Settings.cache_dir] == ("drwx------", "ovirt", "ovirt")
    assert files[log_dir] == ("drwxr-x---", "ovirt", "ovirt")
    tmpfiles = contents["/usr/lib/tmpfiles.d/ovirt-vf-scheduler.conf"].decode().splitlines()
    entries = {line.split()[1]: line.split()[:5] for line in tmpfiles if line and not line.startswith("#")}
    assert entries == {Settings.cache_dir: ["d", Settings.cache_dir, "0700", "ovirt", "ovirt"],
                       log_dir: ["d", log_dir, "0750", "ovirt", "ovirt"]}
    rotate = contents["/etc/logrotate.d/ovirt-vf-scheduler"].decode()
    assert rotate.startswith("# ") and "\n%s {\n" % Settings.log_file in rotate and "su ovirt ovirt" in rotate
    unit = contents["/usr/lib/systemd/system/ovirt-vf-scheduler.service"].decode()
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["ExecStart"] == "/usr/bin/ovirt-vf-scheduler serve" and "/usr/bin/ovirt-vf-scheduler" in files
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"          # serve reloads on SIGHUP
    assert (settings["User"], settings["Restart"], settings["Before"]) == ("ovirt", "on-failure",
                                                                          "ovirt-engine.service")


def test_rpm_requires_exactly_what_the_code_imports_under_el_names(rpm):
    imported = third_party_imports()
    unknown = imported - set(DISTRIBUTIONS)
    assert not unknown, "new third-party import: add it to DISTRIBUTIONS, setup.cfg and the spec"
    wanted = [re.split(r"[<>=!~ ;\[]", line.strip())[0].lower().replace("_", "-")
              for line in setup_cfg()["options"]["install_requires"].strip().splitlines()]
    by_pypi = {pypi: el for pypi, el in DISTRIBUTIONS.values()}
    assert sorted(wanted) == sorted(DISTRIBUTIONS[name][0] for name in imported)
    el_requires = sorted(r.split()[0] for r in rpm["requires"] if r.startswith("python3-"))
    assert el_requires == sorted(by_pypi[name] for name in wanted)
    assert "python3 >= 3.9" in rpm["requires"]
    assert "python3-ovirt-engine-sdk4 >= 4.6" in rpm["requires"]       # setup.cfg: >=4.6,<4.7


def test_the_install_steps_name_the_repository_of_every_requirement():
    """Every Requires of the spec is named in the README's install section; those only EPEL 9 ships are
    installed from EPEL there, and nothing claims the distribution alone suffices."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    install = readme[readme.index("## Install on the engine host"):readme.index("### 2.")]
    with open(os.path.join(ROOT, "ovirt-vf-scheduler.spec"), encoding="utf-8") as handle:
        requires = [line.split()[1] for line in handle if line.startswith("Requires:")
                    and line.split()[1].startswith("python3-")]
    assert [name for name in requires if name not in install] == []
    assert "requires only distribution packages" not in readme
    epel = re.search(r"^dnf install --enablerepo=epel (.*)$", install, re.M)
    assert epel and sorted(epel.group(1).split()) == sorted(EPEL_ONLY)
    assert set(EPEL_ONLY) <= set(requires)
