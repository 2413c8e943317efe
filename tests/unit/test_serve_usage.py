"""serve's backoff while the engine cannot be reached (serve/warm.py), on its own."""
import re

import pytest

from ovirt_scheduler_proxy_plugins.serve.warm import BACKOFF_FIRST, EngineError, EngineUnreachable, _Backoff


def test_a_recovery_resets_the_backoff_to_its_first_step():
    backoff = _Backoff(probe=lambda: (_ for _ in ()).throw(EngineUnreachable("still down")))
    hung = EngineUnreachable("no answer")
    backoff.failed(hung)
    backoff.failed(hung)                                                     # 2 x BACKOFF_FIRST
    backoff.succeeded()
    backoff.failed(hung)
    with pytest.raises(EngineUnreachable) as raised:
        backoff.check()
    assert float(re.search(r"for (\d+\.\d) s more", str(raised.value)).group(1)) <= BACKOFF_FIRST
    backoff.failed(EngineError("HTTP 500"))                                  # an answer: no step
    backoff.succeeded()
    backoff.check()
