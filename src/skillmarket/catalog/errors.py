"""Errors of the catalog domain."""

from __future__ import annotations

from skillmarket.errors import Conflict, Forbidden, NotFound


class SkillNotFound(NotFound):
    """No skill version has that id."""

    code = "SKILL_NOT_FOUND"


class SkillNameTaken(Conflict):
    """Another publisher owns that skill name."""

    code = "SKILL_NAME_TAKEN"


class VersionConflict(Conflict):
    """name@version is already published with different content; versions are immutable."""

    code = "VERSION_CONFLICT"


class NotSkillPublisher(Forbidden):
    """Only the skill's publisher may do this."""

    code = "NOT_SKILL_PUBLISHER"
