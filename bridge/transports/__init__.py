"""Publishers and the control channel: ZeroMQ, OSC, VMC, Live Link Face; wire layouts live in encoding.py."""
