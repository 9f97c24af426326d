"""Everything one window instance keeps in memory, built from its settings and a requester."""

from __future__ import annotations

from dataclasses import dataclass

from window.cache import AnswerCache
from window.directory import Directory
from window.gather import Gatherer, Requester
from window.screen_pop import ScreenPop, ScreenPopHub
from window.settings import WindowSettings
from window.view import ViewService

__all__ = ["WindowState"]


@dataclass(eq=False)
class WindowState:
    settings: WindowSettings
    cache: AnswerCache
    directory: Directory
    views: ViewService
    hub: ScreenPopHub
    screen_pop: ScreenPop

    @classmethod
    def build(cls, settings: WindowSettings, requester: Requester) -> WindowState:
        cache = AnswerCache(settings.cache_ttl, settings.stale_ttl, settings.cache_size)
        directory = Directory(settings.directory_size)
        views = ViewService(Gatherer(requester, cache, settings), directory)
        hub = ScreenPopHub()
        return cls(settings, cache, directory, views, hub,
                   ScreenPop(hub, directory, views, settings.region))
