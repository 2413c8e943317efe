"""`ovirt-vf-scheduler serve`: a drop-in for ovirt-scheduler-proxy with VfFilter and VfWeight in-process.

oVirt 4.5 no longer ships ovirt-scheduler-proxy, but its engine still calls the proxy's
XML-RPC protocol on ExternalSchedulerServiceURL (default http://localhost:18781/). This
package answers it: server (HTTP, life cycle), protocol (the four calls), warm (the engine
state kept between calls), foreign (other plugins, run as the proxy runs them), metrics.
"""
import argparse
import ipaddress
import logging
import os
import sys

from .. import config

LOG = logging.getLogger("ovirt_vf_scheduler.serve")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(sub) -> None:
    parser = sub.add_parser(
        "serve", help="answer the engine's external-scheduler calls (replaces ovirt-scheduler-proxy)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the ovirt-scheduler-proxy XML-RPC protocol (discover, runFilters, runCostFunctions, "
                    "runLoadBalancing) with VfFilter and VfWeight in-process and every other plugin of the "
                    "plugin directory run as the proxy runs it. GET /metrics on the same port.",
        epilog="exit codes:\n  0  stopped by SIGTERM or SIGINT after finishing the calls in flight\n"
               "  1  cannot listen (address in use, permission)\n  2  bad command line, or a remote address "
               "without --allow-remote and [serve] allowed_hosts")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $%s or %s)" % (config.CONF_ENV, config.DEFAULT_CONF))
    parser.add_argument("--listen", metavar="HOST:PORT", type=_listen,
                        help="default: [serve] listen, else %s:%d" % config.DEFAULT_LISTEN)
    parser.add_argument("--plugins-dir", metavar="DIR",
                        help="other plugins to serve (default: [serve] plugins_dir, else %s)"
                             % config.DEFAULT_PLUGINS_DIR)
    parser.add_argument("--allow-remote", action="store_true",
                        help="listen on a non-loopback address (the protocol has no authentication: "
                             "[serve] allowed_hosts names who may call)")
    parser.set_defaults(func=main)


def _listen(raw: str):
    try:
        return config.parse_listen(raw)
    except ValueError as err:
        raise argparse.ArgumentTypeError("%s, got %r" % (err, raw)) from None


def main(args: argparse.Namespace) -> int:
    from .server import App, stderr_logging
    stderr_logging()
    conf_path = args.config or config.conf_path()
    try:
        serve = config.load(conf_path).serve
    except config.ConfigError as err:
        LOG.warning("starting without a usable config (the units will fail open): %s", err)
        serve = config.ServeSettings()
    listen = args.listen or serve.listen
    plugins_dir = args.plugins_dir or serve.plugins_dir
    if not is_loopback(listen[0]):
        if not (args.allow_remote or serve.allow_remote):
            print("ovirt-vf-scheduler serve: %s is not a loopback address and the protocol has no "
                  "authentication: add --allow-remote (or [serve] allow_remote = true) to listen there"
                  % listen[0], file=sys.stderr)
            return 2
        if not serve.allowed_hosts:
            print("ovirt-vf-scheduler serve: listening on %s needs [serve] allowed_hosts in %s: the addresses "
                  "that may call (a remote caller is known by its address only)" % (listen[0], conf_path),
                  file=sys.stderr)
            return 2
        LOG.warning("listening on %s: remote callers are known by their address only (allowed_hosts %s)",
                    listen[0], " ".join(serve.allowed_hosts))
    try:
        app = App(conf_path, listen, os.path.abspath(plugins_dir))
    except OSError as err:
        print("ovirt-vf-scheduler serve: cannot listen on %s:%d: %s" % (listen[0], listen[1], err.strerror or err),
              file=sys.stderr)
        return 1
    code = app.serve_forever()
    # Not the interpreter's exit, which joins every pool thread: one may still be waiting (up to
    # its request timeout) for a hung engine after its call was answered.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
