"""A config file for the units pointing at simulated servers, as the demo, the tests and the
benchmarks need it: secrets in 0600 password files, state and log under one directory."""
import os


def write_secret(path: str, secret: str) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


def write_config(state_dir: str, engine_url: str, password: str, scheduler: str = "", extra: str = "",
                 engine_timeout: float = 5) -> str:
    """Write `state_dir`/vf.conf and return its path.

    `scheduler` holds more [scheduler] lines, `extra` more sections (e.g. [ucsm]).
    """
    os.makedirs(state_dir, exist_ok=True)
    pw_path = write_secret(os.path.join(state_dir, "engine.pw"), password)
    conf_path = os.path.join(state_dir, "vf.conf")
    with open(conf_path, "w", encoding="utf-8") as handle:
        handle.write("[engine]\nurl = %s\nusername = admin@internal\npassword_file = %s\ntimeout = %s\n\n"
                     "[scheduler]\ncache_dir = %s/cache\nlog_file = %s/log/vf.log\n%s\n%s"
                     % (engine_url, pw_path, engine_timeout, state_dir, state_dir, scheduler, extra))
    os.chmod(conf_path, 0o600)
    return conf_path
