"""serve's protocol on plain values: a foreign plugin's weight becomes a Java int or nothing."""
from ovirt_scheduler_proxy_plugins.serve import protocol


def test_a_foreign_weight_becomes_a_java_int_or_nothing():
    """What a foreign plugin prints is read by literal_eval: 1e999 is an infinity, which round()
    cannot turn into an int; the engine reads the weight as a Java Integer."""
    assert [protocol._java_int(v) for v in (7.6, -2.5, 2 ** 40, -2 ** 40, 1e999, -1e999)] == [
        8, -2, 2 ** 31 - 1, -2 ** 31, 2 ** 31 - 1, -2 ** 31]
    assert all(type(protocol._java_int(v)) is int for v in (7.6, 1e999, 3))
    assert [protocol._java_int(v) for v in (float("nan"), True, "3", None, [1])] == [None] * 5
