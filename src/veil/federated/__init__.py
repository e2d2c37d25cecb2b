"""Federated learning on Flower: one task, simulated or deployed, with intermittent clients.

Sites keep their rows and send only model updates (McMahan et al. 2017).
veil builds on Flower for the networking, SecAgg+ and the strategies, and
adds an in-process simulation of the same client and strategy code,
intermittent clients, client-level DP (central, or local noise each site adds
itself) accounted on the spine and reserved in the ledger, non-IID
partitions, the study of Sáinz-Pardo Díaz and López García (2023), and the
``veil federate`` commands.
"""

from __future__ import annotations

from veil.federated.availability import Availability, Intermittent
from veil.federated.checkpoint import Checkpoint
from veil.federated.data import Dataset, load_digits, load_images, load_table
from veil.federated.engine import run_rounds
from veil.federated.local_privacy import LocalPrivacy, LocalPrivacyPlan, plan_local_dp
from veil.federated.partitions import PARTITIONS, partition
from veil.federated.privacy import DPFedAvg, DPPlan, dp_fedavg_epsilon, plan_dp
from veil.federated.results import FederatedResult, StudyResult
from veil.federated.simulation import ENGINES, simulate
from veil.federated.strategies import STRATEGIES, Screened, make_strategy, register
from veil.federated.task import ClassificationTask

__all__ = [
    "ENGINES",
    "PARTITIONS",
    "STRATEGIES",
    "Availability",
    "Checkpoint",
    "ClassificationTask",
    "DPFedAvg",
    "DPPlan",
    "Dataset",
    "FederatedResult",
    "Intermittent",
    "LocalPrivacy",
    "LocalPrivacyPlan",
    "Screened",
    "StudyResult",
    "dp_fedavg_epsilon",
    "load_digits",
    "load_images",
    "load_table",
    "make_strategy",
    "partition",
    "plan_dp",
    "plan_local_dp",
    "register",
    "run_rounds",
    "simulate",
]
