"""Config file and per-cluster properties: every bad input gives one line naming where it is."""
import os
import re

import pytest

from ovirt_scheduler_proxy_plugins import config


GOOD = """
[engine]
url = https://engine.example.com/ovirt-engine/api
username = admin@internal
password_file = {pw}
ca_file = /etc/pki/ovirt-engine/ca.pem

[scheduler]
reserve = 1
weight_mode = pack
deadline = 8
cache_dir = {tmp}/cache
log_file = {tmp}/log/vf.log
"""


ENGINE_URL = "url = https://engine.example.com/ovirt-engine/api"
LAST = "log_file = {tmp}/log/vf.log"


def write(tmp_path, text, pw_mode=0o600):
    pw = tmp_path / "engine.pw"
    pw.write_text("s3cret\n")
    os.chmod(pw, pw_mode)
    conf = tmp_path / "vf.conf"
    conf.write_text(text.format(pw=pw, tmp=tmp_path))
    os.chmod(conf, 0o600)
    return str(conf)


def test_good_file(tmp_path):
    settings = config.load(write(tmp_path, GOOD))
    assert settings.engine.password == "s3cret"
    assert (settings.reserve, settings.weight_mode, settings.deadline, settings.on_error) == (1, "pack", 8.0, "open")
    assert settings.capacity_source == "engine" and settings.vf_property == "vmfex"
    assert settings.vf_property_regex == "^[a-zA-Z0-9_.-]{2,32}$" and not settings.checks_port_profiles
    assert "s3cret" not in repr(settings)
    assert settings.warnings == ()


def test_env_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CONF_ENV, str(tmp_path / "nope.conf"))
    with pytest.raises(config.ConfigError, match=re.escape(str(tmp_path / "nope.conf")) + ".*cannot read"):
        config.load()


@pytest.mark.parametrize("edit, message", [
    (("reserve = 1", "reserve = -1"), r"\[scheduler\] reserve: expected a whole number >= 0, got '-1'"),
    (("reserve = 1", "reserve = lots"), r"\[scheduler\] reserve: expected a whole number"),
    (("weight_mode = pack", "weight_mode = random"), r"\[scheduler\] weight_mode: expected one of spread, pack, reserve"),
    (("deadline = 8", "deadline = 45"), r"\[scheduler\] deadline: expected at most 28 seconds"),
    (("deadline = 8", "dedline = 8"), r"\[scheduler\] dedline: unknown key"),
    (("[scheduler]", "[schedular]"), r"\[schedular\]: unknown section"),
    (("username = admin@internal\n", ""), r"\[engine\] username: missing"),
    (("ca_file", "insecure = maybe\nca_file"), r"\[engine\] insecure: expected true or false"),
    (("deadline = 8", "capacity_source = ucsm"), r"\[scheduler\] capacity_source: 'ucsm' needs a \[ucsm\] section"),
    (("password_file = {pw}", "password_file = /nonexistent/pw"), r"\[engine\] password_file: cannot read /nonexistent/pw"),
    (("password_file = {pw}", "password_file = {pw}\npassword = x"), r"set only one of them"),
    (("[engine]", "engine]"), r"not a valid INI file"),
    (("deadline = 8", "vf_property_regex = ^[a-z"), r"\[scheduler\] vf_property_regex: expected a regular expression"),
    (("deadline = 8", "deadline = 8\n[ucsm]\nurl = https://u\nusername = r\npassword = p\nport_profiles = strict"),
     r"\[ucsm\] port_profiles: expected one of check, ignore, got 'strict'"),
    ((ENGINE_URL, "url = engine.example.com/ovirt-engine/api"),
     r"\[engine\] url: expected an https:// \(or http://\) URL with a host, e.g. https://engine.example.com/"),
    ((ENGINE_URL, "url = https:///ovirt-engine/api"), r"\[engine\] url: expected an https:// \(or http://\) URL"),
    ((ENGINE_URL, "url = https://engine:99999/ovirt-engine/api"), r"\[engine\] url: expected an https://"),
    ((ENGINE_URL, "url = ftp://engine.example.com/"), r"\[engine\] url: expected an https://"),
    ((LAST, LAST + "\n[ucsm]\nurl = https://ucsm-a.example.com ucsm-b.example.com\nusername = u\npassword = p"),
     r"\[ucsm\] url: expected one or more https:// \(or http://\) URLs with a host"),
])
def test_bad_input_names_file_section_and_key(tmp_path, edit, message):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert re.search(message, str(err.value)), str(err.value)
    assert str(err.value).startswith(path) and "\n" not in str(err.value)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("line, checks", [("", True), ("port_profiles = check", True),
                                         ("port_profiles = IGNORE", False)])
