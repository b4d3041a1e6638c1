"""Test doubles shared by several test modules."""

from __future__ import annotations

from graph.models import EchoChatModel


class FailingEcho(EchoChatModel):
    """The echo model, raising ConnectionError instead while `fail` is set."""

    fail: bool = False

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if self.fail:
            raise ConnectionError("provider down")
        return super()._generate(messages, stop, run_manager, **kwargs)
