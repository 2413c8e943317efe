"""The engine's four calls, answered as ovirt-scheduler-proxy answers them, minus its blind spots.

Arguments arrive as the engine's Apache XML-RPC client writes them (docs/proxy-contract.md section 4,
section 7): lists of names and lower-case UUID strings, a VM id, a dict of str -> str. Answers
are `{result_code, result, plugin_errors?, errors?}` (keys only when set; the engine reads
them only when result_code != 0, and always uses `result`). Kept from the proxy: filter results
intersect; every filter failed -> all hosts + "all filters failed"; an unknown unit ->
"plugin not found: 'name'". Fixed:
 - a unit that fails is named in plugin_errors with a one-line reason (the proxy only logged it),
   while `result` follows the unit's failure policy (a fail-open filter is left out);
 - weights come back per unit as [host, score, unit], so the engine applies each unit's policy
   factor itself (the proxy summed them into one factor-1 pseudo-unit);
 - weights are always Java Integers (a float or an out-of-range int breaks the engine), and a
   unit that scored only some hosts gets its worst score on the others (a missing host would
   rank best);
 - an unknown balancer answers ['', []] (the proxy's [] throws in the engine).
Malformed calls (wrong types, ids that are no UUIDs, too many hosts) are XML-RPC faults: the
engine then fails open for that call, and the next call is answered normally.
What a caller reads back is text for a person: every fault and plugin error is one line, never a
Python repr or traceback, a value of the call is echoed cut to ECHO_MAX characters, and no string
carries a character XML 1.0 forbids (a foreign plugin's ANSI colours, a \\x02 in its
properties_validation), which would make the whole answer unreadable to the engine's parser.
"""
import contextlib
import logging
import re
import reprlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Dict, List, Optional, Tuple
from xml.parsers.expat import ExpatError
from xmlrpc.client import Binary, DateTime, Fault

from .. import config, units
from ..text import is_uuid
from ..units import UnitAnswer
from . import foreign
from .warm import WarmEngine

LOG = logging.getLogger("ovirt_vf_scheduler.serve")
MAX_HOSTS = 5000            # far beyond any oVirt cluster; more is a broken or hostile caller
MAX_UNITS = 100
INT32 = (-2 ** 31, 2 ** 31 - 1)
FAULT_BAD_CALL = 2          # our fault code for malformed arguments
NO_BALANCE = ["", []]
FAULT_INTERNAL = 1
LATE_ANSWER = 1.0           # seconds to wait for a decision past its deadline that recorded its claim
ECHO_MAX = 200              # characters of a caller's (or a plugin's) value shown back
# What XML 1.0 allows in a document (its production Char); anything else is escaped as text.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


