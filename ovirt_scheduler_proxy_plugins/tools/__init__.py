"""Operator commands (explain, check, policy, capacity): the units' own code paths, for people."""
