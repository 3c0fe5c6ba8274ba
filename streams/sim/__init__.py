"""Camera simulator: synthetic (or looped real) H.264 cameras over RTSP with scripted faults and ground truth.

The RTSP server itself (``server.py``) runs under the system Python with GStreamer; this package prepares the
clips, starts and stops that process, and talks to its control channel. See docs/simulator.md.
"""

from streams.sim.control import STATES, SimControl, SimError
from streams.sim.process import ServedCamera, SimulatorProcess, sim_cameras

__all__ = ["STATES", "ServedCamera", "SimControl", "SimError", "SimulatorProcess", "sim_cameras"]
