"""Two small text rules every layer shares: what an engine id looks like, and an error told in one line."""
import re
from typing import Optional

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.IGNORECASE)


def is_uuid(value: Optional[str]) -> bool:
    """An engine id: 8-4-4-4-12 hex digits, either case."""
    return bool(_UUID.match(value or ""))


def one_line(err: BaseException) -> str:
    """The error's text on one line (whitespace runs collapsed); its type's name when it has no text."""
    return " ".join(str(err).split()) or type(err).__name__
