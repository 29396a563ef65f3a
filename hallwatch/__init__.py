"""hallwatch: supervision and video analytics for public service halls."""
