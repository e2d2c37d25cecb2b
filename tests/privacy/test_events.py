"""Typed privacy events: validation, JSON round trips, and ledgers written by veil 0.1."""

from __future__ import annotations

import math

import pytest

from veil.errors import ParameterError
from veil.privacy import (
    ComposedEvent,
    DiscreteLaplaceEvent,
    GaussianEvent,
    LaplaceEvent,
    PoissonSampledGaussianEvent,
    PrivacyLoss,
    RDPCurveEvent,
    ZCDPEvent,
    event_from_dict,
)

EVENTS = [
    LaplaceEvent(noise_multiplier=2.0),
    DiscreteLaplaceEvent(noise_parameter=0.5, sensitivity=3),
    GaussianEvent(noise_multiplier=1.5),
    PoissonSampledGaussianEvent(noise_multiplier=1.1, sampling_probability=0.01, steps=100),
    ZCDPEvent(rho=0.2),
    RDPCurveEvent(orders=(2.0, 8.0), values=(0.1, 0.5)),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_json_round_trip(event: object) -> None:
    data = event.to_dict()  # type: ignore[attr-defined]
    assert event_from_dict(data) == event
    assert event == data  # an event equals its stored form


def test_composed_round_trip_and_nesting() -> None:
    inner = ComposedEvent((EVENTS[0], EVENTS[2]))
    event = ComposedEvent((inner, EVENTS[5]))
    assert event_from_dict(event.to_dict()) == event
    nested = event.to_dict()["events"][0]["events"][1]
    assert nested == {"type": "gaussian", "noise_multiplier": 1.5}


def test_reads_veil_0_1_dictionaries() -> None:
    old = {
        "type": "composed",
        "events": [
            {"type": "discrete_laplace", "noise_parameter": 0.5, "sensitivity": 1},
            {"type": "poisson_sampled_gaussian", "noise_multiplier": 1.0,
             "sampling_probability": 0.1, "count": 7},
        ],
    }  # fmt: skip
    event = event_from_dict(old)
    assert isinstance(event, ComposedEvent)
    assert event.events[1] == PoissonSampledGaussianEvent(
        noise_multiplier=1.0, sampling_probability=0.1, steps=7
    )
    assert PrivacyLoss(epsilon=1.0, event=old).event == event


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"type": "cauchy", "scale": 1}, "unknown privacy event type 'cauchy'"),
        ({"noise_multiplier": 1}, "unknown privacy event type None"),
        ({"type": "gaussian"}, "incomplete"),
        ({"type": "gaussian", "noise_multiplier": 1, "extra": 2}, "unknown fields"),
        ({"type": "gaussian", "noise_multiplier": -1}, "noise_multiplier must be positive"),
        ({"type": "rdp_curve", "orders": [], "values": []}, "at least one order"),
        ({"type": "rdp_curve", "orders": [2, 4], "values": [0.1, -0.2]}, "values must be >= 0"),
        ({"type": "rdp_curve", "orders": [1.0], "values": [0.1]}, "orders must be finite and > 1"),
        ({"type": "rdp_curve", "orders": [2, 3], "values": [0.1]}, "one value per order"),
        ({"type": "poisson_sampled_gaussian", "noise_multiplier": 1,
          "sampling_probability": 1.5, "steps": 1}, "sampling_probability must be in"),
        ({"type": "poisson_sampled_gaussian", "noise_multiplier": 1,
          "sampling_probability": 0.5, "steps": 2.5}, "steps must be a positive integer"),
        ({"type": "discrete_laplace", "noise_parameter": 1, "sensitivity": 0}, "sensitivity"),
    ],
)  # fmt: skip
def test_bad_events_are_named(data: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        event_from_dict(data)


def test_rdp_curve_upper_bound_between_orders() -> None:
    curve = RDPCurveEvent(orders=(8.0, 2.0, 4.0), values=(0.8, 0.2, 0.4))
    assert curve.orders == (2.0, 4.0, 8.0)  # sorted with their values
    # Rényi divergence grows with the order: the next larger order bounds it.
    assert curve.at([1.5, 2.0, 3.0, 8.0, 9.0]) == [0.2, 0.2, 0.4, 0.8, math.inf]
