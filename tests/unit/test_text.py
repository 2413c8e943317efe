"""The id rule every layer shares, and the XML-safety of what serve answers."""
import pytest

from ovirt_scheduler_proxy_plugins.text import is_uuid

ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize("value, expected", [
    (ID, True), (ID.upper(), True), (ID + "\n", False), ("\n" + ID, False), (ID[:-1], False), (ID + "0", False),
    (ID.replace("-", ""), False), (ID.replace("f", "g"), False), ("", False), (None, False),
])
def test_is_uuid_takes_the_whole_string_in_either_case(value, expected):
    assert is_uuid(value) is expected
