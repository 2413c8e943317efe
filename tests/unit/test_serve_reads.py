"""The host cache serve and the units share: an unknown host id is remembered for a minute at most."""
import json
import time

from ovirt_scheduler_proxy_plugins.store import RecordCache

from tests.builders import H1, H2


def test_an_unknown_host_id_is_remembered_for_a_minute_at_most(tmp_path):
    cache = RecordCache(str(tmp_path), "hosts-engine")
    now = time.time()
    cache.merge(RecordCache.stamp({H1: {"name": "a", "vfs": 4}, H2: {"absent": True}}, now=now - RecordCache.ABSENT_TTL - 1))
    assert set(cache.fresh(300.0, now=now)) == {H1}                       # the known host: its own TTL
    cache.merge({})                                                      # any write prunes
    assert set(json.load(open(cache.path))) == {H1}                      # and the absent one dropped
