"""Real servers the integration tests and the bench start: plain classes, no pytest.

Each starts its daemon as a child process in the foreground, on loopback, in its own
temporary folder, and stops it by PID; the package's own system services are never used
(on the test machines they do not even start: policy-rc.d denies them).
"""
