
import sys
class NoisyFilter:
    def do_filter(self, hosts, vm, args):
        """Right answer, but chatty on stderr, in colour"""
        sys.stderr.write("\x1b[33mDeprecationWarning\x1b[0m: something\n")
        print(hosts)
