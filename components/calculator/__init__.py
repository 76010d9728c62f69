"""The calculator as a component (type tokens ``cloudlabs:calculator:*``).

:class:`Calculator` is the 2-tier application: one :class:`Service` per role, each owning its
container (Docker) or server (OpenStack). Its arguments are pure values (:mod:`.spec`).
"""

from components.calculator.component import Calculator
from components.calculator.service import Service, ServiceArgs
from components.calculator.spec import (
    LIMITS,
    SAMPLE_EXPRESSION,
    Bootstrap,
    CalculatorArgs,
    CalculatorSettings,
    OnDocker,
    OnOpenStack,
    Placement,
    Published,
    Vm,
    bootstrap_spec,
    docker_environment,
    service_name,
    service_user_data,
)

__all__ = [
    "LIMITS",
    "SAMPLE_EXPRESSION",
    "Bootstrap",
    "Calculator",
    "CalculatorArgs",
    "CalculatorSettings",
    "OnDocker",
    "OnOpenStack",
    "Placement",
    "Published",
    "Service",
    "ServiceArgs",
    "Vm",
    "bootstrap_spec",
    "docker_environment",
    "service_name",
    "service_user_data",
]
