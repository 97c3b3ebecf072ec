"""Tests of the Halo emulator over real loopback sockets."""
