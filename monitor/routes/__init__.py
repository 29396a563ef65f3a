"""Route modules, one per area. `monitor.app.create_app` includes `router` from each module here and
adds its optional `nav: list[NavItem]` to the page header."""