def xml_safe(value):
    """`value` (an answer: dicts, lists, strings, ints) with every string fit for XML 1.0: a
    forbidden character becomes its escape as text, e.g. \\x1b."""
    if isinstance(value, str):
        if value.isascii() and value.isprintable():     # the usual string, checked in C
            return value
        return _NOT_XML.sub(lambda found: repr(found.group())[1:-1], value)
    if isinstance(value, dict):
        return {xml_safe(key): xml_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [xml_safe(item) for item in value]
    return value


def xml_line(text: str, limit: int = ECHO_MAX * 4) -> str:
    """`text` on one line (whitespace runs collapsed), fit for XML, cut to `limit` characters."""
    text = xml_safe(" ".join(str(text).split()))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def echo(value: str) -> str:
    """A string of the call (or of a plugin) as shown back: one line, at most ECHO_MAX characters."""
    return xml_line(value, ECHO_MAX)


def _bad(what: str) -> Fault:
    return Fault(FAULT_BAD_CALL, "bad call: %s" % what)


def _uuid(value, what: str) -> str:
    if not isinstance(value, str) or not is_uuid(value):
        raise _bad("%s %s is not a UUID" % (what, _shown(value)))
    return value.lower()


def _shown(value) -> str:
    """A value of the call in a fault: as Python writes it, but bounded in size and depth, and
    for XML-RPC's own objects (base64, dateTime) their type, not a Python object repr."""
    if isinstance(value, (Binary, bytes, bytearray)):
        return "a base64 value"
    if isinstance(value, DateTime):
        return "a dateTime value"
    return xml_line(_REPR.repr(value), 60)


def fault_for(error: Exception) -> Fault:
    """The fault answering a call that raised `error`: ours as they are (one line, XML-safe), an
    unreadable body as a bad call, anything else as an internal error (serve logs its traceback)."""
    if isinstance(error, Fault):
        return Fault(error.faultCode, xml_line(error.faultString))
    if isinstance(error, ExpatError):
        return _bad("the body is not well-formed XML: %s" % xml_line(str(error), 80))
    if type(error).__module__.startswith("defusedxml"):
        return _bad("the body declares a DTD or entities, which are refused")
    return Fault(FAULT_INTERNAL, "internal error (%s), the call was not answered: see serve's log"
                 % type(error).__name__)


def _list(value, what: str, limit: int) -> list:
    if not isinstance(value, (list, tuple)):
        raise _bad("%s must be an array, got %s" % (what, _shown(value)))
    if len(value) > limit:
        raise _bad("%s has %d entries, more than the %d accepted" % (what, len(value), limit))
    return list(value)


def _names(value, what: str) -> List[str]:
    names = _list(value, what, MAX_UNITS)
    if not all(isinstance(name, str) and name for name in names):
        raise _bad("%s must hold unit names (strings)" % what)
    if any(len(name) > ECHO_MAX for name in names):
        raise _bad("%s holds a name of more than %d characters: %s" % (what, ECHO_MAX, echo(max(names, key=len))))
    return list(dict.fromkeys(names))


def _host_ids(value) -> List[str]:
    return [_uuid(host, "host id") for host in _list(value, "the host list", MAX_HOSTS)]


def _props(value) -> Dict[str, str]:
    """The cluster's policy properties; a <nil/> value is an unset property."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _bad("the properties must be a struct of strings, got %s" % _shown(value))
    if not all(v is None or isinstance(v, str) for v in value.values()):
        raise _bad("property values must be strings")
    return {k: v for k, v in value.items() if v is not None}


def _java_int(value) -> Optional[int]:
    """A foreign weight as a Java Integer: numbers clamped and rounded (infinities to the bounds),
    anything else (NaN included) None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return int(round(max(INT32[0], min(INT32[1], value))))


def answer(result, plugin_errors: Dict[str, List[str]], errors: List[str]) -> dict:
    """The reply struct; every string in it fit for XML, every error text one line."""
    reply = {"result_code": 1 if plugin_errors or errors else 0, "result": xml_safe(result)}
    if plugin_errors:
        reply["plugin_errors"] = {xml_safe(name): [xml_line(text) for text in texts]
                                  for name, texts in plugin_errors.items()}
    if errors:
        reply["errors"] = [xml_line(text) for text in errors]
    return reply


class Service:
    """The XML-RPC methods. `settings()` gives the current config (or its error); our units run
    in `pool` (bounded), foreign ones as processes from `foreign_pool`. The foreign units are
    loaded in the background (serve listens first): `found_foreign` sets them once known; until
    then `discover` offers ours, and a call naming a unit not known yet waits for the loading."""

    def __init__(self, settings: Callable[[], Tuple[Optional[config.Settings], Optional[config.ConfigError]]],
                 warm: WarmEngine, plugins_dir: str, pool: ThreadPoolExecutor, foreign_pool: ThreadPoolExecutor,
                 on_answer: Callable[[UnitAnswer, Optional[config.Settings]], None]):
        self._settings = settings
        self._warm = warm
        self._plugins_dir = plugins_dir
        self.foreign: Dict[Tuple[str, str], foreign.ForeignUnit] = {}
        self._foreign_loaded = threading.Event()
        self._pool = pool
        self._foreign_pool = foreign_pool
        self._on_answer = on_answer

    def found_foreign(self, found: Dict[Tuple[str, str], foreign.ForeignUnit], complete: bool = True) -> None:
        """The foreign units known so far; `complete`: every module is loaded (or given up)."""
        self.foreign = found                    # replaced whole: a call in flight keeps a consistent view
        if complete:
            self._foreign_loaded.set()

    def _foreign_unit(self, kind: str, name: str, started: float) -> Optional[foreign.ForeignUnit]:
        """The foreign unit of that kind and name; while the plugins still load, waited for (within
        the proxy's budget from the call's arrival)."""
        if (kind, name) not in self.foreign and not self._foreign_loaded.is_set():
            self._foreign_loaded.wait(max(0.0, started + foreign.BUDGET - time.monotonic()))
        return self.foreign.get((kind, name))

    # -- discover
    def discover(self) -> dict:
        offered: Dict[str, Dict[str, list]] = {"filters": {}, "scores": {}, "balance": {}}
        for unit in units.UNITS.values():
            kind = "filters" if unit.kind == "do_filter" else "scores"
            offered[kind][unit.name] = [unit.doc, config.PROPERTIES_VALIDATION]
        for (kind, name), unit in sorted(self.foreign.items()):
            offered[kind][name] = [unit.description, unit.properties_validation]
        return xml_safe(offered)

    # -- running units
    def _ours(self, unit: str, host_ids: List[str], vm_id: str, props: Dict[str, str],
              started: float) -> Callable[[], UnitAnswer]:
        """Start our unit in the pool; the returned function waits for its answer, within its deadline."""
        settings, error = self._settings()
        if settings is None:
            done = units.config_failure(unit, error)
            return lambda: self._report(done, None)
        try:
            settings = config.with_cluster_properties(settings, props)
        except config.ConfigError as err:     # the cluster's policy properties: per call, so logged per call
            done = units.config_failure(unit, err)
            LOG.error("%s: %s", unit, done.error)
            return lambda: self._report(done, settings)
        deadline = started + settings.deadline
        reads = self._warm.reads(settings, deadline, vm_id, reuse=unit == units.WEIGHT)
        gate = units.ClaimGate(deadline)
        future = self._pool.submit(units.answer, unit, settings, reads, host_ids, vm_id, gate, started)

        def wait() -> UnitAnswer:
            try:
                done = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                future.cancel()
                done = self._late(future, gate, unit, settings)
            return self._report(done, settings)
        return wait

    @staticmethod
    def _late(future: Future, gate: units.ClaimGate, unit: str, settings: config.Settings) -> UnitAnswer:
        """The answer of a decision past its deadline: fail-open, and the decision may no longer record
        a claim; unless it recorded one just before, then its own answer (due within LATE_ANSWER)."""
        if gate.abandon():
            with contextlib.suppress(FutureTimeout):
                return future.result(timeout=LATE_ANSWER)
        LOG.error("%s: deadline of %.0f s exceeded (engine or UCS-M too slow, or hung)", unit, settings.deadline)
        return units.deadline_failure(unit, settings)

    def _report(self, done: UnitAnswer, settings: Optional[config.Settings]) -> UnitAnswer:
        self._on_answer(done, settings)
        return done

    def _theirs(self, unit: foreign.ForeignUnit, args: tuple) -> Callable[[], foreign.ForeignResult]:
        """The proxy's 30 s budget counts from the call's arrival, queueing for a worker included."""
        give_up = time.monotonic() + foreign.BUDGET

        def run() -> foreign.ForeignResult:
            left = give_up - time.monotonic()
            if left <= 0:
                return foreign.ForeignResult(error="not started within %g s: every plugin worker was busy"
                                             % foreign.BUDGET)
            return foreign.run(self._plugins_dir, unit, args, budget=left)
        future: Future = self._foreign_pool.submit(run)
        return future.result

    def _start_all(self, kind: str, names: List[str], host_ids: List[str], vm_id: str, props: Dict[str, str],
                   started: float) -> Tuple[Dict[str, Callable], Dict[str, List[str]]]:
        """Start every unit of `kind` named in the call, all at once; (waiter per unit, the names
        no unit answers to, as plugin_errors)."""
        ours = {name: self._ours(name, host_ids, vm_id, props, started) for name in names   # first: they
                if name in units.UNITS and (units.UNITS[name].kind == "do_filter") == (kind == "filters")}
        waiters, missing = {}, {}               # do not wait for the other plugins to load
        for name in names:
            unit = None if name in ours else self._foreign_unit(kind, name, started)
            if name in ours:
                waiters[name] = ours[name]
            elif unit is not None:
                waiters[name] = self._theirs(unit, (host_ids, vm_id, props))
            else:
                missing[name] = ["plugin not found: '%s'" % echo(name)]
        return waiters, missing

    # -- the engine's calls
    def run_filters(self, names, host_ids, vm_id, props) -> dict:
        started = time.monotonic()
        names, host_ids = _names(names, "the filter list"), _host_ids(host_ids)
        vm_id, props = _uuid(vm_id, "the VM id"), _props(props)
        waiters, plugin_errors = self._start_all("filters", names, host_ids, vm_id, props, started)
        valid = []
        for name, waiter in waiters.items():
            kept, error = _filter_result(waiter())
            if error:
                plugin_errors[name] = [error]
            if kept is not None:
                valid.append(kept)
        if not names:
            return answer(host_ids, plugin_errors, [])
        if not valid:
            return answer(host_ids, plugin_errors, ["all filters failed"])
        kept_everywhere = set.intersection(*valid)
        return answer([h for h in host_ids if h in kept_everywhere], plugin_errors, [])

    def run_cost_functions(self, pairs, host_ids, vm_id, props) -> dict:
        started = time.monotonic()
        names = _names([_unit_factor(pair) for pair in _list(pairs, "the weight list", MAX_UNITS)],
                       "the weight list")
        host_ids, vm_id, props = _host_ids(host_ids), _uuid(vm_id, "the VM id"), _props(props)
        waiters, plugin_errors = self._start_all("scores", names, host_ids, vm_id, props, started)
        errors: List[str] = []
        entries = []
        for name, waiter in waiters.items():
            scores, error, note = _score_result(waiter(), host_ids)
            if error:
                plugin_errors[name] = [error]
            if note:
                errors.append("%s: %s" % (name, note))
            entries += [[host, score, name] for host, score in scores]
        return answer(entries, plugin_errors, errors)

    def run_load_balancing(self, name, host_ids, props) -> dict:
        if not isinstance(name, str) or len(name) > ECHO_MAX:
            raise _bad("the balancer name must be a string of at most %d characters, got %s"
                       % (ECHO_MAX, _shown(name)))
        host_ids, props = _host_ids(host_ids), _props(props)
        unit = self._foreign_unit("balance", name, time.monotonic())
        if unit is None:
            return answer(NO_BALANCE, {name: ["plugin not found: '%s'" % echo(name)]}, [])
        ran = self._theirs(unit, (host_ids, props))()
        result = ran.result
        if ran.error is None and not (isinstance(result, (list, tuple)) and len(result) == 2
                                      and isinstance(result[0], str) and isinstance(result[1], (list, tuple))
                                      and all(isinstance(h, str) for h in result[1])):
            ran = foreign.ForeignResult(error="answer is not [vm id, [host ids]]: %s" % _shown(result))
        if ran.error is not None:
            return answer(NO_BALANCE, {name: [ran.error]}, [])
        return answer([result[0], list(result[1])], {}, [])


def _unit_factor(pair) -> str:
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)
            and isinstance(pair[1], int) and not isinstance(pair[1], bool)):
        raise _bad("each weight must be [unit name, int factor], got %s" % _shown(pair))
    return pair[0]


