"""`ovirt-vf-scheduler config --sample`: the documented sample config shipped with the package."""
import argparse
import sys

from . import common


def sample_config() -> str:
    """The documented sample config shipped with the package (the RPM installs it as the config)."""
    from importlib import resources
    return resources.files("ovirt_scheduler_proxy_plugins").joinpath("data/ovirt-vf-scheduler.conf") \
        .read_text(encoding="utf-8")


def main(args: argparse.Namespace) -> int:
    sys.stdout.write(sample_config())
    return 0


def register(sub) -> None:
    parser = common.add_plain_command(sub, "config", main,
                                      "print the documented sample configuration (--sample)")
    parser.add_argument("--sample", action="store_true", required=True,
                        help="print the sample config file, every option documented")
