
class FirstHostFilter:
    properties_validation = "first=^[0-9]+$"

    def do_filter(self, hosts, vm, args):
        """Keep the first host only"""
        print(hosts[:1])
