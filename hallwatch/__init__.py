"""hallwatch: supervision and video analytics for public service halls.

This package is the roof: the `hallwatch` command line (`cli`, one module per command group in
`commands/`), the service that wires the pipeline, storage and web app together (`service`), the
workers' camera leases (`leases`) and the demo set-up (`demo`). Everything below it is in its own
package: `core`, `ingest`, `models`, `analytics`, `pipeline`, `storage`, `monitor`, `dashboards`,
`tools` (see README.md)."""
