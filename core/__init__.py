"""The ground every other package stands on, importing nothing of ours: the site configuration (one
validated pydantic tree, `core.config`), the exception family (`core.errors`), masking of
credentials (`core.redact`) and logging set-up (`core.logs`)."""
