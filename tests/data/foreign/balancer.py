
class MoveFirst:
    def do_balance(self, hosts, args):
        """Move nothing, suggest the hosts"""
        print(["", hosts])
