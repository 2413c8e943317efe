"""`./dev bench [repeat]`: every benchmark, figures printed for bench/RESULTS.md."""
import sys

from . import engine_decision

sys.exit(engine_decision.main())