def test_port_profile_rule_is_on_by_default_with_ucsm(tmp_path, line, checks):
    text = GOOD + "[ucsm]\nurl = https://ucsm-a\nusername = ro\npassword = p\n%s\n" % line
    assert config.load(write(tmp_path, text)).checks_port_profiles is checks


def test_readable_password_file_is_warned_about(tmp_path):
    settings = config.load(write(tmp_path, GOOD, pw_mode=0o644))
    assert len(settings.warnings) == 1 and "readable by group/others" in settings.warnings[0]
    assert "s3cret" not in settings.warnings[0]


def test_plain_http_urls_are_warned_about_each(tmp_path):
    text = GOOD.replace(ENGINE_URL, "url = http://engine.example.com/ovirt-engine/api") + (
        "\n[ucsm]\nurl = https://ucsm-a.example.com,HTTP://ucsm-b.example.com\nusername = u\npassword_file = {pw}\n")
    settings = config.load(write(tmp_path, text))
    assert settings.warnings == (
        "[engine] url http://engine.example.com/ovirt-engine/api is plain http: the password and the session "
        "cross the network unencrypted; use https://",
        "[ucsm] url HTTP://ucsm-b.example.com is plain http: the password and the session cross the network "
        "unencrypted; use https://")


def test_cluster_properties_override_and_ignore_other_units(tmp_path):
    settings = config.load(write(tmp_path, GOOD))
    updated = config.with_cluster_properties(settings, {
        "vf_reserve": "3", "vf_on_error": "closed", "vf_weight_mode": "reserve", "maximum_vm_count": "9"})
    assert (updated.reserve, updated.on_error, updated.weight_mode) == (3, "closed", "reserve")
    with pytest.raises(config.ConfigError, match="property vf_reserve: expected a whole number"):
        config.with_cluster_properties(settings, {"vf_reserve": "many"})
    with pytest.raises(config.ConfigError, match="vf_source.*needs a \\[ucsm\\] section"):
        config.with_cluster_properties(settings, {"vf_source": "min"})


def test_properties_validation_uses_the_engines_format():
    # key=regex;key=regex, keys [a-zA-Z0-9_]+, no ';' inside a regex (docs/proxy-contract.md)
    for item in config.PROPERTIES_VALIDATION.split(";"):
        key, _, regex = item.partition("=")
        assert re.fullmatch(r"[a-zA-Z0-9_]+", key) and regex
        re.compile(regex)
    patterns = dict(item.split("=", 1) for item in config.PROPERTIES_VALIDATION.split(";"))
    assert patterns == {"vf_reserve": "^[0-9]+$", "vf_on_error": "^(open|closed)$",
                        "vf_weight_mode": "^(spread|pack|reserve)$", "vf_source": "^(engine|ucsm|min)$"}
    assert list(patterns) == list(config.CLUSTER_PROPERTIES)
    accepted = {"vf_reserve": ["0", "7", "42"], "vf_on_error": ["open", "closed"],
                "vf_weight_mode": ["spread", "pack", "reserve"], "vf_source": ["engine", "ucsm", "min"]}
    for prop, values in accepted.items():          # what the engine lets through, the unit parses as it is
        for value in values:
            assert re.fullmatch(patterns[prop], value) and str(config.CLUSTER_PROPERTIES[prop][1](value)) == value
