"""Fixtures of the integration tests: a fake engine over real HTTP, a plugin dir made by
install-plugins, a config file pointing at both, and a proxy-style runner for the units (helpers.py)."""
import importlib
import logging
import os
import shutil
import subprocess
import warnings

import pytest

from ovirt_scheduler_proxy_plugins.sim.engine import FakeEngine
from ovirt_scheduler_proxy_plugins.sim.inventory import Inventory
from ovirt_scheduler_proxy_plugins.sim.served import ServeProcess

from tests.integration.helpers import CLI, DISCOVERY, FOREIGN, RUN_MODES, Proxy, write_conf


@pytest.fixture(scope="session")
def plugins_dir(tmp_path_factory):
    """A proxy plugin directory filled by the real console script."""
    path = tmp_path_factory.mktemp("plugins")
    subprocess.run([CLI, "install-plugins", "--plugins-dir", str(path)], check=True,
                   stdout=subprocess.DEVNULL)
    return str(path)


@pytest.fixture(scope="session")
def discovery(plugins_dir, tmp_path_factory):
    """A serve process answering the engine's discover (it needs no config for that): where
    `check` finds the scheduler proxy in tests."""
    server = ServeProcess(str(tmp_path_factory.mktemp("no-config") / "none.conf"), plugins_dir)
    DISCOVERY["server"] = server
    yield server
    server.stop()


@pytest.fixture
def world():
    """An empty inventory; each test adds the hosts and VMs its arithmetic needs."""
    return Inventory()


@pytest.fixture
def engine(world):
    fake = FakeEngine(world)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(params=RUN_MODES)
def units(request, plugins_dir, engine, tmp_path):
    """The units run both ways: as plugin processes and through serve."""
    state = str(tmp_path / "state")
    runner = Proxy(plugins_dir, write_conf(state, engine.url), state, request.param)
    yield runner
    runner.stop()


@pytest.fixture
def plugin_dir(tmp_path):
    """A plugin dir with our units (install-plugins) beside foreign ones (tests/data/foreign)."""
    path = tmp_path / "plugins"
    path.mkdir()
    subprocess.run([CLI, "install-plugins", "--plugins-dir", str(path)], check=True, stdout=subprocess.DEVNULL)
    for name in os.listdir(FOREIGN):
        shutil.copy(os.path.join(FOREIGN, name), str(path / name))
    return str(path)


@pytest.fixture
def bed(world, engine, tmp_path, plugin_dir):
    """A VM-FEX world, its config and a running serve (usage_max_age 0 unless a test says)."""
    world.add_host("a", vf_devices=4)
    world.add_host("b", vf_devices=4)
    world.add_vm("busy", host="a", vmfex_nics=3)                   # a: 1 free, b: 4 free
    world.add_vm("new", vmfex_nics=2)
    state = str(tmp_path / "state")
    conf = write_conf(state, engine.url)
    server = ServeProcess(conf, plugin_dir)
    server.state = state
    server.conf = conf
    server.wait_for_usage_events(required=False, timeout=10)    # decide as in steady state
    yield server
    assert server.stop() == 0, server.stderr
    assert "Traceback" not in server.stderr, server.stderr


@pytest.fixture
def served(world, engine, plugins_dir, tmp_path):
    """A world with one host of 4 VFs, and serve with a config of its own: `served(serve_section)`."""
    world.add_host("a", vf_devices=4)
    started = []

    def start(serve_section="", **conf):
        state = str(tmp_path / ("state%d" % len(started)))
        conf_path = write_conf(state, conf.pop("url", engine.url), extra="[serve]\n" + serve_section, **conf)
        server = ServeProcess(conf_path, plugins_dir)
        server.conf, server.state = conf_path, state
        started.append(server)
        return server
    yield start
    for server in started:
        assert server.stop() == 0, server.stderr
        assert "Traceback" not in server.stderr, server.stderr


# --- Cisco's ucsmsdk as the oracle of what UCS-M documents look like -----------------------

@pytest.fixture(scope="session")
def ucsmsdk():
    """ucsmsdk (test-only). It attaches a DEBUG StreamHandler to logger "ucs" on import and
    may warn on new Pythons: both are kept out of the test output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = pytest.importorskip("ucsmsdk.ucsxmlcodec", reason="ucsmsdk is not installed "
                                    "(pip install ucsmsdk): the fidelity oracle is unavailable")
        exceptions = importlib.import_module("ucsmsdk.ucsexception")
    ucs_log = logging.getLogger("ucs")
    for handler in list(ucs_log.handlers):
        ucs_log.removeHandler(handler)
    return codec, exceptions


