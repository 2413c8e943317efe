
class PartialWeight:
    properties_validation = "x=\x02"

    def do_score(self, hosts, vm, args):
        """Scores all but the last host\x07"""
        print([(h, 9 if i % 2 else 1) for i, h in enumerate(hosts[:-1])])
