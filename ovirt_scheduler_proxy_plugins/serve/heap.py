"""Keep a big usage view out of the cycle collector's way.

A view at 1,000 hosts is ~20,000 VM records, a few hundred thousand objects that live until the
next full read. CPython's oldest-generation collection walks every tracked object, so every
so often one decision paid for a walk over the whole view (measured at 1,000 hosts: filter p95
76-93 ms against p50 34 ms; bench/RESULTS.md). The view's records hold no reference cycles:
reference counting frees them when a newer view replaces them. So once a view is installed its
objects (and whatever else lives at that moment) move to the permanent generation, which the
collector skips. What it could still free there is cyclic garbage pending at that moment, a
few objects per full read, since the oldest generation of a small heap is collected often; so
only the event-driven view's full reads freeze (at start, on a config change, every
usage_resync seconds), not the whole reads of usage_events = no, which come every
usage_max_age while VMs are scheduled and would freeze that garbage thousands of times a day.
"""
import gc


def freeze_long_lived() -> None:
    """Call right after installing a view (a full read): everything alive now is left alone by
    the collector from now on."""
    gc.freeze()
