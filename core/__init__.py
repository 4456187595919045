"""Infrastructure: settings, database, security primitives, i18n and delivery of codes."""
