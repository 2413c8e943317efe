"""serve's protocol on plain values: a foreign plugin's weight becomes a Java int or nothing."""
from ovirt_scheduler_proxy_plugins.serve import protocol


def test_a_foreign_weight_becomes_a_java_int_or_nothing():
    """What a foreign plugin prints is read by literal_eval: 1e999 is an infinity, which round()
    cannot turn into an int; the engine reads the weight as a Java Integer."""
    assert [protocol._java_int(v) for v in (7.6, -2.5, 2 ** 40, -2 ** 40, 1e999, -1e999)] == [
        8, -2, 2 ** 31 - 1, -2 ** 31, 2 ** 31 - 1, -2 ** 31]
    assert all(type(protocol._java_int(v)) is int for v in (7.6, 1e999, 3))
    assert [protocol._java_int(v) for v in (float("nan"), True, "3", None, [1])] == [None] * 5


def test_every_string_of_an_answer_is_fit_for_xml():
    """Printable ASCII passes as it is; tab, newline and non-ASCII text are allowed by XML 1.0;
    control characters and lone surrogates become their escapes as text."""
    answer = {"ok": ["plain id", "tab\tand\nline", "café ✓"], "bad\x1b": ["\x00nul", "half \ud800"], "n": 3}
    assert protocol.xml_safe(answer) == {"ok": ["plain id", "tab\tand\nline", "café ✓"],
                                         "bad\\x1b": ["\\x00nul", "half \\ud800"], "n": 3}
