"""The admin-facing front ends of the Halo Integrator: the command line and the tray."""
