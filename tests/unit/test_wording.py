"""Words an operator reads, from the pure code: counts agree with their nouns, curl errors read as words."""


def test_counts_agree_with_their_nouns():
    from ovirt_scheduler_proxy_plugins.tools import output
    from ovirt_scheduler_proxy_plugins.tools.status_report import unit_line
    assert [output.count(n, "port profile") for n in (0, 1, 2)] == ["0 port profiles", "1 port profile",
                                                                    "2 port profiles"]
    once = unit_line("VfFilter", {"since": 1, "decisions": 1, "last_decision": 50}, 100, 3600)
    assert "; 1 decision, 0 fail-open, 0 fail-closed since " in once.message


def test_curl_errors_read_as_words_not_tuples():
    from ovirt_scheduler_proxy_plugins.engine import error_line as one_line
    from ovirt_scheduler_proxy_plugins.tools.check_local import UNKNOWN_CA, tls_trouble
    text = one_line(Exception("Error while sending HTTP request: (60, 'SSL certificate problem: unable to get "
                              "local issuer certificate')"))
    assert text == ("Error while sending HTTP request: SSL certificate problem: unable to get local issuer "
                    "certificate (curl error 60)")
    assert tls_trouble(text) == UNKNOWN_CA
