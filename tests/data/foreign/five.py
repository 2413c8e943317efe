
class FiveWeight:
    def do_score(self, hosts, vm, args):
        """Five for everyone, 7.6 for the last"""
        print([(h, 5) for h in hosts[:-1]] + [(hosts[-1], 7.6)])
