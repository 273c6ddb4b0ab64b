"""Errors of the reputation domain (ratings and their summaries).

Rating someone else's invocation, or one that does not exist, is ``INVOCATION_NOT_FOUND`` from
the invocations domain, exactly as polling it would be: a rating never reveals that another
operator's invocation exists.
"""

from __future__ import annotations

from skillmarket.errors import Conflict, Forbidden, InvalidInput


class RatingScoreInvalid(InvalidInput):
    """The score is not a whole number from 1 to 5."""

    code = "RATING_SCORE_INVALID"


class RatingCommentInvalid(InvalidInput):
    """The comment is too long, not text, or holds control characters."""

    code = "RATING_COMMENT_INVALID"


class RatersInvalid(InvalidInput):
    """The ``raters`` whitelist is empty, too long, or names something that is no operator id."""

    code = "RATERS_INVALID"


class InvocationSkillMismatch(InvalidInput):
    """The invocation was of another skill than the one being rated."""

    code = "INVOCATION_SKILL_MISMATCH"


class InvocationNotCompleted(Conflict):
    """Only a completed invocation can be rated (not a pending, running, failed or expired one)."""

    code = "INVOCATION_NOT_COMPLETED"


class AlreadyRated(Conflict):
    """The invocation already has its one rating (ratings are immutable)."""

    code = "ALREADY_RATED"


class SelfRatingForbidden(Forbidden):
    """A publisher may not rate its own skill, even after buying an invocation of it."""

    code = "SELF_RATING_FORBIDDEN"
