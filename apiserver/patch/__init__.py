"""The patch engines of the API server: pure functions over JSON objects.

Each PATCH content type maps to one engine (``json-patch+json`` ->
:func:`apply_json_patch`, ``merge-patch+json`` -> :func:`apply_merge_patch`,
``strategic-merge-patch+json`` -> :func:`apply_strategic_merge_patch`,
``apply-patch+yaml`` -> :func:`server_side_apply`), and every write records
field ownership in ``metadata.managedFields`` through
:func:`update_managed_fields`. None of them touches storage or mutates its
input object; bad input raises a :class:`machinery.errors.ApiError`.
"""

from .apply import server_side_apply, update_managed_fields
from .jsonpatch import apply_json_patch
from .mergepatch import apply_merge_patch
from .strategic import apply_strategic_merge_patch

__all__ = [
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "server_side_apply",
    "update_managed_fields",
]
