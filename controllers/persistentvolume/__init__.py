"""The PersistentVolume controller (binder, provisioner and reclaimer).

``controller`` (the claim and volume loops), ``match`` (which volume fits
which claim, pure) and ``localpath`` (the ``k8py.io/local-path``
provisioner: hostPath volumes as folders under one host directory).
"""

from controllers.persistentvolume.controller import PersistentVolumeController

__all__ = ["PersistentVolumeController"]
