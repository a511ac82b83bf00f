"""Local stand-ins for the services the function talks to: the CEC API and Secret Manager.

Development and test tooling only; never deployed with the function.
"""

from cec_sim.cec import start_cec
from cec_sim.client import FakeSecretManagerControl, SimulatorControl
from cec_sim.secret_manager import start_secret_manager

__all__ = ["FakeSecretManagerControl", "SimulatorControl", "start_cec", "start_secret_manager"]
