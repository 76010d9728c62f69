"""The cloud-labs calculator: a front end that evaluates arithmetic expressions by calling
four operator services (sum, sub, mul, div) over HTTP."""

__version__ = "0.1.0"