def _filter_result(done) -> Tuple[Optional[set], Optional[str]]:
    """(kept ids or None when the unit gave no answer, the error to report)."""
    if isinstance(done, UnitAnswer):
        return (None if done.result is None else set(done.result)), done.error
    if done.error is not None:
        return None, done.error
    if not isinstance(done.result, (list, tuple)) or not all(isinstance(h, str) for h in done.result):
        return None, "answer is not a list of host ids: %s" % _shown(done.result)
    return {h.lower() for h in done.result}, None


def _score_result(done, host_ids: List[str]) -> Tuple[List[Tuple[str, int]], Optional[str], Optional[str]]:
    """(host, int score) for every host, the unit's error, a note about repaired answers."""
    if isinstance(done, UnitAnswer):
        return ([] if done.result is None else [(h, int(s)) for h, s in done.result]), done.error, None
    if done.error is not None:
        return [], done.error, None
    result = done.result
    pairs = result if isinstance(result, (list, tuple)) else None
    if pairs is None or not all(isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
                                and _java_int(p[1]) is not None for p in pairs):
        return [], "answer is not a list of (host id, number) pairs: %s" % _shown(result), None
    wanted = set(host_ids)
    scores: Dict[str, int] = {}
    for host, value in pairs:
        if host.lower() in wanted:
            scores.setdefault(host.lower(), _java_int(value))
    notes = []
    if any(isinstance(value, float) for _, value in pairs):
        notes.append("non-integer weights rounded")
    missing = [h for h in dict.fromkeys(host_ids) if h not in scores]
    if missing and scores:
        worst = max(scores.values())
        scores.update({h: worst for h in missing})
        notes.append("%d of %d hosts not scored, given its worst weight %d" % (len(missing), len(wanted), worst))
    elif missing:
        return [], "answer scores none of the hosts", None
    return [(h, scores[h]) for h in dict.fromkeys(host_ids)], None, "; ".join(notes) or None
