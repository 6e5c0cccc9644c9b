"""What a field device says: wire decoding, units, quality checks, and the simulator of field gateways.

Pure where it can be (decoding and quality take bytes and numbers, return readings); the simulator is
the one part that talks to the broker. The bottom layer with `sql`: imports only `sql`, so that every other
package may use it.
"""
