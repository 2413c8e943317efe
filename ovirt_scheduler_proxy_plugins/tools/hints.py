"""What the operator is told to do next, in the words several commands share."""

# Who answers the engine's scheduler calls: serve's unit on oVirt 4.5, the stock proxy before.
PROXY_SERVICE = "ovirt-vf-scheduler (ovirt-scheduler-proxy before oVirt 4.5)"
RESTART = "restart %s, then ovirt-engine" % PROXY_SERVICE
