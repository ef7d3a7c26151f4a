"""The controller manager: workload and cluster controllers, one class each (``python -m controllers``)."""
