"""`./dev bench [repeat]`: every benchmark, figures printed for bench/RESULTS.md.

`./dev bench` (or `python -m bench [repeat]`) runs the engine-decision benchmark, then the burst
simulation with its defaults. To run only one, name it first; the rest goes to that benchmark:

    python -m bench engine [repeat]
    python -m bench burst [--scenarios ...] [--lags ...] [--n N] ...   (see --help)
    python -m bench serve [--sizes ...] [--vms N] [--calls N]         (see --help)
    python -m bench recovery [--trials N] [--step S]                   (see --help)
    python -m bench attacks [--slow 140] [--seconds 20] [--bombs 24]  (see --help)
    python -m bench export [repeat]
"""
import sys

from . import attacks, burst, engine_decision, export, recovery, serve

BENCHMARKS = {"engine": engine_decision.main, "engine_decision": engine_decision.main, "burst": burst.main,
              "serve": serve.main, "recovery": recovery.main, "attacks": attacks.main, "export": export.main}


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in BENCHMARKS:
        sys.argv = [sys.argv[0]] + args[1:]
        return BENCHMARKS[args[0]]()
    rc = engine_decision.main()
    print(flush=True)
    sys.argv = sys.argv[:1]
    return burst.main() or rc


sys.exit(main())
