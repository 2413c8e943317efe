"""The inFilter language of the configResolve* queries (eq, ne, wcard, and, or, not), checked
whole as UCS-M takes filters before any object is matched (see in_filter)."""
import re
import xml.etree.ElementTree as ET
from typing import Mapping, Optional

from .objects import PROPERTIES


class BadRequest(Exception):
    """Answered with the root <error> form (ERR-xml-parse-error / 594)."""


_PROPERTY_FILTERS = ("eq", "ne", "wcard")
_COMPOSITES = ("and", "or", "not")
# ucsmsdk (handle_filter_max_component_limit) regroups an and/or of more than 10 filters into
# nested groups of at most 10 because UCS-M limits composites; the fake refuses bigger ones.
MAX_FILTER_COMPONENTS = 10


def in_filter(request: ET.Element, class_id: Optional[str]) -> Optional[ET.Element]:
    """The request's filter, checked whole before any object is matched, against what UCS-M takes
    (ucsmsdk builds exactly this): ONE filter element in <inFilter> (siblings go inside <and>),
    every property filter on the queried class (`class_id`; None = any class), composites of at
    most MAX_FILTER_COMPONENTS. Anything else is the malformed-request error (the fake's choice of
    form: UCS-M's exact answer to these requests is unverified)."""
    container = request.find("inFilter")
    if container is None or not len(container):
        return None
    if len(container) > 1:
        raise BadRequest("XML PARSING ERROR: inFilter holds %d filters, expected one "
                          "(combine them with and/or)" % len(container))
    _check_filter(container[0], class_id)
    return container[0]


def _check_filter(flt: ET.Element, class_id: Optional[str]) -> None:
    if flt.tag in _COMPOSITES:
        if len(flt) > MAX_FILTER_COMPONENTS:
            raise BadRequest("XML PARSING ERROR: %s has %d filters, at most %d allowed"
                              % (flt.tag, len(flt), MAX_FILTER_COMPONENTS))
        for child in flt:
            _check_filter(child, class_id)
        return
    if flt.tag not in _PROPERTY_FILTERS:
        raise BadRequest("XML PARSING ERROR: unsupported filter %s" % flt.tag)
    filter_class, prop = flt.get("class", ""), flt.get("property", "")
    if class_id is not None and filter_class != class_id:
        raise BadRequest("XML PARSING ERROR: filter on class %s in a query of class %s"
                          % (filter_class, class_id))
    if prop not in PROPERTIES.get(filter_class, ()):
        raise BadRequest("XML PARSING ERROR: no property %s in class %s" % (prop, filter_class))
    if flt.tag == "wcard":
        try:
            re.compile(flt.get("value", ""))
        except re.error as err:
            raise BadRequest("XML PARSING ERROR: bad wcard %r: %s" % (flt.get("value", ""), err)) from None


def filter_matches(flt: Optional[ET.Element], attrs: Mapping[str, str]) -> bool:
    """Evaluate a filter in_filter has checked."""
    if flt is None:
        return True
    if flt.tag == "and":
        return all(filter_matches(child, attrs) for child in flt)
    if flt.tag == "or":
        return any(filter_matches(child, attrs) for child in flt)
    if flt.tag == "not":
        return not all(filter_matches(child, attrs) for child in flt)
    actual, value = attrs.get(flt.get("property", ""), ""), flt.get("value", "")
    if flt.tag == "eq":
        return actual == value
    if flt.tag == "ne":
        return actual != value
    return re.search(value, actual) is not None


def flag(request: ET.Element, name: str) -> bool:
    return request.get(name, "false").lower() in ("true", "yes")

