# SPDX-License-Identifier: GPL-2.0-or-later
"""The start every audit check of the e2e tiers shares: the records that
`porthole log --json` printed, and a verdict that each failed expectation
turns false while saying it on one line ("  audit: ...")."""
import json


class Audit:
    def __init__(self, path):
        with open(path) as f:
            self.recs = json.load(f)
        self.ok = True

    def bad(self, msg):
        self.ok = False
        print("  audit: " + msg)

    def events(self, name):
        return [r for r in self.recs if r.get("event") == name]
