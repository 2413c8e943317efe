"""The engine model of the burst simulation (sim/burst_world.py): the RankSelector's arithmetic."""
from ovirt_scheduler_proxy_plugins.sim.burst_world import rank_select


def test_rank_selector_sums_factor_times_rank_and_takes_the_first_on_ties():
    kept = ["a", "b", "c"]
    # busy (x2): a best (rank 2), b, c tie (rank 0); VfWeight (x1): c best (2), b (1), a (0)
    assert rank_select(kept, [(2, {"a": 1, "b": 5, "c": 5}), (1, {"a": 9, "b": 5, "c": 1})]) == "a"   # 4 vs 1 vs 2
    assert rank_select(kept, [(1, {"a": 1, "b": 5, "c": 5}), (3, {"a": 9, "b": 5, "c": 1})]) == "c"   # 2, 3, 6
    assert rank_select(kept, [(1, {"a": 0, "b": 0, "c": 0})]) == "a"                                  # all tie
