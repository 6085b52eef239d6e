"""The web dashboard: pages, static assets, i18n catalogues and the live change stream."""
