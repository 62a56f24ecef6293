#!/usr/bin/python3
"""Generates the TSIG test vectors of tsig/tests.rs with dnspython (the
library certbot's dns-rfc2136 plugin signs with), at a fixed time and id:

    /usr/bin/python3 src/dns/tsig/vectors.py

Each vector: an update adding one TXT record, signed; and the NOERROR
response to it, signed one second later, as dnspython's make_response
builds it (the zone section echoed)."""

import dns.message
import dns.rdatatype
import dns.tsig
import dns.update

TIME = 1_700_000_000
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NTY3ODkwYWI="
KEY = "acme-update.global.example.test."

for name, algorithm in [("SHA256", dns.tsig.HMAC_SHA256), ("SHA512", dns.tsig.HMAC_SHA512)]:
    keyring = {dns.name.from_text(KEY): dns.tsig.Key(KEY, SECRET, algorithm)}
    dns.message.time.time = lambda: TIME
    update = dns.update.UpdateMessage("global.example.test.", id=0x1234)
    update.add("_acme-challenge.webapp", 60, "TXT", '"token-1"')
    update.use_tsig(keyring, KEY, algorithm=algorithm)
    request = update.to_wire()
    parsed = dns.message.from_wire(request, keyring=keyring)
    dns.message.time.time = lambda: TIME + 1
    response = dns.message.make_response(parsed)
    wire = response.to_wire()
    print(f"const {name}_UPDATE: &str = \"{request.hex()}\";")
    print(f"const {name}_RESPONSE: &str = \"{wire.hex()}\";")
