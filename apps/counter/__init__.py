"""The request counter of the VirtualBox cluster lab (see ``counter.py``)."""
