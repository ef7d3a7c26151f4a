"""The CronJob controller: ``controller`` (handlers and sync), ``timing`` (due times, the
Jobs it creates) and ``schedule`` (cron syntax and next firing times)."""

from controllers.cronjob.controller import CronJobController

__all__ = ["CronJobController"]
